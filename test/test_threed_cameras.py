"""Camera models and calibration readers, on the real calibration files in ../shared.

Covers: projection/undistortion round trips for the three distortion models, epipolar geometry,
the OpenPose XML / Pose2Sim TOML / Panoptic JSON / project YAML readers (cross-checked against the
data they came with), and the errors for unusable calibrations.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from openpose_ros.threed.calibration_io import (
    CameraEntry,
    RigCalibration,
    load_calibration,
    load_rig_yaml,
    rig_from_dict,
    save_rig_yaml,
)
from openpose_ros.threed.cameras import CalibrationError, Camera, Intrinsics, Rig, fundamental_matrices
from openpose_ros.evaluation.datasets import PANOPTIC_JOINTS19, load_panoptic_bodies, load_pose2sim_trial


@pytest.fixture(scope="module")
def panoptic_rig(shared_data):
    path = shared_data / "multiview/panoptic_160906_band1_gt3d/calibration_160906_band1.json"
    return load_calibration(path).rig()


@pytest.fixture(scope="module")
def pose2sim_rig(shared_data):
    return load_calibration(shared_data / "multiview/pose2sim_demo/calibration/Calib_qualisys.toml").rig()


def _grid_points(cam: Camera, depth: float = 3.0, n: int = 9) -> np.ndarray:
    """World points that land on an n x n grid over the central 80% of the image."""
    w, h = cam.image_size
    u, v = np.meshgrid(np.linspace(0.1 * w, 0.9 * w, n), np.linspace(0.1 * h, 0.9 * h, n))
    rays = np.linalg.inv(cam.K) @ np.stack([u.ravel(), v.ravel(), np.ones(u.size)])
    pc = (rays / rays[2] * depth).T
    return (pc - cam.t) @ cam.R  # camera -> world


@pytest.mark.parametrize(
    "model,dist",
    [
        ("plumb_bob", [-0.222445, 0.199192, 8.73054e-05, 0.000982243, 0.0238445]),  # Panoptic 00_00
        ("rational_polynomial", [0.08, -0.05, 1e-3, -1e-3, 0.01, 0.02, -0.01, 0.005]),
        ("equidistant", [0.05, -0.02, 0.004, -0.001]),
    ],
)
def test_undistort_inverts_projection(model, dist):
    rvec = np.array([0.1, -0.2, 0.05])
    cam = Camera("c", [[1634.0, 0, 942.8], [0, 1629.7, 558.3], [0, 0, 1]], dist, model,
                 cv2.Rodrigues(rvec)[0], [0.2, -0.1, 0.5], (1920, 1080))
    X = _grid_points(cam)
    distorted = cam.project(X)
    assert cam.in_image(distorted).all()
    assert np.abs(distorted - cam.project_ideal(X)).max() > 1.0  # the lens does something
    np.testing.assert_allclose(cam.undistort(distorted), cam.project_ideal(X), atol=1e-3)


def test_nan_and_points_behind_the_camera_stay_missing(panoptic_rig):
    cam = panoptic_rig.cameras[0]
    pts = np.array([[np.nan, np.nan], [900.0, 500.0]])
    out = cam.undistort(pts)
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()
    behind = cam.center + 2.0 * (cam.R.T @ np.array([0, 0, -1.0]))
    assert np.isnan(cam.project(behind[None])).all()
    assert np.isnan(cam.project_ideal(behind[None])).all()


def test_fundamental_matrices_satisfy_the_epipolar_constraint(panoptic_rig):
    rig = panoptic_rig.subset(panoptic_rig.names[:6])
    F = fundamental_matrices(rig)
    X = np.random.default_rng(0).normal(0, 0.5, (20, 3)) + [0.0, -1.0, 0.0]
    x = np.stack([np.c_[c.project_ideal(X), np.ones(len(X))] for c in rig.cameras])  # [V, N, 3]
    residual = np.einsum("bni,abij,anj->abn", x, F, x)
    # |x_b^T F x_a| divided by the line norm is a pixel distance: tiny for exact points.
    norm = np.linalg.norm(np.einsum("abij,anj->abni", F, x)[..., :2], axis=-1)
    off = ~np.eye(len(rig), dtype=bool)
    assert np.abs(residual / np.where(norm > 0, norm, 1))[off].max() < 1e-6
    assert np.all(F[np.arange(6), np.arange(6)] == 0)


def test_panoptic_reader_units_and_ground_truth_projection(panoptic_rig, shared_data):
    assert len(panoptic_rig) == 31 and panoptic_rig.cameras[0].image_size == (1920, 1080)
    # HD cameras sit on the dome, a few metres from its centre (t was centimetres in the file).
    radius = np.linalg.norm([c.center for c in panoptic_rig.cameras], axis=1)
    assert 2.0 < radius.min() and radius.max() < 4.0
    _, joints, conf = load_panoptic_bodies(
        shared_data / "multiview/panoptic_160906_band1_gt3d/hdPose3d_stage1_coco19/body3DScene_00000168.json")
    assert joints.shape == (3, len(PANOPTIC_JOINTS19), 3)
    for person, c in zip(joints, conf):  # SOURCES.md: a person is in the image in 9-15 HD views
        inside = [cam.in_image(cam.project(person[c > 0.1])).all() for cam in panoptic_rig.cameras]
        assert 9 <= sum(inside) <= 18


def test_pose2sim_toml_reprojects_pose2sim_3d_onto_its_2d(pose2sim_rig, shared_data):
    assert pose2sim_rig.names == ("cam_01", "cam_02", "cam_03", "cam_04")
    assert pose2sim_rig.cameras[0].image_size == (1088, 1920)
    frames, theirs = load_pose2sim_trial(
        shared_data / "multiview/pose2sim_demo/S00_P00_T01_BalancingTrial", pose2sim_rig.names,
        tuple(c.image_size for c in pose2sim_rig.cameras))
    errors = []
    for cam in pose2sim_rig.cameras:
        det = frames[0][cam.name].body  # [D, 25, 3]
        d = np.linalg.norm(cam.project(theirs[0, 0])[None] - det[..., :2], axis=-1)
        errors.append(np.nanmin(np.nanmedian(d, axis=1)))
    assert np.median(errors) < 15.0  # SOURCES.md: about 10 px with the (Z, X, Y) axis mapping


def test_openpose_xml_example(shared_data):
    calib = load_calibration(shared_data / "calibration/openpose_flir/17012332.xml.example")
    (entry,) = calib.entries
    assert entry.name == "17012332"
    np.testing.assert_allclose(entry.R, np.eye(3))
    np.testing.assert_allclose(entry.t, 0.0)
    intr = entry.intrinsics
    assert intr.distortion_model == "rational_polynomial" and intr.dist.size == 8
    assert intr.K[0, 0] == pytest.approx(817.93481631740565) and intr.K[1, 2] == pytest.approx(517.84529566329593)
    assert intr.image_size is None  # OpenPose's XML does not say


def test_yaml_round_trip_and_pose_form(tmp_path, pose2sim_rig):
    calib = RigCalibration(tuple(CameraEntry(c.name, c.R, c.t, Intrinsics(c.K, c.dist, c.distortion_model,
                                                                           c.image_size), topic=f"/{c.name}/pose")
                                 for c in pose2sim_rig.cameras), "mocap")
    save_rig_yaml(calib, tmp_path / "rig.yaml")
    back = load_rig_yaml(tmp_path / "rig.yaml")
    assert back.world_frame == "mocap" and back.names == pose2sim_rig.names
    assert back.entries[1].topic == "/cam_02/pose"
    for a, b in zip(back.rig().cameras, pose2sim_rig.cameras):
        np.testing.assert_allclose(a.R, b.R, atol=1e-12)
        np.testing.assert_allclose(a.projection, b.projection, rtol=1e-12, atol=1e-9)
    # The same camera given as its optical frame's pose in the world (what TF shows).
    cam = pose2sim_rig.cameras[2]
    q = Rotation.from_matrix(cam.R.T).as_quat()  # x, y, z, w
    entry = rig_from_dict({"cameras": [{"name": "c", "position": cam.center.tolist(), "orientation": q.tolist()}]}).entries[0]
    np.testing.assert_allclose(entry.R, cam.R, atol=1e-9)
    np.testing.assert_allclose(entry.t, cam.t, atol=1e-9)


def test_intrinsics_from_camera_info():
    k = [500.0, 0, 320, 0, 500, 240, 0, 0, 1]
    intr = Intrinsics.from_camera_info(k, [0.1, 0.01, 0, 0, 0], "plumb_bob", 640, 480)
    assert intr.image_size == (640, 480) and intr.dist.size == 5
    assert Intrinsics.from_camera_info(k, [], "", 0, 0).image_size is None
    with pytest.raises(CalibrationError, match="not calibrated"):
        Intrinsics.from_camera_info([0.0] * 9, [], "plumb_bob", 640, 480)  # the all-zero CameraInfo
    with pytest.raises(CalibrationError, match="unsupported"):
        Intrinsics.from_camera_info(k, [0, 0, 0, 0], "kannala", 640, 480)
    with pytest.raises(CalibrationError, match="coefficients"):
        Intrinsics.from_camera_info(k, [0.1, 0.2, 0.3], "equidistant", 640, 480)


def test_unusable_calibrations_raise_calibration_error(tmp_path):
    good = {"name": "a", "rotation": [0, 0, 0], "translation": [0, 0, 1]}
    rig = rig_from_dict({"cameras": [good]})
    with pytest.raises(CalibrationError, match="no intrinsics"):
        rig.rig()  # extrinsics only: intrinsics must come from CameraInfo
    assert rig.rig({"a": Intrinsics(np.eye(3), [])}).cameras[0].name == "a"
    for bad in ({"name": "a", "rotation": [0, 0]}, {"name": "a", "translation": [0, 0, 1]},
                {**good, "rotation": [1, 0, 0, 0, 2, 0, 0, 0, 1]}, {**good, "translation": [0, np.nan, 1]},
                {**good, "K": [1, 0, 0, 0, 1, 0, 0, 0, 0]}):
        with pytest.raises(CalibrationError):
            rig_from_dict({"cameras": [bad]})
    with pytest.raises(CalibrationError, match="duplicate"):
        Rig(rig_from_dict({"cameras": [good]}).rig({"a": Intrinsics(np.eye(3), [])}).cameras * 2)
    (tmp_path / "bad.yaml").write_text("cameras: [\n")
    (tmp_path / "bad.toml").write_text("[cam]\nmatrix = 3\n")
    (tmp_path / "bad.xml").write_text("<opencv_storage><Intrinsics/></opencv_storage>")
    for name in ("bad.yaml", "bad.toml", "bad.xml", "missing.json", "x.txt"):
        with pytest.raises(CalibrationError):
            load_calibration(tmp_path / name)
    with pytest.raises(KeyError, match="unknown camera"):
        rig_from_dict({"cameras": [good]}).rig({"a": Intrinsics(np.eye(3), [])}).index("zz")
