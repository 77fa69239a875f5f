"""Hand and face boxes and preprocessing against real data in ../shared (skipped without it).

- COCO-WholeBody (mmpose test split, 4 images): the spec's hand box built from the *labelled*
  wrist/elbow/shoulder must contain the labelled hand keypoints, and the face box from the
  labelled nose/eyes/ears/neck the labelled face landmarks.
- Hzzone/pytorch-openpose's record of OpenPose's hand model on ``hand.jpg``: our crop,
  normalisation, stride and ×8 upsampling follow the conventions it states, and its 21 peaks
  survive our back-projection.
"""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from openpose_ros.handface import HandFaceConfig, HandFaceDetector, face_boxes, hand_boxes
from openpose_ros.handface.crop import crop_affine, crop_boxes, images_to_tensor, normalise_bgr
from openpose_ros.handface.peaks import heatmap_argmax
from openpose_ros.layouts import COCO_18, HAND_21
from openpose_ros.people import empty_keypoints


def _coco_body(keypoints: list[float], names: list[str]) -> np.ndarray:
    """COCO-17 labels as a COCO_18 body (labelled joints score 1, neck = mid-shoulder as in
    OpenPose's COCO training data)."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
    body = empty_keypoints(1, COCO_18.num_parts)
    for (x, y, v), name in zip(kp, names):
        side, _, part = name.partition("_")
        ours = f"{side[0].upper()}{part.capitalize()}" if part else side.capitalize()
        if v > 0:
            body[0, COCO_18.index(ours)] = (x, y, 1.0)
    ls, rs = body[0, COCO_18.index("LShoulder")], body[0, COCO_18.index("RShoulder")]
    if ls[2] > 0 and rs[2] > 0:
        body[0, COCO_18.index("Neck")] = ((ls[0] + rs[0]) / 2, (ls[1] + rs[1]) / 2, 1.0)
    return body


def _inside(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    x, y, w, h = box
    px, py = points[:, 0], points[:, 1]
    return (px >= x) & (px <= x + w) & (py >= y) & (py <= y + h)


def test_spec_boxes_contain_labelled_hands_and_faces(shared_data, record_property):
    data = json.loads(
        (shared_data / "annotated/mmpose_coco/test_coco_wholebody.json").read_text()
    )
    names = data["categories"][0]["keypoints"]
    hands = hand_hits = hand_total = faces = face_hits = face_total = 0
    no_box = boxes_inside = 0
    side_ratios = []
    for ann in data["annotations"]:
        body = _coco_body(ann["keypoints"], names)
        hb = hand_boxes(body, COCO_18)[0]
        for slot, key in ((0, "lefthand"), (1, "righthand")):
            if not ann[f"{key}_valid"]:
                continue
            if hb[slot, 2] == 0:  # wrist, elbow or shoulder not labelled: no box, by the rule
                no_box += 1
                continue
            kp = np.asarray(ann[f"{key}_kpts"]).reshape(21, 3)
            kp = kp[kp[:, 2] > 0]
            hands += 1
            hand_hits += int(_inside(kp, hb[slot]).sum())
            hand_total += len(kp)
            # The labelled hand box itself, both corners inside ours.
            x, y, w, h = ann[f"{key}_box"]
            boxes_inside += int(_inside(np.array([[x, y], [x + w, y + h]]), hb[slot]).all())
            side_ratios.append(hb[slot, 2] / max(w, h))
        fb = face_boxes(body, COCO_18)[0]
        if ann["face_valid"] and fb[2] > 0:
            kp = np.asarray(ann["face_kpts"]).reshape(68, 3)
            kp = kp[kp[:, 2] > 0]
            faces += 1
            face_hits += int(_inside(kp, fb).sum())
            face_total += len(kp)
    hand_fraction, face_fraction = hand_hits / hand_total, face_hits / face_total
    record_property("hand_keypoints_inside_spec_box", f"{hand_hits}/{hand_total} ({hands} hands)")
    record_property("face_keypoints_inside_spec_box", f"{face_hits}/{face_total} ({faces} faces)")
    print(f"hand keypoints inside the spec's box: {hand_hits}/{hand_total} over {hands} hands "
          f"({no_box} labelled hands had no box); labelled hand boxes inside ours: "
          f"{boxes_inside}/{hands}, our side / labelled side: median "
          f"{np.median(side_ratios):.2f}; face keypoints: {face_hits}/{face_total} over {faces}")
    assert hands >= 8 and faces >= 3
    assert hand_fraction >= 0.9 and face_fraction >= 0.9
    assert boxes_inside >= 0.9 * hands
    # Generous but not absurd: the spec's box leaves room around the hand, not the whole arm.
    assert 1.0 < np.median(side_ratios) < 5.0


@pytest.fixture(scope="module")
def hand_reference(shared_data):
    folder = shared_data / "openpose_reference/hzzone_pytorch_openpose"
    ref = json.loads((folder / "hand_jpg_reference_peaks.json").read_text())
    image = cv2.imread(str(folder / "hand.jpg"))  # BGR, like the reference's cv2.imread
    assert image is not None
    return ref, image


def test_preprocessing_follows_the_reference_conventions(hand_reference):
    ref, image = hand_reference
    params = ref["params"]
    handface = pytest.importorskip("openpose_ros.nets.handface")
    # Input size and stride: a boxsize crop, output stride 8, no padding needed at that size.
    assert HandFaceConfig().hand_net_resolution == params["boxsize"]
    assert handface.HandNet.stride == params["stride"]
    assert params["boxsize"] % params["stride"] == 0
    # Normalisation "img/256-0.5".
    norm = re.fullmatch(r"img/(\d+)-([\d.]+)", params["input_norm"])
    divisor, offset = float(norm[1]), float(norm[2])
    px = torch.arange(0, 256, dtype=torch.float32)
    torch.testing.assert_close(normalise_bgr(px), px / divisor - offset)
    # Channel order BGR as read by OpenCV, and the resize: at the reference's scale 1.0 the
    # whole 200x200 image becomes the 368x368 input (cubic resize there, the spec's bilinear
    # warp here); the two agree to ~1 grey level, and not at all with R and B swapped.
    h, w = image.shape[:2]
    size = params["boxsize"]
    theirs = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float64)
    aff = crop_affine(np.array([[0.0, 0.0, w, h]]), np.array([False]), size)
    ours = crop_boxes(images_to_tensor([image], "cpu"), [0], aff, size)[0].permute(1, 2, 0).numpy()
    same = np.abs(ours - theirs).mean()
    swapped = np.abs(ours - theirs[..., ::-1]).mean()
    assert same < 3.0 and swapped > 5 * same, (same, swapped)


def _gaussian_maps(centres: np.ndarray, side: int, sigma: float = 1.0) -> torch.Tensor:
    """``[1, 22, side, side]``: one Gaussian per part at ``centres`` (net-output pixels)."""
    grid = np.arange(side, dtype=np.float64)
    gx = np.exp(-((grid[None, :] - centres[:, :1]) ** 2) / (2 * sigma**2))  # [21, side]
    gy = np.exp(-((grid[None, :] - centres[:, 1:]) ** 2) / (2 * sigma**2))
    maps = np.zeros((1, HAND_21.num_parts + 1, side, side))
    maps[0, : HAND_21.num_parts] = gy[:, :, None] * gx[:, None, :]
    return torch.from_numpy(maps).float()


def test_upsampling_agrees_with_the_reference_cubic_x8(hand_reference):
    """OpenCV INTER_CUBIC (a = -0.75) there, OpenPose's CUDA bicubic (a = -0.5) here: both ×8
    with half-pixel centres, so smooth peaks land on the same pixel, give or take one."""
    ref, _ = hand_reference
    stride = ref["params"]["stride"]
    rng = np.random.default_rng(3)
    centres = rng.uniform(3, 42, (21, 2))
    maps = _gaussian_maps(centres, 46)
    ours = heatmap_argmax(maps, 21, (46 * stride, 46 * stride))[0, :, :2].numpy()
    for k in range(21):
        up = cv2.resize(
            maps[0, k].numpy(), (0, 0), fx=stride, fy=stride, interpolation=cv2.INTER_CUBIC
        )
        v, u = np.unravel_index(up.argmax(), up.shape)
        assert abs(ours[k, 0] - u) <= 1 and abs(ours[k, 1] - v) <= 1, k
    # And the peak sits where the half-pixel rule puts a net pixel, (a + 0.5)·8 − 0.5, to
    # within the integer argmax and the cubic's bias on a narrow Gaussian (< 0.2 net pixels).
    np.testing.assert_allclose(ours, (centres + 0.5) * stride - 0.5, atol=1.5)


class _ReplayNet(nn.Module):
    """Returns prepared maps whatever the crop (checks the geometry, not a model)."""

    stride = 8

    def __init__(self, maps: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("maps", maps)
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] // self.stride == self.maps.shape[-1]
        return self.maps.expand(len(x), -1, -1, -1) + self.anchor


def test_reference_peaks_survive_our_back_projection(hand_reference):
    """Maps whose peaks sit where the reference's pipeline (resize to 368, stride 8, cubic
    back to 200x200, all half-pixel) puts its 21 image peaks, run through our detector with
    the whole image as the hand box, come back at the reference's pixels."""
    ref, image = hand_reference
    params = ref["params"]
    size, stride = params["boxsize"], params["stride"]
    peaks = np.asarray(ref["peaks_xy"], dtype=np.float64)  # [21, 2] image pixels (x, y)
    assert peaks.shape == (21, 2)
    h, w = image.shape[:2]
    crop = (peaks + 0.5) * np.array([size / w, size / h]) - 0.5  # reference image -> 368 input
    net = (crop + 0.5) / stride - 0.5  # 368 input -> 46 net output
    # sigma 1.5 net pixels (12 input pixels): narrower peaks let the cubic's ripple move the
    # integer argmax by a crop pixel, which is not what this test is about.
    maps = _gaussian_maps(net, size // stride, sigma=1.5)
    det = HandFaceDetector(_ReplayNet(maps), None,
                           HandFaceConfig(faces=False))
    found = det.detect_hands(image, np.array([[0.0, 0.0, w, h]]), [False])[0]
    error = np.abs(found[:, :2] - peaks)
    print(f"reference hand peaks through our back-projection: max error {error.max():.2f} px")
    assert error.max() <= 1.0, error.max()
    # Flip the image: the hand is now a left hand. Mirrored for the network, its crop shows
    # the same right hand, so the same maps must come back at the flipped pixels (w − 1 − x).
    # The spec mirrors about the box's edges (x0 + side − s·u), half a pixel from the
    # pixel-centre mirror, hence the extra half pixel allowed.
    flipped = np.ascontiguousarray(image[:, ::-1])
    left = det.detect_hands(flipped, np.array([[0.0, 0.0, w, h]]), [True])[0]
    assert np.abs(left[:, 0] - (w - 1 - peaks[:, 0])).max() <= 1.5
    assert np.abs(left[:, 1] - peaks[:, 1]).max() <= 1.0
