"""OpenPose's CUDA bicubic resize (spec §3.3): the matrix form against a per-pixel reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from openpose_ros.decode.resize import axis_weights, cubic_taps, upsample_openpose


def _reference(src: np.ndarray, out_h: int, out_w: int, ratio=None) -> np.ndarray:
    """Straight transcription of the spec's kernel, one output pixel at a time (slow)."""
    h, w = src.shape
    ry = out_h / h if ratio is None else ratio[0]
    rx = out_w / w if ratio is None else ratio[1]

    def taps(o: int, n: int, r: float):
        s = (o + 0.5) / r - 0.5
        i1 = min(max(math.floor(s), 0), n - 1)
        t = s - i1  # negative at the top/left edge
        idx = [min(max(i1 - 1 + k, 0), n - 1) for k in range(4)]
        wts = [-0.5 * t**3 + t**2 - 0.5 * t, 1.5 * t**3 - 2.5 * t**2 + 1,
               -1.5 * t**3 + 2 * t**2 + 0.5 * t, 0.5 * t**3 - 0.5 * t**2]
        return idx, wts

    out = np.zeros((out_h, out_w))
    for y in range(out_h):
        iy, wy = taps(y, h, ry)
        rows = [sum(wx * src[iy[a], ix] for ix, wx in zip(*taps(x, w, rx))) for x in range(out_w)
                for a in range(4)]
        rows = np.array(rows).reshape(out_w, 4)
        out[y] = rows @ np.array(wy)
    return out


@pytest.mark.parametrize("shape,size", [((5, 7), (40, 56)), ((3, 4), (24, 32)), ((1, 1), (8, 8))])
def test_matches_the_per_pixel_kernel(shape, size):
    rng = np.random.default_rng(0)
    src = rng.normal(size=shape)
    got = upsample_openpose(torch.tensor(src, dtype=torch.float64)[None, None], size)[0, 0]
    np.testing.assert_allclose(got.numpy(), _reference(src, *size), atol=1e-12)


def test_general_ratio_as_multi_scale_uses_it():
    src = np.random.default_rng(1).normal(size=(4, 6))
    ratio = (8 / 0.75, 8 / 0.75)  # a 0.75 scale stretched onto the scale-0 grid
    got = upsample_openpose(torch.tensor(src)[None], (40, 56), ratio)[0]
    np.testing.assert_allclose(got.numpy(), _reference(src, 40, 56, ratio), atol=1e-12)


def test_edge_rule_extrapolates_with_negative_t():
    aw = axis_weights(4, 32)
    # Output 0 samples src = -0.4375: base tap 0, t < 0, taps 0, 0, 1, 2.
    assert aw.index[0].tolist() == [0, 0, 1, 2]
    np.testing.assert_allclose(aw.weight[0], cubic_taps(np.array(-0.4375)), atol=1e-12)
    assert aw.weight[0][3] < 0  # extrapolation: a negative far tap
    np.testing.assert_allclose(aw.matrix.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_sample_spoils_only_the_outputs_that_read_it(bad):
    """As the per-pixel kernel: NaN where the 4x4 taps read it (a matrix product would put a
    NaN everywhere), the same values elsewhere."""
    src = torch.tensor(np.random.default_rng(2).normal(size=(6, 9)), dtype=torch.float32)
    spoiled = src.clone()
    spoiled[2, 3] = bad
    got = upsample_openpose(spoiled[None], (48, 72))[0]
    wy, wx = axis_weights(6, 48), axis_weights(9, 72)
    reads = (wy.index == 2).any(axis=1)[:, None] & (wx.index == 3).any(axis=1)[None, :]
    np.testing.assert_array_equal(torch.isnan(got).numpy(), reads)
    clean = upsample_openpose(src[None], (48, 72))[0]
    torch.testing.assert_close(got[~torch.from_numpy(reads)], clean[~torch.from_numpy(reads)])


def test_differs_from_torch_bicubic_on_a_peak():
    """PyTorch/OpenCV cubic (a = -0.75) is the cheaper mode, with different numbers."""
    src = torch.zeros(1, 1, 9, 9)
    src[0, 0, 4, 4] = 1.0
    ours = upsample_openpose(src, (72, 72))
    theirs = torch.nn.functional.interpolate(src, size=(72, 72), mode="bicubic",
                                             align_corners=False)
    assert (ours - theirs).abs().max() > 1e-2


def test_keeps_batch_channels_device_and_dtype():
    maps = torch.rand(2, 3, 5, 6)
    up = upsample_openpose(maps, (40, 48))
    assert up.shape == (2, 3, 40, 48) and up.dtype == torch.float32
    np.testing.assert_allclose(up[1, 2].numpy(), _reference(maps[1, 2].double().numpy(), 40, 48),
                               atol=1e-5)
    with pytest.raises(ValueError):
        upsample_openpose(torch.rand(5, 6), (40, 48))
