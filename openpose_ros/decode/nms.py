"""Exact NMS on the x8-upsampled part heatmaps without upsampling them (spec §3.4).

A peak is an upsampled pixel above the threshold and strictly above its 8 neighbours. The
upsampled map is cut into blocks of ``B = ceil(ratio)`` pixels per axis, aligned so that, at
ratio 8, every interior block is exactly the set of outputs sharing one base tap ``i1`` (so its
values depend on a 4x4 input window only). For every block an upper bound of its values is
computed from its input window; only blocks whose bound reaches the threshold are evaluated,
with a one-pixel halo, and tested exactly. Skipping the others is exact: a pixel whose value
cannot exceed the threshold is never a peak, and as a neighbour it is below any peak.

Two bounds are used, the smaller wins:

- generic (any block, any ratio): ``vmax + N * (vmax - vmin)`` over the block's input window,
  with ``N`` the largest weight mass of negative products (the weights sum to 1);
- interior Catmull-Rom blocks (fractions ``t`` in [0, 1), no clamped taps): per axis the two
  core taps weigh ``[0, 1]`` each and together at most 1.125, the outer taps ``[-2/27, 0]``, so
  ``sum w_k v_k <= 1.125 * max(core)+ + 2/27 * (outer-)``; applied to columns, then rows.

Cost grows with the area where the maps exceed the threshold (about 25 blocks per joint for
OpenPose-width blobs). The optional fast mode (``BodyDecodeConfig.fast_nms``) tests only the
2x2 blocks around each low-resolution local maximum: 2-3x cheaper on a CPU, every peak it
finds is a true one, but where same-part blobs of different people merge it can miss one
(measured on synthetic crowds: 2 of 349 peaks), so it is not the default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from openpose_ros.decode.resize import axis_weights

__all__ = ["nms_mask", "block_peaks"]

_CORE_SUM = 1.125  # max over t in [0, 1] of w1 + w2 = 1 + t (1 - t) / 2
_OUTER = 2.0 / 27.0  # max over t in [0, 1] of |w0| and of |w3|


def nms_mask(values: torch.Tensor, threshold: float) -> torch.Tensor:
    """CUDA NMS test on ``[..., h + 2, w + 2]`` values with a one-pixel halo -> ``[..., h, w]``.

    A pixel is a peak when it is above ``threshold`` and strictly above all 8 neighbours. NaN
    (used for pixels outside the map) compares false.
    """
    centre = values[..., 1:-1, 1:-1]
    h, w = centre.shape[-2:]
    peak = centre > threshold
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy != 1 or dx != 1:
                peak &= centre > values[..., dy : dy + h, dx : dx + w]
    return peak


@dataclass(frozen=True)
class _Blocks:
    """Blocks of one axis.

    Attributes:
        size: outputs per block ``B``.
        start: long ``[nb]`` first output of each block (the first may be negative).
        win_start: long ``[nb]`` first input of the block's tap window, ``k`` inputs long.
        pos, neg: float32 ``[nb]`` largest positive / negative weight mass of the block's rows.
        tight: ``(first block, first cell, count)`` of the contiguous interior blocks whose rows
            share one base tap ``f`` (= cell) with ``1 <= f <= n_in - 3`` and ``t`` in [0, 1).
        tile_start: long ``[nb]`` first input of the window of the block with its halo
            (``B + 2`` outputs from ``start - 1``), ``tile_k`` inputs long.
        tile_type: long ``[nb]`` which of ``tile_weight`` (float32 ``[T, B + 2, tile_k]``) the
            block uses; interior blocks at an integer ratio all share one.
        cell_block: long ``[n_in]`` the block whose rows have base tap ``i`` (-1 if none), for
            the fast mode.
    """

    size: int
    start: torch.Tensor
    win_start: torch.Tensor
    k: int
    pos: torch.Tensor
    neg: torch.Tensor
    tight: tuple[int, int, int]
    tile_start: torch.Tensor
    tile_k: int
    tile_type: torch.Tensor
    tile_weight: torch.Tensor
    cell_block: torch.Tensor


def _windows(aw, rows: np.ndarray, n_in: int, n_out: int) -> tuple[np.ndarray, int, np.ndarray]:
    """Tap window (start, k) and ``[nb, len, k]`` weights of the in-map outputs ``rows``."""
    inside = (rows >= 0) & (rows < n_out)
    safe = np.clip(rows, 0, n_out - 1)
    lo = np.where(inside, aw.index[safe, 0], n_in).min(axis=1)
    hi = np.where(inside, aw.index[safe, 3], -1).max(axis=1)
    k = min(int((hi - lo).max()) + 1, n_in)
    start = np.clip(lo, 0, n_in - k)
    cols = start[:, None] + np.arange(k)
    weight = aw.matrix[safe[:, :, None], cols[:, None, :]]
    return start, k, np.where(inside[:, :, None], weight, 0.0).astype(np.float32)


@lru_cache(maxsize=64)
def _blocks(n_in: int, n_out: int, ratio: float | None, device: str) -> _Blocks:
    aw = axis_weights(n_in, n_out, ratio)
    r = n_out / n_in if ratio is None else float(ratio)
    size = max(1, math.ceil(r - 1e-9))
    src = (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) / np.float32(r) - np.float32(0.5)
    fl = np.floor(src.astype(np.float64)).astype(np.int64)
    first_run = int(np.argmax(fl >= 0)) if (fl >= 0).any() else 0
    first = first_run - math.ceil(first_run / size) * size
    starts = np.arange(first, n_out, size)
    rows = starts[:, None] + np.arange(size)  # [nb, B]
    inside = (rows >= 0) & (rows < n_out)
    safe = np.clip(rows, 0, n_out - 1)
    win_start, k, _ = _windows(aw, rows, n_in, n_out)
    m = aw.matrix[safe]  # [nb, B, n_in]
    pos = np.where(inside, np.clip(m, 0, None).sum(-1), 0).max(axis=1)
    neg = np.where(inside, np.clip(-m, 0, None).sum(-1), 0).max(axis=1)
    # Interior blocks: all rows in the map, one base tap f, taps f-1..f+2 unclamped, t >= 0.
    fl_rows = np.where(inside, fl[safe], -10)
    one_cell = inside.all(axis=1) & (fl_rows == fl_rows[:, :1]).all(axis=1)
    cell = fl_rows[:, 0]
    ok = one_cell & (cell >= 1) & (cell <= n_in - 3) & (size > 1)
    idx = np.flatnonzero(ok)
    if len(idx) and np.all(np.diff(idx) == 1) and np.all(np.diff(cell[idx]) == 1):
        tight = (int(idx[0]), int(cell[idx[0]]), len(idx))
    else:
        tight = (0, 0, 0)
    halo_rows = starts[:, None] - 1 + np.arange(size + 2)
    tile_start, tile_k, tile_w = _windows(aw, halo_rows, n_in, n_out)
    types, tile_type = np.unique(tile_w.reshape(len(starts), -1), axis=0, return_inverse=True)
    cell_block = np.full(n_in, -1, dtype=np.int64)
    owner = np.clip(fl, 0, n_in - 1)  # OpenPose clamps the base tap
    cell_block[owner] = (np.arange(n_out) - first) // size
    dev = torch.device(device)

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(dev)

    return _Blocks(
        size=size, start=tensor(starts), win_start=tensor(win_start), k=k,
        pos=tensor(pos.astype(np.float32)), neg=tensor(neg.astype(np.float32)), tight=tight,
        tile_start=tensor(tile_start), tile_k=tile_k, tile_type=tensor(tile_type.reshape(-1)),
        tile_weight=tensor(types.reshape(-1, size + 2, tile_k).astype(np.float32)),
        cell_block=tensor(cell_block),
    )


def _window_extreme(v: torch.Tensor, k: int, dim: int, largest: bool) -> torch.Tensor:
    """Max (or min) over ``k`` samples from each index along ``dim`` (truncated at the end)."""
    n = v.shape[dim]
    fill = float("-inf") if largest else float("inf")
    pad = [0, 0] * (v.dim() - 1 - dim) + [0, k - 1]
    padded = torch.nn.functional.pad(v, pad, value=fill)
    pick = torch.maximum if largest else torch.minimum
    out = padded.narrow(dim, 0, n)
    for s in range(1, k):
        out = pick(out, padded.narrow(dim, s, n))
    return out


def _generic_bound(maps: torch.Tensor, by: _Blocks, bx: _Blocks) -> torch.Tensor:
    """``vmax + N (vmax - vmin)`` per block: ``[J, h, w]`` -> ``[J, nby, nbx]``."""
    rows_max = _window_extreme(maps, by.k, 1, True).index_select(1, by.win_start)
    rows_min = _window_extreme(maps, by.k, 1, False).index_select(1, by.win_start)
    vmax = _window_extreme(rows_max, bx.k, 2, True).index_select(2, bx.win_start)
    vmin = _window_extreme(rows_min, bx.k, 2, False).index_select(2, bx.win_start)
    negative = by.pos[:, None] * bx.neg[None, :] + by.neg[:, None] * bx.pos[None, :]
    return vmax + negative * (vmax - vmin)


def _interior_bound(maps: torch.Tensor) -> torch.Tensor:
    """Catmull-Rom bound for interior cells: ``[J, h, w]`` -> ``[J, h - 3, w - 3]`` (cells 1..)."""
    relu = torch.relu

    def upper(a: torch.Tensor, b: torch.Tensor, outer_neg: torch.Tensor) -> torch.Tensor:
        m = torch.maximum(a, b)
        return m + (_CORE_SUM - 1) * relu(m) + _OUTER * outer_neg

    def lower(a: torch.Tensor, b: torch.Tensor, outer_pos: torch.Tensor) -> torch.Tensor:
        m = torch.minimum(a, b)
        return m - (_CORE_SUM - 1) * relu(-m) - _OUTER * outer_pos

    v0, v1, v2, v3 = maps[:, :-3], maps[:, 1:-2], maps[:, 2:-1], maps[:, 3:]
    col_hi = upper(v1, v2, relu(-v0) + relu(-v3))  # bounds over the block's rows, per column
    col_lo = lower(v1, v2, relu(v0) + relu(v3))
    c1, c2 = col_hi[..., 1:-2], col_hi[..., 2:-1]
    l0, l3 = col_lo[..., :-3], col_lo[..., 3:]
    return upper(c1, c2, relu(-l0) + relu(-l3))


def _tiles(low: torch.Tensor, part: torch.Tensor, iy: torch.Tensor, ix: torch.Tensor,
           by: _Blocks, bx: _Blocks) -> tuple[torch.Tensor, torch.Tensor]:
    """Upsampled values of blocks ``(part, iy, ix)`` with a one-pixel halo.

    Returns ``(tiles, order)``: float32 ``[B+2, B+2, n]`` for the blocks taken in ``order``
    (sorted by block type). Each type computes ``A_y @ patch @ A_x^T`` with its shared weights
    as two matmuls whose long dimension is the block index (interior blocks are one type).
    """
    h, w = low.shape[1:]
    ky, kx = by.tile_k, bx.tile_k
    ly, lx = by.size + 2, bx.size + 2
    num_x = len(bx.tile_weight)
    pair = by.tile_type[iy] * num_x + bx.tile_type[ix]
    pair, order = torch.sort(pair)
    part, iy, ix = part[order], iy[order], ix[order]
    rows = by.tile_start[iy] + torch.arange(ky, device=low.device)[:, None]  # [ky, n]
    cols = bx.tile_start[ix] + torch.arange(kx, device=low.device)[:, None]  # [kx, n]
    flat = ((part * h + rows) * w)[:, None, :] + cols[None, :, :]
    patch = low.reshape(-1).take(flat)  # [ky, kx, n]
    codes, counts = torch.unique_consecutive(pair, return_counts=True)
    pieces = []
    for code, p in zip(codes.tolist(), patch.split(counts.tolist(), dim=2)):
        wy, wx = by.tile_weight[code // num_x], bx.tile_weight[code % num_x]
        across = torch.matmul(wx, p)  # [ky, lx, m]: along x first, as the CUDA kernel
        pieces.append((wy @ across.reshape(ky, -1)).reshape(ly, lx, -1))
    tiles = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2) if pieces \
        else low.new_zeros((ly, lx, 0))
    return tiles, order


def _strict_peaks(tiles: torch.Tensor, threshold: float) -> torch.Tensor:
    """Peaks of ``[h+2, w+2, n]`` tiles (``nms_mask`` semantics): long ``[K, 3]`` (row, col, tile).

    The 3x3 box max finds the weak maxima cheaply; only those few are tested for strictness.
    """
    rows3 = torch.maximum(torch.maximum(tiles[:, :-2], tiles[:, 1:-1]), tiles[:, 2:])
    box = torch.maximum(torch.maximum(rows3[:-2], rows3[1:-1]), rows3[2:])
    centre = tiles[1:-1, 1:-1]
    weak = torch.nonzero((centre > threshold) & (centre >= box))  # [K, 3]
    r, c, t = weak.unbind(1)
    value = centre[r, c, t]
    strict = torch.ones_like(value, dtype=torch.bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy != 1 or dx != 1:
                strict &= value > tiles[r + dy, c + dx, t]
    return weak[strict]


def block_peaks(
    maps, channels: torch.Tensor, threshold: float, *, exact: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """NMS peaks of one-scale lazily upsampled maps (``UpsampledMaps`` with one scale).

    With ``exact`` every block whose bound reaches the threshold is tested: the result equals
    NMS on the fully upsampled maps. Without it only the 2x2 blocks around each low-resolution
    local maximum (>= its 8 neighbours) are tested, which finds the same peaks on typical maps
    several times faster but can miss a peak where same-part blobs merge (crowds) or in
    interpolation ringing. Returns ``(part, y, x, score)`` (unsorted), ``part`` indexing
    ``channels``.
    """
    low = maps.maps[0].index_select(0, channels)
    (ry, rx), (height, width) = maps.ratios[0], maps.size_hw
    dev = str(low.device)
    by = _blocks(int(low.shape[1]), height, ry, dev)
    bx = _blocks(int(low.shape[2]), width, rx, dev)
    if exact:
        part, iy, ix = _active_blocks(low, by, bx, threshold)
    else:
        part, iy, ix = _blocks_near_maxima(low, by, bx, threshold)
    tiles, order = _tiles(low, part, iy, ix, by, bx)
    part, iy, ix = part[order], iy[order], ix[order]
    r, c, t = _strict_peaks(tiles, threshold).unbind(1)
    y, x = by.start[iy[t]] + r, bx.start[ix[t]] + c
    # The one-pixel map border never holds a peak (this also drops outputs outside the map).
    keep = (y >= 1) & (y <= height - 2) & (x >= 1) & (x <= width - 2)
    return part[t][keep], y[keep], x[keep], tiles[r + 1, c + 1, t][keep]


def _active_blocks(low: torch.Tensor, by: _Blocks, bx: _Blocks,
                   threshold: float) -> tuple[torch.Tensor, ...]:
    """Blocks ``(part, iy, ix)`` whose upper bound reaches ``threshold``."""
    bound = _generic_bound(low, by, bx)
    (y0, cy, ny), (x0, cx, nx) = by.tight, bx.tight
    if ny and nx:
        tight = _interior_bound(low)[:, cy - 1 : cy - 1 + ny, cx - 1 : cx - 1 + nx]
        region = bound[:, y0 : y0 + ny, x0 : x0 + nx]
        bound[:, y0 : y0 + ny, x0 : x0 + nx] = torch.minimum(region, tight)
    # Float rounding of the bound and of the evaluated values differ by ~1e-7 relative.
    margin = 1e-6 + 1e-5 * bound.abs()
    return torch.nonzero(bound + margin > threshold, as_tuple=True)


def _blocks_near_maxima(low: torch.Tensor, by: _Blocks, bx: _Blocks,
                        threshold: float) -> tuple[torch.Tensor, ...]:
    """The 2x2 blocks around every positive low-res sample that is >= its 8 neighbours."""
    pad = torch.nn.functional.pad(low, (1, 1, 1, 1), value=float("-inf"))
    rows3 = torch.maximum(torch.maximum(pad[:, :, :-2], pad[:, :, 1:-1]), pad[:, :, 2:])
    box = torch.maximum(torch.maximum(rows3[:, :-2], rows3[:, 1:-1]), rows3[:, 2:])
    part, cy, cx = torch.nonzero((low >= box) & (low > 0), as_tuple=True)
    # Peaks near sample c lie in the blocks of base taps c - 1 and c.
    iy, ix = by.cell_block[cy], bx.cell_block[cx]
    nby, nbx = len(by.start), len(bx.start)
    code = torch.cat([
        (part * nby + (iy + dy).clamp(0, nby - 1)) * nbx + (ix + dx).clamp(0, nbx - 1)
        for dy in (-1, 0) for dx in (-1, 0)
    ])
    code = torch.unique(code)
    return code // (nby * nbx), code // nbx % nby, code % nbx
