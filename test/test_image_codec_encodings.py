"""Every colour encoding a camera driver publishes, decoded to BGR and compared with a
reference built here, independently of the codec: Bayer mosaics sampled by hand from a known
colour image, YUV bytes written from the BT.601 video-range formula, 16-bit values chosen so
that the scaling rule shows, big-endian bytes and padded rows laid out by hand."""

import struct

import numpy as np
import pytest

from openpose_ros.image_codec import ImageFormatError, bgr8_to, raw_to_array, to_bgr8

PATTERNS = ("rggb", "bggr", "gbrg", "grbg")
RGB = {"r": 0, "g": 1, "b": 2}


def decode(data: bytes, encoding: str, height: int, width: int, step: int,
           big: bool = False) -> np.ndarray:
    return to_bgr8(raw_to_array(data, encoding=encoding, height=height, width=width, step=step,
                                is_bigendian=big), encoding)


def rows_bytes(rows: np.ndarray, pad: int) -> tuple[bytes, int]:
    """Bytes of a (rows, row_bytes) uint8 array with ``pad`` zero bytes after every row."""
    out = np.zeros((rows.shape[0], rows.shape[1] + pad), np.uint8)
    out[:, : rows.shape[1]] = rows
    return out.tobytes(), out.shape[1]


def smooth_rgb(height=48, width=64) -> np.ndarray:
    """An RGB uint8 image whose channels vary slowly and differently (demosaicing error small)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 40 + 170 * x / width
    g = 30 + 180 * y / height
    b = 120 + 80 * np.sin(x / 9.0) * np.cos(y / 7.0)
    return np.round(np.stack([r, g, b], axis=2)).astype(np.uint8)


def mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """The Bayer mosaic of ``pattern`` (ROS naming: the 2x2 cell row by row, rggb = R G / G B)."""
    out = np.zeros(rgb.shape[:2], rgb.dtype)
    for index, colour in enumerate(pattern):
        dy, dx = divmod(index, 2)
        out[dy::2, dx::2] = rgb[dy::2, dx::2, RGB[colour]]
    return out


@pytest.mark.parametrize("pattern", PATTERNS)
def test_pure_colours_keep_their_channel_through_every_bayer_pattern(pattern):
    for colour, bgr_channel in (("r", 2), ("g", 1), ("b", 0)):
        rgb = np.zeros((8, 10, 3), np.uint8)
        rgb[..., RGB[colour]] = 200
        bgr = decode(mosaic(rgb, pattern).tobytes(), f"bayer_{pattern}8", 8, 10, 10)
        expected = np.zeros(3)
        expected[bgr_channel] = 200
        np.testing.assert_array_equal(bgr.reshape(-1, 3).mean(axis=0), expected,
                                      err_msg=f"pure {colour} through {pattern}")


@pytest.mark.parametrize("pattern", PATTERNS)
def test_bayer_8_and_16_bit_demosaic_a_smooth_image(pattern):
    rgb = smooth_rgb()
    h, w = rgb.shape[:2]
    expected_bgr = rgb[..., ::-1].astype(np.float64)
    inner = (slice(2, -2), slice(2, -2))  # demosaicing borders are extrapolated
    bgr8 = decode(mosaic(rgb, pattern).tobytes(), f"bayer_{pattern}8", h, w, w)
    error = np.abs(bgr8[inner] - expected_bgr[inner])
    assert error.mean() < 1.5 and error.max() <= 12, (error.mean(), error.max())
    # 16 bit: the same mosaic scaled to the full range, big-endian, rows padded by 6 bytes.
    mosaic16 = mosaic(rgb.astype(np.uint16) * 257, pattern)
    data, step = rows_bytes(mosaic16.astype(">u2").view(np.uint8).reshape(h, -1), 6)
    bgr16 = decode(data, f"bayer_{pattern}16", h, w, step, big=True)
    error16 = np.abs(bgr16[inner] - expected_bgr[inner])
    assert error16.mean() < 1.5 and error16.max() <= 12
    assert np.abs(bgr16.astype(int) - bgr8).max() <= 1  # one demosaic, rounding apart


def bt601_video(rgb: np.ndarray) -> np.ndarray:
    """Y, Cb, Cr bytes of an RGB uint8 image: ITU-R BT.601, video range (Y 16-235, C 16-240)."""
    e = rgb.astype(np.float64) / 255.0
    luma = 0.299 * e[..., 0] + 0.587 * e[..., 1] + 0.114 * e[..., 2]
    cb = (e[..., 2] - luma) / 1.772
    cr = (e[..., 0] - luma) / 1.402
    ycc = np.stack([16 + 219 * luma, 128 + 224 * cb, 128 + 224 * cr], axis=2)
    return np.clip(np.round(ycc), 0, 255).astype(np.uint8)


def yuv_test_image(rng, height, width, block) -> np.ndarray:
    """Random colours, constant over ``block`` (rows, cols) cells so subsampled chroma is exact;
    kept inside the RGB cube's interior so no decoded value clips."""
    cells = rng.integers(20, 236, (height // block[0], width // block[1], 3))
    return np.repeat(np.repeat(cells, block[0], axis=0), block[1], axis=1).astype(np.uint8)


MACROPIXELS = {"YUYV": ("Y0", "U", "Y1", "V"), "UYVY": ("U", "Y0", "V", "Y1")}


def pack_422(ycc: np.ndarray, order: str) -> np.ndarray:
    """(h, w * 2) bytes of a 4:2:2 image in the 4-byte macropixel ``order`` ("YUYV" or
    "UYVY"); the pixel pair shares its first pixel's chroma."""
    planes = {"Y0": ycc[:, 0::2, 0], "Y1": ycc[:, 1::2, 0], "U": ycc[:, 0::2, 1],
              "V": ycc[:, 0::2, 2]}
    return np.stack([planes[n] for n in MACROPIXELS[order]], axis=2).reshape(ycc.shape[0], -1)


def semi_planar(ycc: np.ndarray, order: str, subsample: int) -> np.ndarray:
    """Rows of the Y plane, then the interleaved chroma plane (``order`` "VU" or "UV"),
    chroma subsampled by ``subsample`` in both directions, each chroma row ``2 * w /
    subsample`` bytes."""
    index = {"U": 1, "V": 2}
    chroma = ycc[::subsample, ::subsample][..., [index[c] for c in order]]
    return ycc[..., 0], chroma.reshape(chroma.shape[0], -1)


def assert_close_to(bgr: np.ndarray, rgb: np.ndarray) -> None:
    error = np.abs(bgr.astype(int) - rgb[..., ::-1])
    assert error.max() <= 3 and error.mean() < 1.0, (error.max(), error.mean())


@pytest.mark.parametrize("encoding, order", [("yuyv", "YUYV"), ("yuv422_yuy2", "YUYV"),
                                             ("uyvy", "UYVY"), ("yuv422", "UYVY")])
@pytest.mark.parametrize("pad", [0, 12])
def test_yuv422_from_the_bt601_formula(encoding, order, pad):
    rgb = yuv_test_image(np.random.default_rng(3), 6, 16, (1, 2))
    data, step = rows_bytes(pack_422(bt601_video(rgb), order), pad)
    assert_close_to(decode(data, encoding, 6, 16, step), rgb)


def test_pack_422_writes_the_macropixel_orders():
    ycc = np.array([[[10, 20, 30], [11, 20, 30]]], np.uint8)
    assert pack_422(ycc, "YUYV").tolist() == [[10, 20, 11, 30]]
    assert pack_422(ycc, "UYVY").tolist() == [[20, 10, 30, 11]]


@pytest.mark.parametrize("encoding, order, subsample, uv_stride", [
    ("nv21", "VU", 2, 1), ("nv24", "UV", 1, 2)])
@pytest.mark.parametrize("pad", [0, 8])
def test_semi_planar_yuv_from_the_bt601_formula(encoding, order, subsample, uv_stride, pad):
    h, w = 6, 8
    rgb = yuv_test_image(np.random.default_rng(4), h, w, (subsample, subsample))
    luma, chroma = semi_planar(bt601_video(rgb), order, subsample)
    luma_bytes, step = rows_bytes(luma, pad)
    # The chroma rows are ``uv_stride * step`` bytes apart (nv24: 2 w bytes a row).
    chroma_bytes, _ = rows_bytes(chroma, uv_stride * step - chroma.shape[1])
    assert_close_to(decode(luma_bytes + chroma_bytes, encoding, h, w, step), rgb)


@pytest.mark.parametrize("encoding", ["yuyv", "uyvy", "nv21", "nv24"])
def test_pure_red_through_yuv_is_red(encoding):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 220
    ycc = bt601_video(rgb)
    if encoding in ("yuyv", "uyvy"):
        data = pack_422(ycc, encoding.upper()).tobytes()
        step = 8
    else:
        luma, chroma = semi_planar(ycc, "VU" if encoding == "nv21" else "UV",
                                   2 if encoding == "nv21" else 1)
        data, step = luma.tobytes() + chroma.tobytes(), 4
    bgr = decode(data, encoding, 4, 4, step)
    assert np.abs(bgr.astype(int) - [0, 0, 220]).max() <= 3


def test_16_bit_colour_scales_by_255_over_65535_and_reorders():
    # 129 -> 0.502 rounds up to 1 (a top-byte shift would give 0), 43794 -> 170.4 -> 170.
    rgb16 = np.array([[[65535, 129, 43794], [0, 257 * 100, 128]]], np.uint16)
    expected_bgr = [[[170, 1, 255], [0, 100, 0]]]
    for encoding, pixels in (("rgb16", rgb16), ("bgr16", rgb16[..., ::-1]),
                             ("rgba16", np.dstack([rgb16, [[7, 7]]]).astype(np.uint16)),
                             ("bgra16", np.dstack([rgb16[..., ::-1], [[7, 7]]]).astype(np.uint16))):
        channels = pixels.shape[2]
        values = pixels.reshape(-1).tolist()
        little = struct.pack(f"<{len(values)}H", *values)
        big = struct.pack(f">{len(values)}H", *values)
        row = 2 * channels * 2
        assert decode(little, encoding, 1, 2, row).tolist() == expected_bgr, encoding
        assert decode(big, encoding, 1, 2, row, big=True).tolist() == expected_bgr, encoding
        padded = big + bytes(4)
        assert decode(padded, encoding, 1, 2, row + 4, big=True).tolist() == expected_bgr


def test_mono_8_and_16_bit_with_padding_and_byte_order():
    values = [0, 128, 129, 257 * 37, 65535]
    expected = [0, 0, 1, 37, 255]
    big = b"".join(struct.pack(">H", v) + b"\0\0" for v in values)  # one pixel a row, padded
    out = decode(big, "mono16", 5, 1, 4, big=True)
    assert out.shape == (5, 1, 3) and out[:, 0, 0].tolist() == expected
    assert (out == out[..., :1]).all()
    gray = decode(bytes([5, 6, 0, 7, 8, 0]), "mono8", 2, 2, 3)
    assert gray[..., 1].tolist() == [[5, 6], [7, 8]]


def test_bgr8_needs_no_conversion_and_no_copy():
    buf = bytearray(np.arange(4 * 6 * 3, dtype=np.uint8).tobytes())
    bgr = decode(buf, "bgr8", 4, 6, 18)
    assert np.shares_memory(bgr, np.frombuffer(buf, np.uint8))
    rgb = decode(buf, "rgb8", 4, 6, 18)
    assert rgb[0, 0].tolist() == [2, 1, 0] and not np.shares_memory(rgb, np.frombuffer(buf, np.uint8))


@pytest.mark.parametrize("encoding, height, width, step, size, message", [
    ("yuyv", 2, 4, 6, 12, "step 6 is smaller than one row of 4 yuyv pixels"),
    ("yuyv", 2, 3, 6, 12, "width 3 must be even"),
    ("bayer_rggb16", 2, 2, 5, 10, "not a multiple"),
    ("bayer_rggb8", 2, 4, 4, 7, "data holds 7 bytes"),
    ("nv21", 4, 4, 4, 16, "data holds 16 bytes; 4x4 nv21 with step 4 needs 24"),
    ("nv21", 3, 4, 4, 18, "must be even"),
    ("nv24", 2, 2, 2, 8, "needs 12"),
    ("uyvy", 0, 4, 8, 0, "image size 4x0 is empty"),
    ("bayer_gbrg8", 2, 0, 0, 0, "image size 0x2 is empty"),
    ("bayer_rgbg8", 2, 2, 2, 4, "unsupported image encoding 'bayer_rgbg8'"),
    ("yuv420", 2, 2, 2, 6, "unsupported image encoding"),
])
def test_malformed_colour_images_raise_the_codec_error(encoding, height, width, step, size,
                                                      message):
    with pytest.raises(ImageFormatError, match=message):
        decode(bytes(size), encoding, height, width, step)


def test_depth_and_mismatched_arrays_are_not_colour():
    depth = raw_to_array(bytes(8), encoding="16UC1", height=2, width=2, step=4)
    with pytest.raises(ImageFormatError, match="16UC1 is not a colour encoding"):
        to_bgr8(depth, "16UC1")
    with pytest.raises(ImageFormatError, match="not a bayer_rggb8 image"):
        to_bgr8(np.zeros((2, 2, 3), np.uint8), "bayer_rggb8")
    with pytest.raises(ImageFormatError, match="not a yuyv image"):
        to_bgr8(np.zeros((2, 2), np.uint16), "yuyv")


def test_bgr8_to_writes_what_the_cameras_publish():
    rgb = smooth_rgb(8, 12)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    for pattern in PATTERNS:
        np.testing.assert_array_equal(bgr8_to(bgr, f"bayer_{pattern}8"), mosaic(rgb, pattern))
        np.testing.assert_array_equal(bgr8_to(bgr, f"bayer_{pattern}16"),
                                      mosaic(rgb, pattern).astype(np.uint16) * 257)
    pairs = yuv_test_image(np.random.default_rng(5), 4, 8, (1, 2))
    pairs_bgr = np.ascontiguousarray(pairs[..., ::-1])
    for encoding, order in (("yuyv", "YUYV"), ("uyvy", "UYVY")):
        written = bgr8_to(pairs_bgr, encoding).reshape(4, -1).astype(int)
        assert np.abs(written - pack_422(bt601_video(pairs), order)).max() <= 1, encoding
    assert bgr8_to(bgr, "rgb8").tolist() == rgb.tolist()
    assert bgr8_to(bgr, "bgr16").tolist() == (bgr.astype(np.uint16) * 257).tolist()
    for encoding, message in (("nv21", "writing nv21"), ("16UC1", "writing 16UC1"),
                              ("bayer_xxxx8", "unsupported image encoding")):
        with pytest.raises(ImageFormatError, match=message):
            bgr8_to(bgr, encoding)
    with pytest.raises(ImageFormatError, match="even width"):
        bgr8_to(bgr[:, :11], "yuyv")
