"""CameraInfo fields -> the camera model of the image actually published (binning and ROI).

``sensor_msgs/CameraInfo`` keeps the calibration of the full-resolution sensor; ``binning_x/y``
(0 or 1 = none) and ``roi`` (all zero = the full image) say how the published image was cut and
reduced from it (image_geometry's rule, ``../shared/docs/cameras.md``):
``fx' = fx / bx``, ``cx' = (cx - roi.x_offset) / bx``, likewise for y.
"""

from __future__ import annotations

import numpy as np

from openpose_ros.threed.cameras import Camera, CalibrationError, Intrinsics

__all__ = ["camera_from_info", "CalibrationError"]


def camera_from_info(name: str, k, d, distortion_model: str, width: int, height: int, *,
                     binning_x: int = 0, binning_y: int = 0, roi=(0, 0, 0, 0),
                     R=np.eye(3), t=np.zeros(3)) -> Camera:
    """The published image's camera (``roi`` = x_offset, y_offset, width, height).

    Raises ``CalibrationError`` for an uncalibrated (all-zero K) or malformed CameraInfo.
    """
    K = np.asarray(k, dtype=np.float64).reshape(-1)
    if K.size != 9:
        raise CalibrationError(f"camera {name!r}: K has {K.size} entries, expected 9")
    K = K.reshape(3, 3).copy()
    bx, by = max(int(binning_x), 1), max(int(binning_y), 1)
    x0, y0, rw, rh = (int(v) for v in roi)
    K[0, 2] -= x0
    K[1, 2] -= y0
    K[0] /= bx
    K[1] /= by
    w, h = (rw or width), (rh or height)
    size = (w // bx, h // by) if w > 0 and h > 0 else (0, 0)
    intr = Intrinsics.from_camera_info(K.ravel(), d, distortion_model or "plumb_bob", *size)
    return Camera.from_parts(name, intr, R, t)
