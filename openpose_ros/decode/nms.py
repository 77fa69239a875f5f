"""Exact NMS on the x8-upsampled part heatmaps without upsampling them (spec §3.4).

A peak is an upsampled pixel above the threshold and strictly above its 8 neighbours. Only the
blocks of the upsampled map whose value bound reaches the threshold are evaluated
(``blocks.active_blocks``), each with a one-pixel halo, and tested exactly; the result equals
NMS on the fully upsampled maps.

Cost grows with the area where the maps exceed the threshold (about 25 blocks per joint for
OpenPose-width blobs). Before their tiles are computed, blocks whose rows provably cannot rise
and then fall along x are dropped (about two in three: those on a blob's slopes). On a CPU the
rest is bound by memory traffic and per-op overhead, so every pass over the tiles counts. The
optional fast mode (``BodyDecodeConfig.fast_nms``) starts from only the 2x2 blocks around each
low-resolution local maximum: every peak it finds is a true one, but where same-part blobs of
different people merge it can miss one (measured on synthetic crowds: 2 of 349 peaks), so it is
not the default. It only pays in crowds: its search for low-resolution maxima is a fixed cost
(NMS on one CPU core, exact vs fast: 0.9 vs 1.3 ms for 1 person, equal at 4, 1.8 vs 1.6 ms at 8,
3.8 vs 2.1 ms at 20).
"""

from __future__ import annotations

import numpy as np
import torch

from openpose_ros.decode.blocks import (
    BlockGrid, active_blocks, block_grid, block_tables, blocks_near_maxima, pad_maps,
)
from openpose_ros.decode.tensor_ops import flat_nonzero, greater

__all__ = ["nms_mask", "block_peaks"]

# Matrix products over fewer columns take another BLAS path with other rounding; padding every
# batch to this many blocks makes a block's values independent of how many were evaluated.
_MIN_BATCH = 32


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


def _padded_batch(t: torch.Tensor) -> torch.Tensor:
    """``t`` with at least ``_MIN_BATCH`` entries along its last (block) dimension."""
    n = t.shape[-1]
    return t if n >= _MIN_BATCH else torch.cat([t, t.new_zeros(t.shape[:-1] + (_MIN_BATCH - n,))],
                                               dim=-1)


def _x_pass(windows: torch.Tensor, wx: torch.Tensor) -> torch.Tensor:
    """``[ky, kx, n]`` input windows -> ``[ky, lx, n]`` interpolated along x (as CUDA does)."""
    n = windows.shape[-1]
    return torch.matmul(wx, _padded_batch(windows))[..., :n]


def _y_pass(across: torch.Tensor, wy: torch.Tensor) -> torch.Tensor:
    """``[ky, lx, n]`` rows interpolated along x -> ``[ly, lx, n]`` tiles."""
    ky, lx, n = across.shape
    rows = _padded_batch(across).reshape(ky, -1)
    return (wy @ rows).view(wy.shape[0], lx, -1)[..., :n]


def _may_hold_peaks(rows: torch.Tensor, bezier: torch.Tensor, wx: torch.Tensor,
                    scale: torch.Tensor) -> torch.Tensor:
    """bool ``[n]``: blocks whose rows can rise then fall along x somewhere (others hold no peak).

    ``rows`` holds the four input rows of the blocks' cell as ``[4, n, kx]``. A block's rows are
    one Catmull-Rom cell in y, so each row is a convex combination (Bernstein weights) of four
    Bezier control rows (``bezier @ rows``; their steps along x: ``[lx - 1, 4, n]``). A peak
    at column ``c`` needs some row to rise from ``c - 1`` and fall to ``c + 1``, impossible when
    every control row falls there (resp. rises): then every row does too. The margin, ``1e-5``
    of ``scale`` (the largest input magnitude), covers float rounding here and in the tiles.
    """
    _, n, kx = rows.shape
    if n == 0:
        return torch.zeros(0, dtype=torch.bool, device=rows.device)
    controls = (bezier @ rows.reshape(4, -1)).view(4 * n, kx)
    # The steps from column j to j + 1 of the interpolated control rows, in one product (with
    # the rows transposed: one matrix product, where [4, kx, n] controls take four).
    step = ((wx[1:] - wx[:-1]) @ controls.T).view(-1, 4, n)  # [lx - 1, 4, n]
    rise, fall = step.amax(dim=1), step.amin(dim=1)  # (one aminmax over dim 1 is slower)
    # Columns 1 .. lx - 2 rise into and fall out of: min(rise, -fall) > -margin somewhere (NaN
    # keeps the block).
    best = torch.minimum(rise[:-1], fall[1:].neg_()).amax(dim=0)
    return best.le(-1e-5 * scale).logical_not_()


