"""Per-set reconstruction with bad input: unknown cameras, layout and size mismatches, NaN
keypoints, too few views. Each is skipped with a reason; nothing wrong is returned, nothing raises.
Uses 4 real Panoptic cameras and the Panoptic ground truth (no noise, no corruption).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from openpose_ros.layouts import BODY_25, COCO_18
from openpose_ros.people import People
from openpose_ros.threed.calibration_io import load_calibration
from openpose_ros.evaluation.datasets import PANOPTIC_JOINTS19, load_panoptic_bodies, to_layout
from openpose_ros.evaluation.multiview import mpjpe_mm, spread_cameras, synthetic_views
from openpose_ros.threed.reconstruct import ReconstructionConfig, Reconstructor
from openpose_ros.threed.result import People3D

PANOPTIC = "multiview/panoptic_160906_band1_gt3d"


@pytest.fixture(scope="module")
def scene(shared_data):
    rig = load_calibration(shared_data / PANOPTIC / "calibration_160906_band1.json").rig()
    _, joints, conf = load_panoptic_bodies(shared_data / PANOPTIC / "hdPose3d_stage1_coco19/body3DScene_00000168.json")
    truth = to_layout(np.where((conf > 0.1)[..., None], joints, np.nan), PANOPTIC_JOINTS19)
    rig = rig.subset(spread_cameras(rig, truth, 4))
    views, _ = synthetic_views(rig, BODY_25, truth, np.random.default_rng(0), noise_px=0.5, drop=0.0,
                               corrupt=False)
    return rig, truth, views


def test_clean_views_reconstruct_everyone(scene):
    rig, truth, views = scene
    out = Reconstructor(rig).reconstruct(views)
    assert out.skipped == {} and out.views_used == rig.names
    assert len(out.people) == 3 and isinstance(out.people, People3D)
    err, found = mpjpe_mm(out.people.body.astype(float), truth)
    assert err < 3.0 and found > 0.95
    assert (out.people.track_ids == -1).all()
    assert ((out.sources >= 0).sum(axis=1) == 4).all()


def test_unknown_camera_is_skipped_with_a_reason(scene):
    rig, truth, views = scene
    out = Reconstructor(rig).reconstruct({**views, "cam_nowhere": views[rig.names[0]]})
    assert "unknown camera 'cam_nowhere'" in out.skipped["cam_nowhere"]
    assert len(out.people) == 3


def test_layout_mismatch_is_skipped(scene):
    rig, truth, views = scene
    odd = rig.names[1]
    coco = People(COCO_18, views[odd].image_size, np.zeros((1, COCO_18.num_parts, 3)), [1.0])
    out = Reconstructor(rig).reconstruct({**views, odd: coco})
    assert "layout COCO_18 differs from the set's BODY_25" in out.skipped[odd]
    assert odd not in out.views_used and len(out.people) == 3
    # A configured layout wins even over a majority.
    cfg = ReconstructionConfig(layout=COCO_18)
    out = Reconstructor(rig, cfg).reconstruct(views)
    assert len(out.skipped) == 4 and len(out.people) == 0 and out.people.layout is COCO_18


def test_image_size_contradicting_the_calibration_is_skipped(scene):
    rig, truth, views = scene
    name = rig.names[2]
    # 1000 x 600 is neither codec padding nor an integer fraction of 1920 x 1080 (those are
    # accepted: test_threed_image_geometry.py).
    out = Reconstructor(rig).reconstruct({**views, name: replace(views[name], image_size=(1000, 600))})
    assert "image size (1000, 600)" in out.skipped[name]
    unknown = Reconstructor(rig).reconstruct({**views, name: replace(views[name], image_size=(0, 0))})
    assert name not in unknown.skipped  # 0 x 0 means "not known": no check


def test_nan_keypoints_are_missing_not_poison(scene):
    rig, truth, views = scene
    poisoned = {}
    for k, (name, people) in enumerate(views.items()):
        body = people.body.copy()
        body[:, k::4, :2] = np.nan  # NaN coordinates with a positive score
        body[:, 1, 2] = np.nan  # a NaN score
        poisoned[name] = replace(people, body=body)
    out = Reconstructor(rig).reconstruct(poisoned)
    assert len(out.people) == 3
    valid = out.people.valid
    assert np.isfinite(out.people.body[valid]).all() and np.isnan(out.people.body[~valid]).all()
    assert np.isfinite(out.people.reproj_error[valid]).all() and (out.people.scores[~valid] == 0).all()
    err, _ = mpjpe_mm(out.people.body.astype(float), truth)
    assert err < 3.0


def test_fewer_than_two_views_give_an_empty_result(scene):
    rig, truth, views = scene
    one = {rig.names[0]: views[rig.names[0]]}
    out = Reconstructor(rig).reconstruct(one)
    assert len(out.people) == 0 and out.people.layout is BODY_25
    assert len(Reconstructor(rig).reconstruct({}).people) == 0
    empty = {n: People.empty(BODY_25, v.image_size) for n, v in views.items()}
    assert len(Reconstructor(rig).reconstruct(empty).people) == 0
