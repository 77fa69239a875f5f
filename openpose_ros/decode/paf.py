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
    """All candidate connections: int64 ``[T]`` limb index and global peak indices of A and B
    (host arrays: the bookkeeping of a few thousand pairs costs less there than a kernel
    launch or a CPU tensor op per step)."""

    limb: np.ndarray
    a: np.ndarray
    b: np.ndarray

    def __len__(self) -> int:
        return int(self.limb.shape[0])


@lru_cache(maxsize=16)
def _pair_parts(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Long ``[L]`` parts A and B of each limb."""
    pairs = np.asarray(layout.paf_pairs, dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def limb_candidates(peaks: Peaks, layout: Layout) -> LimbCandidates:
    """Every (limb, A candidate, B candidate) triple, limb-major, then A-major.

    Built on the host from the per-part counts (``J + 1`` numbers) with a handful of NumPy
    calls.
    """
    start = peaks.start
    part_a, part_b = _pair_parts(layout)
    counts = start[1:] - start[:-1]
    n_b = counts[part_b]
    per_limb = counts[part_a] * n_b
    limb = np.repeat(np.arange(len(part_a)), per_limb)
    local = np.arange(len(limb)) - np.repeat(np.cumsum(per_limb) - per_limb, per_limb)
    n_b = np.repeat(np.maximum(n_b, 1), per_limb)
    a = np.repeat(start[part_a], per_limb) + local // n_b
    b = np.repeat(start[part_b], per_limb) + local % n_b
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


@lru_cache(maxsize=16)
def _paf_channels(layout: Layout) -> np.ndarray:
    """int64 ``[L, 2]`` PAF channels (x, y) of each limb."""
    return np.asarray(layout.paf_channels, dtype=np.int64).reshape(-1, 2)


@lru_cache(maxsize=64)
def _near_radius(size_hw: tuple[int, int]) -> np.float32:
    """``sqrt(W * H) / 150`` in float32, as OpenPose's near-part rule."""
    return np.float32(np.sqrt(np.float32(size_hw[0] * size_hw[1])) / np.float32(150))


@dataclass(frozen=True)
class _Lines:
    """Float32 ``[T]`` geometry of candidate lines: start ``A``, step ``(B - A) / n`` and unit
    vector, per axis (1-D arrays: NumPy gathers and reduces them several times faster than
    rows of a ``[2, T]`` array), and int64 ``[T]`` PAF channels."""

    ax: np.ndarray
    ay: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    ux: np.ndarray
    uy: np.ndarray
    cx: np.ndarray
    cy: np.ndarray

    def take(self, index: np.ndarray) -> "_Lines":
        return _Lines(*(v[index] for v in vars(self).values()))


def _sample_scores(maps: UpsampledMaps | DenseMaps, lines: _Lines, m: np.ndarray) -> np.ndarray:
    """``PAF . unit`` at samples ``m`` (int64 ``[S, T]``, or ``[T]`` one per line) of each line.

    Sample ``m`` is at ``A + m * step``, rounded half up and clamped to the map in float32 as
    the CUDA kernel does. The positions are computed here; the maps are read on their device
    (``maps.points``), with one transfer each way.
    """
    height, width = maps.size_hw
    mf = m.astype(np.float32)
    half = np.float32(0.5)
    # Channels x, y, then row and column of every sample (rows ``[S, T]`` or ``[T]`` as ``m``);
    # filled by assignment: np.stack/np.broadcast_to's Python wrappers cost more than the copies.
    index = np.empty((4,) + m.shape, dtype=np.int64)
    index[0], index[1] = lines.cx, lines.cy
    index[2] = np.minimum(np.maximum(np.floor(mf * lines.sy + lines.ay + half), 0), height - 1)
    index[3] = np.minimum(np.maximum(np.floor(mf * lines.sx + lines.ax + half), 0), width - 1)
    index = torch.from_numpy(index.reshape(4, -1)).to(maps.device)
    values = maps.points(index[:2], index[2], index[3]).cpu().numpy().reshape((2,) + m.shape)
    return lines.ux * values[0] + lines.uy * values[1]


def paf_scores(
    maps: UpsampledMaps | DenseMaps,
    peaks: Peaks,
    candidates: LimbCandidates,
    layout: Layout,
    *,
    inter_threshold: float,
    inter_min_above_threshold: float,
    nms_threshold: float,
) -> np.ndarray:
    """OpenPose's PAF score of every candidate, float32 ``[T]`` (-1 = no connection).

    The score is the mean of the sample scores above ``inter_threshold`` when more than
    ``inter_min_above_threshold`` of the ``n`` samples are above it; otherwise
    ``nms_threshold + 1e-6`` for near-coincident parts (``|AB| < sqrt(W*H)/150``), else -1.
    Coincident parts (``|AB| <= 1e-6``) score -1. Geometry and counting run on the host in
    float32 (the CUDA kernel's arithmetic, operation by operation); only the map reads run on
    the maps' device.
    """
    f32 = np.float32
    if len(candidates) == 0:
        return np.zeros(0, dtype=f32)
    table = _allowed_failures_table(float(inter_min_above_threshold))
    channels = _paf_channels(layout)
    px, py = peaks.x, peaks.y  # [P] float32 each
    ax, ay = px[candidates.a], py[candidates.a]
    dx, dy = px[candidates.b] - ax, py[candidates.b] - ay
    n_f = np.clip(np.floor(np.sqrt(np.maximum(np.abs(dx), np.abs(dy)) * f32(5)) + f32(0.5)),
                  5, MAX_LINE_POINTS)
    n = n_f.astype(np.int64)
    norm = np.sqrt(dx * dx + dy * dy)
    safe = np.maximum(norm, f32(1e-30))
    lines = _Lines(ax, ay, dx / n_f, dy / n_f, dx / safe, dy / safe,
                   channels[candidates.limb, 0], channels[candidates.limb, 1])
    # Stage 1: two inner samples of every pair (wrong pairs fail there). A pair with more
    # failures than it may have is settled: it cannot pass, whatever its other samples are.
    first, second = n // 3, (2 * n) // 3  # distinct for n >= 5
    score = _sample_scores(maps, lines, np.stack([first, second]))  # [2, T]
    above = score > inter_threshold
    total = np.where(above[0], score[0], f32(0)) + np.where(above[1], score[1], f32(0))
    count = (above[0].astype(f32) + above[1])  # small integers: exact in float32
    alive = np.flatnonzero(table[n] >= 2 - count)
    # Stage 2: every other sample of the pairs still alive, so their result is exact.
    # Pair-major, each pair's samples in order: the n - 2 samples skip ``first`` and ``second``.
    rest = n[alive] - 2
    pair = np.repeat(alive, rest)
    m = np.arange(len(pair)) - np.repeat(np.cumsum(rest) - rest, rest)
    m += m >= first[pair]
    m += m >= second[pair]
    score = _sample_scores(maps, lines.take(pair), m)
    above = score > inter_threshold
    np.add.at(total, pair, np.where(above, score, f32(0)))
    np.add.at(count, pair, above.astype(f32))

    was_alive = np.zeros(n.shape, dtype=bool)
    was_alive[alive] = True
    # Python floats compare in float32 here (NumPy's weak scalars), as OpenPose's thresholds.
    passed = was_alive & (count / n_f > inter_min_above_threshold)
    fallback = np.where(norm < _near_radius(maps.size_hw), f32(nms_threshold + 1e-6), f32(-1))
    result = np.where(passed, total / np.maximum(count, f32(1)), fallback)
    return np.where(norm > 1e-6, result, f32(-1)).astype(f32)
