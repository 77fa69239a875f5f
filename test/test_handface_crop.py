"""Crops and the way back (spec §4.3): crop(u, v) samples the image at (x0 + s·u, y0 + s·v),
left hands mirrored (x0 + side − s·u), bilinear with a black border; peaks map back through
the same affine. Small synthetic images (≤ 130 px) keep this fast.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from openpose_ros.decode.resize import upsample_openpose
from openpose_ros.handface.crop import (
    crop_affine,
    crop_boxes,
    crop_to_image,
    images_to_tensor,
    normalise_bgr,
)
from openpose_ros.handface.peaks import heatmap_argmax


def _smooth_image(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 2)


def test_affine_is_the_spec_formula():
    boxes = np.array([[100.0, 50.0, 184.0, 184.0]] * 2)
    aff = crop_affine(boxes, np.array([False, True]), 368)  # s = 0.5
    uv = torch.tensor([[[10.0, 20.0]], [[10.0, 20.0]]])
    xy = crop_to_image(uv, aff).numpy()
    np.testing.assert_allclose(xy[0, 0], (100 + 0.5 * 10, 50 + 0.5 * 20))
    np.testing.assert_allclose(xy[1, 0], (100 + 184 - 0.5 * 10, 50 + 0.5 * 20))


def test_crops_match_opencv_warp_affine():
    """OpenPose crops with cv2.warpAffine(INTER_LINEAR, black border); so must we, to within
    OpenCV's fixed-point weights and uint8 rounding (< 1 grey level)."""
    img = _smooth_image(90, 130, 0)
    boxes = np.array(
        [
            [10.3, 5.7, 60.2, 60.2], [-20, -15, 50, 50], [100, 60, 80, 80], [3, 4, 20, 20],
            [5, 5, 140, 140],
        ]
    )
    mirror = np.array([False, True, False, True, True])
    size = 64
    aff = crop_affine(boxes, mirror, size)
    crops = crop_boxes(images_to_tensor([img], "cpu"), np.zeros(len(boxes), int), aff, size)
    assert crops.shape == (len(boxes), 3, size, size)
    for b, (ax, bx, ay, by) in enumerate(aff):
        matrix = np.array([[bx, 0, ax], [0, by, ay]])
        ref = cv2.warpAffine(
            img, matrix, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )
        ours = crops[b].permute(1, 2, 0).numpy()
        assert np.abs(ours - ref).max() < 1.0, f"box {b}"
    # The boxes over the border really do sample black there.
    assert (crops[1, :, :10, :10] == 0).all()


@pytest.mark.parametrize("scale", [0.5, 1.0, 1.25, 2.0, 3.0])
@pytest.mark.parametrize("left", [False, True], ids=["right", "left"])
def test_image_point_round_trips_through_crop_and_back(scale, left):
    """A bright pixel at a known image point shows up at the crop pixel whose back-projection
    is that same point, exactly, for both hands and several box scales."""
    size = 64
    side = scale * size
    x0, y0 = 7.0, 3.0
    uv_true = np.array([[8, 40], [52, 12], [32, 32]])  # u, v multiples of 4: s·u is whole
    img = np.zeros((220, 230, 3), np.uint8)
    boxes, expected = [], []
    for u, v in uv_true:
        x = x0 + side - scale * u if left else x0 + scale * u
        y = y0 + scale * v
        one = img.copy()
        one[int(y), int(x)] = (255, 200, 100)
        boxes.append(one)
        expected.append((x, y))
    aff = crop_affine(np.array([[x0, y0, side, side]]), np.array([left]), size)
    for one, (x, y) in zip(boxes, expected):
        crop = crop_boxes(images_to_tensor([one], "cpu"), np.zeros(1, int), aff, size)[0, 0]
        v, u = np.unravel_index(int(crop.argmax()), crop.shape)
        assert crop[v, u] > 254.9  # the dot itself, up to float32 grid rounding
        xy = crop_to_image(torch.tensor([[[float(u), float(v)]]]), aff)[0, 0].numpy()
        np.testing.assert_allclose(xy, (x, y), atol=1e-9)


def test_images_of_different_sizes_crop_as_if_alone():
    """Padding smaller images to a common batch must look like the black border."""
    big, small = _smooth_image(120, 100, 1), _smooth_image(40, 60, 2)
    boxes = np.array([[30, 10, 50, 50], [40, 20, 40, 40], [-5, -5, 30, 30], [50, 30, 30, 30]])
    image_index = np.array([0, 1, 1, 0])
    mirror = np.array([False, True, False, True])
    aff = crop_affine(boxes, mirror, 32)
    together = crop_boxes(images_to_tensor([big, small], "cpu"), image_index, aff, 32)
    for b, i in enumerate(image_index):
        alone = crop_boxes(images_to_tensor([(big, small)[i]], "cpu"), [0], aff[b : b + 1], 32)
        torch.testing.assert_close(together[b], alone[0], rtol=0, atol=2e-3)  # of 255
    # Box 1 runs past the small image's right edge, into the batch padding: black there.
    assert (together[1, :, :, :5] == 0).all()  # mirrored: crop column 0 is the box's right side


def test_normalisation_is_openpose_bgr():
    px = torch.tensor([0.0, 128.0, 255.0])
    torch.testing.assert_close(normalise_bgr(px), torch.tensor([-0.5, 0.0, 255 / 256 - 0.5]))


def test_heatmap_argmax_is_first_global_maximum_of_upsampled_parts():
    torch.manual_seed(0)
    maps = torch.rand(3, 6, 12, 12) * 0.1
    maps[0, 0, 5, 2] = 1.0  # one clear bump at column 2, row 5 (net-output pixels)
    # Two equal bumps with the same neighbourhood: the raster-first one (row 3) must win,
    # although its column is larger.
    maps[1, 1] = 0.0
    maps[1, 1, 3, 9] = maps[1, 1, 9, 3] = 1.0
    maps[:, 5] = 5.0  # the last channel (background) is never looked at
    found = heatmap_argmax(maps, 5, (96, 96))
    assert found.shape == (3, 5, 3)
    up = upsample_openpose(maps[:, :5], (96, 96)).numpy()
    flat = up.reshape(3, 5, -1)
    idx = flat.argmax(axis=2)  # NumPy's argmax is also first-in-raster-order
    np.testing.assert_array_equal(found[..., 0].numpy(), idx % 96)
    np.testing.assert_array_equal(found[..., 1].numpy(), idx // 96)
    np.testing.assert_allclose(found[..., 2].numpy(), flat.max(axis=2), rtol=1e-6)
    # Stride 8 with half-pixel centres: net pixel (2, 5) covers crop pixels 16..23 × 40..47.
    u, v = found[0, 0, :2].tolist()
    assert 16 <= u <= 23 and 40 <= v <= 47
    assert found[1, 1, 1] < 40  # row-3 bump, not the row-9 one
    assert heatmap_argmax(maps[:0], 5, (96, 96)).shape == (0, 5, 3)


def test_heatmap_argmax_in_chunks_equals_all_at_once(monkeypatch):
    import openpose_ros.handface.peaks as peaks

    maps = torch.rand(7, 4, 6, 6)
    whole = heatmap_argmax(maps, 3, (48, 48))
    monkeypatch.setattr(peaks, "UPSAMPLE_CHUNK_ELEMENTS", 2 * 3 * 48 * 48)  # two boxes a chunk
    torch.testing.assert_close(peaks.heatmap_argmax(maps, 3, (48, 48)), whole)
