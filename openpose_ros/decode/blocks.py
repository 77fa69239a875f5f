"""Blocks of the x8-upsampled maps and upper bounds of their values (for ``nms``, spec §3.4).

The upsampled map is cut into blocks of ``B = ceil(ratio)`` pixels per axis, aligned so that,
at ratio 8, every interior block is exactly the set of outputs sharing one base tap ``i1`` (so
its values depend on a 4x4 input window only). For every block an upper bound of its values is
computed from its input window; NMS evaluates only the blocks whose bound reaches the
threshold. Skipping the others is exact: a pixel whose value cannot exceed the threshold is
never a peak, and as a neighbour it is below any peak.

Two bounds are used, both on the replicate-padded maps the tiles read (so that clamped taps
are ordinary taps):

- interior Catmull-Rom blocks (one base tap, fractions ``t`` in [0, 1)): per axis the two core
  taps weigh ``[0, 1]`` each and together at most 1.125, the outer taps ``[-2/27, 0]``, so
  ``sum w_k v_k <= 1.125 * max(core)+ + 2/27 * (outer-)``; applied to columns, then rows;
- every other block (the first row and column of blocks, whose rows 0..3 extrapolate, or all
  blocks at a non-integer ratio): the generic ``vmax + N * (vmax - vmin)`` over the block's
  input window, with ``N`` the largest weight mass of negative products (weights sum to 1).

Everything that depends only on the sizes is built once per size and device (``block_grid``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from openpose_ros.decode.resize import axis_weights, cubic_taps

__all__ = ["AxisBlocks", "BlockGrid", "block_grid", "pad_maps", "active_blocks",
           "blocks_near_maxima"]

_CORE_SUM = 1.125  # max over t in [0, 1] of w1 + w2 = 1 + t (1 - t) / 2
_OUTER = 2.0 / 27.0  # max over t in [0, 1] of |w0| and of |w3|


@dataclass(frozen=True)
class AxisBlocks:
    """Blocks of one axis.

    Attributes:
        size: outputs per block ``B``.
        start: long ``[nb]`` first output of each block (the first may be negative).
        win_start: long ``[nb]`` first input of the block's tap window, ``k`` inputs long.
        pos, neg: float32 ``[nb]`` largest positive / negative weight mass of the block's rows.
        tight: ``(first block, first cell, count)`` of the contiguous interior blocks whose
            in-map rows share one base tap ``f >= 0`` (= cell) with ``t`` in [0, 1); their taps
            ``f - 1 .. f + 2`` may be clamped (they lie on the padded map).
        pad: ``(before, after)`` inputs added by the replicate padding of the input axis: the
            tiles read a padded map, so that clamped taps need no weights of their own.
        tile_start: long ``[nb]`` first padded input of the window of the block with its halo
            (``B + 2`` outputs from ``start - 1``), ``tile_k`` inputs long.
        tile_type: long ``[nb]`` which of ``tile_weight`` (float32 ``[T, B + 2, tile_k]``) the
            block uses; at an integer ratio all blocks but the first two share one.
        main_type: the most common tile type.
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
    pad: tuple[int, int]
    tile_start: torch.Tensor
    tile_k: int
    tile_type: torch.Tensor
    tile_weight: torch.Tensor
    main_type: int
    cell_block: torch.Tensor

    def __len__(self) -> int:
        return int(self.start.shape[0])


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


def _tight_run(fl: np.ndarray, rows: np.ndarray, n_out: int) -> tuple[int, int, int]:
    """The contiguous blocks whose in-map rows share one base tap ``f >= 0`` (``t >= 0``)."""
    inside = (rows >= 0) & (rows < n_out)
    fl_rows = fl[np.clip(rows, 0, n_out - 1)]
    cell = np.where(inside, fl_rows, n_out).min(axis=1)
    one_cell = inside.any(axis=1) & np.all(~inside | (fl_rows == cell[:, None]), axis=1)
    idx = np.flatnonzero(one_cell & (cell >= 0) & (rows.shape[1] > 1))
    if len(idx) and np.all(np.diff(idx) == 1) and np.all(np.diff(cell[idx]) == 1):
        return int(idx[0]), int(cell[idx[0]]), len(idx)
    return 0, 0, 0


