"""Limb candidates and their PAF line-integral scores, all pairs of all limbs at once (spec §3.5).

Every (limb k, candidate i of part A_k, candidate j of part B_k) is scored by sampling the
limb's PAF at ``n = clamp(round(sqrt(5 * max(|dx|, |dy|))), 5, 25)`` points
``round(A + m * (B - A) / n)``, ``m < n``, and dotting with the unit vector A->B. Points are
read in two stages with identical results: the first reads two points per pair and drops the
pairs that already failed the ``count / n > min_above`` rule (most cross-person pairs), the
second reads the remaining points of the survivors only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from openpose_ros.decode.peaks import Peaks
from openpose_ros.decode.upsampled import DenseMaps, UpsampledMaps
from openpose_ros.layouts import Layout

__all__ = ["LimbCandidates", "limb_candidates", "paf_scores", "MAX_LINE_POINTS"]

MAX_LINE_POINTS = 25


@dataclass(frozen=True)
class LimbCandidates:
    """All candidate connections: long ``[T]`` limb index and global peak indices of A and B."""

    limb: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor

    def __len__(self) -> int:
        return int(self.limb.shape[0])


def limb_candidates(peaks: Peaks, layout: Layout) -> LimbCandidates:
    """Every (limb, A candidate, B candidate) triple, limb-major, then A-major (tensor ops only)."""
    device = peaks.part.device
    pairs = torch.tensor(layout.paf_pairs, dtype=torch.long, device=device).reshape(-1, 2)
    counts = peaks.start[1:] - peaks.start[:-1]
    n_a, n_b = counts[pairs[:, 0]], counts[pairs[:, 1]]
    per_limb = n_a * n_b
    limb = torch.repeat_interleave(torch.arange(len(pairs), device=device), per_limb)
    first = torch.cumsum(per_limb, 0) - per_limb
    local = torch.arange(len(limb), device=device) - first[limb]
    i, j = local // n_b[limb], local % n_b[limb]
    a = peaks.start[pairs[limb, 0]] + i
    b = peaks.start[pairs[limb, 1]] + j
    return LimbCandidates(limb=limb, a=a, b=b)


@lru_cache(maxsize=16)
def _allowed_failures_table(min_above: float) -> np.ndarray:
    """``table[n]``: most samples below threshold a line of ``n`` samples may have and pass.

    Passing is ``count / n > min_above`` in float32, exactly as the final test computes it.
    """
    ma = np.float32(min_above)
    table = np.full(MAX_LINE_POINTS + 1, -1, dtype=np.int64)
    for n in range(1, MAX_LINE_POINTS + 1):
        passing = [f for f in range(n + 1) if np.float32(n - f) / np.float32(n) > ma]
        table[n] = max(passing) if passing else -1
    return table


def _sample_scores(
    maps: UpsampledMaps | DenseMaps,
    paf: torch.Tensor,
    line: tuple[torch.Tensor, ...],
    m: torch.Tensor,
) -> torch.Tensor:
    """``PAF . unit`` at sample ``m`` (long ``[T]``) of each pair; ``paf`` is long ``[2, T]``."""
    height, width = maps.size_hw
    ax, ay, step_x, step_y, ux, uy = line
    mf = m.float()
    # float32 like the CUDA kernel, then round half up and clamp to the map.
    x = torch.floor(ax + mf * step_x + 0.5).long().clamp(0, width - 1)
    y = torch.floor(ay + mf * step_y + 0.5).long().clamp(0, height - 1)
    value = maps.points(paf, y, x)  # [2, T]
    return ux * value[0] + uy * value[1]


def paf_scores(
    maps: UpsampledMaps | DenseMaps,
    peaks: Peaks,
    candidates: LimbCandidates,
    layout: Layout,
    *,
    inter_threshold: float,
    inter_min_above_threshold: float,
    nms_threshold: float,
) -> torch.Tensor:
    """OpenPose's PAF score of every candidate, float32 ``[T]`` (-1 = no connection).

    The score is the mean of the sample scores above ``inter_threshold`` when more than
    ``inter_min_above_threshold`` of the ``n`` samples are above it; otherwise
    ``nms_threshold + 1e-6`` for near-coincident parts (``|AB| < sqrt(W*H)/150``), else -1.
    Coincident parts (``|AB| <= 1e-6``) score -1.
    """
    device = peaks.x.device
    height, width = maps.size_hw
    channels = torch.tensor(layout.paf_channels, dtype=torch.long, device=device).reshape(-1, 2)
    paf = channels[candidates.limb].T.contiguous()  # [2, T]
    ax, ay = peaks.x[candidates.a], peaks.y[candidates.a]
    dx, dy = peaks.x[candidates.b] - ax, peaks.y[candidates.b] - ay
    n = torch.floor(torch.sqrt(5 * torch.maximum(dx.abs(), dy.abs())) + 0.5)
    n = n.clamp(5, MAX_LINE_POINTS).long()
    n_f = n.float()
    norm = torch.sqrt(dx * dx + dy * dy)
    safe = norm.clamp(min=1e-30)
    line = (ax, ay, dx / n_f, dy / n_f, dx / safe, dy / safe)
    table = torch.from_numpy(_allowed_failures_table(float(inter_min_above_threshold)))
    allowed_fail = table.to(device)[n]
    zero = torch.zeros((), device=device)
    # Stage 1: two inner samples of every pair (wrong pairs fail there). A pair with more
    # failures than it may have is settled: it cannot pass, whatever its other samples are.
    first = ((n + 0) // 3, (2 * n) // 3)  # distinct for n >= 5
    scores = [_sample_scores(maps, paf, line, m) for m in first]
    above = [v > inter_threshold for v in scores]
    total = sum(torch.where(a, v, zero) for a, v in zip(above, scores))
    count = above[0].long() + above[1].long()
    alive = 2 - count <= allowed_fail
    # Stage 2: every other sample of the pairs still alive, so their result is exact.
    m_grid = torch.arange(MAX_LINE_POINTS, device=device)[:, None]  # [25, 1]
    todo = alive & (m_grid < n) & (m_grid != first[0]) & (m_grid != first[1])
    m, pair = torch.nonzero(todo, as_tuple=True)
    score = _sample_scores(maps, paf[:, pair], tuple(t[pair] for t in line), m)
    above = score > inter_threshold
    total = total.index_add(0, pair, torch.where(above, score, zero))
    count = count.index_add(0, pair, above.long())

    min_above = torch.tensor(inter_min_above_threshold, dtype=torch.float32, device=device)
    passed = alive & (count.float() / n_f > min_above)
    near = torch.tensor(nms_threshold + 1e-6, dtype=torch.float32, device=device)
    close = norm < torch.sqrt(torch.tensor(float(width * height), device=device)) / 150
    minus_one = torch.full_like(total, -1.0)
    fallback = torch.where(close, near, minus_one)
    result = torch.where(passed, total / count.clamp(min=1).float(), fallback)
    return torch.where(norm > 1e-6, result, minus_one)
