"""Triangulation: exactness, weighting, view rejection, refinement, and real Panoptic geometry.

The Panoptic test projects the CMU Panoptic ground truth (3 people, frames 168 and 169) into 3, 5
and 10 of the real HD cameras (with their lens distortion), adds 2 px noise, drops 20% of the
joints, replaces one view per person with a wrong detection (left/right swapped, shifted 60-120
px), shuffles the people, then runs the full per-set reconstruction (association included) and
compares with plain unweighted DLT given the true association. Two seeds per frame keep it short.
"""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.layouts import BODY_25
from openpose_ros.threed.calibration_io import load_calibration
from openpose_ros.threed.cameras import fundamental_matrices
from openpose_ros.evaluation.datasets import PANOPTIC_JOINTS19, load_panoptic_bodies, to_layout
from openpose_ros.evaluation.multiview import mpjpe_mm, spread_cameras, synthetic_views
from openpose_ros.threed.reconstruct import Reconstructor
from openpose_ros.threed.triangulate import (
    TriangulationConfig,
    triangulate_plain_dlt,
    triangulate_points,
    weighted_dlt,
)

PANOPTIC = "multiview/panoptic_160906_band1_gt3d"


@pytest.fixture(scope="module")
def panoptic(shared_data):
    rig = load_calibration(shared_data / PANOPTIC / "calibration_160906_band1.json").rig()
    truths = []
    for frame in (168, 169):
        _, joints, conf = load_panoptic_bodies(
            shared_data / PANOPTIC / f"hdPose3d_stage1_coco19/body3DScene_{frame:08d}.json")
        joints = np.where((conf > 0.1)[..., None], joints, np.nan)
        truths.append(to_layout(joints, PANOPTIC_JOINTS19))  # [3, 25, 3], feet missing
    return rig, truths


def _scene(panoptic, count=6, n=40, seed=0):
    rig, truths = panoptic
    names = spread_cameras(rig, truths[0], count)
    rig = rig.subset(names)
    X = np.random.default_rng(seed).normal(0, 0.4, (n, 3)) + np.nanmean(truths[0].reshape(-1, 3), axis=0)
    pts = np.stack([c.project_ideal(X) for c in rig.cameras], axis=1)  # [n, V, 2]
    return rig, X, pts


def test_exact_points_are_recovered_exactly(panoptic):
    rig, X, pts = _scene(panoptic)
    scores = np.random.default_rng(1).uniform(0.4, 1.0, pts.shape[:2])
    for config in (TriangulationConfig(refine=False), TriangulationConfig(), TriangulationConfig(refine_solver="scipy")):
        res = triangulate_points(rig.projections, pts, scores, config)
        np.testing.assert_allclose(res.points, X, atol=1e-6)
        assert res.used.all() and np.all(res.error < 1e-3)
    np.testing.assert_allclose(triangulate_plain_dlt(rig.projections, pts), X, atol=1e-6)


def test_confidence_weighting_follows_the_reliable_views(panoptic):
    rig, X, pts = _scene(panoptic, count=4, n=200)
    rng = np.random.default_rng(2)
    noisy = pts.copy()
    noisy[:, :2] += rng.normal(0, 8.0, noisy[:, :2].shape)  # two poor views, low confidence
    noisy[:, 2:] += rng.normal(0, 1.0, noisy[:, 2:].shape)
    scores = np.tile([0.35, 0.35, 1.0, 1.0], (len(X), 1))
    weighted, _ = weighted_dlt(rig.projections, noisy, scores)
    plain = triangulate_plain_dlt(rig.projections, noisy)
    err_w = np.linalg.norm(weighted - X, axis=1).mean()
    err_p = np.linalg.norm(plain - X, axis=1).mean()
    assert err_w < 0.8 * err_p


def test_outlier_view_is_rejected_and_reported(panoptic):
    rig, X, pts = _scene(panoptic, count=5, n=60)
    rng = np.random.default_rng(3)
    noisy = pts + rng.normal(0, 1.0, pts.shape)
    bad = rng.integers(0, 5, len(X))
    noisy[np.arange(len(X)), bad] += rng.choice([-1, 1], (len(X), 2)) * rng.uniform(40, 150, (len(X), 2))
    res = triangulate_points(rig.projections, noisy, np.ones(pts.shape[:2]))
    assert not res.used[np.arange(len(X)), bad].any()
    assert (res.used.sum(axis=1) == 4).all()
    assert np.linalg.norm(res.points - X, axis=1).max() < 0.01
    assert np.nanmax(res.error) < 3.0
    plain = triangulate_plain_dlt(rig.projections, noisy)
    assert np.linalg.norm(plain - X, axis=1).mean() > 0.02