def _padded_tiles(n_in: int, n_out: int, r: float,
                  starts: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Tile windows and weights of the blocks on a replicate-padded input axis.

    Every halo output keeps OpenPose's base tap and Catmull-Rom weights, with its four taps
    unclamped (padding repeats the edge samples, which is what clamping reads). Outputs off the
    map are never peaks nor neighbours of one, so they simply continue the interior pattern
    (unclamped base tap): then every block but the first two (whose rows 0..3 extrapolate,
    ``t < 0``) has the same weights. Returns ``(first, k, weight [nb, B + 2, k], pad_lo,
    pad_hi)`` with ``first`` in padded inputs.
    """
    halo = starts[:, None] - 1 + np.arange(size + 2)  # [nb, B + 2]
    src = ((halo.astype(np.float32) + np.float32(0.5)) / np.float32(r)
           - np.float32(0.5)).astype(np.float64)
    base = np.floor(src).astype(np.int64)
    i1 = np.where((halo >= 0) & (halo < n_out), np.clip(base, 0, n_in - 1), base)
    taps = cubic_taps(src - i1)  # [nb, B + 2, 4]
    first = i1.min(axis=1) - 1
    k = int((i1.max(axis=1) - i1.min(axis=1)).max()) + 4
    weight = np.zeros(halo.shape + (k,))
    offset = i1 - 1 - first[:, None]  # [nb, B + 2]
    blocks, rows = np.indices(halo.shape)
    for j in range(4):
        weight[blocks, rows, offset + j] = taps[..., j]
    pad_lo = max(0, -int(first.min()))
    pad_hi = max(0, int((first + k - 1).max()) - (n_in - 1))
    return first + pad_lo, k, weight.astype(np.float32), pad_lo, pad_hi


@lru_cache(maxsize=64)
def axis_blocks(n_in: int, n_out: int, ratio: float | None, device: str) -> AxisBlocks:
    """The blocks of one axis resized ``n_in -> n_out`` (``ratio`` as ``axis_weights``)."""
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
    win_start, k, _ = _windows(aw, rows, n_in, n_out)
    m = aw.matrix[np.clip(rows, 0, n_out - 1)]  # [nb, B, n_in]
    pos = np.where(inside, np.clip(m, 0, None).sum(-1), 0).max(axis=1)
    neg = np.where(inside, np.clip(-m, 0, None).sum(-1), 0).max(axis=1)
    tile_start, tile_k, tile_w, pad_lo, pad_hi = _padded_tiles(n_in, n_out, r, starts, size)
    tight = _tight_run(fl, rows, n_out)
    if tight[2] and (tight[1] - 1 < -pad_lo or tight[1] + tight[2] + 1 > n_in - 1 + pad_hi):
        tight = (0, 0, 0)  # the interior bound would read past the padding
    types, tile_type = np.unique(tile_w.reshape(len(starts), -1), axis=0, return_inverse=True)
    tile_type = tile_type.reshape(-1)
    cell_block = np.full(n_in, -1, dtype=np.int64)
    owner = np.clip(fl, 0, n_in - 1)  # OpenPose clamps the base tap
    cell_block[owner] = (np.arange(n_out) - first) // size
    dev = torch.device(device)

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(dev)

    return AxisBlocks(
        size=size, start=tensor(starts), win_start=tensor(win_start), k=k,
        pos=tensor(pos.astype(np.float32)), neg=tensor(neg.astype(np.float32)),
        tight=tight, pad=(pad_lo, pad_hi),
        tile_start=tensor(tile_start), tile_k=tile_k, tile_type=tensor(tile_type),
        tile_weight=tensor(types.reshape(-1, size + 2, tile_k).astype(np.float32)),
        main_type=int(np.bincount(tile_type).argmax()), cell_block=tensor(cell_block),
    )


@dataclass(frozen=True)
class _Region:
    """A sub-grid of blocks bounded the generic way, with its constants.

    Attributes:
        rows, cols: long ``[r]``, ``[c]`` block indices.
        row_span, col_span: ``(first, count)`` padded inputs covering the blocks' windows.
        row_starts, col_starts: long ``[r]``, ``[c]`` each window's first input in its span.
        negative: float32 ``[r, c]`` the blocks' negative weight mass ``N``.
        rows_first: reduce along y first (the thinner side first, so the second pass runs
            over few samples).
    """

    rows: torch.Tensor
    cols: torch.Tensor
    row_span: tuple[int, int]
    col_span: tuple[int, int]
    row_starts: torch.Tensor
    col_starts: torch.Tensor
    negative: torch.Tensor
    rows_first: bool


@dataclass(frozen=True)
class BlockGrid:
    """The blocks of one map size: both axes, the interior run, the generic-bound regions.

    Attributes:
        by, bx: the axes.
        inner: ``(y0, ny, x0, nx)`` interior run of blocks (``AxisBlocks.tight`` of both
            axes) and ``(row, col)``, the first padded input its bound reads; None without.
        edges: the other blocks, as sub-grids bounded the generic way.
        odd: bool ``[nby, nbx]`` blocks whose tile weights are not the main pair.
    """

    by: AxisBlocks
    bx: AxisBlocks
    inner: tuple[tuple[int, int, int, int], tuple[int, int]] | None
    edges: tuple[_Region, ...]
    odd: torch.Tensor


def _region(by: AxisBlocks, bx: AxisBlocks, rows: np.ndarray, cols: np.ndarray) -> _Region:
    dev = by.start.device

    def span(axis: AxisBlocks, blocks: np.ndarray) -> tuple[tuple[int, int], torch.Tensor]:
        starts = axis.win_start.cpu().numpy()[blocks] + axis.pad[0]  # padded inputs
        first = int(starts.min())
        return (first, int(starts.max()) + axis.k - first), torch.from_numpy(starts - first)

    (row_span, row_starts), (col_span, col_starts) = span(by, rows), span(bx, cols)
    r, c = (torch.from_numpy(a).to(dev) for a in (rows, cols))
    negative = by.pos[r][:, None] * bx.neg[c][None, :] + by.neg[r][:, None] * bx.pos[c][None, :]
    return _Region(rows=r, cols=c, row_span=row_span, col_span=col_span,
                   row_starts=row_starts.to(dev), col_starts=col_starts.to(dev),
                   negative=negative, rows_first=row_span[1] <= col_span[1])


@lru_cache(maxsize=64)
def block_grid(map_hw: tuple[int, int], size_hw: tuple[int, int],
               ratio: tuple[float | None, float | None], device: str) -> BlockGrid:
    """Blocks of ``map_hw`` maps upsampled to ``size_hw`` (``ratio`` per axis, as ``resize``)."""
    by = axis_blocks(map_hw[0], size_hw[0], ratio[0], device)
    bx = axis_blocks(map_hw[1], size_hw[1], ratio[1], device)
    every_y, every_x = np.arange(len(by)), np.arange(len(bx))
    (y0, cy, ny), (x0, cx, nx) = by.tight, bx.tight
    if ny and nx:
        inner_y, inner_x = every_y[y0 : y0 + ny], every_x[x0 : x0 + nx]
        edge_y, edge_x = np.setdiff1d(every_y, inner_y), np.setdiff1d(every_x, inner_x)
        parts = [(edge_y, every_x), (inner_y, edge_x)]
        inner = ((y0, ny, x0, nx), (cy - 1 + by.pad[0], cx - 1 + bx.pad[0]))
    else:
        parts, inner = [(every_y, every_x)], None
    edges = tuple(_region(by, bx, r, c) for r, c in parts if len(r) and len(c))
    odd = (by.tile_type[:, None] != by.main_type) | (bx.tile_type[None, :] != bx.main_type)
    return BlockGrid(by=by, bx=bx, inner=inner, edges=edges, odd=odd)


def _sliding_extremes(hi: torch.Tensor, lo: torch.Tensor, dim: int,
                      k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Max of ``hi`` and min of ``lo`` over every ``k`` consecutive samples along ``dim``.

    Windows double in width each step (overlapping at the end), so ``k = 4`` takes two
    maxima of shifted views: far cheaper than reductions over small unflattened dimensions.
    """
    width = 1
    while width < k:
        step = min(width, k - width)
        n = hi.shape[dim] - step
        hi = torch.maximum(hi.narrow(dim, 0, n), hi.narrow(dim, step, n))
        lo = torch.minimum(lo.narrow(dim, 0, n), lo.narrow(dim, step, n))
        width += step
    return hi, lo


def _window_extremes(hi: torch.Tensor, lo: torch.Tensor, dim: int, span: tuple[int, int],
                     starts: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Extremes over the ``k``-input windows at ``starts`` (within ``span``) along ``dim``."""
    hi, lo = _sliding_extremes(hi.narrow(dim, *span), lo.narrow(dim, *span), dim, k)
    return hi.index_select(dim, starts), lo.index_select(dim, starts)


def _generic_bound(padded: torch.Tensor, region: _Region, ky: int, kx: int) -> torch.Tensor:
    """``vmax + N (vmax - vmin)`` of the region's blocks: padded maps -> ``[J, r, c]``."""
    y = (1, region.row_span, region.row_starts, ky)
    x = (2, region.col_span, region.col_starts, kx)
    first, second = (y, x) if region.rows_first else (x, y)
    hi, lo = _window_extremes(padded, padded, *first)
    hi, lo = _window_extremes(hi, lo, *second)
    return hi + region.negative * (hi - lo)


def _interior_bound(maps: torch.Tensor) -> torch.Tensor:
    """Catmull-Rom bound of interior cells: ``[J, h, w]`` -> ``[J, h - 3, w - 3]`` (cells 1..).

    Per axis ``sum w_k v_k <= m + 1/8 relu(m) - 2/27 (min(v_0, 0) + min(v_3, 0))`` with
    ``m = max(v_1, v_2)``: applied to the columns (upper and lower bounds), then to the rows,
    with fused in-place updates (each pass over the maps costs about as much as the arithmetic).
    """
    extra = _CORE_SUM - 1
    v1, v2 = maps[:, 1:-2], maps[:, 2:-1]
    neg, pos = maps.clamp(max=0), maps.clamp(min=0)
    top = torch.maximum(v1, v2)
    col_hi = torch.add(top, top.clamp(min=0), alpha=extra).sub_(neg[:, :-3] + neg[:, 3:],
                                                               alpha=_OUTER)
    bottom = torch.minimum(v1, v2)
    # Only the negative part of the columns' lower bound matters (outer taps weigh <= 0).
    col_lo_neg = torch.add(bottom, bottom.clamp(max=0), alpha=extra).sub_(
        pos[:, :-3] + pos[:, 3:], alpha=_OUTER).clamp_(max=0)
    top = torch.maximum(col_hi[..., 1:-2], col_hi[..., 2:-1])
    return torch.add(top, top.clamp(min=0), alpha=extra).sub_(
        col_lo_neg[..., :-3] + col_lo_neg[..., 3:], alpha=_OUTER)


def _reaches(bound: torch.Tensor, threshold: float) -> torch.Tensor:
    """``bound`` may reach ``threshold`` once float rounding (~1e-7 relative) is allowed for."""
    if threshold > 2e-6:  # then only positive bounds can pass: one comparison
        return bound > (threshold - 2e-6) / (1 + 2e-5)
    return bound + (2e-6 + 2e-5 * bound.abs()) > threshold


def pad_maps(low: torch.Tensor, grid: BlockGrid) -> torch.Tensor:
    """``[J, h, w]`` maps replicate-padded as the block tables expect (``AxisBlocks.pad``).

    Written slice by slice: ``index_select`` along the last dimension is an element gather.
    """
    (top, bottom), (left, right) = grid.by.pad, grid.bx.pad
    parts, h, w = low.shape
    out = low.new_empty((parts, top + h + bottom, left + w + right))
    rows = out[:, top : top + h]
    rows[:, :, left : left + w] = low
    rows[:, :, :left] = low[:, :, :1]
    rows[:, :, left + w :] = low[:, :, -1:]
    out[:, :top] = out[:, top : top + 1]
    out[:, top + h :] = out[:, top + h - 1 : top + h]
    return out


def active_blocks(padded: torch.Tensor, grid: BlockGrid,
                  threshold: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Blocks ``(part, iy, ix)`` whose upper bound reaches ``threshold`` (``pad_maps`` input)."""
    found = []
    if grid.inner is not None:
        (y0, ny, x0, nx), (row, col) = grid.inner
        bound = _interior_bound(padded[:, row : row + ny + 3, col : col + nx + 3])
        part, i, j = torch.nonzero(_reaches(bound, threshold), as_tuple=True)
        found.append((part, i + y0, j + x0))
    for region in grid.edges:
        bound = _generic_bound(padded, region, grid.by.k, grid.bx.k)
        part, i, j = torch.nonzero(_reaches(bound, threshold), as_tuple=True)
        found.append((part, region.rows[i], region.cols[j]))
    if len(found) == 1:
        return found[0]
    return tuple(torch.cat(t) for t in zip(*found))


def _box_max(v: torch.Tensor) -> torch.Tensor:
    """3x3 maximum over the last two dims, ignoring neighbours outside the map."""
    for dim in (-1, -2):
        n = v.shape[dim]
        out = v.clone()
        if n > 1:
            out.narrow(dim, 1, n - 1).copy_(
                torch.maximum(v.narrow(dim, 1, n - 1), v.narrow(dim, 0, n - 1)))
            head = out.narrow(dim, 0, n - 1)
            head.copy_(torch.maximum(head, v.narrow(dim, 1, n - 1)))
        v = out
    return v


def blocks_near_maxima(low: torch.Tensor,
                       grid: BlockGrid) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 2x2 blocks around every positive low-res sample that is >= its 8 neighbours."""
    by, bx = grid.by, grid.bx
    part, cy, cx = torch.nonzero((low >= _box_max(low)) & (low > 0), as_tuple=True)
    # Peaks near sample c lie in the blocks of base taps c - 1 and c.
    iy, ix = by.cell_block[cy], bx.cell_block[cx]
    nby, nbx = len(by), len(bx)
    code = torch.cat([
        (part * nby + (iy + dy).clamp(0, nby - 1)) * nbx + (ix + dx).clamp(0, nbx - 1)
        for dy in (-1, 0) for dx in (-1, 0)
    ])
    code = torch.unique(code)
    return code // (nby * nbx), code // nbx % nby, code % nbx
