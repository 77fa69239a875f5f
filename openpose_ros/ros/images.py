"""``sensor_msgs/Image`` and ``CompressedImage`` <-> NumPy: the thin adapter over
``openpose_ros.image_codec`` (which holds every rule and check)."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from openpose_ros.image_codec import (
    array_to_compressed,
    array_to_raw,
    compressed_to_array,
    raw_to_array,
    to_bgr8,
)

__all__ = ["image_to_array", "image_to_bgr8", "array_to_image", "compressed_to_bgr8",
           "array_to_compressed_image"]


def image_to_array(msg: Image) -> np.ndarray:
    """The image's pixels, a read-only view of ``msg.data`` where the layout allows."""
    return raw_to_array(msg.data, encoding=msg.encoding, height=msg.height, width=msg.width,
                        step=msg.step, is_bigendian=bool(msg.is_bigendian))


def image_to_bgr8(msg: Image) -> np.ndarray:
    """The image as BGR uint8, the networks' input format (no copy for bgr8 without padding)."""
    return to_bgr8(image_to_array(msg), msg.encoding)


def array_to_image(image: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """An array as ``sensor_msgs/Image`` with ``encoding`` (dtype and channels must match)."""
    data, step, big = array_to_raw(image, encoding)
    msg = Image(header=header or Header(), height=image.shape[0], width=image.shape[1],
                encoding=encoding, is_bigendian=int(big), step=step)
    msg.data = data
    return msg


def compressed_to_bgr8(msg: CompressedImage) -> np.ndarray:
    """Decode a ``CompressedImage`` to BGR uint8."""
    image = compressed_to_array(msg.data, msg.format)  # OpenCV's order: mono, BGR or BGRA
    layout = "mono" if image.ndim == 2 else "bgra" if image.shape[2] == 4 else "bgr"
    return to_bgr8(image, f"{layout}{16 if image.dtype == np.uint16 else 8}")


def array_to_compressed_image(image: np.ndarray, fmt: str = "jpeg",
                              header: Header | None = None) -> CompressedImage:
    """A BGR/mono array as ``sensor_msgs/CompressedImage`` (``fmt`` jpeg or png)."""
    msg = CompressedImage(header=header or Header(), format=fmt)
    msg.data = array_to_compressed(image, fmt)
    return msg
