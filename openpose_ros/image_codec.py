"""Raw and compressed image buffers <-> NumPy arrays, without cv_bridge.

ROS-free: works on the fields of ``sensor_msgs/Image`` (encoding, height, width, step,
is_bigendian, data) and ``sensor_msgs/CompressedImage`` (format, data) passed in as plain
values; ``openpose_ros.ros.images`` is the thin adapter for the message types.

Decoding returns a *view* of the message buffer (no copy) whenever the bytes already have the
array's layout: native byte order and any row padding (``step`` larger than a row), which the
view skips with a row stride. Only byte-swapped data (big-endian on a little-endian machine,
or the reverse) and planar 4:4:4 YUV (``nv24``, whose planes are interleaved) are copied.
``to_bgr8`` then reaches the networks' BGR uint8 with one OpenCV call per image (16-bit data:
one more, the scale to 8 bits, done first so the colour conversion runs on 8-bit data), and
with none for ``bgr8``; ``bench/bench_codec.py`` times each encoding at 1080p. Every malformed
input raises ``ImageFormatError``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ImageFormatError",
    "PixelFormat",
    "PIXEL_FORMATS",
    "PACKED",
    "raw_to_array",
    "array_to_raw",
    "compressed_to_array",
    "array_to_compressed",
    "to_bgr8",
    "bgr8_to",
]

_NATIVE_BIG = sys.byteorder == "big"

# Buffer layouts: how the rows of a ``sensor_msgs/Image`` hold its pixels.
PACKED = "packed"  # height rows of width pixels, each ``channels`` values of ``dtype``
YUV422 = "yuv422"  # packed, 2 bytes a pixel, chroma shared by pixel pairs: even width
NV21 = "nv21"  # Y plane, then height/2 rows of interleaved V,U at half resolution
NV24 = "nv24"  # Y plane, then height rows (2 x step bytes apart) of interleaved U,V

# ``to_bgr`` values that are not OpenCV colour-conversion names.
NO_CONVERSION = ""  # the decoded pixels already are BGR
NOT_COLOUR = "not colour"  # generic data (depth, ...): no colour meaning, refused
BT601_VIDEO = "bt601"  # Y,U,V planes through the BT.601 video-range matrix

# BT.601 video range (Y 16-235, U/V 16-240 around 128) to B, G, R as [Y, U, V, 1] weights;
# the coefficients OpenCV's own packed and semi-planar YUV conversions use.
_BT601_VIDEO_TO_BGR = np.array([
    [1.164, 2.018, 0.0, -1.164 * 16 - 2.018 * 128],
    [1.164, -0.391, -0.813, -1.164 * 16 + (0.391 + 0.813) * 128],
    [1.164, 0.0, 1.596, -1.164 * 16 - 1.596 * 128],
])


class ImageFormatError(ValueError):
    """An image buffer cannot be interpreted: bad size, step, length, encoding or data."""


@dataclass(frozen=True)
class PixelFormat:
    """How one ``sensor_msgs/Image`` encoding lays out its pixels and reaches BGR.

    ``channels`` counts the values per pixel of the decoded array (``nv21``: 1, its array
    being the (height * 3/2, width) bytes OpenCV's NV21 conversion takes; ``nv24``: 3, Y, U,
    V). ``to_bgr`` names the ``cv2.COLOR_*`` conversion to BGR, or is one of
    ``NO_CONVERSION``, ``NOT_COLOUR``, ``BT601_VIDEO``.
    """

    dtype: np.dtype
    channels: int
    to_bgr: str
    layout: str = PACKED

    @property
    def pixel_bytes(self) -> int:
        return self.dtype.itemsize * self.channels


def _table() -> dict[str, PixelFormat]:
    u8, u16, f32 = np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32)
    table = {
        "bgr8": PixelFormat(u8, 3, NO_CONVERSION),
        "rgb8": PixelFormat(u8, 3, "COLOR_RGB2BGR"),
        "bgra8": PixelFormat(u8, 4, "COLOR_BGRA2BGR"),
        "rgba8": PixelFormat(u8, 4, "COLOR_RGBA2BGR"),
        "mono8": PixelFormat(u8, 1, "COLOR_GRAY2BGR"),
        "bgr16": PixelFormat(u16, 3, NO_CONVERSION),
        "rgb16": PixelFormat(u16, 3, "COLOR_RGB2BGR"),
        "bgra16": PixelFormat(u16, 4, "COLOR_BGRA2BGR"),
        "rgba16": PixelFormat(u16, 4, "COLOR_RGBA2BGR"),
        "mono16": PixelFormat(u16, 1, "COLOR_GRAY2BGR"),
        "uyvy": PixelFormat(u8, 2, "COLOR_YUV2BGR_UYVY", YUV422),
        "yuyv": PixelFormat(u8, 2, "COLOR_YUV2BGR_YUY2", YUV422),
        "nv21": PixelFormat(u8, 1, "COLOR_YUV2BGR_NV21", NV21),
        "nv24": PixelFormat(u8, 3, BT601_VIDEO, NV24),
        # What cv_bridge's "passthrough" writes from an OpenCV array: OpenCV's BGR(A) order.
        "8UC1": PixelFormat(u8, 1, "COLOR_GRAY2BGR"),
        "8UC3": PixelFormat(u8, 3, NO_CONVERSION),
        "8UC4": PixelFormat(u8, 4, "COLOR_BGRA2BGR"),
        # Depth: decoded here, refused as colour (cv_bridge: "not a color format").
        "16UC1": PixelFormat(u16, 1, NOT_COLOUR),
        "32FC1": PixelFormat(f32, 1, NOT_COLOUR),
    }
    table["yuv422"], table["yuv422_yuy2"] = table["uyvy"], table["yuyv"]  # older names
    # ROS names a Bayer pattern by the 2x2 cell's first row (rggb: R G / G B); OpenCV by the
    # second row's 2nd and 3rd pixels, so ROS rggb is OpenCV "BG" (as cv_bridge maps it).
    opencv_name = {"rggb": "BG", "bggr": "RG", "gbrg": "GR", "grbg": "GB"}
    for pattern, cv_name in opencv_name.items():
        for bits, dtype in (("8", u8), ("16", u16)):
            table[f"bayer_{pattern}{bits}"] = PixelFormat(dtype, 1, f"COLOR_Bayer{cv_name}2BGR")
    return table


PIXEL_FORMATS: dict[str, PixelFormat] = _table()


def _pixel_format(encoding: str) -> PixelFormat:
    try:
        return PIXEL_FORMATS[encoding]
    except KeyError:
        raise ImageFormatError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(PIXEL_FORMATS)}"
        ) from None


def _check_layout(fmt: PixelFormat, encoding: str, height: int, width: int, step: int) -> int:
    """The buffer size in bytes ``encoding`` needs at this size and step; raises if none fits."""
    if height <= 0 or width <= 0:
        raise ImageFormatError(f"image size {width}x{height} is empty")
    if fmt.layout == YUV422 and width % 2:
        raise ImageFormatError(f"{encoding} shares chroma between pixel pairs: width {width} "
                               "must be even")
    if fmt.layout == NV21 and (width % 2 or height % 2):
        raise ImageFormatError(f"{encoding} subsamples chroma 2x2: size {width}x{height} must "
                               "be even")
    planar = fmt.layout in (NV21, NV24)
    row_bytes = width if planar else width * fmt.pixel_bytes  # planar: the Y plane's rows
    if step < row_bytes:
        raise ImageFormatError(
            f"step {step} is smaller than one row of {width} {encoding} pixels ({row_bytes} bytes)")
    if step % fmt.dtype.itemsize:
        raise ImageFormatError(f"step {step} is not a multiple of the {fmt.dtype} pixel size")
    rows = {NV21: height * 3 // 2, NV24: height * 3}.get(fmt.layout, height)
    return step * rows


def raw_to_array(
    data, *, encoding: str, height: int, width: int, step: int, is_bigendian: bool = False
) -> np.ndarray:
    """A raw image buffer as an array of shape ``(height, width)`` or ``(height, width, C)``.

    Args:
        data: the pixel bytes (bytes, bytearray, array.array or memoryview), rows ``step``
            bytes apart.
        encoding: a ``sensor_msgs/image_encodings`` name from ``PIXEL_FORMATS``.
        height, width: image size in pixels; both must be positive.
        step: bytes from one row to the next (>= width * bytes per pixel; planar YUV: of the
            Y plane, ``nv24``'s UV rows being ``2 * step`` apart).
        is_bigendian: byte order of multi-byte pixels.

    Returns:
        A read-only view of ``data`` when no byte swap is needed, otherwise a native-order copy.
        ``uyvy``/``yuyv``: (height, width, 2) bytes; ``nv21``: the (height * 3/2, width) Y and
        VU planes; ``nv24``: a (height, width, 3) Y, U, V copy.
    """
    fmt = _pixel_format(encoding)
    needed = _check_layout(fmt, encoding, height, width, step)
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size != needed:
        raise ImageFormatError(
            f"data holds {buf.size} bytes; {width}x{height} {encoding} with step {step} "
            f"needs {needed}")
    if fmt.layout == NV21:
        view = np.ndarray((height * 3 // 2, width), np.uint8, buf, strides=(step, 1))
    elif fmt.layout == NV24:
        import cv2  # lazy: only this layout needs it (cv2.merge: ~7x faster than NumPy here)

        luma = np.ndarray((height, width), np.uint8, buf, strides=(step, 1))
        chroma = np.ndarray((height, width, 2), np.uint8, buf, offset=height * step,
                            strides=(2 * step, 2, 1))
        return cv2.merge([luma, chroma])
    else:
        swapped = bool(is_bigendian) != _NATIVE_BIG and fmt.dtype.itemsize > 1
        dtype = fmt.dtype.newbyteorder(">" if is_bigendian else "<") if swapped else fmt.dtype
        shape = (height, width, fmt.channels) if fmt.channels > 1 else (height, width)
        strides = (step, fmt.pixel_bytes, fmt.dtype.itemsize)[: len(shape)]
        view = np.ndarray(shape, dtype=dtype, buffer=buf, offset=0, strides=strides)
        if swapped:
            return view.astype(fmt.dtype)
    view.flags.writeable = False
    return view


def array_to_raw(image: np.ndarray, encoding: str) -> tuple[bytes, int, bool]:
    """An array as (data, step, is_bigendian) for ``sensor_msgs/Image`` with ``encoding``.

    The array must already have the encoding's dtype and channel count (``uyvy``/``yuyv``:
    (height, width, 2) bytes); rows are written without padding in native byte order.
    Planar YUV (``nv21``, ``nv24``) is decode-only.
    """
    fmt = _pixel_format(encoding)
    if fmt.layout in (NV21, NV24):
        raise ImageFormatError(f"{encoding} is planar; writing it is not supported")
    arr = np.asarray(image)
    expected_ndim = 3 if fmt.channels > 1 else 2
    if arr.ndim == 3 and fmt.channels == 1 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != expected_ndim or (fmt.channels > 1 and arr.shape[2] != fmt.channels):
        raise ImageFormatError(f"array of shape {arr.shape} is not a {encoding} image")
    if arr.dtype != fmt.dtype:
        raise ImageFormatError(f"array of dtype {arr.dtype} is not a {encoding} image ({fmt.dtype})")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageFormatError(f"image size {arr.shape[1]}x{arr.shape[0]} is empty")
    if fmt.layout == YUV422 and arr.shape[1] % 2:
        raise ImageFormatError(f"{encoding} needs an even width, not {arr.shape[1]}")
    arr = np.ascontiguousarray(arr)
    return arr.tobytes(), arr.shape[1] * fmt.pixel_bytes, _NATIVE_BIG


def compressed_to_array(data, fmt: str = "") -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` payload (JPEG, PNG, ...) to a BGR or mono array.

    ``fmt`` is the message's format string (e.g. ``"jpeg"``, ``"rgb8; png compressed bgr8"``);
    decoding relies on the payload's own signature, so it is only used in error messages.
    """
    import cv2  # lazy: only compressed streams need it

    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        raise ImageFormatError(f"compressed image ({fmt or 'unknown format'}) has no data")
    image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ImageFormatError(
            f"compressed image ({fmt or 'unknown format'}, {buf.size} bytes) could not be decoded")
    return image


