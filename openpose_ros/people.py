"""The typed result every stage passes on: the people found in one image.

Keypoints are fixed-size arrays, one slot per joint of the layout. A missing joint keeps its
slot with coordinates NaN and score 0; it is never dropped. Coordinates are source-image pixels
in OpenPose's convention (the decoder's +0.5 offset included, spec §3.7).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from openpose_ros.layouts import FACE_70, HAND_21, Layout

__all__ = ["People", "empty_keypoints", "missing_to_nan"]


def empty_keypoints(num_people: int, num_parts: int) -> np.ndarray:
    """``[num_people, num_parts, 3]`` float32 keypoints, all missing (NaN, NaN, 0)."""
    kp = np.full((num_people, num_parts, 3), np.nan, dtype=np.float32)
    kp[..., 2] = 0.0
    return kp


def missing_to_nan(keypoints: np.ndarray) -> np.ndarray:
    """Copy of ``[..., 3]`` keypoints with every score-0 (or non-finite) joint set to NaN, NaN, 0."""
    kp = np.array(keypoints, dtype=np.float32, copy=True)
    missing = ~(kp[..., 2] > 0) | ~np.isfinite(kp[..., :2]).all(axis=-1)
    kp[missing, :2] = np.nan
    kp[missing, 2] = 0.0
    return kp


@dataclass
class People:
    """People found in one image.

    Attributes:
        layout: body keypoint layout (BODY_25, COCO_18 or MPI_15).
        image_size: source image (width, height) in pixels.
        body: float32 ``[P, layout.num_parts, 3]`` (x, y, score) in image pixels.
        scores: float32 ``[P]`` person score (OpenPose: total / (#parts + #pairs)).
        left_hand, right_hand: float32 ``[P, 21, 3]`` when hands were detected, ``[P, 0, 3]`` when
            hand detection is off.
        face: float32 ``[P, 70, 3]``, or ``[P, 0, 3]`` when face detection is off.
        track_ids: int32 ``[P]``; -1 when untracked.
    """

    layout: Layout
    image_size: tuple[int, int]
    body: np.ndarray
    scores: np.ndarray
    left_hand: np.ndarray = field(default=None)  # type: ignore[assignment]
    right_hand: np.ndarray = field(default=None)  # type: ignore[assignment]
    face: np.ndarray = field(default=None)  # type: ignore[assignment]
    track_ids: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.body)
        self.body = np.asarray(self.body, dtype=np.float32).reshape(n, self.layout.num_parts, 3)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(n)
        for name in ("left_hand", "right_hand", "face"):
            value = getattr(self, name)
            value = np.zeros((n, 0, 3), np.float32) if value is None else value
            value = np.asarray(value, dtype=np.float32)
            if value.ndim != 3 or value.shape[0] != n or value.shape[2] != 3:
                raise ValueError(f"People.{name} must be [{n}, K, 3], got {value.shape}")
            setattr(self, name, value)
        if self.track_ids is None:
            self.track_ids = np.full(n, -1, dtype=np.int32)
        self.track_ids = np.asarray(self.track_ids, dtype=np.int32).reshape(n)
        w, h = self.image_size
        self.image_size = (int(w), int(h))

    @classmethod
    def empty(cls, layout: Layout, image_size: tuple[int, int]) -> "People":
        """No people."""
        return cls(layout, image_size, empty_keypoints(0, layout.num_parts), np.zeros(0))

    def __len__(self) -> int:
        return len(self.body)

    @property
    def has_hands(self) -> bool:
        return self.left_hand.shape[1] == HAND_21.num_parts

    @property
    def has_face(self) -> bool:
        return self.face.shape[1] == FACE_70.num_parts

    def take(self, index: np.ndarray | list[int]) -> "People":
        """The people at ``index`` (an int array or boolean mask), in that order."""
        idx = np.asarray(index)
        return replace(
            self,
            body=self.body[idx],
            scores=self.scores[idx],
            left_hand=self.left_hand[idx],
            right_hand=self.right_hand[idx],
            face=self.face[idx],
            track_ids=self.track_ids[idx],
        )

    def with_parts(
        self,
        *,
        left_hand: np.ndarray | None = None,
        right_hand: np.ndarray | None = None,
        face: np.ndarray | None = None,
    ) -> "People":
        """A copy with the given hand/face keypoints filled in (others unchanged)."""
        return replace(
            self,
            left_hand=self.left_hand if left_hand is None else left_hand,
            right_hand=self.right_hand if right_hand is None else right_hand,
            face=self.face if face is None else face,
        )
