"""How the image a detector saw relates to the image a camera was calibrated on.

Two sources of mismatch, both described in ``docs/cameras.md`` and handled as ROS
``image_geometry`` does:

- ``CameraInfo`` ``binning_x/y`` and ``roi``: the published image is a binned and/or cropped
  window of the calibrated full-resolution sensor, ``fx' = fx / binning_x``,
  ``cx' = (cx - roi.x_offset) / binning_x`` (likewise for y) - ``binned_roi_intrinsics``;
- the detections' own image size (``People.image_size``) against the calibration's size -
  ``fit_to_image``: equal; at most ``MAX_PADDING_PX`` rows/columns more or fewer at the
  right/bottom edge (video codecs code 16-pixel macroblocks, so 1080 is stored as 1088 and
  cropped on display, or the other way round; pixel coordinates and K are unchanged); an exact
  integer fraction per axis (a binned or resized image; K scales with it). Anything else cannot
  be placed in the calibrated image and raises ``ImageSizeMismatch`` with the reason.

Pixels are source-image pixels; K maps camera coordinates (metres) to those pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from openpose_ros.threed.cameras import CalibrationError, Camera, Intrinsics

__all__ = [
    "MAX_PADDING_PX",
    "ImageSizeMismatch",
    "ImageFit",
    "scaled_intrinsics_matrix",
    "binned_roi_intrinsics",
    "fit_to_image",
    "fit_camera",
]

#: Largest right/bottom crop (or padding) treated as codec padding: one H.264 macroblock.
MAX_PADDING_PX = 16


class ImageSizeMismatch(CalibrationError):
    """An image size that is not the calibrated one, nor padding of it, nor an integer fraction."""


@dataclass(frozen=True)
class ImageFit:
    """How an image of ``image_size`` maps onto its calibration.

    Attributes:
        K: float64 ``[3, 3]`` intrinsics for the image's pixels.
        image_size: (width, height) of the image.
        kind: ``"exact"``, ``"padding"`` (K unchanged) or ``"scaled"`` (K divided per axis).
        note: for anything but ``"exact"``, one sentence saying what was assumed (to warn once).
    """

    K: np.ndarray
    image_size: tuple[int, int]
    kind: str
    note: str = ""


def scaled_intrinsics_matrix(K: np.ndarray, bin_x: float, bin_y: float,
                             x_offset: float = 0.0, y_offset: float = 0.0) -> np.ndarray:
    """``K`` of a window at ``(x_offset, y_offset)`` of the calibrated image, binned by ``bin_x/y``.

    image_geometry's rule: fx/bin, (cx - x_offset)/bin, fy/bin, (cy - y_offset)/bin; the skew
    scales with x.
    """
    out = np.array(K, dtype=np.float64, copy=True)
    out[0, 2] -= x_offset
    out[1, 2] -= y_offset
    out[0] /= bin_x
    out[1] /= bin_y
    out[2] = (0.0, 0.0, 1.0)
    return out


def binned_roi_intrinsics(intrinsics: Intrinsics, binning_x: int = 0, binning_y: int = 0,
                          roi: tuple[int, int, int, int] = (0, 0, 0, 0)) -> Intrinsics:
    """The intrinsics of a published image from a ``CameraInfo``'s full-resolution calibration.

    Args:
        intrinsics: K and size as in the CameraInfo (``width``/``height``: the full sensor).
        binning_x, binning_y: 0 or 1 means none.
        roi: ``(x_offset, y_offset, width, height)``; all zero (or width/height 0) means the full
            image.
    Returns:
        Intrinsics whose K and ``image_size`` are those of the published image; the input itself
        when there is neither binning nor a ROI.
    Raises:
        CalibrationError: a ROI outside the calibrated image, or a ROI/binning without a size.
    """
    bx, by = max(int(binning_x), 1), max(int(binning_y), 1)
    x0, y0, rw, rh = (int(v) for v in roi)
    full_roi = rw == 0 or rh == 0
    if bx == 1 and by == 1 and full_roi and x0 == 0 and y0 == 0:
        return intrinsics
    size = intrinsics.image_size
    if full_roi:
        if size is None:
            raise CalibrationError("binning needs the calibrated image size (CameraInfo width/height)")
        x0, y0, rw, rh = 0, 0, size[0], size[1]
    elif size is not None and (x0 < 0 or y0 < 0 or x0 + rw > size[0] or y0 + rh > size[1]):
        raise CalibrationError(f"roi {(x0, y0, rw, rh)} lies outside the calibrated {size} image")
    K = scaled_intrinsics_matrix(intrinsics.K, bx, by, x0, y0)
    return replace(intrinsics, K=K, image_size=(rw // bx, rh // by))


def _integer_factor(calibrated: int, image: int) -> int | None:
    return calibrated // image if image > 0 and calibrated % image == 0 else None


def fit_to_image(K: np.ndarray, calibrated_size: tuple[int, int] | None,
                 image_size: tuple[int, int], camera: str = "camera") -> ImageFit:
    """Intrinsics for an image of ``image_size`` from a calibration at ``calibrated_size``.

    An unknown size on either side (None or zeros) is taken as the calibrated one.

    Raises:
        ImageSizeMismatch: the sizes are not equal, padding or an integer fraction (the message
            gives both sizes).
    """
    K = np.asarray(K, dtype=np.float64)
    image = (int(image_size[0]), int(image_size[1]))
    if calibrated_size is None or not all(image) or tuple(calibrated_size) == image:
        return ImageFit(K, image if all(image) else tuple(calibrated_size or image), "exact")
    (cw, ch), (w, h) = calibrated_size, image
    if abs(cw - w) <= MAX_PADDING_PX and abs(ch - h) <= MAX_PADDING_PX:
        return ImageFit(K, image, "padding", (
            f"{camera}: image {w}x{h} vs calibrated {cw}x{ch}: taken as codec padding at the "
            "right/bottom edge, intrinsics unchanged"))
    fx, fy = _integer_factor(cw, w), _integer_factor(ch, h)
    if fx and fy:
        return ImageFit(scaled_intrinsics_matrix(K, fx, fy), image, "scaled", (
            f"{camera}: image {w}x{h} is 1/{fx} x 1/{fy} of the calibrated {cw}x{ch}: "
            "intrinsics scaled"))
    raise ImageSizeMismatch(
        f"image size {image} differs from the calibration's {tuple(calibrated_size)} (neither "
        f"padding of at most {MAX_PADDING_PX} px at the right/bottom nor an integer fraction)")


def fit_camera(camera: Camera, image_size: tuple[int, int]) -> tuple[Camera, str]:
    """``camera`` as seen in an image of ``image_size``, and the note to warn with ("" if exact).

    Raises ``ImageSizeMismatch`` (see ``fit_to_image``).
    """
    fit = fit_to_image(camera.K, camera.image_size, image_size, camera.name)
    if fit.kind == "exact" and fit.image_size == camera.image_size:
        return camera, ""
    return replace(camera, K=fit.K, image_size=fit.image_size), fit.note