def array_to_compressed(image: np.ndarray, fmt: str = "jpeg", quality: int = 90) -> bytes:
    """Encode a BGR/mono array as JPEG or PNG bytes for ``sensor_msgs/CompressedImage``."""
    import cv2

    ext = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}.get(fmt.lower())
    if ext is None:
        raise ImageFormatError(f"unsupported compression format {fmt!r}; use jpeg or png")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == ".jpg" else []
    ok, encoded = cv2.imencode(ext, np.asarray(image), params)
    if not ok:
        raise ImageFormatError(f"could not encode an image of shape {np.shape(image)} as {fmt}")
    return encoded.tobytes()


def to_bgr8(image: np.ndarray, encoding: str) -> np.ndarray:
    """An image decoded by ``raw_to_array`` as a contiguous BGR uint8 array, the networks'
    input format: the array itself for contiguous ``bgr8``, else one OpenCV conversion.

    16-bit values are scaled by 255/65535 and rounded (as cv_bridge does) before the colour
    conversion. Depth and other generic encodings (``16UC1``, ``32FC1``) have no colour
    meaning and are refused.
    """
    import cv2  # lazy: decoding alone (depth) does not need it

    fmt = _pixel_format(encoding)
    if fmt.to_bgr == NOT_COLOUR:
        raise ImageFormatError(f"{encoding} is not a colour encoding (depth or generic data); "
                               "expected a colour image such as bgr8, rgb8, mono8, bayer_*, yuyv")
    arr = np.asarray(image)
    channels = 1 if arr.ndim == 2 else arr.shape[2] if arr.ndim == 3 else 0
    shape_ok = channels == fmt.channels and (arr.ndim == 2) == (fmt.channels == 1)
    if not shape_ok or arr.dtype != fmt.dtype or arr.size == 0:
        raise ImageFormatError(f"array of shape {arr.shape} and dtype {arr.dtype} is not a "
                               f"{encoding} image")
    if arr.dtype == np.uint16:
        arr = cv2.convertScaleAbs(arr, alpha=255.0 / 65535.0)
    if fmt.to_bgr == NO_CONVERSION:
        return np.ascontiguousarray(arr)
    if fmt.to_bgr == BT601_VIDEO:
        return cv2.transform(arr, _BT601_VIDEO_TO_BGR)
    return cv2.cvtColor(arr, getattr(cv2, fmt.to_bgr))


