"""HandFaceDetector: batching, slots of People, options, degenerate input.

Networks are small stand-ins (a fixed bump per channel, scaled by the crop's brightness) except
in the batched-vs-one-at-a-time test, which runs the real hand and face networks with random
weights at a reduced 48x48 crop (the real 368x368 costs ~103 GMAC per crop).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from openpose_ros.handface import HandFaceConfig, HandFaceDetector, hand_boxes, largest_people
from openpose_ros.handface.boxes import face_boxes
from openpose_ros.handface.peaks import heatmap_argmax
from openpose_ros.layouts import BODY_25, COCO_18, FACE_70, HAND_21, Layout
from openpose_ros.people import People, empty_keypoints

RES = 64  # reduced crop resolution used throughout (a multiple of the stride 8)


class BumpNet(nn.Module):
    """Stand-in network: channel c has one bump at a fixed net-output pixel, its height the
    crop's mean brightness, so peaks sit at known crop places and scales can be compared."""

    stride = 8

    def __init__(self, layout: Layout) -> None:
        super().__init__()
        self.layout = layout
        self.gain = nn.Parameter(torch.ones(()))  # gives the detector a device and dtype
        self.calls: list[int] = []

    def maps(self, n: int, h: int, w: int) -> torch.Tensor:
        k = self.layout.num_parts + 1
        out = torch.zeros(n, k, h, w)
        c = torch.arange(k)
        out[:, c, (3 * c) % h, (5 * c + 1) % w] = 1.0
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(len(x))
        n, _, h, w = x.shape
        brightness = (x + 0.5).mean(dim=(1, 2, 3)) + 0.01
        return self.gain * brightness[:, None, None, None] * self.maps(n, h // 8, w // 8)


def _config(**kw) -> HandFaceConfig:
    return HandFaceConfig(hand_net_resolution=RES, face_net_resolution=RES, **kw)


def _person(layout: Layout, cx: float, cy: float, scale: float) -> np.ndarray:
    """Body keypoints of a standing person facing the camera, every joint seen."""
    kp = empty_keypoints(1, layout.num_parts)[0]
    offsets = {
        "Nose": (0, -60), "Neck": (0, -40), "REye": (-6, -66), "LEye": (6, -66),
        "REar": (-12, -62), "LEar": (12, -62), "RShoulder": (-20, -40), "LShoulder": (20, -40),
        "RElbow": (-28, -10), "LElbow": (28, -10), "RWrist": (-30, 15), "LWrist": (30, 15),
        "RHip": (-12, 20), "LHip": (12, 20), "MidHip": (0, 20),
    }
    for name, (dx, dy) in offsets.items():
        if layout.has(name):
            kp[layout.index(name)] = (cx + scale * dx, cy + scale * dy, 0.9)
    return kp


def _scene(layout=BODY_25, size=(320, 240)):
    body = np.stack(
        [
            _person(layout, 80, 120, 1.0),
            _person(layout, 220, 120, 1.6),
            _person(layout, 160, 150, 0.7),
        ]
    )
    body[2, layout.index("LWrist")] = (np.nan, np.nan, 0.0)  # person 2's left wrist unseen
    people = People(layout, size, body, np.ones(len(body)))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return image, people


def test_slots_filled_and_known_crop_peaks_land_at_known_image_points():
    image, people = _scene()
    hand, face = BumpNet(HAND_21), BumpNet(FACE_70)
    out = HandFaceDetector(hand, face, _config())(image, people)
    assert out.left_hand.shape == out.right_hand.shape == (3, 21, 3)
    assert out.face.shape == (3, 70, 3)
    np.testing.assert_array_equal(out.body, people.body)
    # Every crop's peak is at a fixed crop pixel (u, v); check the spec's back-projection.
    uv = heatmap_argmax(hand.maps(1, RES // 8, RES // 8), 21, (RES, RES))[0, :, :2].numpy()
    boxes = hand_boxes(people.body, BODY_25)
    for p in range(3):
        for slot, hand_kp, mirrored in ((0, out.left_hand, True), (1, out.right_hand, False)):
            x0, y0, side, _ = boxes[p, slot]
            if side == 0:
                continue
            s = side / RES
            x = x0 + side - s * uv[:, 0] if mirrored else x0 + s * uv[:, 0]
            np.testing.assert_allclose(hand_kp[p, :, 0], x, rtol=1e-6)
            np.testing.assert_allclose(hand_kp[p, :, 1], y0 + s * uv[:, 1], rtol=1e-6)
            assert (hand_kp[p, :, 2] > 0).all()
    uv_face = heatmap_argmax(face.maps(1, RES // 8, RES // 8), 70, (RES, RES))[0, :, :2].numpy()
    fb = face_boxes(people.body, BODY_25)
    s = fb[:, 2:3] / RES
    expected = np.where(fb[:, 2:3] > 40, fb[:, :1] + s * uv_face[:, 0], np.nan)
    np.testing.assert_allclose(out.face[..., 0], expected, rtol=1e-6)
    assert np.isnan(out.face[2, :, 0]).all()  # person 2's face box is under 40 px: skipped
    # A person whose wrist is not seen has an empty-score hand, not an invented one.
    assert np.isnan(out.left_hand[2, :, :2]).all() and (out.left_hand[2, :, 2] == 0).all()
    assert np.isfinite(out.right_hand[2]).all()
    # One forward pass per network for the whole frame: 5 hands, 2 faces.
    assert hand.calls == [5] and face.calls == [2]


@pytest.mark.parametrize("hands,faces", [(True, False), (False, True), (True, True)])
def test_parts_switch_on_and_off_independently(hands, faces):
    image, people = _scene(COCO_18)
    det = HandFaceDetector(
        BumpNet(HAND_21) if hands else None,
        BumpNet(FACE_70) if faces else None,
        _config(hands=hands, faces=faces),
    )
    out = det(image, people)
    assert out.left_hand.shape[1] == out.right_hand.shape[1] == (21 if hands else 0)
    assert out.face.shape[1] == (70 if faces else 0)
    with pytest.raises(ValueError, match="no hand network"):
        HandFaceDetector(None, BumpNet(FACE_70), _config(hands=True))


def test_max_people_keeps_the_largest():
    image, people = _scene()
    hand = BumpNet(HAND_21)
    out = HandFaceDetector(hand, BumpNet(FACE_70), _config(max_people=1))(image, people)
    # Person 1 (scale 1.6) is the largest; the others get no hands or faces.
    assert (out.right_hand[1, :, 2] > 0).all() and (out.face[1, :, 2] > 0).all()
    assert (out.right_hand[[0, 2], :, 2] == 0).all() and (out.face[[0, 2], :, 2] == 0).all()
    assert hand.calls == [2]
    np.testing.assert_array_equal(largest_people(people.body, 2), [0, 1])
    np.testing.assert_array_equal(largest_people(people.body, -1), [0, 1, 2])
    nobody = empty_keypoints(2, BODY_25.num_parts)  # nothing seen: ranked last, earlier first
    crowd = np.concatenate([nobody, people.body])  # people 0, 1, 2 are now rows 2, 3, 4
    np.testing.assert_array_equal(largest_people(crowd, 2), [2, 3])
    np.testing.assert_array_equal(largest_people(crowd, 4), [0, 2, 3, 4])


def test_detect_batch_over_images_of_different_sizes_equals_single_calls():
    (img_a, ppl_a), (img_b, ppl_b) = _scene(), _scene(COCO_18, size=(200, 260))
    hand, face = BumpNet(HAND_21), BumpNet(FACE_70)
    det = HandFaceDetector(hand, face, _config())
    together = det.detect_batch([img_a, img_b], [ppl_a, ppl_b])
    assert len(hand.calls) == 1 and len(face.calls) == 1  # one forward for both images
    for got, (img, ppl) in zip(together, ((img_a, ppl_a), (img_b, ppl_b))):
        alone = det(img, ppl)
        for name in ("left_hand", "right_hand", "face"):
            np.testing.assert_allclose(getattr(got, name), getattr(alone, name), rtol=1e-4)
    assert det.detect_batch([], []) == []


def test_multi_scale_keeps_the_scale_with_the_best_mean_score():
    """Bright centre, dark surround: the smallest scale's crop is brightest and must win."""
    image = np.zeros((200, 200, 3), np.uint8)
    image[80:120, 80:120] = 250
    box = np.array([[60.0, 60.0, 80.0, 80.0]])
    hand = BumpNet(HAND_21)
    multi = HandFaceDetector(hand, None, _config(faces=False, hand_scale_number=3))
    got = multi.detect_hands(image, box, [False])
    assert hand.calls == [3]  # three scales, one pass
    single = HandFaceDetector(BumpNet(HAND_21), None, _config(faces=False))
    scaled = [single.detect_hands(image, np.array([[100 - s / 2, 100 - s / 2, s, s]]), [False])
              for s in (64.0, 80.0, 96.0)]  # scales 0.8, 1.0, 1.2 of side 80
    means = [k[0, :, 2].mean() for k in scaled]
    assert int(np.argmax(means)) == 0
    np.testing.assert_allclose(got, scaled[0], rtol=1e-5)


def test_degenerate_boxes_and_inputs_never_raise():
    hand, face = BumpNet(HAND_21), BumpNet(FACE_70)
    det = HandFaceDetector(hand, face, _config())
    image = np.full((100, 120, 3), 128, np.uint8)
    boxes = np.array(
        [
            [10, 10, 0, 0], [200, 10, 30, 30], [-50, -50, 20, 20], [100, 80, 40, 40],
            [np.nan, 0, 9, 9],
        ]
    )
    kp = det.detect_hands(image, boxes, [True, False, True, False, True])
    assert kp.shape == (5, 21, 3)
    ran = kp[:, 0, 2] > 0
    np.testing.assert_array_equal(ran, [False, False, False, True, False])  # only the border box
    assert np.isnan(kp[~ran, :, :2]).all()
    faces = det.detect_faces(image, np.array([[0, 0, 40, 40], [30, 20, 50, 50]]))
    np.testing.assert_array_equal(faces[:, 0, 2] > 0, [False, True])
    # No people, a 1x1 image, a person with every joint missing.
    empty = People.empty(BODY_25, (1, 1))
    out = det(np.zeros((1, 1, 3), np.uint8), empty)
    assert out.left_hand.shape == (0, 21, 3) and out.face.shape == (0, 70, 3)
    ghost = People(BODY_25, (120, 100), empty_keypoints(1, BODY_25.num_parts), [0.0])
    out = det(image, ghost)
    assert (out.left_hand[..., 2] == 0).all() and (out.face[..., 2] == 0).all()
    assert det.detect_hands(image, np.zeros((0, 4)), []).shape == (0, 21, 3)


def test_bad_input_raises_value_error():
    image, people = _scene()
    det = HandFaceDetector(BumpNet(HAND_21), BumpNet(FACE_70), _config())
    with pytest.raises(ValueError, match="H x W x 3"):
        det(image[..., 0], people)
    with pytest.raises(ValueError, match="does not match"):
        det(image[:100], people)
    with pytest.raises(ValueError, match="2 images but 1"):
        det.detect_batch([image, image], [people])
    with pytest.raises(ValueError, match=r"\[B, 4\]"):
        det.detect_hands(image, np.zeros((2, 3)), [True, False])
    with pytest.raises(ValueError, match="multiple of 8"):
        HandFaceConfig(hand_net_resolution=100)
    with pytest.raises(ValueError):
        HandFaceConfig(hand_scale_number=0)


def _kaiming(net: nn.Module) -> nn.Module:
    """Random weights that keep activations alive through 20+ layers, so the maps depend on
    the crop and their maxima are well separated (the nets' own init gives near-flat maps)."""
    torch.manual_seed(0)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return net.eval()


def test_real_networks_batched_equal_one_box_at_a_time():
    """All boxes in one forward pass give what one call per box gives."""
    handface = pytest.importorskip("openpose_ros.nets.handface")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    hand_net, face_net = _kaiming(handface.HandNet()), _kaiming(handface.FaceNet())
    image, people = _scene()
    people = people.take([0, 1])  # 4 hands and 2 faces keep the CPU time down
    det = HandFaceDetector(
        hand_net, face_net, HandFaceConfig(hand_net_resolution=48, face_net_resolution=48)
    )
    batched = det(image, people)
    hands = hand_boxes(people.body, BODY_25)
    faces = face_boxes(people.body, BODY_25)
    for p in range(len(people)):
        for slot, name in ((0, "left_hand"), (1, "right_hand")):
            one = det.detect_hands(image, hands[p, slot][None], [slot == 0])[0]
            np.testing.assert_allclose(getattr(batched, name)[p], one, rtol=1e-4, atol=1e-5)
        one = det.detect_faces(image, faces[p][None])[0]
        np.testing.assert_allclose(batched.face[p], one, rtol=1e-4, atol=1e-5)
    # The comparison means something: keypoints differ between boxes and within a box.
    right = batched.right_hand[:, :, :2]
    assert np.unique(right.reshape(-1, 2), axis=0).shape[0] > 10
    assert not np.allclose(batched.right_hand[0], batched.right_hand[1])
