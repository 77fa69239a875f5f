"""Greedy assembly of scored limbs into people, and OpenPose's person filters (spec §3.6-3.7).

This runs on small host arrays (a few hundred connections): one global sort, then a tight loop
over the sorted connections with plain Python ints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openpose_ros.layouts import Layout

__all__ = ["Assembly", "sort_connections", "assemble_people", "filter_people", "keep_top_people"]


@dataclass(frozen=True)
class Assembly:
    """People built by the greedy pass, in creation order (absorbed people removed).

    Attributes:
        parts: int64 ``[N, J]`` global peak index per joint, -1 when empty.
        count: int64 ``[N]`` joints found.
        total: float64 ``[N]`` sum of joint confidences and connection scores.
    """

    parts: np.ndarray
    count: np.ndarray
    total: np.ndarray


def sort_connections(
    limb: np.ndarray, a: np.ndarray, b: np.ndarray, score: np.ndarray,
    peak_score: np.ndarray, peak_rank: np.ndarray,
) -> np.ndarray:
    """Order of the connections to walk: descending on (key, score, limb, i, j) (spec §3.6).

    ``key = score + 0.1 * conf(A) + 0.1 * conf(B)`` in float32; ``i``/``j`` are the candidates'
    ranks within their part (``peak_rank``). Inputs are ``[T]`` (peak arrays ``[P]``).
    """
    score = score.astype(np.float32)
    tenth = np.float32(0.1)
    conf = peak_score.astype(np.float32)
    key = score + tenth * conf[a] + tenth * conf[b]
    # np.lexsort sorts ascending by the last key first; negate for descending.
    return np.lexsort((-peak_rank[b], -peak_rank[a], -limb, -score, -key))


def assemble_people(
    order: np.ndarray, limb: np.ndarray, a: np.ndarray, b: np.ndarray, score: np.ndarray,
    peak_score: np.ndarray, layout: Layout,
) -> Assembly:
    """Walk the sorted connections and grow people (the CUDA build's greedy rule).

    Neither end owned: a new person {A, B}. One end owned: the other joins that person only if
    its slot is empty. Both in one person: its total gains the score (redundant pairs). Two
    people: merged into the lower index when their filled slots do not overlap.
    """
    num_parts = layout.num_parts
    pair_a = [p for p, _ in layout.paf_pairs]
    pair_b = [q for _, q in layout.paf_pairs]
    conf = peak_score.astype(np.float64).tolist()
    owner = [-1] * len(peak_score)
    parts: list[list[int]] = []
    filled: list[int] = []  # bit j set when joint j is filled: overlap tests are one AND
    count: list[int] = []
    total: list[float] = []
    alive: list[bool] = []
    for k, ia, ib, s in zip(limb[order].tolist(), a[order].tolist(), b[order].tolist(),
                            score[order].astype(np.float64).tolist()):
        oa, ob = owner[ia], owner[ib]
        if oa < 0 and ob < 0:
            slots = [-1] * num_parts
            slots[pair_a[k]], slots[pair_b[k]] = ia, ib
            owner[ia] = owner[ib] = len(parts)
            parts.append(slots)
            filled.append((1 << pair_a[k]) | (1 << pair_b[k]))
            count.append(2)
            total.append(conf[ia] + conf[ib] + s)
            alive.append(True)
        elif oa >= 0 and ob >= 0:
            if oa == ob:
                total[oa] += s
            elif not filled[oa] & filled[ob]:
                keep, gone = min(oa, ob), max(oa, ob)
                kept = parts[keep]
                for j, peak in enumerate(parts[gone]):
                    if peak >= 0:
                        kept[j] = peak
                        owner[peak] = keep
                filled[keep] |= filled[gone]
                count[keep] += count[gone]
                total[keep] += total[gone] + s
                alive[gone] = False
        else:
            person, joint, peak = (oa, pair_b[k], ib) if ob < 0 else (ob, pair_a[k], ia)
            if not filled[person] >> joint & 1:
                parts[person][joint] = peak
                filled[person] |= 1 << joint
                owner[peak] = person
                count[person] += 1
                total[person] += conf[peak] + s
    live = [i for i, ok in enumerate(alive) if ok]
    return Assembly(
        parts=np.array([parts[i] for i in live], dtype=np.int64).reshape(len(live), num_parts),
        count=np.array([count[i] for i in live], dtype=np.int64),
        total=np.array([total[i] for i in live], dtype=np.float64),
    )


def filter_people(
    people: Assembly, layout: Layout, *, min_subset_cnt: int, min_subset_score: float,
    maximize_positives: bool, max_people: int,
) -> np.ndarray:
    """Indices of the people OpenPose reports, in order (spec §3.7).

    Unless maximising positives, BODY_25's foot joints do not count, and a person with feet
    whose other joints number at most 4 is dropped. Kept: ``cnt >= min_subset_cnt`` and
    ``total / cnt >= min_subset_score``. If nobody is kept, the filter runs again with the
    foot rule off. At most ``max_people`` (OpenPose's storage limit) are kept.
    """
    def run(foot_rule: bool) -> np.ndarray:
        cnt = people.count.astype(np.float64)
        dropped = np.zeros(len(cnt), dtype=bool)
        if foot_rule and layout.foot_parts:
            feet = (people.parts[:, list(layout.foot_parts)] >= 0).sum(axis=1)
            cnt = cnt - feet
            dropped = (feet > 0) & (cnt <= 4)
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = (cnt >= min_subset_cnt) & (people.total / cnt >= min_subset_score) & ~dropped
        return np.flatnonzero(ok)[:max_people]

    kept = run(foot_rule=not maximize_positives)
    if len(kept) == 0 and not maximize_positives:
        kept = run(foot_rule=False)
    return kept


def keep_top_people(body: np.ndarray, scores: np.ndarray, number_people_max: int,
                    *, threshold: float = 0.05) -> np.ndarray:
    """Indices of the ``number_people_max`` best people, in their original order.

    Rank = score * sqrt(area of the box around the joints with confidence > ``threshold``);
    ties at the cut-off go to the earlier person. ``body`` is ``[N, J, 3]``, ``scores`` ``[N]``.
    """
    n = len(scores)
    if number_people_max <= 0 or n <= number_people_max:
        return np.arange(n)
    good = body[..., 2] > threshold
    any_good = good.any(axis=1)

    def extent(v: np.ndarray) -> np.ndarray:
        hi = np.where(good, v, -np.inf).max(axis=1)
        lo = np.where(good, v, np.inf).min(axis=1)
        return np.where(any_good, hi - lo, 0.0)

    rank = scores * np.sqrt(extent(body[..., 0]) * extent(body[..., 1]))
    # Stable sort on -rank: equal ranks keep their original order, so earlier wins a tie.
    best = np.argsort(-rank, kind="stable")[:number_people_max]
    return np.sort(best)