# The OpenCV conversion that writes what each ``to_bgr`` conversion reads.
_FROM_BGR = {"COLOR_RGB2BGR": "COLOR_BGR2RGB", "COLOR_BGRA2BGR": "COLOR_BGR2BGRA",
             "COLOR_RGBA2BGR": "COLOR_BGR2RGBA", "COLOR_GRAY2BGR": "COLOR_BGR2GRAY",
             "COLOR_YUV2BGR_UYVY": "COLOR_BGR2YUV_UYVY", "COLOR_YUV2BGR_YUY2": "COLOR_BGR2YUV_YUY2"}


def bgr8_to(image: np.ndarray, encoding: str) -> np.ndarray:
    """A BGR uint8 image as ``encoding``'s array (for ``array_to_raw``): what a camera with
    that encoding would publish, to test a pipeline against it. Bayer: the mosaic sampled
    from the image; YUV: BT.601 video range; 16 bit: values x 257. Planar YUV and depth
    encodings cannot be written.
    """
    import cv2

    fmt = _pixel_format(encoding)
    bgr = np.asarray(image)
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8 or bgr.size == 0:
        raise ImageFormatError(f"array of shape {bgr.shape} and dtype {bgr.dtype} is not bgr8")
    if encoding.startswith("bayer_"):
        out = np.empty(bgr.shape[:2], np.uint8)
        for index, colour in enumerate(encoding[6:10]):  # the 2x2 cell, row by row
            dy, dx = divmod(index, 2)
            out[dy::2, dx::2] = bgr[dy::2, dx::2, "bgr".index(colour)]
    elif fmt.to_bgr == NO_CONVERSION:
        out = bgr
    elif fmt.to_bgr in _FROM_BGR:
        if fmt.layout == YUV422 and bgr.shape[1] % 2:
            raise ImageFormatError(f"{encoding} needs an even width, not {bgr.shape[1]}")
        out = cv2.cvtColor(np.ascontiguousarray(bgr), getattr(cv2, _FROM_BGR[fmt.to_bgr]))
    else:
        raise ImageFormatError(f"writing {encoding} images is not supported")
    return out.astype(np.uint16) * 257 if fmt.dtype == np.uint16 else out
