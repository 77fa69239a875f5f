"""Body-part candidates: NMS on the upsampled part heatmaps and sub-pixel refinement (spec §3.4).

Coordinates are upsampled-map pixels, i.e. scale-0 net input pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from openpose_ros.decode.upsampled import DenseMaps, UpsampledMaps

__all__ = ["Peaks", "find_peaks", "REFINE_RADIUS"]

REFINE_RADIUS = 3  # the centroid window is 7x7 around the peak


@dataclass(frozen=True)
class Peaks:
    """Part candidates of one image, sorted by part then raster order.

    Attributes:
        part: long ``[P]`` joint index.
        x, y: float32 ``[P]`` refined position in net pixels, OpenPose's offset included.
        score: float32 ``[P]`` heatmap value at the integer peak.
        start: long ``[J + 1]`` the candidates of joint ``j`` are ``start[j]:start[j + 1]``.
    """

    part: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    score: torch.Tensor
    start: torch.Tensor

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
    ``exact=False`` selects the faster NMS candidate search (see ``nms.block_peaks``).
    """
    device = maps.device
    channels = torch.arange(num_parts, device=device)
    part, y, x, score = maps.peaks(channels, threshold, max_peaks, exact=exact)
    side = 2 * REFINE_RADIUS + 1
    # Outside pixels come out 0 or NaN unmasked; both weigh nothing below.
    window = maps.window(part, y - REFINE_RADIUS, x - REFINE_RADIUS, (side, side),
                         mask_outside=False)  # [7, 7, P]
    weight = torch.where(window > 0, window, 0.0)  # NaN -> 0
    steps = torch.arange(-REFINE_RADIUS, REFINE_RADIUS + 1, device=device, dtype=torch.float32)
    total = weight.sum(dim=(0, 1))
    cx = (weight.sum(dim=0) * steps[:, None]).sum(dim=0) / total + x.float() + offset
    cy = (weight.sum(dim=1) * steps[:, None]).sum(dim=0) / total + y.float() + offset
    start = torch.zeros(num_parts + 1, dtype=torch.long, device=device)
    start[1:] = torch.cumsum(torch.bincount(part, minlength=num_parts), 0)
    return Peaks(part=part, x=cx, y=cy, score=score, start=start)
