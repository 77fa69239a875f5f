"""Blocks of the x8-upsampled maps and upper bounds of their values (for ``nms``, spec §3.4).

The upsampled map is cut into blocks of ``B = ceil(ratio)`` pixels per axis, aligned so that,
at ratio 8, every block is the set of outputs sharing one base tap ``i1`` (its *cell*: its
values depend on a 4x4 input window only). For every block an upper bound of its values is
computed from its input window; NMS evaluates only the blocks whose bound reaches the
threshold. Skipping the others is exact: a pixel whose value cannot exceed the threshold is
never a peak, and as a neighbour it is below any peak. Both bounds read the replicate-padded
maps the tiles read (``pad_maps``), on which clamped taps are ordinary taps.

- Cell bound (integer ratios): a row of a cell weighs its two core taps (``i1``, ``i1 + 1``)
  and two outer taps (``i1 - 1``, ``i1 + 2``). Splitting the 2D weights by sign and class,
  ``value <= A relu(max core 2x2) + B relu(max 4x4) + D relu(-min of the maps)``, where
  ``A`` is the largest positive core x core mass (1.125^2 for Catmull-Rom), ``B`` every other
  positive mass and ``D`` the negative mass, each measured over the actual rows of every block
  that can hold a peak (the first rows extrapolate, ``t < 0``, and are included). Per cell
  that is a handful of passes over the maps, whatever the map edges.
- Generic bound (any ratio): ``vmax + N * (vmax - vmin)`` over the block's input window, with
  ``N`` the largest weight mass of negative products (the weights sum to 1).

Everything that depends only on the sizes is built once per size and device (``block_grid``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from openpose_ros.decode.resize import axis_weights, cubic_taps
from openpose_ros.decode.tensor_ops import flat_nonzero, greater, nonzero_tuple

__all__ = ["AxisBlocks", "BlockGrid", "block_grid", "block_tables", "pad_maps",
           "active_blocks", "blocks_near_maxima"]

_CATMULL_ROM_TO_BEZIER = np.array([[0, 1, 0, 0], [-1 / 6, 1, 1 / 6, 0],
                                   [0, 1 / 6, 1, -1 / 6], [0, 0, 1, 0]])


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (cache keys)
class AxisBlocks:
    """Blocks of one axis.

    Attributes:
        size: outputs per block ``B``.
        start: int64 ``[nb]`` first output of each block (the first may be negative); a host
            array: the peaks' coordinates are computed on the host.
        win_start: long ``[nb]`` first input of the block's tap window, ``k`` inputs long.
        pos, neg: float32 ``[nb]`` largest positive / negative weight mass of the block's rows.
        pad: ``(before, after)`` inputs added by the replicate padding of the input axis: the
            tiles read a padded map, so that clamped taps need no weights of their own.
        tile_start: long ``[nb]`` first padded input of the window of the block with its halo
            (``B + 2`` outputs from ``start - 1``), ``tile_k`` inputs long.
        tile_type: long ``[nb]`` which of ``tile_weight`` (float32 ``[T, B + 2, tile_k]``) the
            block uses; at an integer ratio all blocks but the first two share one.
        main_type: the most common tile type.
        bezier: float32 ``[4, 4]``: the four Bezier control points of the main type's block
            rows (all of one Catmull-Rom cell, ``t`` in [0, 1]) from the cell's four taps,
            inputs ``bezier_at .. bezier_at + 3`` of the tile window; None when its rows are
            not so (non-integer ratios).
        cell: long ``[nb]`` the cell (base tap) of each block's rows, or None when a block's
            rows span several cells (non-integer ratios: the generic bound is used).
        first_cell_twice: ``cell`` is ``0, 0, 1, 2, ..., n_in - 1`` (integer ratios).
        masses: ``(core+, outer+, core-, outer-)`` largest weight masses over the rows
            ``1 .. n_out - 2`` (the rows that can hold a peak), for the cell bound.
        cell_block: long ``[n_in]`` the block whose rows have base tap ``i`` (-1 if none), for
            the fast mode.
    """

    size: int
    start: np.ndarray
    win_start: torch.Tensor
    k: int
    pos: torch.Tensor
    neg: torch.Tensor
    pad: tuple[int, int]
    tile_start: torch.Tensor
    tile_k: int
    tile_type: torch.Tensor
    tile_weight: torch.Tensor
    main_type: int
    bezier: torch.Tensor | None
    bezier_at: int
    cell: torch.Tensor | None
    first_cell_twice: bool
    masses: tuple[float, float, float, float]
    cell_block: torch.Tensor

    def __len__(self) -> int:
        return int(self.start.shape[0])


def _source(outputs: np.ndarray, r: float) -> np.ndarray:
    """OpenPose's source coordinate of ``outputs`` (float32 like the kernel, as float64)."""
    return ((outputs.astype(np.float32) + np.float32(0.5)) / np.float32(r)
            - np.float32(0.5)).astype(np.float64)


