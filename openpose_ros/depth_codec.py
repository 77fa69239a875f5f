"""Depth images -> float32 metres (NaN = no measurement), without cv_bridge.

ROS-free, like ``image_codec`` (whose ``ImageFormatError`` every malformed input raises here too):
the functions take the fields of ``sensor_msgs/Image`` and ``sensor_msgs/CompressedImage`` as plain
values; ``openpose_ros.ros.images`` style adapters pass them in.

Encodings (``../shared/docs/cameras.md``):

- ``16UC1``: millimetres, 0 = no measurement (RealSense, Kinect, OAK);
- ``32FC1``: metres, NaN, 0, negative or infinite = no measurement (ZED, simulators,
  ``depth_image_proc``);
- ``compressedDepth`` (the image_transport plugin): ``CompressedImage.format`` such as
  ``"16UC1; compressedDepth png"``; ``data`` is a 12-byte header ``{int32 format; float32
  depthParam[2]}`` (little-endian, as the plugin writes it on every ROS platform) and a PNG. For
  16UC1 the PNG holds the millimetres; for 32FC1 it holds 16-bit inverse depth ``inv`` with
  ``depth_m = depthParam[0] / (inv - depthParam[1])`` and ``inv = 0`` meaning no measurement.

Row padding (``step``) and big-endian data are handled by ``image_codec.raw_to_array``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from openpose_ros.image_codec import ImageFormatError, raw_to_array

__all__ = [
    "DepthImage",
    "as_depth_image",
    "depth_image",
    "DEPTH_ENCODINGS",
    "COMPRESSED_DEPTH_HEADER",
    "depth_to_metres",
    "compressed_depth_to_metres",
    "is_compressed_depth",
    "metres_to_compressed_depth",
]

#: Raw depth encodings and the factor from their unit to metres.
DEPTH_ENCODINGS = {"16UC1": 0.001, "32FC1": 1.0}

#: ``{int32 format; float32 depthParam[2]}`` before the PNG of a compressedDepth payload.
COMPRESSED_DEPTH_HEADER = struct.Struct("<iff")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class DepthImage:
    """Depth pixels as the message holds them and the factor to metres, converted only where read.

    A consumer that reads a few thousand pixels (the RGB-D estimator's windows) then skips
    converting the whole frame. ``raw``: ``[H, W]`` uint16 or float32 (usually a read-only view
    of the message buffer); ``scale``: metres per raw unit. Values <= 0, NaN or inf: no measurement.
    """

    raw: np.ndarray
    scale: float = 1.0

    @property
    def shape(self) -> tuple[int, ...]:
        return self.raw.shape

    def at(self, iy: np.ndarray, ix: np.ndarray) -> np.ndarray:
        """float32 metres at integer pixel indices (NaN = no measurement)."""
        return _to_metres(self.raw[iy, ix], self.scale)

    def metres(self) -> np.ndarray:
        """The whole image as float32 ``[H, W]`` metres, NaN = no measurement."""
        return _to_metres(self.raw, self.scale)

    def any_valid(self) -> bool:
        """Whether at least one pixel holds a measurement."""
        with np.errstate(invalid="ignore"):
            return bool(np.any((self.raw > 0) & np.isfinite(self.raw)))


def as_depth_image(depth) -> DepthImage:
    """``depth`` as a ``DepthImage`` (an array is taken as metres)."""
    return depth if isinstance(depth, DepthImage) else DepthImage(np.asarray(depth), 1.0)


def depth_image(data, *, encoding: str, height: int, width: int, step: int,
                is_bigendian: bool = False) -> DepthImage:
    """A raw depth image without converting it (see ``DepthImage``); checks as ``depth_to_metres``."""
    scale = DEPTH_ENCODINGS.get(encoding)
    if scale is None:
        raise ImageFormatError(f"unsupported depth encoding {encoding!r}; supported: "
                               f"{', '.join(DEPTH_ENCODINGS)} (or compressedDepth)")
    return DepthImage(raw_to_array(data, encoding=encoding, height=height, width=width, step=step,
                                   is_bigendian=is_bigendian), scale)


def depth_to_metres(data, *, encoding: str, height: int, width: int, step: int,
                    is_bigendian: bool = False) -> np.ndarray:
    """A raw depth image as float32 ``[height, width]`` metres, NaN where nothing was measured.

    ``encoding`` must be one of ``DEPTH_ENCODINGS``; a colour encoding raises (a depth topic
    wired to a colour stream is a configuration error, not something to guess about).
    """
    return depth_image(data, encoding=encoding, height=height, width=width, step=step,
                       is_bigendian=is_bigendian).metres()


def _to_metres(raw: np.ndarray, scale: float) -> np.ndarray:
    out = np.asarray(raw).astype(np.float32)  # always a fresh native array
    if scale != 1.0:
        out *= np.float32(scale)
    with np.errstate(invalid="ignore"):
        out[~(out > 0) | ~np.isfinite(out)] = np.nan  # 0, negative, NaN, inf: no measurement
    return out


def is_compressed_depth(fmt: str) -> bool:
    """Whether a ``CompressedImage.format`` names the compressedDepth plugin."""
    return "compresseddepth" in fmt.replace(" ", "").lower()


def _parse_format(fmt: str) -> str:
    """The depth encoding (``16UC1``/``32FC1``) named by a compressedDepth format string."""
    head, _, rest = fmt.partition(";")
    encoding = head.strip()
    if not is_compressed_depth(rest or head):
        raise ImageFormatError(f"format {fmt!r} is not compressedDepth (expected e.g. "
                               "'16UC1; compressedDepth png')")
    if "rvl" in rest.lower():
        raise ImageFormatError(f"format {fmt!r}: RVL compressedDepth is not supported; "
                               "set the publisher's depth format to png")
    if encoding not in DEPTH_ENCODINGS:
        raise ImageFormatError(f"compressedDepth format {fmt!r}: depth encoding {encoding!r} "
                               f"unsupported; supported: {', '.join(DEPTH_ENCODINGS)}")
    return encoding


def compressed_depth_to_metres(data, fmt: str) -> np.ndarray:
    """A compressedDepth payload (header + PNG) as float32 ``[H, W]`` metres, NaN = none."""
    import cv2  # lazy: only compressed streams need it

    encoding = _parse_format(fmt)
    buf = np.frombuffer(data, dtype=np.uint8)
    header = COMPRESSED_DEPTH_HEADER.size
    if buf.size <= header:
        raise ImageFormatError(f"compressedDepth ({fmt}) has {buf.size} bytes: shorter than its "
                               f"{header}-byte header and a PNG")
    _, quant_a, quant_b = COMPRESSED_DEPTH_HEADER.unpack(buf[:header].tobytes())
    png = buf[header:]
    if png[:8].tobytes() != _PNG_SIGNATURE:
        raise ImageFormatError(f"compressedDepth ({fmt}): no PNG after the {header}-byte header")
    image = cv2.imdecode(png, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ImageFormatError(f"compressedDepth ({fmt}, {buf.size} bytes): PNG undecodable")
    if image.ndim != 2 or image.dtype != np.uint16:
        raise ImageFormatError(f"compressedDepth ({fmt}): PNG holds {image.dtype} "
                               f"{'x'.join(map(str, image.shape))}, expected one 16-bit channel")
    if encoding == "16UC1":
        return _to_metres(image, DEPTH_ENCODINGS["16UC1"])
    if not (np.isfinite(quant_a) and np.isfinite(quant_b) and quant_a != 0):
        raise ImageFormatError(f"compressedDepth ({fmt}): unusable inverse-depth parameters "
                               f"A={quant_a}, B={quant_b}")
    inv = image.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.float32(quant_a) / (inv - np.float32(quant_b))
    depth[image == 0] = np.nan
    return _to_metres(depth, 1.0)


def metres_to_compressed_depth(depth_m: np.ndarray, encoding: str = "16UC1", *,
                               depth_max: float = 10.0, depth_quantization: float = 100.0,
                               ) -> tuple[bytes, str]:
    """Encode float metres (NaN = none) as ``(data, format)`` of a compressedDepth message.

    32FC1 uses the image_transport plugin's inverse-depth parameters: with ``q`` =
    ``depth_quantization``, ``A = q (q + 1)`` and ``B = 1 - A / depth_max`` (``depth_max`` maps to
    inv 1; farther depths are left out). For publishers and tools; the codec's tests build their
    references with struct and cv2 directly.
    """
    import cv2

    d = np.asarray(depth_m, dtype=np.float32)
    if d.ndim != 2 or d.size == 0:
        raise ImageFormatError(f"depth of shape {d.shape} is not an image")
    valid = np.isfinite(d) & (d > 0)
    if encoding == "16UC1":
        raw = np.where(valid, np.clip(np.round(d * 1000.0), 1, 65535), 0).astype(np.uint16)
        quant_a = quant_b = 0.0
    elif encoding == "32FC1":
        quant_a = float(depth_quantization * (depth_quantization + 1.0))
        quant_b = float(1.0 - quant_a / depth_max)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = quant_a / np.where(valid, d, 1.0) + quant_b
        raw = np.where(valid & (d <= depth_max), np.clip(np.round(inv), 1, 65535), 0).astype(np.uint16)
    else:
        raise ImageFormatError(f"unsupported depth encoding {encoding!r} for compressedDepth")
    ok, png = cv2.imencode(".png", raw)
    if not ok:
        raise ImageFormatError("PNG encoding failed")
    header = COMPRESSED_DEPTH_HEADER.pack(0, quant_a, quant_b)
    return header + png.tobytes(), f"{encoding}; compressedDepth png"
