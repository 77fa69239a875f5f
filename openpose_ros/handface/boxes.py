"""Hand and face boxes from body keypoints (OpenPose's top-down rule, spec §4.1, §4.2, §4.3).

All functions are pure NumPy over every person at once. Coordinates are source-image pixels,
the same frame as ``People.body``. A box is ``(x, y, w, h)`` with its top-left corner at (x, y)
and ``w == h`` (the side); a box that cannot be formed is all zeros, as OpenPose's empty
``Rectangle``, and is later skipped by :func:`usable_boxes`.
"""

from __future__ import annotations

import numpy as np

from openpose_ros.layouts import Layout

__all__ = [
    "HAND_BOX_THRESHOLD",
    "FACE_BOX_THRESHOLD",
    "HAND_MIN_SIDE",
    "HAND_MIN_AREA",
    "FACE_MIN_SIDE",
    "hand_boxes",
    "face_boxes",
    "hand_scale_boxes",
    "usable_boxes",
    "square_boxes",
]

# Body-keypoint score a joint must exceed to take part in a box (handDetector / faceDetector).
HAND_BOX_THRESHOLD = 0.03
FACE_BOX_THRESHOLD = 0.25
# Skip rules of §4.3: a hand box needs side > 1 and area > 10, a face box side > 40 px.
HAND_MIN_SIDE = 1.0
HAND_MIN_AREA = 10.0
FACE_MIN_SIDE = 40.0

# Hand box: centre pushed past the wrist by this fraction of the forearm, side from the arm.
_WRIST_ELBOW_RATIO = 0.33
_HAND_SIDE_FACTOR = 1.5
_UPPER_ARM_FACTOR = 0.9


def _joint(body: np.ndarray, layout: Layout, name: str, threshold: float):
    """(xy [P,2] float64, present [P] bool) of one joint; absent when the layout lacks it."""
    if not layout.has(name):
        return np.zeros((len(body), 2)), np.zeros(len(body), dtype=bool)
    kp = body[:, layout.index(name)].astype(np.float64)
    present = (kp[:, 2] > threshold) & np.isfinite(kp[:, :2]).all(axis=1)
    return np.where(present[:, None], kp[:, :2], 0.0), present


