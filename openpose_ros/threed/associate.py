"""Cross-view association: which 2D person in each view is which 3D person.

Two detections of the same person in two calibrated views have joints that lie on each other's
epipolar lines. The cost of a pair of 2D people is the mean, over the joints both saw, weighted by
the product of the two confidences, of the symmetric point-to-epipolar-line distance in (ideal)
pixels. People are then
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
        view: int ``[M]`` view index of each person, non-decreasing (people grouped by view).
    Returns:
        float64 ``[M, M]`` symmetric mean epipolar distance in pixels; ``inf`` for people of the same
        view and for pairs sharing fewer than ``min_common_joints`` joints.
    """
    m, J = pts.shape[:2]
    if m == 0:
        return np.zeros((0, 0))
    if np.any(np.diff(view) < 0):
        raise ValueError("epipolar_costs needs people grouped by view (view non-decreasing)")
    finite = np.isfinite(pts).all(axis=-1)
    seen = finite & (np.where(np.isfinite(scores), scores, 0.0) > config.min_score)
    # float32 from here: pixel distances need ~1e-3 px, and the [J, M, M] arrays dominate the cost.
    xh = np.concatenate([np.where(finite[..., None], pts, 0.0), np.ones((m, J, 1))], axis=-1)
    xh = xh.astype(np.float32)
    # Epipolar lines of every person's joints in every view: [M, V, 3, J].
    lines = F.astype(np.float32)[view] @ xh.transpose(0, 2, 1)[:, None]
    inv_norm = 1.0 / np.maximum(np.sqrt(lines[:, :, 0] ** 2 + lines[:, :, 1] ** 2), np.float32(1e-12))
    lines_j = lines.transpose(1, 3, 0, 2)  # [V, J, M, 3]
    xh_j = xh.transpose(1, 2, 0)  # [J, 3, M]
    # Joint weight: the product of both confidences (0 unless both saw the joint).
    sc = np.where(seen, scores, 0.0).astype(np.float32).T  # [J, M]
    seen_f = seen.astype(np.float32).T
    one_way = np.empty((m, m), dtype=np.float32)
    shared = np.empty((m, m), dtype=np.float32)
    # People are grouped by view: one block of columns per view b. |x_n^T F x_m| for every m and
    # every n of view b is one [M, 3] @ [3, P_b] product per joint; divided by the norm of the
    # line it is the pixel distance of n's joint to m's epipolar line in b's image.
    bounds = np.flatnonzero(np.diff(np.r_[-1, view, view[-1] + 1]))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        b = view[lo]
        dist = np.abs(lines_j[b] @ xh_j[:, :, lo:hi]) * inv_norm[:, b, :].T[:, :, None]  # [J, M, P_b]
        total = np.einsum("jmn,jm,jn->mn", dist, sc, sc[:, lo:hi], optimize=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            one_way[:, lo:hi] = total / np.einsum("jm,jn->mn", sc, sc[:, lo:hi])
        shared[:, lo:hi] = np.einsum("jm,jn->mn", seen_f, seen_f[:, lo:hi])
    # Weights are symmetric, so the mean of both directions is the symmetric epipolar distance.
    cost = 0.5 * (one_way + one_way.T).astype(np.float64)
    ok = (shared >= config.min_common_joints) & (view[:, None] != view[None, :]) & np.isfinite(cost)
    return np.where(ok, cost, np.inf)


def group_people(cost: np.ndarray, view: np.ndarray, max_cost: float) -> list[np.ndarray]:
    """Groups of person indices (at most one per view, two or more each), largest first.

    Greedy average-linkage merging of the pairs cheaper than ``max_cost``, cheapest first. The
    sums and counts of finite pair costs between groups are kept up to date on every merge, so a
    candidate pair costs O(1) to check.
    """
    m = len(view)
    iu, ju = np.triu_indices(m, k=1)
    pair_cost = cost[iu, ju]
    candidates = np.flatnonzero(pair_cost < max_cost)
    candidates = candidates[np.argsort(pair_cost[candidates], kind="stable")]
    finite = np.isfinite(cost)
    link_sum = np.where(finite, cost, 0.0)  # between groups, indexed by each group's first member
    link_count = finite.astype(np.int64)
    group_of = list(range(m))
    members: dict[int, list[int]] = {i: [i] for i in range(m)}
    views: dict[int, set[int]] = {i: {int(view[i])} for i in range(m)}
    for i, j in zip(iu[candidates].tolist(), ju[candidates].tolist()):
        a, b = group_of[i], group_of[j]
        if a == b or views[a] & views[b]:
            continue
        count = link_count[a, b]
        if count == 0 or link_sum[a, b] / count >= max_cost:
            continue
        for k in members[b]:
            group_of[k] = a
        members[a] += members.pop(b)
        views[a] |= views.pop(b)
        link_sum[a] += link_sum[b]
        link_sum[:, a] = link_sum[a]
        link_count[a] += link_count[b]
        link_count[:, a] = link_count[a]
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
