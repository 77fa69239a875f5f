"""The typed 3D result: people triangulated from one synchronised set of camera views.

Coordinates are metres in the rig's world frame (or, from one RGB-D camera, its colour optical
frame). A joint that was not reconstructed (fewer than two good views; no usable depth) keeps its
slot with x = y = z = NaN, score 0, views 0 and reprojection error NaN; it is never dropped and
never guessed (the same convention as ``Keypoints3D.msg``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from openpose_ros.layouts import Layout

__all__ = ["People3D", "PART_NAMES"]

#: The optional keypoint groups of a person besides the body, as ``Person3D`` names them.
PART_NAMES = ("left_hand", "right_hand", "face")


@dataclass
class People3D:
    """People in 3D.

    Attributes:
        layout: body keypoint layout shared with the 2D input.
        body: float32 ``[P, J, 3]`` joint positions (x, y, z) in metres, world frame; NaN when missing.
        scores: float32 ``[P, J]`` mean 2D confidence of the views used; 0 when missing.
        views: uint8 ``[P, J]`` number of camera views used for each joint (1 for a joint placed by
            one depth camera); 0 when missing.
        reproj_error: float32 ``[P, J]`` mean reprojection error over the views used, in pixels of
            the undistorted (ideal pinhole) images; NaN when missing.
        track_ids: int32 ``[P]`` stable id per person over time; -1 when untracked.
        person_scores: float32 ``[P]`` mean joint score over reconstructed joints.
        left_hand, right_hand, face: the same ``P`` people's hands (``HAND_21``) and faces
            (``FACE_70``) as ``People3D`` of their own layout (their track ids mirror the
            body's), or None when that part is off.
    """

    layout: Layout
    body: np.ndarray
    scores: np.ndarray
    views: np.ndarray
    reproj_error: np.ndarray
    track_ids: np.ndarray = field(default=None)  # type: ignore[assignment]
    person_scores: np.ndarray = field(default=None)  # type: ignore[assignment]
    left_hand: "People3D | None" = None
    right_hand: "People3D | None" = None
    face: "People3D | None" = None

    def __post_init__(self) -> None:
        n, j = len(self.body), self.layout.num_parts
        self.body = np.asarray(self.body, dtype=np.float32).reshape(n, j, 3)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(n, j)
        self.views = np.asarray(self.views, dtype=np.uint8).reshape(n, j)
        self.reproj_error = np.asarray(self.reproj_error, dtype=np.float32).reshape(n, j)
        if self.track_ids is None:
            self.track_ids = np.full(n, -1, dtype=np.int32)
        self.track_ids = np.asarray(self.track_ids, dtype=np.int32).reshape(n)
        if self.person_scores is None:
            self.person_scores = mean_joint_score(self.scores, self.valid)
        self.person_scores = np.asarray(self.person_scores, dtype=np.float32).reshape(n)
        for name, part in self.parts().items():
            if len(part) != n:
                raise ValueError(f"{name}: {len(part)} people, the body has {n}")
            if not np.array_equal(part.track_ids, self.track_ids):  # a part follows its body's id
                setattr(self, name, replace(part, track_ids=self.track_ids))

    def parts(self) -> dict[str, "People3D"]:
        """The hand and face parts that are on, by field name."""
        return {name: part for name in PART_NAMES if (part := getattr(self, name)) is not None}

    @classmethod
    def empty(cls, layout: Layout) -> "People3D":
        """No people."""
        j = layout.num_parts
        return cls(layout, np.zeros((0, j, 3)), np.zeros((0, j)), np.zeros((0, j)), np.zeros((0, j)))

    def __len__(self) -> int:
        return len(self.body)

    @property
    def valid(self) -> np.ndarray:
        """bool ``[P, J]``: joints that were reconstructed (finite, from at least one view)."""
        return np.isfinite(self.body).all(axis=-1) & (self.views >= 1)

    def take(self, index: np.ndarray | list[int]) -> "People3D":
        """The people at ``index`` (an int array or boolean mask), in that order."""
        idx = np.asarray(index)
        return replace(
            self,
            body=self.body[idx],
            scores=self.scores[idx],
            views=self.views[idx],
            reproj_error=self.reproj_error[idx],
            track_ids=self.track_ids[idx],
            person_scores=self.person_scores[idx],
            **{name: part.take(idx) for name, part in self.parts().items()},
        )


def mean_joint_score(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``[P]`` mean of ``scores [P, J]`` over ``valid [P, J]`` joints (0 for a person with none)."""
    count = valid.sum(axis=1)
    total = np.where(valid, scores, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0).astype(np.float32)
