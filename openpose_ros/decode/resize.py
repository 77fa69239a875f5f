"""OpenPose's GPU bicubic resize, as separable interpolation matrices (spec §3.3).

The CUDA build upsamples every net-output channel with a Catmull-Rom cubic (a = -0.5) on
half-pixel centres, ``src = (dst + 0.5) / ratio - 0.5``, with its own edge rule: the base tap
``i1 = clamp(floor(src), 0, n - 1)``, the fraction ``t = src - i1`` (so ``t < 0`` at the top/left
edge, an extrapolation), and the four taps ``i1 - 1 .. i1 + 2`` clamped to ``[0, n - 1]``.

PyTorch's ``interpolate(mode="bicubic")`` and OpenCV's ``INTER_CUBIC`` use a = -0.75 and clamp
the taps but not ``t``; they are the *cheaper* mode (one fused kernel) and are what OpenPose's
CPU-only build uses, but they give different numbers (about 1e-2 on sharp peaks). This module is
the faithful one: because the cubic is linear in the samples, the resize along one axis is a
fixed ``[n_out, n_in]`` matrix with four non-zero weights per row, and the 2-D resize is
``Wy @ maps @ Wx^T``. The same per-axis tables also let the decoder evaluate the upsampled map
only where it needs it (``openpose_ros.decode.lazy``) with identical numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

__all__ = [
    "AxisWeights",
    "axis_weights",
    "cubic_taps",
    "upsample_openpose",
]


def cubic_taps(t: np.ndarray) -> np.ndarray:
    """Catmull-Rom (a = -0.5) weights of the taps ``i1-1, i1, i1+1, i1+2`` for fraction ``t``.

    ``t``: ``[...]`` float64 -> ``[..., 4]``. The four weights always sum to 1; for ``t`` in
    ``[0, 1]`` they interpolate, for ``t < 0`` (OpenPose's top/left edge) they extrapolate.
    """
    t = np.asarray(t, dtype=np.float64)[..., None]
    t2, t3 = t * t, t * t * t
    return np.concatenate(
        [
            -0.5 * t3 + t2 - 0.5 * t,
            1.5 * t3 - 2.5 * t2 + 1.0,
            -1.5 * t3 + 2.0 * t2 + 0.5 * t,
            0.5 * t3 - 0.5 * t2,
        ],
        axis=-1,
    )


@dataclass(frozen=True)
class AxisWeights:
    """Resize along one axis from ``n_in`` to ``n_out`` samples (read-only NumPy arrays).

    Attributes:
        index: int64 ``[n_out, 4]`` clamped tap indices into the input, ascending per row.
        weight: float64 ``[n_out, 4]`` tap weights (duplicate clamped taps keep their own weight).
        matrix: float32 ``[n_out, n_in]`` the same resize as a dense matrix.
    """

    index: np.ndarray
    weight: np.ndarray
    matrix: np.ndarray

    @property
    def n_out(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_in(self) -> int:
        return self.matrix.shape[1]


@lru_cache(maxsize=64)
def axis_weights(n_in: int, n_out: int, ratio: float | None = None) -> AxisWeights:
    """OpenPose's cubic resize along one axis, ``n_in -> n_out`` samples.

    Args:
        n_in: input samples (>= 1).
        n_out: output samples (>= 1).
        ratio: output pixels per input pixel; ``None`` means ``n_out / n_in`` (single scale,
            where it is exactly the upsampling ratio 8). Multi-scale merging passes each scale's
            own ratio ``r_i`` (spec §3.3), whose output may not cover the whole input.
    """
    if n_in < 1 or n_out < 1:
        raise ValueError(f"cannot resize {n_in} samples to {n_out}")
    ratio = n_out / n_in if ratio is None else float(ratio)
    if not ratio > 0:
        raise ValueError(f"resize ratio must be positive, got {ratio}")
    # float32 like the CUDA kernel, so that floor() sees the same source coordinate.
    src = ((np.arange(n_out, dtype=np.float32) + np.float32(0.5)) / np.float32(ratio)
           - np.float32(0.5)).astype(np.float64)
    i1 = np.clip(np.floor(src), 0, n_in - 1).astype(np.int64)
    index = np.clip(i1[:, None] + np.arange(-1, 3), 0, n_in - 1)
    weight = cubic_taps(src - i1)
    matrix = np.zeros((n_out, n_in), dtype=np.float64)
    np.add.at(matrix, (np.repeat(np.arange(n_out), 4), index.ravel()), weight.ravel())
    for arr in (index, weight, matrix):
        arr.setflags(write=False)
    matrix32 = matrix.astype(np.float32)
    matrix32.setflags(write=False)
    return AxisWeights(index=index, weight=weight, matrix=matrix32)


def upsample_openpose(
    maps: torch.Tensor,
    size_hw: tuple[int, int],
    ratio: float | tuple[float, float] | None = None,
) -> torch.Tensor:
    """Resize maps the way OpenPose's CUDA build does (bicubic a = -0.5, clamped-t edge rule).

    Args:
        maps: ``[N, C, h, w]`` (or ``[C, h, w]``) float tensor, any device.
        size_hw: output ``(H, W)`` in pixels.
        ratio: output pixels per input pixel, one value or ``(ratio_y, ratio_x)``; ``None`` uses
            ``H / h`` and ``W / w`` (the x8 upsampling of a single scale).

    Returns:
        ``[N, C, H, W]`` (or ``[C, H, W]``) on ``maps``' device and dtype. Exact up to float
        rounding: it is ``Wy @ maps @ Wx^T`` with the per-axis matrices of ``axis_weights``.
        An output whose 4x4 taps read a NaN or infinite sample is NaN, as in the CUDA kernel
        (which multiplies every tap, zero weights too); the others keep their values. (In a
        plain matrix product one NaN would reach every output.)
    """
    if maps.dim() not in (3, 4):
        raise ValueError(
            f"upsample_openpose expects [N, C, h, w] or [C, h, w], got {tuple(maps.shape)}")
    height, width = (int(v) for v in size_hw)
    ry, rx = (ratio, ratio) if ratio is None or np.isscalar(ratio) else ratio
    wy = axis_weights(int(maps.shape[-2]), height, ry)
    wx = axis_weights(int(maps.shape[-1]), width, rx)
    dtype = maps.dtype if maps.is_floating_point() else torch.float32
    my = torch.from_numpy(np.array(wy.matrix)).to(maps.device, dtype)
    mx = torch.from_numpy(np.array(wx.matrix)).to(maps.device, dtype)
    maps = maps.to(dtype)
    bad = ~torch.isfinite(maps)
    if not bad.any():
        # Along x first, then along y, as the kernel does (also the cheaper order here).
        return my @ (maps @ mx.T)
    up = my @ (maps.masked_fill(bad, 0.0) @ mx.T)
    sy = torch.from_numpy(_tap_support(wy)).to(maps.device, dtype)
    sx = torch.from_numpy(_tap_support(wx)).to(maps.device, dtype)
    return up.masked_fill(sy @ (bad.to(dtype) @ sx.T) > 0, float("nan"))


def _tap_support(aw: AxisWeights) -> np.ndarray:
    """float32 ``[n_out, n_in]``: 1 where an output's four taps read an input, else 0 (built
    only when a map holds a non-finite sample)."""
    support = np.zeros((aw.n_out, aw.n_in), dtype=np.float32)
    support[np.arange(aw.n_out)[:, None], aw.index] = 1.0
    return support