def _square(centre: np.ndarray, side: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """[N,4] boxes of ``side`` centred on ``centre``; zeros where not ``valid``."""
    boxes = np.concatenate([centre - side[:, None] / 2, side[:, None], side[:, None]], axis=1)
    return np.where(valid[:, None], boxes, 0.0)


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


def _one_hand_box(body: np.ndarray, layout: Layout, side: str, threshold: float) -> np.ndarray:
    wrist, has_w = _joint(body, layout, f"{side}Wrist", threshold)
    elbow, has_e = _joint(body, layout, f"{side}Elbow", threshold)
    shoulder, has_s = _joint(body, layout, f"{side}Shoulder", threshold)
    centre = wrist + _WRIST_ELBOW_RATIO * (wrist - elbow)
    size = _HAND_SIDE_FACTOR * np.maximum(
        _dist(wrist, elbow), _UPPER_ARM_FACTOR * _dist(elbow, shoulder)
    )
    return _square(centre, size, has_w & has_e & has_s)


def hand_boxes(
    body: np.ndarray, layout: Layout, threshold: float = HAND_BOX_THRESHOLD
) -> np.ndarray:
    """Left and right hand boxes of every person (spec §4.1).

    Args:
        body: ``[P, layout.num_parts, 3]`` keypoints (x, y, score) in image pixels.
        layout: the body layout; the rule needs {L,R}{Wrist,Elbow,Shoulder}.
        threshold: a joint counts only if its score exceeds this.

    Returns:
        float64 ``[P, 2, 4]`` boxes (x, y, side, side); index 0 is the person's left hand,
        1 the right. A hand whose wrist, elbow or shoulder is missing gets a zero box.
    """
    body = np.asarray(body, dtype=np.float64).reshape(-1, layout.num_parts, 3)
    left = _one_hand_box(body, layout, "L", threshold)
    right = _one_hand_box(body, layout, "R", threshold)
    return np.stack([left, right], axis=1)


def face_boxes(
    body: np.ndarray, layout: Layout, threshold: float = FACE_BOX_THRESHOLD
) -> np.ndarray:
    """Face box of every person (spec §4.2).

    MPI has one ``Head`` joint instead of nose, eyes and ears: its box is centred on the head
    with side 1.33·|neck − head|. Other layouts average up to three cues (neck + nose, both
    eyes, both ears); a person with no cue gets a zero box.

    Args:
        body: ``[P, layout.num_parts, 3]`` keypoints in image pixels.
        layout: the body layout.
        threshold: a joint counts only if its score exceeds this.

    Returns:
        float64 ``[P, 4]`` boxes (x, y, side, side).
    """
    body = np.asarray(body, dtype=np.float64).reshape(-1, layout.num_parts, 3)
    neck, has_neck = _joint(body, layout, "Neck", threshold)
    if layout.has("Head") and not layout.has("Nose"):
        head, has_head = _joint(body, layout, "Head", threshold)
        return _square(head, 1.33 * _dist(neck, head), has_neck & has_head)

    nose, has_nose = _joint(body, layout, "Nose", threshold)
    l_eye, has_le = _joint(body, layout, "LEye", threshold)
    r_eye, has_re = _joint(body, layout, "REye", threshold)
    l_ear, has_la = _joint(body, layout, "LEar", threshold)
    r_ear, has_ra = _joint(body, layout, "REar", threshold)

    # Neck + nose cue; in profile (one side's eye and ear seen, the other side's neither) the
    # face lies around that side's eye, ear and nose rather than between neck and nose.
    left_profile = has_le & has_la & ~has_re & ~has_ra
    right_profile = has_re & has_ra & ~has_le & ~has_la
    eye = np.where(left_profile[:, None], l_eye, r_eye)
    ear = np.where(left_profile[:, None], l_ear, r_ear)
    profile = left_profile | right_profile
    neck_nose = _dist(neck, nose)
    cue1_centre = np.where(profile[:, None], (eye + ear + nose) / 3, (neck + nose) / 2)
    cue1_size = np.where(
        profile, 0.85 * (_dist(nose, eye) + _dist(nose, ear) + neck_nose), 2.0 * neck_nose
    )
    cues = np.stack([has_neck & has_nose, has_le & has_re, has_la & has_ra], axis=1)  # [P,3]
    centres = np.stack([cue1_centre, (l_eye + r_eye) / 2, (l_ear + r_ear) / 2], axis=1)
    sizes = np.stack(
        [cue1_size, 3.0 * _dist(l_eye, r_eye), 2.0 * _dist(l_ear, r_ear)], axis=1
    )
    count = cues.sum(axis=1)
    safe = np.maximum(count, 1)
    centre = (centres * cues[..., None]).sum(axis=1) / safe[:, None]
    size = (sizes * cues).sum(axis=1) / safe
    return _square(centre, size, count > 0)


def hand_scale_boxes(boxes: np.ndarray, scale_number: int, scale_range: float) -> np.ndarray:
    """The multi-scale hand boxes of spec §4.3, re-centred on each box.

    scale_i = (1 − range/2) + range·i/(n − 1) and side_i = floor(round(side·scale_i)/2)·2 (an
    even number of pixels). With ``scale_number == 1`` the boxes come back unchanged.

    Args:
        boxes: ``[B, 4]`` square boxes.
        scale_number: n ≥ 1.
        scale_range: the range, e.g. 0.4 for scales 0.8 … 1.2.

    Returns:
        ``[n, B, 4]`` boxes; zero boxes stay zero.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if scale_number <= 1:
        return boxes[None].copy()
    scales = (1 - scale_range / 2) + scale_range * np.arange(scale_number) / (scale_number - 1)
    side = boxes[:, 2]
    centre = boxes[:, :2] + side[:, None] / 2
    # floor(x + 0.5) is OpenPose's round (halves go up), not NumPy's round-half-to-even.
    sides = np.floor(np.floor(side[None] * scales[:, None] + 0.5) / 2) * 2  # [n, B]
    out = np.concatenate(
        [centre[None] - sides[..., None] / 2, sides[..., None], sides[..., None]], axis=-1
    )
    return np.where((side > 0)[None, :, None], out, 0.0)


def square_boxes(boxes: np.ndarray) -> np.ndarray:
    """User boxes ``[B, 4]`` (x, y, w, h) as squares of side max(w, h) with the same centre."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    side = np.maximum(boxes[:, 2], boxes[:, 3])
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    return np.concatenate([centre - side[:, None] / 2, side[:, None], side[:, None]], axis=1)


def usable_boxes(
    boxes: np.ndarray,
    image_size: tuple[int, int] | np.ndarray,
    min_side: float,
    min_area: float = 0.0,
) -> np.ndarray:
    """Which boxes get a network pass.

    A box is skipped when its side is ≤ ``min_side`` or its area ≤ ``min_area`` (spec §4.3),
    when it is not finite, or when it does not overlap the image at all (its crop would be all
    black border: OpenPose runs it anyway, which only costs time). A box partly outside the
    image is kept; the crop fills the outside with black, as OpenPose does.

    Args:
        boxes: ``[B, 4]`` (x, y, side, side) in image pixels.
        image_size: (width, height), or ``[B, 2]`` per box.

    Returns:
        bool ``[B]``.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    width, height = np.asarray(image_size, dtype=np.float64).T
    x, y, w, h = boxes.T
    with np.errstate(invalid="ignore"):
        big_enough = (w > min_side) & (h > min_side) & (w * h > min_area)
        overlaps = (x < width) & (y < height) & (x + w > 0) & (y + h > 0)
    return np.isfinite(boxes).all(axis=1) & big_enough & overlaps
