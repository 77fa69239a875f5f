"""Cross-view association: which 2D person in each view is which 3D person.

Two detections of the same person in two calibrated views have joints that lie on each other's
epipolar lines. The cost of a pair of 2D people is the confidence-weighted mean, over the joints
both saw, of the symmetric point-to-epipolar-line distance in (ideal) pixels. People are then
grouped greedily, cheapest pair first, into 3D person hypotheses: two groups merge only when they
share no view (at most one 2D person per view and hypothesis) and their average pair cost stays
under ``max_epipolar_px`` (average linkage, so one lucky joint cannot chain two people together).
A hypothesis needs two views; people seen by one camera only stay unassigned.

Cost: epipolar lines of every joint in every view, ``M x M x J`` distances for the ``M`` 2D people
of the set, then a loop over the (few) candidate pairs under the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AssociationConfig", "epipolar_costs", "group_people", "associate"]


@dataclass(frozen=True)
class AssociationConfig:
    """Association settings.

    Attributes:
        min_score: joints at or below this 2D confidence are ignored.
        max_epipolar_px: largest mean epipolar distance (pixels) between the same person's views.
        min_common_joints: fewest joints two detections must share to be compared.
    """

    min_score: float = 0.3
    max_epipolar_px: float = 25.0
    min_common_joints: int = 3

    def __post_init__(self) -> None:
        if not self.max_epipolar_px > 0:
            raise ValueError(f"max_epipolar_px must be > 0, got {self.max_epipolar_px}")
        if self.min_common_joints < 1:
            raise ValueError(f"min_common_joints must be >= 1, got {self.min_common_joints}")


def epipolar_costs(F: np.ndarray, pts: np.ndarray, scores: np.ndarray, view: np.ndarray,
                   config: AssociationConfig = AssociationConfig()) -> np.ndarray:
    """Pairwise association costs of M 2D people.

    Args:
        F: ``[V, V, 3, 3]`` fundamental matrices between ideal-pixel images (``fundamental_matrices``).
        pts: ``[M, J, 2]`` ideal pixels (NaN where missing).
        scores: ``[M, J]`` 2D confidences.
        view: int ``[M]`` view index of each person.
    Returns:
        float64 ``[M, M]`` symmetric mean epipolar distance in pixels; ``inf`` for people of the same
        view and for pairs sharing fewer than ``min_common_joints`` joints.
    """
    m = len(pts)
    if m == 0:
        return np.zeros((0, 0))
    seen = (np.nan_to_num(scores) > config.min_score) & np.isfinite(pts).all(axis=-1)
    xh = np.concatenate([np.nan_to_num(pts), np.ones(pts.shape[:-1] + (1,))], axis=-1)  # [M, J, 3]
    # Epipolar lines of every person's joints in every view: [M, V, 3, J]. F[b, a] = F[a, b]^T (up
    # to sign), so the line of n's joint in m's view is lines[n, view[m]]: no M x M matrix products.
    lines = F[view] @ xh.transpose(0, 2, 1)[:, None]
    fwd = lines[:, view]  # [M, M, 3, J]: line of m's joint j in n's view
    algebraic = np.abs((fwd * xh.transpose(0, 2, 1)[None]).sum(axis=2))  # |x_n^T F x_m|, [M, M, J]
    norm = np.sqrt(fwd[:, :, 0] ** 2 + fwd[:, :, 1] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = 0.5 * algebraic * (1.0 / norm + 1.0 / norm.transpose(1, 0, 2))
    both = seen[:, None, :] & seen[None, :, :] & np.isfinite(dist)
    weight = np.where(both, np.minimum(scores[:, None, :], scores[None, :, :]), 0.0)
    wsum = weight.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = (np.where(both, dist, 0.0) * weight).sum(axis=-1) / wsum
    enough = both.sum(axis=-1) >= config.min_common_joints
    cost = np.where(enough & (view[:, None] != view[None, :]), cost, np.inf)
    return np.minimum(cost, cost.T)


def group_people(cost: np.ndarray, view: np.ndarray, max_cost: float) -> list[np.ndarray]:
    """Groups of person indices (at most one per view, two or more each), largest first.

    Greedy average-linkage merging of the pairs cheaper than ``max_cost``, cheapest first.
    """
    m = len(view)
    iu, ju = np.triu_indices(m, k=1)
    pair_cost = cost[iu, ju]
    candidates = np.flatnonzero(pair_cost < max_cost)
    candidates = candidates[np.argsort(pair_cost[candidates], kind="stable")]
    group_of = list(range(m))
    members: dict[int, list[int]] = {i: [i] for i in range(m)}
    views: dict[int, set[int]] = {i: {int(view[i])} for i in range(m)}
    for c in candidates:
        a, b = group_of[iu[c]], group_of[ju[c]]
        if a == b or views[a] & views[b]:
            continue
        link = cost[np.ix_(members[a], members[b])]
        finite = np.isfinite(link)
        if not finite.any() or link[finite].mean() >= max_cost:
            continue
        for k in members[b]:
            group_of[k] = a
        members[a] += members.pop(b)
        views[a] |= views.pop(b)
    groups = [np.array(sorted(g)) for g in members.values() if len(g) >= 2]
    groups.sort(key=lambda g: (-len(g), g[0]))
    return groups


def associate(F: np.ndarray, pts: list[np.ndarray], scores: list[np.ndarray],
              config: AssociationConfig = AssociationConfig()) -> np.ndarray:
    """3D person hypotheses from the 2D people of V views.

    Args:
        F: ``[V, V, 3, 3]`` fundamental matrices of the views.
        pts: per view ``[P_v, J, 2]`` ideal pixels; scores: per view ``[P_v, J]``.
    Returns:
        int32 ``[H, V]``: for each hypothesis the 2D person index in each view, -1 where unused.
    """
    num_views = len(pts)
    counts = [len(p) for p in pts]
    if sum(counts) == 0:
        return np.zeros((0, num_views), dtype=np.int32)
    view = np.repeat(np.arange(num_views), counts)
    local = np.concatenate([np.arange(c) for c in counts])
    cost = epipolar_costs(F, np.concatenate(pts), np.concatenate(scores), view, config)
    groups = group_people(cost, view, config.max_epipolar_px)
    sources = np.full((len(groups), num_views), -1, dtype=np.int32)
    for h, g in enumerate(groups):
        sources[h, view[g]] = local[g]
    return sources
