"""Box crops for the hand and face networks, and the way back to image pixels (spec §4.3).

A box (x0, y0, side) and a crop of ``size`` pixels give the scale s = side / size. Crop pixel
(u, v) shows image point (x0 + s·u, y0 + s·v); for a mirrored (left) hand it shows
(x0 + side − s·u, y0 + s·v), because the hand network only knows right hands. Both directions
use that one affine map, stored per box as (ax, bx, ay, by): x = ax + bx·u, y = ay + by·v.
Image pixel centres sit at integer coordinates, as in OpenCV's warpAffine.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["crop_affine", "images_to_tensor", "crop_boxes", "crop_to_image", "normalise_bgr"]


def crop_affine(boxes: np.ndarray, mirror: np.ndarray, size: int) -> np.ndarray:
    """Per-box crop → image map.

    Args:
        boxes: ``[B, 4]`` (x0, y0, side, side) in image pixels.
        mirror: bool ``[B]``; True flips the crop left-right (left hands).
        size: crop side in pixels (the network input resolution).

    Returns:
        float64 ``[B, 4]`` (ax, bx, ay, by) with image x = ax + bx·u and y = ay + by·v.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    mirror = np.asarray(mirror, dtype=bool).reshape(-1)
    x0, y0, side = boxes[:, 0], boxes[:, 1], boxes[:, 2]
    s = side / size
    ax = np.where(mirror, x0 + side, x0)
    bx = np.where(mirror, -s, s)
    return np.stack([ax, bx, y0, s], axis=1)


def images_to_tensor(images: list[np.ndarray], device: torch.device | str) -> torch.Tensor:
    """BGR ``H×W×3`` images as one float ``[I, 3, Hmax, Wmax]`` batch on ``device``.

    Smaller images are padded with 0 at the right and bottom. Sampling past an image's edge
    then reads 0 whether it lands in the padding or beyond the tensor, which is exactly the
    black border of §4.3, so one batch serves images of any sizes.
    """
    pixels = [torch.from_numpy(np.ascontiguousarray(im)) for im in images]
    h_max = max(p.shape[0] for p in pixels)
    w_max = max(p.shape[1] for p in pixels)
    batch = torch.zeros((len(pixels), h_max, w_max, 3), dtype=pixels[0].dtype, device=device)
    for i, p in enumerate(pixels):
        batch[i, : p.shape[0], : p.shape[1]] = p.to(device, non_blocking=True)
    return batch.permute(0, 3, 1, 2).float()


def crop_boxes(
    images: torch.Tensor, image_index: np.ndarray, affine: np.ndarray, size: int
) -> torch.Tensor:
    """All crops of all images with one ``grid_sample`` call (bilinear, black border).

    The boxes of image i are laid one under the other in a single tall sampling grid of
    ``[slots·size, size]`` for that image, so the whole batch is one kernel launch and never
    repeats an image in memory.

    Args:
        images: float ``[I, 3, H, W]`` raw pixel values (0-255, BGR).
        image_index: int ``[B]``, the image each box belongs to.
        affine: ``[B, 4]`` maps from :func:`crop_affine`.
        size: crop side in pixels.

    Returns:
        ``[B, 3, size, size]`` raw pixel values on ``images.device``; 0 outside the image.
    """
    num_images, _, height, width = images.shape
    image_index = np.asarray(image_index, dtype=np.int64).reshape(-1)
    count = len(image_index)
    if count == 0:
        return images.new_zeros((0, 3, size, size))
    # Slot of each box among its image's boxes (0, 1, ... in input order).
    order = np.argsort(image_index, kind="stable")
    first = np.searchsorted(image_index[order], image_index[order], side="left")
    slot = np.empty(count, dtype=np.int64)
    slot[order] = np.arange(count) - first
    slots = int(slot.max()) + 1

    device = images.device
    aff = torch.as_tensor(np.asarray(affine, dtype=np.float64), device=device)
    steps = torch.arange(size, dtype=torch.float64, device=device)
    xs = aff[:, 0:1] + aff[:, 1:2] * steps  # [B, size] image x of crop column u
    ys = aff[:, 2:3] + aff[:, 3:4] * steps  # [B, size] image y of crop row v
    # grid_sample with align_corners=False puts pixel centre k at (2k + 1)/n − 1.
    gx = (2 * xs + 1) / width - 1
    gy = (2 * ys + 1) / height - 1
    box_grid = torch.stack(
        [gx[:, None, :].expand(count, size, size), gy[:, :, None].expand(count, size, size)],
        dim=-1,
    ).to(images.dtype)
    # Unused slots sample far outside (-3 is beyond any pixel) and are dropped afterwards.
    grid = torch.full((num_images, slots, size, size, 2), -3.0, dtype=images.dtype, device=device)
    idx_i = torch.as_tensor(image_index, device=device)
    idx_s = torch.as_tensor(slot, device=device)
    grid[idx_i, idx_s] = box_grid
    tall = F.grid_sample(
        images,
        grid.view(num_images, slots * size, size, 2),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )  # [I, 3, slots·size, size]
    crops = tall.view(num_images, 3, slots, size, size).permute(0, 2, 1, 3, 4)
    return crops[idx_i, idx_s]


def normalise_bgr(pixels: torch.Tensor) -> torch.Tensor:
    """OpenPose's network input scaling: pixel / 256 − 0.5 (spec §1.1), channel order kept."""
    return pixels / 256.0 - 0.5


def crop_to_image(uv: torch.Tensor, affine: np.ndarray) -> torch.Tensor:
    """Crop pixels back to image pixels.

    Args:
        uv: ``[B, K, 2]`` (u, v) crop coordinates.
        affine: ``[B, 4]`` maps from :func:`crop_affine`.

    Returns:
        float64 ``[B, K, 2]`` (x, y) image coordinates on ``uv.device``.
    """
    aff = torch.as_tensor(np.asarray(affine, dtype=np.float64), device=uv.device)
    uv = uv.to(torch.float64)
    x = aff[:, None, 0] + aff[:, None, 1] * uv[..., 0]
    y = aff[:, None, 2] + aff[:, None, 3] * uv[..., 1]
    return torch.stack([x, y], dim=-1)
