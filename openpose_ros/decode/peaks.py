"""Body-part candidates: NMS on the upsampled part heatmaps and sub-pixel refinement (spec §3.4).

Coordinates are upsampled-map pixels, i.e. scale-0 net input pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from openpose_ros.decode.upsampled import DenseMaps, UpsampledMaps

__all__ = ["Peaks", "find_peaks", "REFINE_RADIUS"]

REFINE_RADIUS = 3  # the centroid window is 7x7 around the peak


@dataclass(frozen=True)
class Peaks:
    """Part candidates of one image, sorted by part then raster order (host arrays: the
    maps stay on their device, the few hundred candidates are bookkept on the host).

    Attributes:
        part: int64 ``[P]`` joint index.
        x, y: float32 ``[P]`` refined position in net pixels, OpenPose's offset included.
        score: float32 ``[P]`` heatmap value at the integer peak.
        start: int64 ``[J + 1]`` the candidates of joint ``j`` are ``start[j]:start[j + 1]``.
    """

    part: np.ndarray
    x: np.ndarray
    y: np.ndarray
    score: np.ndarray
    start: np.ndarray

    def __len__(self) -> int:
        return int(self.part.shape[0])


def find_peaks(
    maps: UpsampledMaps | DenseMaps,
    num_parts: int,
    threshold: float,
    *,
    max_peaks: int = 127,
    offset: float = 0.0,
    exact: bool = True,
) -> Peaks:
    """Peaks of part channels ``0 .. num_parts-1`` of ``maps``.

    A peak is a pixel above ``threshold`` and strictly above its 8 neighbours, off the one-pixel
    border, the first ``max_peaks`` per part in raster order. Its position is the
    score-weighted centroid of the positive values in the 7x7 window around it (in-map pixels
    only) plus ``offset`` (OpenPose adds ``0.5 / scaleNetToOutput``); its score is its own value.
    ``exact=False`` selects the faster NMS candidate search (see ``nms.block_peaks``). The
    windows are read on the maps' device, the centroids computed on the host (float32).
    """
    f32 = np.float32
    channels = torch.arange(num_parts, device=maps.device)
    part, y, x, score = maps.peaks(channels, threshold, max_peaks, exact=exact)
    side = 2 * REFINE_RADIUS + 1
    corner = torch.from_numpy(np.array([part, y - REFINE_RADIUS, x - REFINE_RADIUS]))
    corner = corner.to(maps.device)
    # Outside pixels come out 0 or NaN unmasked; both weigh nothing below.
    window = maps.window(corner[0], corner[1], corner[2], (side, side),
                         mask_outside=False).cpu().numpy()  # [7, 7, P]
    weight = np.fmax(window, f32(0))  # NaN -> 0
    steps = np.arange(-REFINE_RADIUS, REFINE_RADIUS + 1, dtype=f32)[:, None]
    total = weight.sum(axis=(0, 1))
    cx = (weight.sum(axis=0) * steps).sum(axis=0) / total + x.astype(f32) + f32(offset)
    cy = (weight.sum(axis=1) * steps).sum(axis=0) / total + y.astype(f32) + f32(offset)
    start = np.zeros(num_parts + 1, dtype=np.int64)
    start[1:] = np.cumsum(np.bincount(part, minlength=num_parts))
    return Peaks(part=part, x=cx, y=cy, score=score, start=start)
