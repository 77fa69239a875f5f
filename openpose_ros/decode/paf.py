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


@lru_cache(maxsize=16)
def _pair_parts(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Long ``[L]`` parts A and B of each limb."""
    pairs = np.asarray(layout.paf_pairs, dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def limb_candidates(peaks: Peaks, layout: Layout) -> LimbCandidates:
    """Every (limb, A candidate, B candidate) triple, limb-major, then A-major.

    Built on the host from the per-part counts (``J + 1`` numbers): a handful of NumPy calls
    instead of a dozen small tensor ops, then one transfer to the maps' device.
    """
    start = peaks.start.cpu().numpy()
    part_a, part_b = _pair_parts(layout)
    counts = start[1:] - start[:-1]
    n_b = counts[part_b]
    per_limb = counts[part_a] * n_b
    limb = np.repeat(np.arange(len(part_a)), per_limb)
    local = np.arange(len(limb)) - np.repeat(np.cumsum(per_limb) - per_limb, per_limb)
    n_b = np.repeat(np.maximum(n_b, 1), per_limb)
    a = np.repeat(start[part_a], per_limb) + local // n_b
    b = np.repeat(start[part_b], per_limb) + local % n_b
    triples = torch.from_numpy(np.stack([limb, a, b])).to(peaks.part.device)
    return LimbCandidates(limb=triples[0], a=triples[1], b=triples[2])


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


@lru_cache(maxsize=64)
def _layout_constants(layout: Layout, min_above: float, device: str) -> tuple[torch.Tensor, ...]:
    """Long ``[2, L]`` PAF channels of each limb and long ``[26]`` allowed failures per ``n``."""
    dev = torch.device(device)
    channels = torch.tensor(layout.paf_channels, dtype=torch.long, device=dev).reshape(-1, 2)
    table = torch.from_numpy(_allowed_failures_table(min_above)).to(dev)
    return channels.T.contiguous(), table


@lru_cache(maxsize=64)
def _near_radius(size_hw: tuple[int, int]) -> float:
    """``sqrt(W * H) / 150`` in float32 by torch's kernels, as OpenPose's near-part rule."""
    return float(torch.sqrt(torch.tensor(float(size_hw[0] * size_hw[1]))) / 150)


@lru_cache(maxsize=64)
def _last_pixel(size_hw: tuple[int, int], device: str) -> torch.Tensor:
    """Long ``[2, 1, 1]``: the largest x and y of a map (sample positions are clamped to it)."""
    return torch.tensor([[[size_hw[1] - 1]], [[size_hw[0] - 1]]], device=torch.device(device))


def _sample_scores(maps: UpsampledMaps | DenseMaps, paf: torch.Tensor, lines: torch.Tensor,
                   m: torch.Tensor) -> torch.Tensor:
    """``PAF . unit`` at samples ``m`` (long ``[S, T]`` or ``[T]``) of each pair's line.

    ``paf`` is long ``[2, T]`` (x, y channels); ``lines`` float32 ``[6, T]``: rows A (x, y),
    step (x, y) and unit vector (x, y). Sample ``m`` is at ``A + m * step``.
    """
    a_xy, step, unit = lines.view(3, 2, 1, -1).unbind(0)  # [2, 1, T] each
    samples = m.shape[0] if m.dim() == 2 else 1
    # float32 like the CUDA kernel, then round half up and clamp to the map.
    xy = (m.float().view(1, samples, -1) * step).add_(a_xy).add_(0.5).floor_().long()
    xy = torch.minimum(xy.clamp_(min=0), _last_pixel(maps.size_hw, str(xy.device)))
    channels = paf.unsqueeze(1).expand(2, samples, -1).reshape(2, -1)
    values = maps.points(channels, xy[1].view(-1), xy[0].view(-1)).view(2, samples, -1)
    return (unit * values).sum(dim=0).view(m.shape)  # ux * px + uy * py


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
    channels, table = _layout_constants(layout, float(inter_min_above_threshold), str(device))
    paf = channels.index_select(1, candidates.limb)  # [2, T]
    xy = torch.stack([peaks.x, peaks.y])
    a_xy = xy.index_select(1, candidates.a)
    d_xy = xy.index_select(1, candidates.b).sub_(a_xy)  # [2, T]
    n_f = torch.sqrt(d_xy.abs().amax(dim=0).mul_(5)).add_(0.5).floor_().clamp_(5, MAX_LINE_POINTS)
    n = n_f.long()
    norm = torch.sqrt((d_xy * d_xy).sum(dim=0))
    lines = torch.cat([a_xy, d_xy / n_f, d_xy / norm.clamp(min=1e-30)])  # [6, T]
    # Stage 1: two inner samples of every pair (wrong pairs fail there). A pair with more
    # failures than it may have is settled: it cannot pass, whatever its other samples are.
    first = torch.stack([n // 3, (2 * n) // 3])  # [2, T], distinct for n >= 5
    score = _sample_scores(maps, paf, lines, first)
    above = score > inter_threshold
    total = torch.where(above, score, 0.0).sum(dim=0)
    count = above.sum(dim=0, dtype=torch.float32)  # small integers: exact in float32
    alive = torch.nonzero(table.index_select(0, n) >= 2 - count).squeeze(1)
    # Stage 2: every other sample of the pairs still alive, so their result is exact.
    m_grid = torch.arange(MAX_LINE_POINTS, device=device)[:, None]  # [25, 1]
    left = first.index_select(1, alive)
    todo = (m_grid < n.index_select(0, alive)) & (m_grid != left[0]) & (m_grid != left[1])
    m, k = torch.nonzero(todo, as_tuple=True)
    pair = alive.index_select(0, k)
    score = _sample_scores(maps, paf.index_select(1, pair), lines.index_select(1, pair), m)
    above = score > inter_threshold
    total = total.index_add_(0, pair, torch.where(above, score, 0.0))
    count = count.index_add_(0, pair, above.float())

    was_alive = torch.zeros(n.shape, dtype=torch.bool, device=device).index_fill_(0, alive, True)
    # Python floats compare and fill in float32 here, as OpenPose's float thresholds.
    passed = was_alive & (count / n_f > inter_min_above_threshold)
    fallback = torch.where(norm < _near_radius((height, width)), nms_threshold + 1e-6, -1.0)
    result = torch.where(passed, total / count.clamp(min=1), fallback)
    return torch.where(norm > 1e-6, result, -1.0)
