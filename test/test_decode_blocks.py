"""Block bounds, block filters and padded tiles behind the exact lazy NMS (spec §3.4).

Every check compares with full upsampling (``UpsampledMaps.dense``); maps are small (at most
23x41 net output) so the dense reference stays cheap.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from openpose_ros.decode import nms
from openpose_ros.decode.blocks import active_blocks, block_grid, pad_maps
from openpose_ros.decode.resize import axis_weights
from openpose_ros.decode.upsampled import DenseMaps, UpsampledMaps


def _scene(rng: np.random.Generator, channels: int, h: int, w: int, *, noise: float = 0.02,
           count: int = 6) -> torch.Tensor:
    """Anisotropic, rotated Gaussian ridges and blobs (some off the map's edges), plus noise
    with negative values: slopes, saddles and merged maxima for the bounds and filters."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    maps = rng.normal(0, noise, (channels, h, w))
    for c in range(channels):
        for _ in range(count):
            cy, cx = rng.uniform(-1.5, h + 0.5), rng.uniform(-1.5, w + 0.5)
            sy, sx, angle = rng.uniform(0.4, 2.5), rng.uniform(0.4, 2.5), rng.uniform(0, np.pi)
            u = (yy - cy) * np.cos(angle) + (xx - cx) * np.sin(angle)
            v = -(yy - cy) * np.sin(angle) + (xx - cx) * np.cos(angle)
            maps[c] += rng.uniform(0.03, 1.2) * np.exp(-u**2 / (2 * sy**2) - v**2 / (2 * sx**2))
    return torch.tensor(maps, dtype=torch.float32)


def _peak_set(found) -> set:
    part, y, x, _ = found
    return set(zip(part.tolist(), y.tolist(), x.tolist()))


def _block_maxima(lazy: UpsampledMaps, grid) -> torch.Tensor:
    """``[J, nby, nbx]`` largest upsampled value of each block over pixels that may be peaks."""
    dense = lazy.dense().maps
    height, width = lazy.size_hw
    size_y, size_x = grid.by.size, grid.bx.size
    first_y, first_x = int(grid.by.start[0]), int(grid.bx.start[0])
    padded = torch.full((dense.shape[0], len(grid.by) * size_y, len(grid.bx) * size_x),
                        float("-inf"))
    padded[:, 1 - first_y : height - 1 - first_y, 1 - first_x : width - 1 - first_x] = \
        dense[:, 1:-1, 1:-1]
    return F.max_pool2d(padded[None], (size_y, size_x))[0]


@pytest.mark.parametrize("map_hw,seed", [((23, 41), 0), ((7, 9), 1), ((2, 3), 2), ((1, 1), 3)])
def test_active_blocks_cover_every_block_reaching_the_threshold(map_hw, seed):
    rng = np.random.default_rng(seed)
    maps = _scene(rng, 4, *map_hw)
    size = (8 * map_hw[0], 8 * map_hw[1])
    lazy = UpsampledMaps.from_net_output(maps, size)
    grid = block_grid(map_hw, size, (None, None), "cpu")
    maxima = _block_maxima(lazy, grid)
    padded = pad_maps(maps, grid)
    for threshold in (0.01, 0.05, 0.3):
        active = set(active_blocks(padded, grid, threshold, maps.min()).tolist())
        needed = set(torch.nonzero(maxima.reshape(-1) > threshold).squeeze(1).tolist())
        assert needed <= active
    assert len(needed) > 0 or map_hw == (1, 1)


@pytest.mark.parametrize("shift", [-0.2, -0.6])
def test_active_blocks_cover_the_threshold_on_negative_maps(shift):
    """Maps far below zero: the negative mass of the weights alone may reach a small threshold
    (then every block is kept), and thresholds at zero take the rounding-allowance test."""
    maps = _scene(np.random.default_rng(6), 3, 9, 13) + shift
    size = (72, 104)
    grid = block_grid((9, 13), size, (None, None), "cpu")
    maxima = _block_maxima(UpsampledMaps.from_net_output(maps, size), grid)
    padded = pad_maps(maps, grid)
    for threshold in (0.0, 1e-7, 0.05, 0.3):
        active = set(active_blocks(padded, grid, threshold, maps.min()).tolist())
        needed = set(torch.nonzero(maxima.reshape(-1) > threshold).squeeze(1).tolist())
        assert needed <= active
    assert len(needed) > 0


def test_pad_maps_repeats_the_edge_samples():
    maps = torch.randn(3, 5, 7)
    grid = block_grid((5, 7), (40, 56), (None, None), "cpu")
    (top, bottom), (left, right) = grid.by.pad, grid.bx.pad
    want = F.pad(maps[None], (left, right, top, bottom), mode="replicate")[0]
    assert torch.equal(pad_maps(maps, grid), want)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("threshold", [0.02, 0.05, 0.4])
def test_lazy_nms_equals_dense_on_ridges_saddles_and_edges(seed, threshold):
    """Reduced: 6 channels of 23x41 maps; the filters drop slope blocks, none with a peak."""
    lazy = UpsampledMaps.from_net_output(_scene(np.random.default_rng(seed + 10), 6, 23, 41),
                                         (184, 328))
    channels = torch.arange(6)
    a, b = lazy.peaks(channels, threshold, 127), lazy.dense().peaks(channels, threshold, 127)
    assert _peak_set(a) == _peak_set(b) and len(a[0]) > 0
    np.testing.assert_allclose(a[3], b[3], atol=1e-6, rtol=0)


def test_a_nan_sample_only_voids_the_peaks_that_read_it():
    """OpenPose's kernel reads 4x4 taps, so a NaN sample makes only the outputs that read it NaN
    (and NaN compares false: no peak there or beside it). One NaN must not void every block.
    Reference: full upsampling of the maps without the NaN, with those outputs set to NaN (the
    matrix-product upsampling would spread it over the whole map)."""
    maps = _scene(np.random.default_rng(7), 4, 23, 41)
    holes = [(1, 11, 20), (3, 0, 0)]
    for c, y, x in holes:
        maps[c, y, x] = float("nan")
    size = (184, 328)
    dense = UpsampledMaps.from_net_output(maps.nan_to_num(nan=0.0), size).dense().maps
    taps_y, taps_x = axis_weights(23, size[0], None).index, axis_weights(41, size[1], None).index
    for c, y, x in holes:
        reads = (taps_y == y).any(axis=1)[:, None] & (taps_x == x).any(axis=1)[None, :]
        dense[c][torch.from_numpy(reads)] = float("nan")
    channels = torch.arange(4)
    lazy = UpsampledMaps.from_net_output(maps, size).peaks(channels, 0.05, 127)
    assert _peak_set(lazy) == _peak_set(DenseMaps(dense).peaks(channels, 0.05, 127))
    assert {1, 3} <= set(lazy[0].tolist())  # the channels with a NaN keep their other peaks


def test_non_integer_ratio_uses_the_generic_bound_and_stays_exact():
    maps = _scene(np.random.default_rng(4), 3, 12, 20)
    lazy = UpsampledMaps.from_net_output(maps, (90, 150))  # 7.5x: blocks straddle cells
    assert block_grid((12, 20), (90, 150), (None, None), "cpu").cell_bound is None
    channels = torch.arange(3)
    for threshold in (0.05, 0.3):
        assert _peak_set(lazy.peaks(channels, threshold, 127)) == \
            _peak_set(lazy.dense().peaks(channels, threshold, 127))


def test_a_blocks_tile_does_not_depend_on_the_batch():
    """Small matrix products take another BLAS path; tiles are padded to a common one."""
    maps = _scene(np.random.default_rng(5), 4, 23, 41)
    grid = block_grid((23, 41), (184, 328), (None, None), "cpu")
    padded = pad_maps(maps, grid)
    blocks = active_blocks(padded, grid, 0.05, maps.min())
    scale = maps.abs().max()
    tiles, which = nms._tiles(padded, blocks, grid, scale)
    for i in (0, len(which) // 2, len(which) - 1):
        alone, kept = nms._tiles(padded, blocks[which[i : i + 1]], grid, scale)
        assert len(kept) == 1 and torch.equal(alone[..., 0], tiles[..., i])
