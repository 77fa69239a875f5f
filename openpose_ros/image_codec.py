"""Raw and compressed image buffers <-> NumPy arrays, without cv_bridge.

ROS-free: works on the fields of ``sensor_msgs/Image`` (encoding, height, width, step,
is_bigendian, data) and ``sensor_msgs/CompressedImage`` (format, data) passed in as plain
values; ``openpose_ros.ros.images`` is the thin adapter for the message types.

Decoding returns a *view* of the message buffer (no copy) whenever the bytes already have the
array's layout: native byte order and any row padding (``step`` larger than a row), which the
view skips with a row stride. Only byte-swapped data (big-endian on a little-endian machine,
or the reverse) is copied. Every malformed input raises ``ImageFormatError``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ImageFormatError",
    "PixelFormat",
    "PIXEL_FORMATS",
    "raw_to_array",
    "array_to_raw",
    "compressed_to_array",
    "array_to_compressed",
    "to_bgr8",
]

_NATIVE_BIG = sys.byteorder == "big"


class ImageFormatError(ValueError):
    """An image buffer cannot be interpreted: bad size, step, length, encoding or data."""


@dataclass(frozen=True)
class PixelFormat:
    """How one ``sensor_msgs/Image`` encoding lays out a pixel."""

    dtype: np.dtype
    channels: int

    @property
    def pixel_bytes(self) -> int:
        return self.dtype.itemsize * self.channels


PIXEL_FORMATS: dict[str, PixelFormat] = {
    "rgb8": PixelFormat(np.dtype(np.uint8), 3),
    "bgr8": PixelFormat(np.dtype(np.uint8), 3),
    "rgba8": PixelFormat(np.dtype(np.uint8), 4),
    "bgra8": PixelFormat(np.dtype(np.uint8), 4),
    "mono8": PixelFormat(np.dtype(np.uint8), 1),
    "mono16": PixelFormat(np.dtype(np.uint16), 1),
    "8UC1": PixelFormat(np.dtype(np.uint8), 1),
    "8UC3": PixelFormat(np.dtype(np.uint8), 3),
    "8UC4": PixelFormat(np.dtype(np.uint8), 4),
    "16UC1": PixelFormat(np.dtype(np.uint16), 1),
    "32FC1": PixelFormat(np.dtype(np.float32), 1),
}


def _pixel_format(encoding: str) -> PixelFormat:
    try:
        return PIXEL_FORMATS[encoding]
    except KeyError:
        raise ImageFormatError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(PIXEL_FORMATS)}"
        ) from None


def raw_to_array(
    data, *, encoding: str, height: int, width: int, step: int, is_bigendian: bool = False
) -> np.ndarray:
    """A raw image buffer as an array of shape ``(height, width)`` or ``(height, width, C)``.

    Args:
        data: the pixel bytes (bytes, bytearray, array.array or memoryview), rows ``step``
            bytes apart.
        encoding: a ``sensor_msgs/image_encodings`` name from ``PIXEL_FORMATS``.
        height, width: image size in pixels; both must be positive.
        step: bytes from one row to the next (>= width * bytes per pixel).
        is_bigendian: byte order of multi-byte pixels.

    Returns:
        A read-only view of ``data`` when no byte swap is needed, otherwise a native-order copy.
    """
    fmt = _pixel_format(encoding)
    if height <= 0 or width <= 0:
        raise ImageFormatError(f"image size {width}x{height} is empty")
    row_bytes = width * fmt.pixel_bytes
    if step < row_bytes:
        raise ImageFormatError(
            f"step {step} is smaller than one row of {width} {encoding} pixels ({row_bytes} bytes)")
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size != step * height:
        raise ImageFormatError(
            f"data holds {buf.size} bytes; {width}x{height} {encoding} with step {step} "
            f"needs {step * height}")
    if step % fmt.dtype.itemsize:
        raise ImageFormatError(f"step {step} is not a multiple of the {fmt.dtype} pixel size")
    swapped = bool(is_bigendian) != _NATIVE_BIG and fmt.dtype.itemsize > 1
    dtype = fmt.dtype.newbyteorder(">" if is_bigendian else "<") if swapped else fmt.dtype
    shape = (height, width, fmt.channels) if fmt.channels > 1 else (height, width)
    strides = (step, fmt.pixel_bytes, fmt.dtype.itemsize)[: len(shape)]
    view = np.ndarray(shape, dtype=dtype, buffer=buf, offset=0, strides=strides)
    view.flags.writeable = False
    return view.astype(fmt.dtype) if swapped else view


def array_to_raw(image: np.ndarray, encoding: str) -> tuple[bytes, int, bool]:
    """An array as (data, step, is_bigendian) for ``sensor_msgs/Image`` with ``encoding``.

    The array must already have the encoding's dtype and channel count; rows are written
    without padding in native byte order.
    """
    fmt = _pixel_format(encoding)
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
    """Any supported image as a contiguous BGR uint8 array, the networks' input format.

    16-bit images keep their top 8 bits; float images are taken as 0..1 intensities.
    """
    import cv2

    fmt = _pixel_format(encoding)
    arr = np.asarray(image)
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype == np.float32:
        arr = (np.nan_to_num(np.clip(arr, 0.0, 1.0)) * 255.0 + 0.5).astype(np.uint8)
    if fmt.channels == 1:
        return cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_GRAY2BGR)
    conversion = {"rgb8": cv2.COLOR_RGB2BGR, "rgba8": cv2.COLOR_RGBA2BGR,
                  "bgra8": cv2.COLOR_BGRA2BGR, "8UC4": cv2.COLOR_BGRA2BGR}.get(encoding)
    if conversion is None:
        return np.ascontiguousarray(arr)
    return cv2.cvtColor(np.ascontiguousarray(arr), conversion)