def _windows(aw, rows: np.ndarray, n_in: int, n_out: int) -> tuple[np.ndarray, int]:
    """Tap window ``(start, k)`` of the in-map outputs ``rows`` (clamped taps)."""
    inside = (rows >= 0) & (rows < n_out)
    safe = np.clip(rows, 0, n_out - 1)
    lo = np.where(inside, aw.index[safe, 0], n_in).min(axis=1)
    hi = np.where(inside, aw.index[safe, 3], -1).max(axis=1)
    k = min(int((hi - lo).max()) + 1, n_in)
    return np.clip(lo, 0, n_in - k), k


def _padded_tiles(n_in: int, n_out: int, r: float,
                  starts: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Tile windows and weights of the blocks on a replicate-padded input axis.

    Every halo output keeps OpenPose's base tap and Catmull-Rom weights, with its four taps
    unclamped (padding repeats the edge samples, which is what clamping reads). Outputs off the
    map are never peaks nor neighbours of one, so they simply continue the interior pattern
    (unclamped base tap): then every block but the first two (whose rows 0..3 extrapolate,
    ``t < 0``) has the same weights. Returns ``(first, k, weight [nb, B + 2, k], pad_lo,
    pad_hi, cell_at)`` with ``first`` in padded inputs and ``cell_at [nb]`` the window offset
    of the four taps shared by all the block's own rows (-1 if they do not share one cell).
    """
    halo = starts[:, None] - 1 + np.arange(size + 2)  # [nb, B + 2]
    src = _source(halo, r)
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
    core_offset = offset[:, 1:-1]
    t = (src - i1)[:, 1:-1]
    one_cell = (core_offset == core_offset[:, :1]).all(axis=1) & ((t >= 0) & (t <= 1)).all(axis=1)
    cell_at = np.where(one_cell, core_offset[:, 0], -1)
    return first + pad_lo, k, weight.astype(np.float32), pad_lo, pad_hi, cell_at


def _cell_masses(n_in: int, n_out: int, r: float, starts: np.ndarray,
                 size: int) -> tuple[np.ndarray | None, tuple[float, float, float, float]]:
    """Each block's cell and the weight masses of the cell bound (``AxisBlocks.masses``).

    Only rows that can hold a peak count (``1 .. n_out - 2``). Taps clamped onto a core tap
    read the same sample, so their weights join the core's. Cells are None when some block's
    rows span two cells.
    """
    rows = starts[:, None] + np.arange(size)
    valid = (rows >= 1) & (rows <= n_out - 2)
    src = _source(rows, r)
    i1 = np.clip(np.floor(src), 0, n_in - 1).astype(np.int64)
    cell = np.where(valid, i1, -1).max(axis=1)
    cell = np.where(cell < 0, np.clip(np.floor(_source(starts, r)), 0, n_in - 1), cell)
    if np.any(valid & (i1 != cell[:, None])):
        return None, (0.0, 0.0, 0.0, 0.0)
    w = cubic_taps(src - i1)[valid]  # [R, 4]
    base = i1[valid][:, None]
    taps = np.clip(base + np.arange(-1, 3), 0, n_in - 1)
    # Net weight of each distinct sample (clamped taps repeat one), core first: [R, 4].
    slots = np.minimum(np.where(taps >= base, taps - base, 3), 3)  # core i1, i1+1 -> 0, 1
    slots = np.where(taps < base, 2, slots)  # i1 - 1 -> 2, i1 + 2 -> 3
    net = np.zeros((len(w), 4))
    np.add.at(net, (np.arange(len(w))[:, None], slots), w)
    pos, neg = np.clip(net, 0, None), np.clip(-net, 0, None)
    masses = tuple(float(part[:, s].sum(axis=1).max(initial=0))
                   for part in (pos, neg) for s in (slice(0, 2), slice(2, 4)))
    core_pos, outer_pos, core_neg, outer_neg = masses
    return cell.astype(np.int64), (core_pos, outer_pos, core_neg, outer_neg)


@lru_cache(maxsize=64)
def axis_blocks(n_in: int, n_out: int, ratio: float | None, device: str) -> AxisBlocks:
    """The blocks of one axis resized ``n_in -> n_out`` (``ratio`` as ``axis_weights``)."""
    aw = axis_weights(n_in, n_out, ratio)
    r = n_out / n_in if ratio is None else float(ratio)
    size = max(1, math.ceil(r - 1e-9))
    fl = np.floor(_source(np.arange(n_out), r)).astype(np.int64)
    first_run = int(np.argmax(fl >= 0)) if (fl >= 0).any() else 0
    first = first_run - math.ceil(first_run / size) * size
    starts = np.arange(first, n_out, size)
    rows = starts[:, None] + np.arange(size)  # [nb, B]
    inside = (rows >= 0) & (rows < n_out)
    win_start, k = _windows(aw, rows, n_in, n_out)
    m = aw.matrix[np.clip(rows, 0, n_out - 1)]  # [nb, B, n_in]
    pos = np.where(inside, np.clip(m, 0, None).sum(-1), 0).max(axis=1)
    neg = np.where(inside, np.clip(-m, 0, None).sum(-1), 0).max(axis=1)
    tile_start, tile_k, tile_w, pad_lo, pad_hi, cell_at = _padded_tiles(n_in, n_out, r, starts,
                                                                       size)
    cell, masses = _cell_masses(n_in, n_out, r, starts, size)
    if pad_lo < 1 or pad_hi < 2:
        cell = None  # the cell bound reads taps i1 - 1 .. i1 + 2 of every cell
    types, tile_type = np.unique(tile_w.reshape(len(starts), -1), axis=0, return_inverse=True)
    tile_type = tile_type.reshape(-1)
    main_type = int(np.bincount(tile_type).argmax())
    offset = int(cell_at[np.argmax(tile_type == main_type)])
    # Catmull-Rom samples p0..p3 -> the cell's Bezier points
    bezier = _CATMULL_ROM_TO_BEZIER.astype(np.float32) if offset >= 0 and size > 1 else None
    cell_block = np.full(n_in, -1, dtype=np.int64)
    cell_block[np.clip(fl, 0, n_in - 1)] = (np.arange(n_out) - first) // size
    dev = torch.device(device)

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(dev)

    return AxisBlocks(
        size=size, start=starts.astype(np.int64), win_start=tensor(win_start), k=k,
        pos=tensor(pos.astype(np.float32)), neg=tensor(neg.astype(np.float32)),
        pad=(pad_lo, pad_hi), tile_start=tensor(tile_start), tile_k=tile_k,
        tile_type=tensor(tile_type),
        tile_weight=tensor(types.reshape(-1, size + 2, tile_k).astype(np.float32)),
        main_type=main_type, bezier=None if bezier is None else tensor(bezier),
        bezier_at=offset,
        cell=None if cell is None else tensor(cell), masses=masses,
        first_cell_twice=cell is not None and np.array_equal(cell, np.r_[0, np.arange(n_in)]),
        cell_block=tensor(cell_block),
    )


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (cache keys)
class BlockGrid:
    """The blocks of one map size: both axes and the constants of their bound.

    Attributes:
        by, bx: the axes.
        cell_bound: ``(A, B, D)`` of the cell bound, or None (then the generic one is used).
        negative: float32 ``[nby, nbx]`` the blocks' negative weight mass (generic bound).
        odd: bool ``[nby, nbx]`` blocks whose tile weights are not the main pair.
        corner: long ``[nby, nbx]`` offset of each block's tile window in a padded map.
    """

    by: AxisBlocks
    bx: AxisBlocks
    cell_bound: tuple[float, float, float] | None
    negative: torch.Tensor
    odd: torch.Tensor
    corner: torch.Tensor


@lru_cache(maxsize=64)
def block_grid(map_hw: tuple[int, int], size_hw: tuple[int, int],
               ratio: tuple[float | None, float | None], device: str) -> BlockGrid:
    """Blocks of ``map_hw`` maps upsampled to ``size_hw`` (``ratio`` per axis, as ``resize``)."""
    by = axis_blocks(map_hw[0], size_hw[0], ratio[0], device)
    bx = axis_blocks(map_hw[1], size_hw[1], ratio[1], device)
    cell_bound = None
    if by.cell is not None and bx.cell is not None:
        (cp_y, op_y, cn_y, on_y), (cp_x, op_x, cn_x, on_x) = by.masses, bx.masses
        pos_y, neg_y, pos_x, neg_x = cp_y + op_y, cn_y + on_y, cp_x + op_x, cn_x + on_x
        core = cp_y * cp_x
        # A rounding margin of 1e-6 relative on each constant keeps them upper bounds.
        cell_bound = tuple(c * (1 + 1e-6) for c in (
            core, pos_y * pos_x - core + neg_y * neg_x, pos_y * neg_x + neg_y * pos_x))
    negative = by.pos[:, None] * bx.neg[None, :] + by.neg[:, None] * bx.pos[None, :]
    odd = (by.tile_type[:, None] != by.main_type) | (bx.tile_type[None, :] != bx.main_type)
    width = map_hw[1] + sum(bx.pad)
    corner = by.tile_start[:, None] * width + bx.tile_start[None, :]
    return BlockGrid(by=by, bx=bx, cell_bound=cell_bound, negative=negative, odd=odd,
                     corner=corner)


@lru_cache(maxsize=64)
def block_tables(grid: BlockGrid, parts: int, plane: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per block id of ``parts`` maps: long tile-window offset in padded maps of ``plane``
    samples each, and bool ``odd`` (``BlockGrid.corner``, ``BlockGrid.odd`` for every part)."""
    offset = torch.arange(parts, device=grid.corner.device)[:, None] * plane
    return ((offset + grid.corner.reshape(1, -1)).reshape(-1),
            grid.odd.reshape(1, -1).expand(parts, -1).reshape(-1))


def _sliding_extremes(hi: torch.Tensor, lo: torch.Tensor, dim: int,
                      k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Max of ``hi`` and min of ``lo`` over every ``k`` consecutive samples along ``dim``.

    Windows double in width each step (overlapping at the end): ``k = 4`` takes two maxima of
    shifted views, far cheaper than reductions over small unflattened dimensions.
    """
    width = 1
    while width < k:
        step = min(width, k - width)
        n = hi.shape[dim] - step
        hi = torch.maximum(hi.narrow(dim, 0, n), hi.narrow(dim, step, n))
        lo = torch.minimum(lo.narrow(dim, 0, n), lo.narrow(dim, step, n))
        width += step
    return hi, lo


def _generic_bound(padded: torch.Tensor, grid: BlockGrid) -> torch.Tensor:
    """``vmax + N (vmax - vmin)`` of every block: padded maps -> ``[J, nby, nbx]``."""
    hi, lo = padded, padded
    for dim, axis in ((1, grid.by), (2, grid.bx)):
        span = hi.narrow(dim, axis.pad[0], hi.shape[dim] - sum(axis.pad))
        hi, lo = _sliding_extremes(span, lo.narrow(dim, axis.pad[0], span.shape[dim]), dim,
                                   axis.k)
        hi, lo = hi.index_select(dim, axis.win_start), lo.index_select(dim, axis.win_start)
    return hi + grid.negative * (hi - lo)


def _cell_reaches(padded: torch.Tensor, grid: BlockGrid, threshold: float,
                  lowest: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Writes into bool ``out`` (``[J, h, w]``, may be a view) whether the cell bound of each
    cell reaches ``threshold`` (module docstring; ``_reaches`` rounding allowance).

    ``lowest`` is the maps' minimum (0-dim). 2x2 maxima of the taps ``i1 - 1 .. i1 + 2`` give
    the core maximum (the middle one) and the 4x4 maximum (the largest of the four 2x2 maxima
    two taps apart on each axis). As the core is inside the window, ``A relu(core) + B relu(window) = B relu(window + A/B
    relu(core))``: for the usual thresholds one sum and one comparison, no further pass.
    """
    a, b, d = grid.cell_bound
    (top, _), (left, _) = grid.by.pad, grid.bx.pad
    h, w = padded.shape[1] - sum(grid.by.pad), padded.shape[2] - sum(grid.bx.pad)
    taps = padded[:, top - 1 : top + h + 2, left - 1 : left + w + 2]
    pairs = torch.maximum(taps[:, :-1], taps[:, 1:])
    quads = torch.maximum(pairs[..., :-1], pairs[..., 1:])  # [J, h + 2, w + 2]
    core = quads[:, 1:-1, 1:-1].clamp(min=0)
    if b > 0:
        across = torch.maximum(quads[..., :-2], quads[..., 2:])  # [J, h + 2, w]
        window = torch.maximum(across[:, :-2], across[:, 2:])  # [J, h, w]
        mixed, scale = window.add_(core, alpha=a / b), b
    else:  # a ratio-1 axis: no outer mass
        mixed, scale = core, a
    negative = d * max(-float(lowest), 0.0)
    if threshold > 2e-6:
        rest = (threshold - 2e-6) / (1 + 2e-5) - negative  # scale * relu(mixed) must exceed it
        if rest > 0:
            return greater(mixed, rest / scale * (1 - 1e-6), out=out)
    return out.copy_(_reaches(mixed.clamp_(min=0).mul_(scale).add_(negative), threshold))


def _reaches(bound: torch.Tensor, threshold: float) -> torch.Tensor:
    """``bound`` may reach ``threshold`` once float rounding (~1e-7 relative) is allowed for."""
    if threshold > 2e-6:  # then only positive bounds can pass: one comparison
        return greater(bound, (threshold - 2e-6) / (1 + 2e-5))
    return bound + (2e-6 + 2e-5 * bound.abs()) > threshold


def pad_maps(low: torch.Tensor, grid: BlockGrid) -> torch.Tensor:
    """``[J, h, w]`` maps replicate-padded as the block tables expect (``AxisBlocks.pad``)."""
    (top, bottom), (left, right) = grid.by.pad, grid.bx.pad
    return F.pad(low[None], (left, right, top, bottom), mode="replicate")[0]


def active_blocks(padded: torch.Tensor, grid: BlockGrid, threshold: float,
                  lowest: torch.Tensor) -> torch.Tensor:
    """Long ``[n]`` ids (``(part * nby + iy) * nbx + ix``) of the blocks whose upper bound
    reaches ``threshold``. ``padded``: the part maps from ``pad_maps``; ``lowest``: their
    minimum (0-dim).
    """
    if grid.cell_bound is None:
        blocks = _reaches(_generic_bound(padded, grid), threshold)
    elif grid.by.first_cell_twice and grid.bx.first_cell_twice:
        # Block b > 0 is cell b - 1 on both axes and blocks 0 and 1 share cell 0: the cells are
        # written straight into the block mask, then its first row and column are copied.
        parts = padded.shape[0]
        blocks = torch.empty((parts, len(grid.by), len(grid.bx)), dtype=torch.bool,
                             device=padded.device)
        _cell_reaches(padded, grid, threshold, lowest, blocks[:, 1:, 1:])
        blocks[:, 0, 1:] = blocks[:, 1, 1:]
        blocks[:, :, 0] = blocks[:, :, 1]
    else:
        h, w = padded.shape[1] - sum(grid.by.pad), padded.shape[2] - sum(grid.bx.pad)
        blocks = torch.empty((padded.shape[0], h, w), dtype=torch.bool, device=padded.device)
        blocks = _cell_reaches(padded, grid, threshold, lowest, blocks)  # [J, h, w] per cell
        for dim, axis in ((1, grid.by), (2, grid.bx)):
            if axis.first_cell_twice:  # blocks 0 and 1 share cell 0, block b > 0 is cell b - 1
                blocks = torch.cat([blocks.narrow(dim, 0, 1), blocks], dim=dim)
            else:
                blocks = blocks.index_select(dim, axis.cell)
    # One index per block rather than three: the nonzero scan writes a third as much.
    return flat_nonzero(blocks)


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


def blocks_near_maxima(low: torch.Tensor, grid: BlockGrid) -> torch.Tensor:
    """Ids (as ``active_blocks``) of the 2x2 blocks around every positive low-res sample that
    is >= its 8 neighbours."""
    by, bx = grid.by, grid.bx
    part, cy, cx = nonzero_tuple((low >= _box_max(low)) & (low > 0))
    # Peaks near sample c lie in the blocks of base taps c - 1 and c.
    iy, ix = by.cell_block.index_select(0, cy), bx.cell_block.index_select(0, cx)
    nby, nbx = len(by), len(bx)
    code = torch.cat([
        (part * nby + (iy + dy).clamp(0, nby - 1)) * nbx + (ix + dx).clamp(0, nbx - 1)
        for dy in (-1, 0) for dx in (-1, 0)
    ])
    return torch.unique(code)
