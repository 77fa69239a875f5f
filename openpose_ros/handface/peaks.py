"""Hand and face keypoints from network maps: ×8 bicubic upsampling and a global argmax.

Spec §4.3: each part channel (not the background) is upsampled with OpenPose's CUDA bicubic
kernel to the crop size, and its keypoint is the first maximum in raster order at integer
pixels, with no sub-pixel step and no threshold; its score is that maximum.
"""

from __future__ import annotations

import torch

from openpose_ros.decode.resize import upsample_openpose

__all__ = ["heatmap_argmax"]


def heatmap_argmax(maps: torch.Tensor, num_parts: int, size_hw: tuple[int, int]) -> torch.Tensor:
    """Per-channel global maximum of the upsampled maps.

    Args:
        maps: ``[B, C, h, w]`` network output, parts first (C ≥ num_parts; the rest, e.g. the
            background, is ignored).
        num_parts: number of part channels (21 hand, 70 face).
        size_hw: (height, width) to upsample to: the crop size.

    Returns:
        float32 ``[B, num_parts, 3]`` (u, v, score) in crop pixels.
    """
    if maps.shape[0] == 0:
        return maps.new_zeros((0, num_parts, 3), dtype=torch.float32)
    up = upsample_openpose(maps[:, :num_parts].float(), size_hw)
    width = up.shape[-1]
    # torch.max returns the first maximal index, i.e. the raster-order first maximum.
    score, flat = up.flatten(2).max(dim=2)
    u = (flat % width).float()
    v = torch.div(flat, width, rounding_mode="floor").float()
    return torch.stack([u, v, score.float()], dim=-1)
