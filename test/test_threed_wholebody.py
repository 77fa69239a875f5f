"""Hands and faces in 3D on ground truth: the CMU Panoptic calibration and 3D bodies, with
synthetic hands and faces placed on them (``evaluation.multiview.synthetic_parts``; no hand or
face weights are needed), detected in 5 real HD cameras with pixel noise, dropped joints and one
wrong detection per person (its hands swapped), people shuffled per view. The body's
association must carry each person's hands and face; their 3D error is bounded.
"""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.evaluation.datasets import PANOPTIC_JOINTS19, load_panoptic_bodies, to_layout
from openpose_ros.evaluation.multiview import match_people, spread_cameras, synthetic_parts, synthetic_views
from openpose_ros.layouts import BODY_25, FACE_70, HAND_21
from openpose_ros.threed.calibration_io import load_calibration
from openpose_ros.threed.reconstruct import Reconstructor
from openpose_ros.threed.tracking import Tracker3D

PANOPTIC = "multiview/panoptic_160906_band1_gt3d"


@pytest.fixture(scope="module")
def scene(shared_data):
    rig = load_calibration(shared_data / PANOPTIC / "calibration_160906_band1.json").rig()
    _, joints, conf = load_panoptic_bodies(shared_data / PANOPTIC / "hdPose3d_stage1_coco19/body3DScene_00000168.json")
    truth = to_layout(np.where((conf > 0.1)[..., None], joints, np.nan), PANOPTIC_JOINTS19)
    rng = np.random.default_rng(7)
    parts = synthetic_parts(truth, BODY_25, rng)
    rig = rig.subset(spread_cameras(rig, truth, 5))
    return rig, truth, parts, rng


def _errors_mm(estimate: np.ndarray, truth: np.ndarray, rows, cols) -> tuple[np.ndarray, float]:
    d = np.concatenate([np.linalg.norm(estimate[r] - truth[c], axis=-1) for r, c in zip(rows, cols)])
    return d[np.isfinite(d)] * 1000.0, float(np.isfinite(d).mean())


def test_hands_and_faces_follow_their_body(scene):
    rig, truth, parts, rng = scene
    views, _ = synthetic_views(rig, BODY_25, truth, rng, noise_px=1.5, drop=0.1, parts=parts)
    out = Reconstructor(rig).reconstruct(views)
    people = out.people
    assert len(people) == len(truth) == 3
    assert set(people.parts()) == {"left_hand", "right_hand", "face"}
    assert people.left_hand.layout is HAND_21 and people.face.layout is FACE_70
    rows, cols = match_people(people.body.astype(float), truth)  # people matched by body only
    body_mm, _ = _errors_mm(people.body, truth, rows, cols)
    for name in ("left_hand", "right_hand", "face"):
        err, found = _errors_mm(getattr(people, name).body, parts[name], rows, cols)
        print(f"{name}: {np.mean(err):.1f} mm mean, {np.max(err):.1f} mm max, {found:.0%} found "
              f"(body {np.mean(body_mm):.1f} mm)")
        assert found >= 0.8
        # 1.5 px noise at ~3 m in ~1400 px cameras: a few millimetres; a hand of the wrong
        # person or side would be 0.2-2 m off.
        assert np.mean(err) < 15.0 and np.max(err) < 60.0
        part = getattr(people, name)
        assert (part.views[part.valid] >= 2).all() and np.isfinite(part.reproj_error[part.valid]).all()


def test_parts_keep_the_track_id_and_views_without_parts_count_as_missing(scene):
    rig, truth, parts, rng = scene
    views, _ = synthetic_views(rig, BODY_25, truth, rng, noise_px=1.0, drop=0.0, corrupt=False,
                               parts={"left_hand": parts["left_hand"]})
    first = rig.names[0]
    views[first] = views[first].take(np.arange(len(views[first])))  # a copy ...
    views[first].left_hand = np.zeros((len(views[first]), 0, 3), np.float32)  # ... without hands
    people = Tracker3D().update(Reconstructor(rig).reconstruct(views).people, 0.0).people
    assert set(people.parts()) == {"left_hand"}
    assert np.array_equal(people.left_hand.track_ids, people.track_ids)
    assert (people.track_ids >= 0).all()
    hand = people.left_hand
    assert hand.valid.any() and (hand.views[hand.valid] <= len(rig) - 1).all()


def test_body_only_input_gives_no_parts(scene):
    rig, truth, _, rng = scene
    views, _ = synthetic_views(rig, BODY_25, truth, rng, noise_px=1.0, drop=0.0, corrupt=False)
    assert Reconstructor(rig).reconstruct(views).people.parts() == {}
