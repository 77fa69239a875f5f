"""Our layouts -> REP-155's normalised 2D skeleton, face landmarks and regions of interest.

Input keypoints are ``[P, J, 3]`` (x, y, score) in source-image pixels (``People``); outputs are
normalised to [0, 1] by the image width and height ((0, 0) is the top-left corner), clipped to
[0, 1], with a missing point as (0, 0, c = 0), as REP-155 (``hri_msgs``) wants them.

The 18-point skeleton is mapped **by joint name**: ``hri_msgs/Skeleton2D``'s comment says it
follows OpenPose COCO, but its eye/ear indices are swapped against COCO (LEFT_EYE=14, where COCO
has REye=14), and MPI_15 has no nose, eyes or ears at all (those points go out with c = 0).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from openpose_ros.layouts import FACE_70, Layout

__all__ = ["SKELETON_JOINTS", "NUM_SKELETON_POINTS", "NUM_FACE_LANDMARKS", "skeleton_indices",
           "valid_mask", "normalise", "skeleton_2d", "face_landmarks", "regions_of_interest"]

#: REP-155 ``Skeleton2D`` points in message order: (constant name, our joint name).
SKELETON_JOINTS: tuple[tuple[str, str], ...] = (
    ("NOSE", "Nose"), ("NECK", "Neck"),
    ("RIGHT_SHOULDER", "RShoulder"), ("RIGHT_ELBOW", "RElbow"), ("RIGHT_WRIST", "RWrist"),
    ("LEFT_SHOULDER", "LShoulder"), ("LEFT_ELBOW", "LElbow"), ("LEFT_WRIST", "LWrist"),
    ("RIGHT_HIP", "RHip"), ("RIGHT_KNEE", "RKnee"), ("RIGHT_ANKLE", "RAnkle"),
    ("LEFT_HIP", "LHip"), ("LEFT_KNEE", "LKnee"), ("LEFT_ANKLE", "LAnkle"),
    ("LEFT_EYE", "LEye"), ("RIGHT_EYE", "REye"), ("LEFT_EAR", "LEar"), ("RIGHT_EAR", "REar"),
)
NUM_SKELETON_POINTS = len(SKELETON_JOINTS)
#: ``hri_msgs/FacialLandmarks``: the 68 iBUG/300-W points then RIGHT_PUPIL=68, LEFT_PUPIL=69,
#: which is FACE_70's own order (checked at import, so a layout edit cannot silently break it).
NUM_FACE_LANDMARKS = FACE_70.num_parts
assert FACE_70.index("RPupil") == 68 and FACE_70.index("LPupil") == 69 and NUM_FACE_LANDMARKS == 70


@lru_cache(maxsize=None)
def skeleton_indices(layout: Layout) -> np.ndarray:
    """int ``[18]``: the joint of ``layout`` for each REP-155 point, -1 where it has none."""
    idx = [layout.index(ours) if layout.has(ours) else -1 for _, ours in SKELETON_JOINTS]
    out = np.array(idx, dtype=np.intp)
    out.flags.writeable = False
    return out


def valid_mask(keypoints: np.ndarray, min_score: float = 0.0) -> np.ndarray:
    """bool ``[..., J]``: finite coordinates and a finite score above ``min_score``."""
    kp = np.asarray(keypoints, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        return np.isfinite(kp).all(axis=-1) & (kp[..., 2] > min_score)


def normalise(keypoints: np.ndarray, image_size: tuple[int, int], *,
              min_score: float = 0.0) -> np.ndarray:
    """``[..., J, 3]`` pixels -> float32 ``[..., J, 3]`` (x / width, y / height, c) in [0, 1].

    Joints that are missing, non-finite or at/below ``min_score`` become (0, 0, 0).
    ``ValueError`` for an empty image size.
    """
    width, height = image_size
    if width <= 0 or height <= 0:
        raise ValueError(f"image size {width}x{height} is empty")
    kp = np.asarray(keypoints, dtype=np.float32)
    valid = valid_mask(kp, min_score)
    scale = np.array([1.0 / width, 1.0 / height, 1.0], np.float32)
    with np.errstate(invalid="ignore"):
        out = np.clip(kp * scale, 0.0, 1.0)
    out[~valid] = 0.0
    return out


def skeleton_2d(body: np.ndarray, layout: Layout, image_size: tuple[int, int], *,
                min_score: float = 0.0) -> np.ndarray:
    """float32 ``[P, 18, 3]`` REP-155 skeletons from ``[P, layout.num_parts, 3]`` pixel joints."""
    body = np.asarray(body, dtype=np.float32).reshape(-1, layout.num_parts, 3)
    idx = skeleton_indices(layout)
    picked = np.zeros((len(body), NUM_SKELETON_POINTS, 3), np.float32)
    have = idx >= 0
    picked[:, have] = body[:, idx[have]]
    return normalise(picked, image_size, min_score=min_score)


def face_landmarks(face: np.ndarray, image_size: tuple[int, int], *,
                   min_score: float = 0.0) -> np.ndarray:
    """float32 ``[P, 70, 3]`` REP-155 landmarks from FACE_70 pixel keypoints (same order)."""
    face = np.asarray(face, dtype=np.float32).reshape(-1, NUM_FACE_LANDMARKS, 3)
    return normalise(face, image_size, min_score=min_score)


def regions_of_interest(keypoints: np.ndarray, image_size: tuple[int, int], *,
                        min_score: float = 0.0, padding: float = 0.0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Normalised boxes around each person's valid joints.

    Args:
        keypoints: ``[P, J, 3]`` pixel keypoints (body or face).
        image_size: (width, height) in pixels.
        min_score: joints at or below it do not count.
        padding: the box grows by this fraction of its width/height on every side (joints sit
            inside the body, so a tight box around them cuts off the head and hands).

    Returns:
        ``boxes`` float32 ``[P, 5]`` (xmin, ymin, xmax, ymax, c) clipped to [0, 1], c the mean
        score of the joints used (clipped to [0, 1]); ``ok`` bool ``[P]``, false for a person
        with no valid joint (its row is zeros).
    """
    width, height = image_size
    if width <= 0 or height <= 0:
        raise ValueError(f"image size {width}x{height} is empty")
    kp = np.asarray(keypoints, dtype=np.float32)
    valid = valid_mask(kp, min_score)
    ok = valid.any(axis=-1)
    boxes = np.zeros((len(kp), 5), np.float32)
    if not ok.any():
        return boxes, ok
    x = np.where(valid, kp[..., 0], np.nan)[ok]
    y = np.where(valid, kp[..., 1], np.nan)[ok]
    lo = np.stack([np.nanmin(x, axis=1), np.nanmin(y, axis=1)], axis=1)
    hi = np.stack([np.nanmax(x, axis=1), np.nanmax(y, axis=1)], axis=1)
    pad = (hi - lo) * padding
    size = np.array([width, height], np.float32)
    boxes[ok, 0:2] = np.clip((lo - pad) / size, 0.0, 1.0)
    boxes[ok, 2:4] = np.clip((hi + pad) / size, 0.0, 1.0)
    scores = np.where(valid, kp[..., 2], 0.0)[ok]
    boxes[ok, 4] = np.clip(scores.sum(axis=1) / valid[ok].sum(axis=1), 0.0, 1.0)
    return boxes, ok
