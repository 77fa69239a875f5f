"""The upsampled (and scale-averaged) net output, evaluated only where the decoder looks.

OpenPose upsamples all channels x8 before NMS and PAF scoring (spec §3.3). Doing that in full
costs ``C * H * W`` outputs (78 x 368 x 656 for BODY_25 at 1080p), far more than the decoder
reads: NMS only needs the part channels around the blobs, and PAF scoring only needs the few
thousand points on candidate limbs. Because the resize is linear, the value of any output pixel
is a fixed weighted sum of at most 4x4 input samples (per scale), so both readers here give the
*same numbers* as full upsampling (``upsample_openpose``), up to float rounding:

- ``UpsampledMaps`` (the fast path) keeps the low-resolution maps and evaluates points and
  small windows on demand; its NMS (``nms.block_peaks``) skips every 8x8 block whose values
  provably stay below the threshold or that provably holds no local maximum, and runs the
  exact test on the rest.
- ``DenseMaps`` holds already-upsampled maps (the reference, used by the tests).

Both expose ``size_hw``, ``points``, ``window`` and ``peaks``; the decoder takes either.
Batches of points/windows put the batch index *last* (``[..., P]``): torch's CPU kernels are
several times faster on long contiguous rows than on many tiny trailing dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from openpose_ros.decode.nms import block_peaks, nms_mask
from openpose_ros.decode.resize import axis_weights, upsample_openpose
from openpose_ros.decode.tensor_ops import nonzero_tuple

__all__ = ["UpsampledMaps", "DenseMaps"]


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (lru_cache keys)
class _WindowTable:
    """Per-axis constants to evaluate ``length`` consecutive outputs from any first output o0.

    With ``i = o0 + length - 1``: ``start[i]`` is the first input of the window, and
    ``weight[:, :, i]`` the ``[length, k]`` resize weights on inputs ``start .. start + k - 1``
    (rows outside the map are zero).
    """

    start: torch.Tensor
    weight: torch.Tensor
    k: int


@lru_cache(maxsize=256)
def _window_table(
    n_in: int, n_out: int, ratio: float | None, length: int, device: str
) -> _WindowTable:
    aw = axis_weights(n_in, n_out, ratio)
    o0 = np.arange(-length + 1, n_out)
    last = np.clip(o0 + length - 1, 0, n_out - 1)
    first = np.clip(o0, 0, n_out - 1)
    k = min(int((aw.index[last, 3] - aw.index[first, 0]).max()) + 1, n_in)
    start = np.clip(aw.index[first, 0], 0, n_in - k)
    rows = o0[:, None] + np.arange(length)  # [n_o0, length]
    valid = (rows >= 0) & (rows < n_out)
    cols = start[:, None] + np.arange(k)  # [n_o0, k]
    weight = aw.matrix[np.clip(rows, 0, n_out - 1)[:, :, None], cols[:, None, :]]
    weight = np.where(valid[:, :, None], weight, 0.0).astype(np.float32).transpose(1, 2, 0)
    dev = torch.device(device)
    return _WindowTable(
        start=torch.from_numpy(start).to(dev),
        weight=torch.from_numpy(np.ascontiguousarray(weight)).to(dev),
        k=k,
    )


@dataclass(frozen=True)
class _Taps:
    """Constants to gather ``ky x kx`` input windows of ``[C, h, w]`` maps.

    ``row_first[i]``/``col_first[j]``: flat offset of the first input row / column of the
    window of table entry ``i``/``j`` (``_WindowTable.start`` scaled); ``offsets``: long
    ``[ky, kx, 1]`` flat offsets of the window's samples from its first; ``plane = h * w``.
    """

    row_first: torch.Tensor
    col_first: torch.Tensor
    offsets: torch.Tensor
    plane: int


@lru_cache(maxsize=256)
def _taps(ty: _WindowTable, tx: _WindowTable, h: int, w: int) -> _Taps:
    device = ty.start.device
    offsets = (torch.arange(ty.k, device=device)[:, None] * w
               + torch.arange(tx.k, device=device)[None, :])
    return _Taps(row_first=ty.start * w, col_first=tx.start, offsets=offsets[:, :, None],
                 plane=h * w)


def _gather_windows(m: torch.Tensor, taps: _Taps, channels: torch.Tensor, iy: torch.Tensor,
                    ix: torch.Tensor) -> torch.Tensor:
    """``[..., ky, kx, P]`` input windows of table entries ``iy``/``ix`` (long ``[P]``).

    ``channels`` is long ``[..., P]``. One ``index_select`` of the samples of the contiguous
    maps ``m``, straight into the layout the sums over taps read (a gather of whole rows of
    samples from an unfolded view, then a transposing copy, costs twice as much on a CPU).
    """
    first = channels * taps.plane + (taps.row_first.index_select(0, iy)
                                     + taps.col_first.index_select(0, ix))  # [..., P]
    index = first.unsqueeze(-2).unsqueeze(-2) + taps.offsets  # [..., ky, kx, P]
    return m.reshape(-1).index_select(0, index.reshape(-1)).view(index.shape)


def _inside(y0: torch.Tensor, x0: torch.Tensor, size_hw: tuple[int, int],
            map_hw: tuple[int, int]) -> torch.Tensor:
    """``[hy, hx, P]`` mask of the window pixels that lie on the ``map_hw`` map."""
    rows = y0 + torch.arange(size_hw[0], device=y0.device)[:, None]  # [hy, P]
    cols = x0 + torch.arange(size_hw[1], device=x0.device)[:, None]  # [hx, P]
    inside_y = (rows >= 0) & (rows < map_hw[0])
    inside_x = (cols >= 0) & (cols < map_hw[1])
    return inside_y[:, None, :] & inside_x[None, :, :]


def _raster_peaks(part: np.ndarray, y: np.ndarray, x: np.ndarray, score: np.ndarray,
                  size_hw: tuple[int, int], max_peaks: int) -> tuple[np.ndarray, ...]:
    """Drop peaks on or off the one-pixel border, sort by (part, y, x), keep ``max_peaks`` each.

    Host arrays (the NMS output, a few hundred peaks): int64 ``part``, ``y``, ``x`` and float32
    ``score`` in, the same out.
    """
    height, width = size_hw
    inside = np.flatnonzero((y >= 1) & (y <= height - 2) & (x >= 1) & (x <= width - 2))
    key = ((part[inside] * height + y[inside]) * width + x[inside])
    order = inside[np.argsort(key)]  # pixels are distinct: no ties
    part, y, x, score = part[order], y[order], x[order], score[order]
    if len(part) and int(np.bincount(part).max()) > max_peaks:
        keep = np.arange(len(part)) - np.searchsorted(part, part) < max_peaks
        part, y, x, score = part[keep], y[keep], x[keep], score[keep]
    return part, y, x, score


@dataclass(frozen=True)
class UpsampledMaps:
    """Mean over scales of OpenPose-upsampled maps, evaluated lazily (exact).

    Attributes:
        maps: per scale, ``[C, h_i, w_i]`` float32 net output (same channels, same device).
        size_hw: ``(H, W)`` of the upsampled maps (the scale-0 net input size).
        ratios: per scale ``(ratio_y, ratio_x)`` output pixels per input pixel (spec §3.3);
            ``(None, None)`` for a single scale (ratio ``H / h``).
    """

    maps: tuple[torch.Tensor, ...]
    size_hw: tuple[int, int]
    ratios: tuple[tuple[float | None, float | None], ...]

    @classmethod
    def from_net_output(
        cls,
        maps: torch.Tensor | Sequence[torch.Tensor],
        size_hw: tuple[int, int],
        input_to_net: Sequence[float] | None = None,
    ) -> "UpsampledMaps":
        """Wrap one ``[C, h, w]`` map or per-scale maps (scale 0 first).

        ``size_hw`` is the scale-0 net input size. ``input_to_net`` holds ``scaleInputToNet`` of
        each scale; with one scale it is not needed.
        """
        maps = (maps,) if isinstance(maps, torch.Tensor) else tuple(maps)
        if not maps:
            raise ValueError("no net output maps given")
        for m in maps:
            if m.dim() != 3 or m.shape[0] != maps[0].shape[0] or min(m.shape) < 1:
                raise ValueError(f"net output maps must be [C, h, w] with equal C, got {m.shape}")
        height, width = (int(v) for v in size_hw)
        if len(maps) == 1:
            ratios: tuple = ((None, None),)
        elif input_to_net is None or len(input_to_net) != len(maps):
            raise ValueError("multi-scale decoding needs one scaleInputToNet per scale")
        else:
            h0, w0 = maps[0].shape[-2:]
            s0 = input_to_net[0]
            ratios = tuple((height / h0 / (s / s0), width / w0 / (s / s0)) for s in input_to_net)
        # Decoding reads values only: detached, so maps from a module with autograd on work too.
        maps = tuple(m.detach().float().contiguous() for m in maps)
        return cls(maps=maps, size_hw=(height, width), ratios=ratios)

    @property
    def num_channels(self) -> int:
        return int(self.maps[0].shape[0])

    @property
    def device(self) -> torch.device:
        return self.maps[0].device

    def points(self, channels: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Upsampled values at in-map pixels: long ``[c, P]`` channels, ``[P]`` y, x -> ``[c, P]``.

        Each value is the 4x4-tap sum (per scale) that full upsampling computes there.
        """
        total = None
        for m, (ry, rx) in zip(self.maps, self.ratios):
            h, w = int(m.shape[1]), int(m.shape[2])
            ty = _window_table(h, self.size_hw[0], ry, 1, str(m.device))
            tx = _window_table(w, self.size_hw[1], rx, 1, str(m.device))
            wy, wx = ty.weight[0].index_select(1, y), tx.weight[0].index_select(1, x)
            weight = wy[:, None] * wx[None]  # [ky, kx, P]
            # The channels (PAF x and y) share the taps: one gather for all of them.
            patch = _gather_windows(m, _taps(ty, tx, h, w), channels, y, x)
            value = (patch * weight).sum(dim=(-3, -2))  # [c, P]
            total = value if total is None else total + value
        return total / len(self.maps) if len(self.maps) > 1 else total

    def window(
        self, channels: torch.Tensor, y0: torch.Tensor, x0: torch.Tensor,
        size_hw: tuple[int, int], *, mask_outside: bool = True,
    ) -> torch.Tensor:
        """Upsampled values of small windows.

        Args:
            channels: long ``[P]`` channel of each window.
            y0, x0: long ``[P]`` top-left output pixel of each window (may lie outside).
            size_hw: ``(hy, hx)`` window size in output pixels.
            mask_outside: pixels outside the map are NaN; without it they are 0 (their weights
                are zero), or NaN where the window's inputs are not finite.

        Returns:
            float32 ``[hy, hx, P]``.
        """
        hy, hx = size_hw
        total = None
        for m, (ry, rx) in zip(self.maps, self.ratios):
            h, w = int(m.shape[1]), int(m.shape[2])
            ty = _window_table(h, self.size_hw[0], ry, hy, str(m.device))
            tx = _window_table(w, self.size_hw[1], rx, hx, str(m.device))
            iy = (y0 + (hy - 1)).clamp(0, len(ty.start) - 1)
            ix = (x0 + (hx - 1)).clamp(0, len(tx.start) - 1)
            patch = _gather_windows(m, _taps(ty, tx, h, w), channels, iy, ix)
            wy, wx = ty.weight.index_select(2, iy), tx.weight.index_select(2, ix)  # [hy, ky, P]
            across = (patch[:, None] * wx[None]).sum(dim=2)  # [ky, hx, P], along x first
            value = (across[None] * wy[:, :, None]).sum(dim=1)  # [hy, hx, P]
            total = value if total is None else total + value
        if len(self.maps) > 1:
            total = total / len(self.maps)
        if not mask_outside:
            return total
        return total.masked_fill(~_inside(y0, x0, size_hw, self.size_hw), float("nan"))

    def peaks(
        self, channels: torch.Tensor, threshold: float, max_peaks: int, *, exact: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """NMS peaks of ``channels`` (long ``[J]``) as host ``(part, y, x, score)``, each ``[P]``.

        ``part`` indexes ``channels``; peaks are in raster order per part, at most ``max_peaks``
        each (spec §3.4). One scale: block-sparse NMS (``nms.block_peaks``; ``exact=False`` is
        its faster, not always identical mode). Several scales (OpenPose's slow high-accuracy
        mode): the part channels are upsampled in full.
        """
        if len(self.maps) == 1:
            found = block_peaks(self, channels, threshold, exact=exact)
            return _raster_peaks(*found, self.size_hw, max_peaks)
        parts = UpsampledMaps(tuple(m.index_select(0, channels) for m in self.maps),
                              self.size_hw, self.ratios)
        return parts.dense().peaks(torch.arange(len(channels), device=self.device),
                                   threshold, max_peaks)

    def dense(self) -> "DenseMaps":
        """The full upsampled maps (what OpenPose computes); for tests and small maps."""
        total = None
        for m, (ry, rx) in zip(self.maps, self.ratios):
            up = upsample_openpose(m, self.size_hw, None if ry is None else (ry, rx))
            total = up if total is None else total + up
        return DenseMaps(total / len(self.maps) if len(self.maps) > 1 else total)


@dataclass(frozen=True)
class DenseMaps:
    """Already-upsampled maps ``[C, H, W]`` with the same reader interface as ``UpsampledMaps``."""

    maps: torch.Tensor

    @property
    def size_hw(self) -> tuple[int, int]:
        return int(self.maps.shape[1]), int(self.maps.shape[2])

    @property
    def num_channels(self) -> int:
        return int(self.maps.shape[0])

    @property
    def device(self) -> torch.device:
        return self.maps.device

    def points(self, channels: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """As ``UpsampledMaps.points``: ``[c, P]`` values at in-map pixels."""
        height, width = self.size_hw
        return self.maps.float().reshape(-1).take((channels * height + y) * width + x)

    def window(
        self, channels: torch.Tensor, y0: torch.Tensor, x0: torch.Tensor,
        size_hw: tuple[int, int], *, mask_outside: bool = True,
    ) -> torch.Tensor:
        """As ``UpsampledMaps.window``: ``[hy, hx, P]``, NaN outside the map (always)."""
        hy, hx = size_hw
        height, width = self.size_hw
        rows = (y0 + torch.arange(hy, device=y0.device)[:, None]).clamp(0, height - 1)
        cols = (x0 + torch.arange(hx, device=x0.device)[:, None]).clamp(0, width - 1)
        flat = ((channels * height + rows) * width)[:, None, :] + cols[None, :, :]
        values = self.maps.float().reshape(-1).take(flat)
        return values.masked_fill(~_inside(y0, x0, size_hw, self.size_hw), float("nan"))

    def peaks(
        self, channels: torch.Tensor, threshold: float, max_peaks: int, *, exact: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """As ``UpsampledMaps.peaks``, by the NMS mask over the whole maps (always exact)."""
        heat = F.pad(self.maps[channels].float(), (1, 1, 1, 1), value=float("nan"))
        part, y, x = nonzero_tuple(nms_mask(heat, threshold))
        score = self.maps[channels[part], y, x].float()
        part, y, x = torch.stack([part, y, x]).cpu().numpy()
        return _raster_peaks(part, y, x, score.cpu().numpy(), self.size_hw, max_peaks)