def _odd_tiles(patch: torch.Tensor, wy: torch.Tensor, wx: torch.Tensor) -> torch.Tensor:
    """Tiles of blocks with their own weights: ``[ky, m, kx]`` windows, ``[m, ly, ky]`` and
    ``[m, lx, kx]`` weights -> ``[ly, lx, m]``.

    Broadcast products and sums (along x first): a few small ops for any number of types,
    and each block's values are independent of the others (unlike small matrix products).
    """
    across = (patch[:, :, None, :] * wx[None]).sum(dim=-1)  # [ky, m, lx]
    tiles = (wy.permute(1, 2, 0)[:, :, :, None] * across[None]).sum(dim=1)  # [ly, m, lx]
    return tiles.transpose(1, 2)


def _tiles(padded: torch.Tensor, blocks: torch.Tensor, grid: BlockGrid,
           scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Upsampled values, with a one-pixel halo, of those ``blocks`` (ids) that may hold a peak.

    Returns ``(tiles, which)``: float32 ``[B+2, B+2, m]`` and long ``[m]`` indices into
    ``blocks``. ``padded`` are the part maps padded by ``pad_maps``, so that every block's
    ``ky x kx`` input window is ``ky`` runs of ``kx`` contiguous samples: one ``index_select``
    of overlapping runs, far cheaper on a CPU than an element gather. Blocks whose rows cannot
    rise and fall (most blocks on a blob's slopes) are dropped first (``_may_hold_peaks``); the
    rest are interpolated along x, then y, with matmuls whose long dimension is the block index.
    At an integer ratio all blocks but the first two rows and columns share the main weights;
    those few are always kept (``_odd_tiles``). ``scale``: the largest input magnitude.
    """
    by, bx = grid.by, grid.bx
    parts, h, w = padded.shape
    ky, kx = by.tile_k, bx.tile_k
    corner, odd = (t.index_select(0, blocks) for t in block_tables(grid, parts, h * w))
    rows = (corner + (torch.arange(ky, device=padded.device) * w)[:, None]).reshape(-1)
    runs = padded.reshape(-1).unfold(0, kx, 1)  # every kx-sample run of the maps, a view
    patch = runs.index_select(0, rows).view(ky, len(blocks), kx)  # [ky, n, kx]
    wy, wx = by.tile_weight[by.main_type], bx.tile_weight[bx.main_type]
    if by.bezier is not None:  # the test reads the four rows of the blocks' cell
        cell_rows = patch.narrow(0, by.bezier_at, 4)
        keep = _may_hold_peaks(cell_rows, by.bezier, wx, scale).logical_or_(odd)
        which = flat_nonzero(keep)
        patch_kept = patch.index_select(1, which)
    else:  # no filter (non-integer ratios): every block, no copy
        which, patch_kept = torch.arange(len(blocks), device=blocks.device), patch
    # Every block goes through the main weights; the few odd ones are then overwritten with
    # their own values (cheaper than a second batch and a concatenation of all the tiles).
    tiles = _y_pass(_x_pass(patch_kept.transpose(1, 2), wx), wy)
    at = flat_nonzero(odd.index_select(0, which))
    if len(at):
        odd = which.index_select(0, at)
        cell = blocks.index_select(0, odd) % (len(by) * len(bx))
        types = by.tile_type.index_select(0, cell // len(bx)), bx.tile_type.index_select(
            0, cell % len(bx))
        tiles.index_copy_(2, at, _odd_tiles(patch.index_select(1, odd),
                                            by.tile_weight.index_select(0, types[0]),
                                            bx.tile_weight.index_select(0, types[1])))
    return tiles, which


def _strict_peaks(tiles: torch.Tensor, threshold: float) -> torch.Tensor:
    """Peaks of ``[h+2, w+2, n]`` tiles (``nms_mask`` semantics): long flat indices into the
    ``[h, w, n]`` centres, ascending.

    ``centre - max(8 neighbours, threshold)`` is positive exactly at the peaks (a float
    difference keeps the sign of the comparison; NaN anywhere gives NaN, not a peak).
    """
    left_right = torch.maximum(tiles[:, :-2], tiles[:, 2:])
    row3 = torch.maximum(left_right, tiles[:, 1:-1])
    margin = torch.maximum(row3[:-2], row3[2:])
    margin = torch.maximum(margin, left_right[1:-1], out=margin).clamp_(min=threshold)
    margin = torch.sub(tiles[1:-1, 1:-1], margin, out=margin)
    return flat_nonzero(greater(margin, 0.0))


def _part_maps(maps: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """``maps[channels]``; a view when ``channels`` are the first ones (the part channels come
    first in OpenPose's channel order), else a copy."""
    n = len(channels)
    if channels.device.type == "cpu" and np.array_equal(channels.numpy(), np.arange(n)):
        return maps.narrow(0, 0, n)
    return maps.index_select(0, channels)


def block_peaks(
    maps, channels: torch.Tensor, threshold: float, *, exact: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """NMS peaks of one-scale lazily upsampled maps (``UpsampledMaps`` with one scale).

    With ``exact`` every block whose bound reaches the threshold is tested: the result equals
    NMS on the fully upsampled maps. Without it only the 2x2 blocks around each low-resolution
    local maximum (>= its 8 neighbours) are tested, which finds the same peaks on typical maps
    but can miss a peak where same-part blobs merge (crowds) or in interpolation ringing.
    Returns host ``(part, y, x, score)`` (int64, float32; unsorted, and with outputs on the
    one-pixel border or off the map still in: ``upsampled._raster_peaks`` drops them), ``part``
    indexing ``channels``.
    """
    low = _part_maps(maps.maps[0], channels)
    height, width = maps.size_hw
    grid = block_grid(tuple(low.shape[1:]), (height, width), maps.ratios[0], str(low.device))
    padded = pad_maps(low, grid)
    lowest, highest = torch.aminmax(low) if low.numel() else (low.new_zeros(()),) * 2
    if lowest.isnan():  # the bounds need the extremes of the other samples: one NaN voids all
        lowest, highest = torch.aminmax(low.nan_to_num(nan=0.0, posinf=float("inf"),
                                                       neginf=float("-inf")))
    if exact:
        blocks = active_blocks(padded, grid, threshold, lowest)
    else:
        blocks = blocks_near_maxima(low, grid)
    tiles, which = _tiles(padded, blocks, grid, torch.maximum(highest, -lowest))
    flat = _strict_peaks(tiles, threshold)
    # The peaks' indices (a few hundred) move to the host here and are split by NumPy calls,
    # each a fraction of a tensor op's cost; only their values are then read on the device.
    ly, lx, n = tiles.shape
    flat, tile_block = (v.cpu().numpy() for v in (flat, blocks.index_select(0, which)))
    pixel, t = np.divmod(flat, n)
    r, c = np.divmod(pixel, lx - 2)
    block = tile_block[t]
    nbx, per_part = len(grid.bx), len(grid.by) * len(grid.bx)
    part, cell = np.divmod(block, per_part)
    cell_y, cell_x = np.divmod(cell, nbx)
    at = torch.from_numpy(((r + 1) * lx + c + 1) * n + t).to(tiles.device)
    score = tiles.reshape(-1).index_select(0, at).cpu().numpy()
    # Outputs on the map's one-pixel border or off the map are dropped with the raster sort.
    return part, grid.by.start[cell_y] + r, grid.bx.start[cell_x] + c, score
