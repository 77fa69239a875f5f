"""Raw/compressed image conversion: layouts, zero copy, byte order, and every malformed case."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpose_ros.image_codec import (PACKED, PIXEL_FORMATS, ImageFormatError,
                                      array_to_compressed, array_to_raw, compressed_to_array,
                                      raw_to_array, to_bgr8)

# Encodings whose buffer is one array of any size (YUV needs even sizes, see
# test_image_codec_encodings.py).
PACKED_ENCODINGS = sorted(e for e, f in PIXEL_FORMATS.items() if f.layout == PACKED)


def _random_image(rng, encoding, h, w):
    fmt = PIXEL_FORMATS[encoding]
    shape = (h, w, fmt.channels) if fmt.channels > 1 else (h, w)
    if fmt.dtype == np.float32:
        return rng.standard_normal(shape).astype(np.float32)
    return rng.integers(0, np.iinfo(fmt.dtype).max, size=shape, endpoint=True).astype(fmt.dtype)


def _padded(image, pad, big):
    """Bytes of ``image`` with ``pad`` bytes after each row, in the given byte order."""
    arr = image.astype(image.dtype.newbyteorder(">" if big else "<"))
    rows = arr.reshape(arr.shape[0], -1).view(np.uint8)
    out = np.zeros((arr.shape[0], rows.shape[1] + pad), np.uint8)
    out[:, : rows.shape[1]] = rows
    return out.tobytes(), rows.shape[1] + pad


@settings(max_examples=60, deadline=None)
@given(encoding=st.sampled_from(PACKED_ENCODINGS), h=st.integers(1, 17),
       w=st.integers(1, 17), pad=st.integers(0, 9), big=st.booleans(), seed=st.integers(0, 2**31))
def test_round_trip_random_images(encoding, h, w, pad, big, seed):
    image = _random_image(np.random.default_rng(seed), encoding, h, w)
    itemsize = PIXEL_FORMATS[encoding].dtype.itemsize
    pad -= pad % itemsize  # rows start on a pixel boundary
    data, step = _padded(image, pad, big)
    decoded = raw_to_array(data, encoding=encoding, height=h, width=w, step=step, is_bigendian=big)
    assert decoded.dtype == image.dtype and decoded.dtype.isnative
    np.testing.assert_array_equal(decoded, image)
    # And back: our own encoding decodes to the same pixels.
    raw, step2, big2 = array_to_raw(decoded, encoding)
    again = raw_to_array(raw, encoding=encoding, height=h, width=w, step=step2, is_bigendian=big2)
    np.testing.assert_array_equal(again, image)


def test_native_layout_is_a_view_even_with_row_padding():
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    data, step = _padded(image, 4, big=False)
    buf = bytearray(data)
    view = raw_to_array(buf, encoding="bgr8", height=4, width=5, step=step)
    np.testing.assert_array_equal(view, image)
    buf[step + 3] = 255  # row 1, pixel 1, channel 0: the view sees the message's own bytes
    assert view[1, 1, 0] == 255
    assert not view.flags.writeable


def test_native_16bit_is_a_view():
    image = np.arange(12, dtype=np.uint16).reshape(3, 4)
    buf = bytearray(image.tobytes())
    view = raw_to_array(buf, encoding="mono16", height=3, width=4, step=8, is_bigendian=False)
    assert np.shares_memory(view, np.frombuffer(buf, np.uint8))


def test_big_endian_mono16_values():
    data = bytes([0x01, 0x02, 0xFF, 0x00])  # big-endian 0x0102, 0xFF00
    out = raw_to_array(data, encoding="mono16", height=1, width=2, step=4, is_bigendian=True)
    assert out.tolist() == [[0x0102, 0xFF00]]


@pytest.mark.parametrize("kwargs, message", [
    (dict(encoding="bgr8", height=2, width=2, step=5), "step 5 is smaller than one row"),
    (dict(encoding="bgr8", height=2, width=2, step=6, data=b"\0" * 11), "data holds 11 bytes"),
    (dict(encoding="bgr8", height=2, width=2, step=6, data=b"\0" * 13), "data holds 13 bytes"),
    (dict(encoding="yuv420", height=2, width=2, step=4), "unsupported image encoding 'yuv420'"),
    (dict(encoding="bgr8", height=0, width=2, step=6, data=b""), "image size 2x0 is empty"),
    (dict(encoding="mono8", height=3, width=0, step=0, data=b""), "image size 0x3 is empty"),
    (dict(encoding="mono16", height=1, width=2, step=5, data=b"\0" * 5), "not a multiple"),
])
def test_malformed_raw_images_raise_one_clear_error(kwargs, message):
    data = kwargs.pop("data", b"\0" * 12)
    with pytest.raises(ImageFormatError, match=message):
        raw_to_array(data, **kwargs)


def test_array_to_raw_rejects_mismatched_arrays():
    with pytest.raises(ImageFormatError, match="dtype float64"):
        array_to_raw(np.zeros((2, 2, 3)), "bgr8")
    with pytest.raises(ImageFormatError, match="not a rgba8 image"):
        array_to_raw(np.zeros((2, 2, 3), np.uint8), "rgba8")
    with pytest.raises(ImageFormatError, match="empty"):
        array_to_raw(np.zeros((0, 2, 3), np.uint8), "bgr8")


def test_compressed_round_trip_png_is_lossless_and_jpeg_close():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(compressed_to_array(array_to_compressed(image, "png")), image)
    smooth = np.repeat(np.linspace(0, 255, 32, dtype=np.uint8)[None, :, None], 24, 0).repeat(3, 2)
    jpeg = compressed_to_array(array_to_compressed(smooth, "jpeg", quality=95))
    assert jpeg.shape == smooth.shape and np.abs(jpeg.astype(int) - smooth).max() <= 8


@pytest.mark.parametrize("data, message", [(b"", "has no data"),
                                           (b"not an image at all", "could not be decoded")])
def test_malformed_compressed_images(data, message):
    with pytest.raises(ImageFormatError, match=message):
        compressed_to_array(data, "jpeg")
    with pytest.raises(ImageFormatError, match="unsupported compression format"):
        array_to_compressed(np.zeros((2, 2, 3), np.uint8), "webm")


def test_to_bgr8_channel_orders_and_depths():
    rgb = np.array([[[10, 20, 30]]], np.uint8)
    assert to_bgr8(rgb, "rgb8").tolist() == [[[30, 20, 10]]]
    assert to_bgr8(rgb, "bgr8").tolist() == [[[10, 20, 30]]]
    rgba = np.array([[[10, 20, 30, 255]]], np.uint8)
    assert to_bgr8(rgba, "rgba8").tolist() == [[[30, 20, 10]]]
    # 16 bit scaled by 255/65535 and rounded, as cv_bridge does: 0xAB12 = 43794 -> 170.4.
    assert to_bgr8(np.array([[0xAB12]], np.uint16), "mono16").tolist() == [[[170] * 3]]
    floats = np.array([[0.0, 1.0, np.nan, 2.0]], np.float32)
    with pytest.raises(ImageFormatError, match="32FC1 is not a colour encoding"):
        to_bgr8(floats, "32FC1")
