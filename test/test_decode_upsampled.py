"""Lazy upsampling and block-sparse NMS give the numbers of full upsampling (spec §3.3-3.4).

Maps are small (a 46x82 net output, or less) so that the dense reference stays cheap.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from openpose_ros.decode.resize import upsample_openpose
from openpose_ros.evaluation.synthetic_maps import synthetic_scene
from openpose_ros.decode.upsampled import UpsampledMaps
from openpose_ros.layouts import BODY_25, COCO_18


def _blobs(rng: np.random.Generator, channels: int, h: int, w: int, count: int) -> torch.Tensor:
    """Smooth maps: random Gaussian blobs of random widths and heights, plus a little noise."""
    yy, xx = np.mgrid[0:h, 0:w]
    maps = rng.normal(0, 0.01, (channels, h, w))
    for c in range(channels):
        for _ in range(count):
            cy, cx = rng.uniform(-1, h), rng.uniform(-1, w)
            sigma, peak = rng.uniform(0.5, 2.0), rng.uniform(0.03, 1.0)
            maps[c] += peak * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    return torch.tensor(maps, dtype=torch.float32)


def _peak_set(found) -> set:
    part, y, x, _ = found
    return set(zip(part.tolist(), y.tolist(), x.tolist()))


def test_points_and_windows_equal_full_upsampling():
    rng = np.random.default_rng(0)
    lazy = UpsampledMaps.from_net_output(_blobs(rng, 4, 7, 9, 3), (56, 72))
    dense = lazy.dense()
    y0 = torch.tensor(rng.integers(-9, 60, 64))
    x0 = torch.tensor(rng.integers(-9, 76, 64))
    channels = torch.tensor(rng.integers(0, 4, 64))
    for size in [(1, 1), (7, 7), (10, 10), (3, 5)]:
        a, b = lazy.window(channels, y0, x0, size), dense.window(channels, y0, x0, size)
        assert torch.equal(a.isnan(), b.isnan())
        torch.testing.assert_close(torch.nan_to_num(a), torch.nan_to_num(b), atol=1e-6, rtol=0)
    y, x = y0.clamp(0, 55), x0.clamp(0, 71)
    pair = torch.stack([channels, (channels + 1) % 4])
    torch.testing.assert_close(lazy.points(pair, y, x), dense.points(pair, y, x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("seed", range(4))
def test_exact_nms_equals_dense_nms_on_random_smooth_maps(seed):
    rng = np.random.default_rng(seed)
    lazy = UpsampledMaps.from_net_output(_blobs(rng, 6, 23, 41, 8), (184, 328))
    channels = torch.arange(6)
    for threshold in (0.05, 0.3):
        a = lazy.peaks(channels, threshold, 127)
        b = lazy.dense().peaks(channels, threshold, 127)
        assert _peak_set(a) == _peak_set(b) and len(a[0]) > 0
        for u, v in zip(a[:3], b[:3]):
            np.testing.assert_array_equal(u, v)  # same raster order too
        np.testing.assert_allclose(a[3], b[3], atol=1e-6, rtol=0)


@pytest.mark.parametrize("layout,people,overlap", [(BODY_25, 8, False), (COCO_18, 20, True)])
def test_exact_and_fast_nms_on_synthetic_scenes(layout, people, overlap):
    scene = synthetic_scene(layout, people, np.random.default_rng(people), overlap=overlap)
    lazy = UpsampledMaps.from_net_output(scene.net_output, (368, 656))
    channels = torch.arange(layout.num_parts)
    exact = _peak_set(lazy.peaks(channels, 0.05, 127))
    assert exact == _peak_set(lazy.dense().peaks(channels, 0.05, 127))
    fast = _peak_set(lazy.peaks(channels, 0.05, 127, exact=False))
    assert fast <= exact  # the fast mode only ever finds real peaks
    if not overlap:
        assert fast == exact


def test_peak_cap_keeps_the_first_in_raster_order():
    maps = torch.zeros(1, 16, 16)
    maps[0, 2::3, 2::3] = 1.0  # 25 isolated bumps...
    maps[0, 3::3, 2::3] = 0.3  # ...made asymmetric: a lone sample upsamples to a flat top
    maps[0, 2::3, 3::3] = 0.2  # (two equal pixels, so no strict maximum at all)
    lazy = UpsampledMaps.from_net_output(maps, (128, 128))
    part, y, x, _ = lazy.peaks(torch.arange(1), 0.05, 7)
    full = lazy.dense().peaks(torch.arange(1), 0.05, 127)
    assert len(full[0]) == 25 and len(part) == 7
    np.testing.assert_array_equal(y, full[1][:7])
    np.testing.assert_array_equal(x, full[2][:7])


def test_multi_scale_average_equals_dense_average():
    rng = np.random.default_rng(5)
    maps = [_blobs(rng, 3, 12, 20, 4), _blobs(rng, 3, 9, 15, 4)]
    lazy = UpsampledMaps.from_net_output(maps, (96, 160), input_to_net=[0.5, 0.375])
    dense = lazy.dense()
    # Each scale stretched onto the scale-0 grid with r_i = 8 / (s_i / s_0), then averaged.
    manual = (upsample_openpose(maps[0], (96, 160))
              + upsample_openpose(maps[1], (96, 160), (8 / 0.75, 8 / 0.75))) / 2
    torch.testing.assert_close(dense.maps, manual, atol=1e-6, rtol=0)
    y0 = torch.tensor(rng.integers(-3, 96, 32))
    x0 = torch.tensor(rng.integers(-3, 160, 32))
    ch = torch.tensor(rng.integers(0, 3, 32))
    a, b = lazy.window(ch, y0, x0, (7, 7)), dense.window(ch, y0, x0, (7, 7))
    torch.testing.assert_close(torch.nan_to_num(a), torch.nan_to_num(b), atol=1e-6, rtol=0)
    assert _peak_set(lazy.peaks(torch.arange(3), 0.1, 127)) == \
        _peak_set(dense.peaks(torch.arange(3), 0.1, 127))


def test_multi_scale_needs_the_scale_factors():
    with pytest.raises(ValueError):
        UpsampledMaps.from_net_output([torch.zeros(3, 4, 4), torch.zeros(3, 3, 3)], (32, 32))
    with pytest.raises(ValueError):
        UpsampledMaps.from_net_output([], (32, 32))
