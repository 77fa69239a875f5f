"""Hand and face boxes from body keypoints against the spec's formulas (§4.1, §4.2, §4.3).

The expected boxes are computed here one person at a time, straight from the spec's wording,
and compared with the vectorised rule over a batch that covers every combination of the
joints a rule looks at (present, missing, exactly at the threshold, NaN).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from openpose_ros.handface.boxes import (
    FACE_MIN_SIDE,
    HAND_MIN_AREA,
    HAND_MIN_SIDE,
    face_boxes,
    hand_boxes,
    hand_scale_boxes,
    square_boxes,
    usable_boxes,
)
from openpose_ros.layouts import BODY_25, COCO_18, MPI_15
from openpose_ros.people import empty_keypoints

HAND_THR, FACE_THR = 0.03, 0.25


def _dist(a, b) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _hand_reference(joints: dict, side: str) -> tuple[float, float, float, float]:
    """Spec §4.1 for one hand; ``joints`` maps name -> (x, y) for joints above threshold."""
    names = [f"{side}Wrist", f"{side}Elbow", f"{side}Shoulder"]
    if not all(n in joints for n in names):
        return (0.0, 0.0, 0.0, 0.0)
    w, e, s = (joints[n] for n in names)
    cx, cy = w[0] + 0.33 * (w[0] - e[0]), w[1] + 0.33 * (w[1] - e[1])
    side_len = 1.5 * max(_dist(w, e), 0.9 * _dist(e, s))
    return (cx - side_len / 2, cy - side_len / 2, side_len, side_len)


def _face_reference(j: dict) -> tuple[float, float, float, float]:
    """Spec §4.2 (non-MPI) for one person."""
    centres, sizes = [], []
    if "Neck" in j and "Nose" in j:
        left = "LEye" in j and "LEar" in j and "REye" not in j and "REar" not in j
        right = "REye" in j and "REar" in j and "LEye" not in j and "LEar" not in j
        if left or right:
            eye, ear, nose = j["LEye" if left else "REye"], j["LEar" if left else "REar"], j["Nose"]
            centres.append(((eye[0] + ear[0] + nose[0]) / 3, (eye[1] + ear[1] + nose[1]) / 3))
            sizes.append(0.85 * (_dist(nose, eye) + _dist(nose, ear) + _dist(j["Neck"], nose)))
        else:
            centres.append(((j["Neck"][0] + j["Nose"][0]) / 2, (j["Neck"][1] + j["Nose"][1]) / 2))
            sizes.append(2 * _dist(j["Neck"], j["Nose"]))
    if "LEye" in j and "REye" in j:
        centres.append(((j["LEye"][0] + j["REye"][0]) / 2, (j["LEye"][1] + j["REye"][1]) / 2))
        sizes.append(3 * _dist(j["LEye"], j["REye"]))
    if "LEar" in j and "REar" in j:
        centres.append(((j["LEar"][0] + j["REar"][0]) / 2, (j["LEar"][1] + j["REar"][1]) / 2))
        sizes.append(2 * _dist(j["LEar"], j["REar"]))
    if not centres:
        return (0.0, 0.0, 0.0, 0.0)
    cx = sum(c[0] for c in centres) / len(centres)
    cy = sum(c[1] for c in centres) / len(centres)
    size = sum(sizes) / len(sizes)
    return (cx - size / 2, cy - size / 2, size, size)


# A joint is "missing" in one of four ways; the rule must treat them all alike.
_MISSING_KINDS = ("score0", "at_threshold", "nan_xy", "present")


def _people_with(layout, names, rng, threshold):
    """A batch with every combination of {present, missing kinds} over ``names``.

    Returns (body [P, J, 3], list of dicts of the joints that count as present).
    """
    combos = list(itertools.product(_MISSING_KINDS, repeat=len(names)))
    body = empty_keypoints(len(combos), layout.num_parts)
    present = []
    for p, kinds in enumerate(combos):
        seen = {}
        for name, kind in zip(names, kinds):
            xy = rng.uniform(0, 600, 2)
            j = layout.index(name)
            if kind == "present":
                body[p, j] = (*xy, rng.uniform(threshold + 0.01, 1.0))
                seen[name] = tuple(float(v) for v in body[p, j, :2])
            elif kind == "at_threshold":  # "must exceed": equal is not enough
                body[p, j] = (*xy, threshold)
            elif kind == "nan_xy":
                body[p, j] = (np.nan, np.nan, 0.9)
            # score0: leave the NaN, 0 of empty_keypoints
        present.append(seen)
    return body, present


@pytest.mark.parametrize("layout", [BODY_25, COCO_18, MPI_15], ids=lambda l: l.name)
def test_hand_boxes_follow_spec_for_every_joint_combination(layout):
    rng = np.random.default_rng(1)
    names = ["LWrist", "LElbow", "LShoulder", "RWrist", "RElbow", "RShoulder"]
    # 4^6 = 4096 people: every presence pattern of the six joints.
    body, present = _people_with(layout, names, rng, HAND_THR)
    boxes = hand_boxes(body, layout)
    assert boxes.shape == (len(body), 2, 4)
    expected = np.array(
        [[_hand_reference(j, "L"), _hand_reference(j, "R")] for j in present]
    )
    np.testing.assert_allclose(boxes, expected, rtol=1e-5, atol=1e-3)
    # Sanity of the batch itself: both empty and non-empty boxes occur on each side.
    assert (boxes[:, 0, 2] > 0).any() and (boxes[:, 0, 2] == 0).any()


def test_hand_box_known_values():
    body = empty_keypoints(1, BODY_25.num_parts)
    body[0, BODY_25.index("RWrist")] = (100, 100, 0.5)
    body[0, BODY_25.index("RElbow")] = (100, 60, 0.5)
    body[0, BODY_25.index("RShoulder")] = (100, 0, 0.5)
    left, right = hand_boxes(body, BODY_25)[0]
    # centre y = 100 + 0.33·40 = 113.2; side = 1.5·max(40, 0.9·60) = 81
    np.testing.assert_allclose(right, (100 - 40.5, 113.2 - 40.5, 81, 81))
    np.testing.assert_array_equal(left, 0)


@pytest.mark.parametrize("layout", [BODY_25, COCO_18], ids=lambda l: l.name)
def test_face_boxes_follow_spec_for_every_cue_combination(layout):
    rng = np.random.default_rng(2)
    names = ["Neck", "Nose", "LEye", "REye", "LEar", "REar"]
    body, present = _people_with(layout, names, rng, FACE_THR)
    boxes = face_boxes(body, layout)
    expected = np.array([_face_reference(j) for j in present])
    np.testing.assert_allclose(boxes, expected, rtol=1e-5, atol=1e-3)
    profiles = [
        j for j in present
        if {"Neck", "Nose", "LEye", "LEar"} <= j.keys() and not {"REye", "REar"} & j.keys()
    ]
    assert profiles, "the batch must include left-profile faces"


def test_face_box_mpi_uses_head_and_neck():
    body = empty_keypoints(3, MPI_15.num_parts)
    head, neck = MPI_15.index("Head"), MPI_15.index("Neck")
    body[0, head], body[0, neck] = (200, 100, 0.9), (200, 160, 0.9)
    body[1, head] = (200, 100, 0.9)  # no neck
    body[2, head], body[2, neck] = (200, 100, 0.9), (200, 160, FACE_THR)  # neck at threshold
    boxes = face_boxes(body, MPI_15)
    side = 1.33 * 60
    np.testing.assert_allclose(boxes[0], (200 - side / 2, 100 - side / 2, side, side))
    np.testing.assert_array_equal(boxes[1:], 0)


def test_no_people_gives_empty_arrays():
    body = empty_keypoints(0, BODY_25.num_parts)
    assert hand_boxes(body, BODY_25).shape == (0, 2, 4)
    assert face_boxes(body, BODY_25).shape == (0, 4)
    assert usable_boxes(np.zeros((0, 4)), (640, 480), HAND_MIN_SIDE).shape == (0,)


def test_hand_scale_boxes_match_spec_rule():
    boxes = np.array([[50.0, 60.0, 101.0, 101.0], [0, 0, 0, 0]])
    out = hand_scale_boxes(boxes, 3, 0.4)  # scales 0.8, 1.0, 1.2
    # side_i = floor(round(101·scale)/2)·2:
    #   round(80.8) = 81 -> 80; 101 -> 100; round(121.2) = 121 -> 120
    np.testing.assert_array_equal(out[:, 0, 2], [80, 100, 120])
    np.testing.assert_array_equal(out[:, 0, 2], out[:, 0, 3])
    centre = out[:, 0, :2] + out[:, 0, 2:] / 2
    np.testing.assert_allclose(centre, np.tile([100.5, 110.5], (3, 1)))
    np.testing.assert_array_equal(out[:, 1], 0)
    # Rounding is half-up (OpenPose's floor(x + 0.5)): 6 scales of 0.4 around side 45.
    six = hand_scale_boxes(np.array([[0.0, 0.0, 45.0, 45.0]]), 6, 0.4)[:, 0, 2]
    scales = 0.8 + 0.4 * np.arange(6) / 5
    expected = [math.floor(math.floor(45 * s + 0.5) / 2) * 2 for s in scales]
    np.testing.assert_array_equal(six, expected)
    np.testing.assert_array_equal(hand_scale_boxes(boxes, 1, 0.4), boxes[None])


def test_usable_boxes_apply_skip_rules():
    size = (640, 480)
    boxes = np.array(
        [
            [10, 10, 1, 1],  # side <= 1
            [10, 10, 3, 3],  # area 9 <= 10
            [10, 10, 3.2, 3.2],  # area 10.24: kept
            [700, 10, 50, 50],  # wholly right of the image
            [-60, -60, 50, 50],  # wholly above-left
            [620, 460, 50, 50],  # over the bottom-right corner: kept, black border
            [-25, 100, 50, 50],  # over the left border: kept
            [np.nan, 0, 50, 50],
            [0, 0, 0, 0],  # the empty box of a missing hand
        ]
    )
    hands = usable_boxes(boxes, size, HAND_MIN_SIDE, HAND_MIN_AREA)
    np.testing.assert_array_equal(hands, [0, 0, 1, 0, 0, 1, 1, 0, 0])
    faces = usable_boxes(np.array([[0, 0, 40, 40], [0, 0, 40.5, 40.5]]), size, FACE_MIN_SIDE)
    np.testing.assert_array_equal(faces, [0, 1])
    per_box = usable_boxes(boxes[5:7], np.array([[640, 480], [640, 90]]), HAND_MIN_SIDE)
    np.testing.assert_array_equal(per_box, [1, 0])


def test_square_boxes_widen_about_the_centre():
    out = square_boxes(np.array([[10, 20, 30, 50]]))
    np.testing.assert_allclose(out, [[0, 20, 50, 50]])
