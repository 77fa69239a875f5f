"""Cross-view association and the per-set reconstruction on crowds of 1 to 10 people.

Crowds are built from the CMU Panoptic ground-truth poses (3 people), copied and moved to random
non-overlapping places on the floor, and seen by 8 real Panoptic HD cameras, so some people fall
outside some views. Detections are synthetic (``evaluation.multiview.synthetic_views``).
"""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.layouts import BODY_25
from openpose_ros.threed.associate import AssociationConfig, associate, epipolar_costs
from openpose_ros.threed.calibration_io import load_calibration
from openpose_ros.threed.cameras import fundamental_matrices
from openpose_ros.evaluation.datasets import PANOPTIC_JOINTS19, load_panoptic_bodies, to_layout
from openpose_ros.evaluation.multiview import (crowd_on_floor, mpjpe_mm, spread_cameras,
                                            synthetic_views)
from openpose_ros.threed.reconstruct import Reconstructor

PANOPTIC = "multiview/panoptic_160906_band1_gt3d"


@pytest.fixture(scope="module")
def panoptic(shared_data):
    rig = load_calibration(shared_data / PANOPTIC / "calibration_160906_band1.json").rig()
    _, joints, conf = load_panoptic_bodies(shared_data / PANOPTIC / "hdPose3d_stage1_coco19/body3DScene_00000168.json")
    return rig, to_layout(np.where((conf > 0.1)[..., None], joints, np.nan), PANOPTIC_JOINTS19)


def _truth_of(order, names, sources):
    """Ground-truth ids behind each hypothesis' 2D people."""
    return [{int(order[names[v]][i]) for v, i in enumerate(row) if i >= 0} for row in sources]


@pytest.mark.parametrize("num_people", [1, 3, 6, 10])
def test_association_is_pure_and_complete(panoptic, num_people):
    rig, poses = panoptic
    rng = np.random.default_rng(num_people)
    people = crowd_on_floor(poses, num_people, rng)
    rig = rig.subset(spread_cameras(rig, people, 8, min_visible=0.5))
    views, order = synthetic_views(rig, BODY_25, people, rng, corrupt=False)
    pts = [c.undistort(views[c.name].body[..., :2]) for c in rig.cameras]
    scores = [views[c.name].body[..., 2].astype(float) for c in rig.cameras]
    sources = associate(fundamental_matrices(rig), pts, scores)
    ids = _truth_of(order, rig.names, sources)
    assert all(len(s) == 1 for s in ids)  # one real person per hypothesis
    assert sorted(i for s in ids for i in s) == list(range(num_people))  # everyone, once
    # Each hypothesis uses every view that shows its person with enough joints to compare
    # (all views are clean here); a person cut by the image border to 1-2 joints can't be placed.
    enough = AssociationConfig().min_common_joints
    for row, s in zip(sources, ids):
        (pid,) = s
        shown = [(views[n].body[order[n] == pid, :, 2] > 0).sum() for n in rig.names]
        assert ((row >= 0) == (np.array(shown) >= enough)).all()


@pytest.mark.parametrize("num_people", [1, 5, 10])
def test_reconstruction_of_crowds_with_wrong_detections(panoptic, num_people):
    rig, poses = panoptic
    rng = np.random.default_rng(20 + num_people)
    people = crowd_on_floor(poses, num_people, rng)
    rig = rig.subset(spread_cameras(rig, people, 8, min_visible=0.5))
    out = Reconstructor(rig).reconstruct(synthetic_views(rig, BODY_25, people, rng)[0])
    assert num_people <= len(out.people) <= num_people + 1  # at most one ghost from two wrong views
    err, found = mpjpe_mm(out.people.body.astype(float), people)
    assert err < 10.0 and found > 0.9


def test_epipolar_costs_separate_people_and_respect_views(panoptic):
    rig, poses = panoptic
    rig = rig.subset(spread_cameras(rig, poses, 3))
    views, order = synthetic_views(rig, BODY_25, poses, np.random.default_rng(0), noise_px=1.0,
                                   drop=0.0, corrupt=False)
    pts = np.concatenate([c.undistort(views[c.name].body[..., :2]) for c in rig.cameras])
    scores = np.concatenate([views[c.name].body[..., 2] for c in rig.cameras]).astype(float)
    view = np.repeat(np.arange(3), [len(views[n]) for n in rig.names])
    ident = np.concatenate([order[n] for n in rig.names])
    cost = epipolar_costs(fundamental_matrices(rig), pts, scores, view)
    same = (ident[:, None] == ident[None]) & (view[:, None] != view[None])
    assert np.isinf(cost[view[:, None] == view[None]]).all()
    assert cost[same].max() < 5.0 and cost[~same & np.isfinite(cost)].min() > 25.0
    np.testing.assert_allclose(cost, cost.T)
    # Too few shared joints: no comparison.
    sparse = scores.copy()
    sparse[:, 2:] = 0.0
    assert np.isinf(epipolar_costs(fundamental_matrices(rig), pts, sparse, view,
                                   AssociationConfig(min_common_joints=3))).all()


def test_no_people_or_single_view_people_give_no_hypothesis(panoptic):
    rig, poses = panoptic
    rig = rig.subset(spread_cameras(rig, poses, 3))
    F = fundamental_matrices(rig)
    empty = [np.zeros((0, 25, 2))] * 3
    assert associate(F, empty, [np.zeros((0, 25))] * 3).shape == (0, 3)
    one = [np.zeros((0, 25, 2)), rig.cameras[1].project_ideal(poses[:1]), np.zeros((0, 25, 2))]
    assert associate(F, one, [np.zeros((0, 25)), np.ones((1, 25)), np.zeros((0, 25))]).shape == (0, 3)
