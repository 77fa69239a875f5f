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

import torch

from openpose_ros.decode.peaks import Peaks
from openpose_ros.decode.upsampled import DenseMaps, UpsampledMaps
from openpose_ros.layouts import Layout

__all__ = ["LimbCandidates", "limb_candidates", "paf_scores", "MAX_LINE_POINTS"]

MAX_LINE_POINTS = 25
# Samples read per stage as fractions m = n * num // den; None = all remaining samples. Two
# samples first, because a long line (n > 20 samples) may fail one sample and still pass.
_STAGES = (((1, 3), (2, 3)), None)


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


def _allowed_failures(n: torch.Tensor, min_above: float) -> torch.Tensor:
    """Most samples below threshold a line of ``n`` samples may have and still pass.

    Passing is ``count / n > min_above`` in float32, exactly as the final test computes it; the
    largest passing failure count is found among the three around the exact-arithmetic value.
    """
    n_f = n.float()
    ma = torch.tensor(min_above, dtype=torch.float32, device=n.device)
    guess = n - 1 - torch.floor(ma * n_f).long()
    best = torch.full_like(n, -1)
    for f in (guess - 1, guess, guess + 1):
        ok = (f >= 0) & (f <= n) & ((n - f).float() / n_f > ma)
        best = torch.where(ok, torch.maximum(best, f), best)
    return best


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
    allowed_fail = _allowed_failures(n, inter_min_above_threshold)
    zero = torch.zeros((), device=device)
    total = torch.zeros_like(ax)
    count = torch.zeros_like(n)
    fails = torch.zeros_like(n)
    read = torch.zeros((MAX_LINE_POINTS, len(n)), dtype=torch.bool, device=device)
    m_grid = torch.arange(MAX_LINE_POINTS, device=device)[:, None]  # [25, 1]
    # Stages read more samples of the pairs still alive: two inner samples first (wrong pairs
    # fail there), then the rest. A pair with more failures than it may have is
    # settled early; every sample a surviving pair has is read, so the result is exact.
    for stage in _STAGES:
        alive = fails <= allowed_fail
        if stage is None:
            todo = alive & (m_grid < n) & ~read
        else:
            todo = torch.zeros_like(read)
            for num, den in stage:
                todo[(n * num) // den, torch.arange(len(n), device=device)] = True
            todo &= alive & ~read
        m, pair = torch.nonzero(todo, as_tuple=True)
        read[m, pair] = True
        score = _sample_scores(maps, paf[:, pair], tuple(t[pair] for t in line), m)
        above = score > inter_threshold
        total.index_add_(0, pair, torch.where(above, score, zero))
        count.index_add_(0, pair, above.long())
        fails.index_add_(0, pair, (~above).long())
    alive = fails <= allowed_fail

    min_above = torch.tensor(inter_min_above_threshold, dtype=torch.float32, device=device)
    passed = alive & (count.float() / n_f > min_above)
    near = torch.tensor(nms_threshold + 1e-6, dtype=torch.float32, device=device)
    close = norm < torch.sqrt(torch.tensor(float(width * height), device=device)) / 150
    minus_one = torch.full_like(total, -1.0)
    result = torch.where(passed, total / count.clamp(min=1).float(), torch.where(close, near, minus_one))
    return torch.where(norm > 1e-6, result, minus_one)