def test_joints_without_two_good_views_stay_missing(panoptic):
    rig, X, pts = _scene(panoptic, count=3, n=6)
    scores = np.ones(pts.shape[:2])
    pts = pts.copy()
    pts[0, 1:] = np.nan  # one view only
    scores[1, 1:] = 0.1  # two views below min_score
    pts[2, 0] += 80.0  # two of three views... then the third disagrees: two remain
    pts[3, 2] = np.nan  # two views that disagree (80 px off the epipolar line): no majority
    line = fundamental_matrices(rig)[1, 0] @ np.r_[pts[3, 1], 1.0]
    pts[3, 0] += 80.0 * line[:2] / np.linalg.norm(line[:2])
    res = triangulate_points(rig.projections, pts, scores)
    assert np.isnan(res.points[[0, 1, 3]]).all() and (res.used[[0, 1, 3]].sum(axis=1) == 0).all()
    assert np.isnan(res.error[[0, 1, 3]]).all() and (res.score[[0, 1, 3]] == 0).all()
    assert res.used[2].tolist() == [False, True, True]
    np.testing.assert_allclose(res.points[[2, 4, 5]], X[[2, 4, 5]], atol=1e-5)
    assert np.isnan(triangulate_plain_dlt(rig.projections, pts)[0]).all()


def test_scipy_and_batched_refinement_agree_on_gaussian_noise(panoptic):
    rig, X, pts = _scene(panoptic, count=6, n=80)
    noisy = pts + np.random.default_rng(4).normal(0, 1.0, pts.shape)  # inside the Huber quadratic zone
    scores = np.ones(pts.shape[:2])
    a = triangulate_points(rig.projections, noisy, scores, TriangulationConfig(huber_delta_px=10.0))
    b = triangulate_points(rig.projections, noisy, scores,
                           TriangulationConfig(huber_delta_px=10.0, refine_solver="scipy"))
    np.testing.assert_allclose(a.points, b.points, atol=2e-5)
    lin = triangulate_points(rig.projections, noisy, scores, TriangulationConfig(refine=False))
    assert a.error.mean() <= lin.error.mean() + 1e-9  # refinement never makes the fit worse


@pytest.mark.parametrize("num_cameras,bound_mm", [(3, 15.0), (5, 15.0), (10, 15.0)])
def test_panoptic_mpjpe_with_noise_drops_and_wrong_detections(panoptic, num_cameras, bound_mm):
    """Bound: 2 px of noise is about 4 mm at the people (f = 1630 px, 3 m away), so a clean
    multi-view fit lands around 3-7 mm; 15 mm is well under the plain DLT (70-180 mm here) and
    leaves room for seeds, while a single wrong view slipping through would cost 30 mm or more."""
    rig, truths = panoptic
    rig = rig.subset(spread_cameras(rig, truths[0], num_cameras))
    rec = Reconstructor(rig)
    for t, truth in enumerate(truths):
        for seed in range(2):
            views, order = synthetic_views(rig, BODY_25, truth, np.random.default_rng(100 * t + seed))
            out = rec.reconstruct(views)
            assert len(out.people) == 3
            ours, found = mpjpe_mm(out.people.body.astype(np.float64), truth)
            # Joints seen by at least two correct views are the most anyone can recover.
            pts = np.full((3, num_cameras, BODY_25.num_parts, 2), np.nan)
            for v, cam in enumerate(rig.cameras):
                pts[order[cam.name], v] = cam.undistort(views[cam.name].body[..., :2])
            truth_px = np.stack([cam.project_ideal(truth) for cam in rig.cameras], axis=1)
            possible = (np.linalg.norm(pts - truth_px, axis=-1) < 20).sum(axis=1) >= 2
            assert found >= possible.sum() / np.isfinite(truth[..., 0]).sum() - 0.05
            assert ours <= bound_mm
            flat = pts.transpose(0, 2, 1, 3).reshape(-1, num_cameras, 2)
            plain, _ = mpjpe_mm(triangulate_plain_dlt(rig.projections, flat).reshape(truth.shape), truth)
            assert plain > 3 * ours
            # Every reconstructed joint reports its views and a small reprojection error.
            valid = out.people.valid
            assert (out.people.views[valid] >= 2).all() and np.nanmax(out.people.reproj_error) < 15
