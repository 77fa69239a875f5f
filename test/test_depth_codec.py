"""Depth decoding: every encoding against references built here, independently of the codec.

The raw references are written byte by byte with ``struct``/NumPy in the message's own layout
(row padding, big-endian); the compressedDepth references are a ``cv2.imencode`` PNG behind a
``struct``-packed header, with the inverse depth written from the formula in cameras.md.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from openpose_ros.depth_codec import (
    compressed_depth_to_metres,
    depth_image,
    depth_to_metres,
    is_compressed_depth,
    metres_to_compressed_depth,
)
from openpose_ros.image_codec import ImageFormatError

RNG = np.random.default_rng(3)
MM = RNG.integers(0, 6000, size=(5, 7)).astype(np.uint16)
MM[0, :3] = 0  # no measurement


def _expected_m(mm: np.ndarray) -> np.ndarray:
    return np.where(mm == 0, np.nan, mm / 1000.0)


def _rows(values: np.ndarray, fmt: str, pad: int) -> bytes:
    """Each row packed with ``struct`` format ``fmt`` (e.g. '>H'), then ``pad`` junk bytes."""
    return b"".join(struct.pack(f"{fmt[0]}{len(r)}{fmt[1]}", *r.tolist()) + b"\xab" * pad
                    for r in values)


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("pad", [0, 6])
def test_16uc1_millimetres(big, pad):
    data = _rows(MM, ">H" if big else "<H", pad)
    got = depth_to_metres(data, encoding="16UC1", height=5, width=7, step=14 + pad, is_bigendian=big)
    assert got.dtype == np.float32 and got.shape == (5, 7)
    np.testing.assert_allclose(got, _expected_m(MM), rtol=1e-6)


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("pad", [0, 4])
def test_32fc1_metres_and_invalid_values(big, pad):
    metres = RNG.uniform(0.3, 8.0, size=(4, 6)).astype(np.float32)
    metres[0, 0], metres[1, 1], metres[2, 2], metres[3, 3] = np.nan, 0.0, np.inf, -1.0
    data = _rows(metres, ">f" if big else "<f", pad)
    got = depth_to_metres(data, encoding="32FC1", height=4, width=6, step=24 + pad, is_bigendian=big)
    expected = metres.copy()
    expected[[0, 1, 2, 3], [0, 1, 2, 3]] = np.nan
    np.testing.assert_array_equal(got, expected)


def _compressed(png_values: np.ndarray, fmt: int, a: float, b: float) -> bytes:
    ok, png = cv2.imencode(".png", png_values)
    assert ok
    return struct.pack("<iff", fmt, a, b) + png.tobytes()


def test_compressed_depth_16uc1():
    data = _compressed(MM, 1, 0.0, 0.0)
    got = compressed_depth_to_metres(data, "16UC1; compressedDepth png")
    np.testing.assert_allclose(got, _expected_m(MM), rtol=1e-6)
    assert is_compressed_depth("16UC1; compressedDepth png") and not is_compressed_depth("png")


def test_compressed_depth_32fc1_inverse_depth():
    a, b = 100.0 * 101.0, 1.0 - 100.0 * 101.0 / 10.0  # the plugin's depth_quantization 100, max 10 m
    inv = RNG.integers(1, 20000, size=(6, 5)).astype(np.uint16)
    inv[2, :] = 0  # no measurement
    got = compressed_depth_to_metres(_compressed(inv, 0, a, b), "32FC1; compressedDepth")
    expected = np.where(inv == 0, np.nan, a / (inv.astype(np.float64) - b))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_compressed_depth_encoder_round_trip():
    metres = RNG.uniform(0.5, 6.0, size=(8, 9)).astype(np.float32)
    metres[0] = np.nan
    for encoding, tol in (("16UC1", 0.0006), ("32FC1", 0.05)):
        data, fmt = metres_to_compressed_depth(metres, encoding)
        got = compressed_depth_to_metres(data, fmt)
        assert np.isnan(got[0]).all()
        np.testing.assert_allclose(got[1:], metres[1:], atol=tol)


@pytest.mark.parametrize("kwargs, match", [
    (dict(encoding="rgb8", height=2, width=2, step=6, data=b"\0" * 12), "unsupported depth encoding"),
    (dict(encoding="mono9", height=2, width=2, step=4, data=b"\0" * 8), "unsupported depth encoding"),
    (dict(encoding="16UC1", height=2, width=2, step=3, data=b"\0" * 6), "smaller than one row"),
    (dict(encoding="16UC1", height=2, width=2, step=4, data=b"\0" * 7), "needs 8"),
    (dict(encoding="32FC1", height=0, width=2, step=8, data=b""), "empty"),
])
def test_malformed_raw_depth_raises_the_codec_error(kwargs, match):
    with pytest.raises(ImageFormatError, match=match):
        depth_to_metres(**kwargs)


def test_malformed_compressed_depth_raises_the_codec_error():
    good = _compressed(MM, 1, 0.0, 0.0)
    ok, png8 = cv2.imencode(".png", MM.astype(np.uint8))
    cases = [
        (good, "16UC1; compressedDepth rvl", "RVL"),
        (good, "8UC1; compressedDepth png", "unsupported"),
        (good, "16UC1; png", "not compressedDepth"),
        (good[:10], "16UC1; compressedDepth png", "shorter"),
        (good[12:], "16UC1; compressedDepth png", "no PNG"),
        (good[:40], "16UC1; compressedDepth png", "undecodable"),
        (struct.pack("<iff", 1, 0, 0) + png8.tobytes(), "16UC1; compressedDepth png", "16-bit"),
        (_compressed(MM, 0, float("nan"), 0.0), "32FC1; compressedDepth", "parameters"),
    ]
    for data, fmt, match in cases:
        with pytest.raises(ImageFormatError, match=match):
            compressed_depth_to_metres(data, fmt)


@pytest.mark.parametrize("big", [False, True])
def test_unconverted_depth_image_reads_the_same_metres(big):
    data = _rows(MM, ">H" if big else "<H", 2)
    img = depth_image(data, encoding="16UC1", height=5, width=7, step=16, is_bigendian=big)
    iy, ix = np.array([0, 0, 4, 2]), np.array([0, 5, 6, 3])
    np.testing.assert_allclose(img.at(iy, ix), _expected_m(MM)[iy, ix], rtol=1e-6)
    np.testing.assert_allclose(img.metres(), _expected_m(MM), rtol=1e-6)
    assert img.any_valid()
    empty = depth_image(b"\0" * 16, encoding="16UC1", height=2, width=4, step=8)
    assert not empty.any_valid()
    with pytest.raises(ImageFormatError, match="unsupported depth encoding"):
        depth_image(b"\0" * 12, encoding="bgr8", height=2, width=2, step=6)
