"""Image size vs calibration (``threed.image_geometry``) and its use by the Reconstructor:
codec padding, integer fractions, CameraInfo binning/ROI, and the sizes that stay refused."""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.layouts import BODY_25
from openpose_ros.people import People
from openpose_ros.threed.cameras import CalibrationError, Camera, Intrinsics, Rig
from openpose_ros.threed.image_geometry import (
    ImageSizeMismatch,
    binned_roi_intrinsics,
    fit_camera,
    fit_to_image,
)
from openpose_ros.threed.reconstruct import Reconstructor

K = np.array([[1000.0, 0.0, 640.0], [0.0, 1010.0, 360.0], [0.0, 0.0, 1.0]])


def test_exact_and_unknown_sizes_keep_k():
    for calibrated, image in (((1280, 720), (1280, 720)), (None, (1280, 720)), ((1280, 720), (0, 0))):
        fit = fit_to_image(K, calibrated, image)
        assert fit.kind == "exact" and not fit.note and np.array_equal(fit.K, K)


@pytest.mark.parametrize("image", [(1272, 720), (1280, 704), (1264, 712), (1288, 720)])
def test_codec_padding_keeps_k_and_takes_the_image_size(image):
    fit = fit_to_image(K, (1280, 720), image, "cam_01")
    assert fit.kind == "padding" and fit.image_size == image
    assert np.array_equal(fit.K, K)
    assert "cam_01" in fit.note and "padding" in fit.note


@pytest.mark.parametrize("image, factor", [((640, 360), (2, 2)), ((320, 180), (4, 4)), ((640, 720), (2, 1))])
def test_integer_fraction_scales_k(image, factor):
    fit = fit_to_image(K, (1280, 720), image)
    assert fit.kind == "scaled" and fit.image_size == image
    fx, fy = factor
    assert fit.K[0, 0] == pytest.approx(1000.0 / fx) and fit.K[0, 2] == pytest.approx(640.0 / fx)
    assert fit.K[1, 1] == pytest.approx(1010.0 / fy) and fit.K[1, 2] == pytest.approx(360.0 / fy)
    # A point projects to the calibrated pixel divided by the factor.
    X = np.array([0.3, -0.2, 2.5])
    full = K @ X
    small = fit.K @ X
    assert small[:2] / small[2] == pytest.approx(full[:2] / full[2] / np.array(factor))


@pytest.mark.parametrize("image", [(1240, 720), (1280, 680), (700, 360), (1000, 500), (427, 240)])
def test_other_sizes_are_refused_with_both_sizes(image):
    with pytest.raises(ImageSizeMismatch, match=r"differs from the calibration's \(1280, 720\)"):
        fit_to_image(K, (1280, 720), image)


def test_binning_and_roi_as_image_geometry():
    full = Intrinsics(K, np.zeros(5), "plumb_bob", (1280, 720))
    assert binned_roi_intrinsics(full) is full
    binned = binned_roi_intrinsics(full, 2, 2)
    assert binned.image_size == (640, 360)
    assert np.allclose(binned.K, [[500, 0, 320], [0, 505, 180], [0, 0, 1]])
    roi = binned_roi_intrinsics(full, 0, 0, (100, 50, 640, 480))
    assert roi.image_size == (640, 480)
    assert np.allclose(roi.K, [[1000, 0, 540], [0, 1010, 310], [0, 0, 1]])
    both = binned_roi_intrinsics(full, 2, 4, (100, 40, 640, 480))
    assert both.image_size == (320, 120)
    assert np.allclose(both.K, [[500, 0, 270], [0, 252.5, 80], [0, 0, 1]])
    with pytest.raises(CalibrationError, match="outside"):
        binned_roi_intrinsics(full, 1, 1, (1000, 0, 640, 480))


def _rig() -> tuple[Rig, np.ndarray]:
    """Three cameras 4 m around the origin looking at it, 1280x720, and a standing body."""
    cams = []
    for k, angle in enumerate(np.radians([0.0, 90.0, 200.0])):
        centre = 4.0 * np.array([np.sin(angle), 0.0, -np.cos(angle)])
        z = -centre / np.linalg.norm(centre)
        x = np.cross([0.0, 1.0, 0.0], z)
        R = np.stack([x, np.cross(z, x), z])
        cams.append(Camera(f"cam{k}", K, np.zeros(5), "plumb_bob", R, -R @ centre, (1280, 720)))
    rng = np.random.default_rng(0)
    body = rng.uniform([-0.3, -0.8, -0.2], [0.3, 0.8, 0.2], (BODY_25.num_parts, 3))
    return Rig(tuple(cams)), body


def _view(cam: Camera, body: np.ndarray, size, scale=(1.0, 1.0)) -> People:
    px = cam.project(body) / np.array(scale)
    kp = np.concatenate([px, np.ones((len(body), 1))], axis=1)
    return People(BODY_25, size, kp[None], np.ones(1))


def test_reconstructor_accepts_padding_and_fractions_and_notes_them_once():
    rig, body = _rig()
    rec = Reconstructor(rig)
    views = {"cam0": _view(rig.cameras[0], body, (1280, 720)),
             "cam1": _view(rig.cameras[1], body, (1272, 712)),  # codec crop
             "cam2": _view(rig.cameras[2], body, (640, 360), (2, 2))}  # binned
    first = rec.reconstruct(views)
    assert first.views_used == ("cam0", "cam1", "cam2") and not first.skipped
    assert set(first.notes) == {"cam1", "cam2"}
    assert "padding" in first.notes["cam1"] and "scaled" in first.notes["cam2"]
    assert len(first.people) == 1
    assert np.nanmax(np.abs(first.people.body[0] - body)) < 1e-3
    again = rec.reconstruct(views)
    assert not again.notes and len(again.people) == 1  # one warning, not one per set


def test_reconstructor_still_skips_a_size_it_cannot_place():
    rig, body = _rig()
    views = {"cam0": _view(rig.cameras[0], body, (1280, 720)),
             "cam1": _view(rig.cameras[1], body, (1280, 720)),
             "cam2": _view(rig.cameras[2], body, (1000, 600))}
    result = Reconstructor(rig).reconstruct(views)
    assert result.views_used == ("cam0", "cam1")
    assert "differs from the calibration" in result.skipped["cam2"]


def test_fit_camera_is_the_camera_itself_when_exact():
    rig, _ = _rig()
    cam, note = fit_camera(rig.cameras[0], (1280, 720))
    assert cam is rig.cameras[0] and note == ""
