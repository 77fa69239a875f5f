"""Hand and face keypoints from network maps: ×8 bicubic upsampling and a global argmax.

Spec §4.3: each part channel (not the background) is upsampled with OpenPose's CUDA bicubic
kernel to the crop size, and its keypoint is the first maximum in raster order at integer
pixels, with no sub-pixel step and no threshold; its score is that maximum.
"""

from __future__ import annotations

import torch

from openpose_ros.decode.resize import upsample_openpose

__all__ = ["heatmap_argmax", "UPSAMPLE_CHUNK_ELEMENTS"]

# Most upsampled values held at once. Thirty faces at 368x368 would need 1.1 GB in one go;
# chunks of this many floats (128 MB) cost a few extra kernel calls and keep memory flat.
UPSAMPLE_CHUNK_ELEMENTS = 1 << 25


def heatmap_argmax(maps: torch.Tensor, num_parts: int, size_hw: tuple[int, int]) -> torch.Tensor:
    """Per-channel global maximum of the upsampled maps.

    Args:
        maps: ``[B, C, h, w]`` network output, parts first (C ≥ num_parts; the rest, e.g. the
            background, is ignored).
        num_parts: number of part channels (21 hand, 70 face).
        size_hw: (height, width) to upsample to: the crop size.

    Returns:
        float32 ``[B, num_parts, 3]`` (u, v, score) in crop pixels, on ``maps.device``.
    """
    height, width = size_hw
    per_box = num_parts * height * width
    step = max(1, UPSAMPLE_CHUNK_ELEMENTS // per_box)
    parts = maps[:, :num_parts].float()
    out = []
    for start in range(0, len(parts), step):
        up = upsample_openpose(parts[start : start + step], (height, width))
        # torch.max returns the first maximal index, i.e. the raster-order first maximum.
        score, flat = up.flatten(2).max(dim=2)
        u = (flat % width).float()
        v = torch.div(flat, width, rounding_mode="floor").float()
        out.append(torch.stack([u, v, score], dim=-1))
    if not out:
        return maps.new_zeros((0, num_parts, 3), dtype=torch.float32)
    return torch.cat(out)
