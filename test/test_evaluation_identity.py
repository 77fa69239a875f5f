"""Identity counts (ID switches, fragments) and the 2D tracker on real detections: Pose2Sim's
two-person trial, each person's identity from Pose2Sim's 3D projected into the camera."""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.evaluation.identity import (UNSEEN, UNTRACKED, identity_counts,
                                              multiview_identity_counts, nearest_people,
                                              track_of_truth)
from openpose_ros.tracking2d import Tracker2D

U, S = UNTRACKED, UNSEEN


def test_switches_and_fragments_by_hand():
    assigned = np.array([
        # person 0: tracked as 4, missed by the detector (not a fragment), 4 again, then 7
        # (a switch); person 1: untracked until confirmed, then interrupted while detected
        # (a fragment) and back on its id
        [U, U], [4, U], [S, 5], [4, 5], [7, U], [7, 5],
    ])
    counts = identity_counts(assigned)
    assert counts.switches == 1 and counts.fragments == 1
    assert counts.ids == ((4, 7), (5,))
    assert counts.tracked == (4, 3) and counts.seen == (5, 6)
    assert identity_counts(np.zeros((0, 2), int)).switches == 0


def test_nearest_people_is_one_to_one_and_gated():
    truth = np.array([[[0.0, 0.0], [10.0, 0.0]], [[100.0, 0.0], [110.0, 0.0]],
                      [[900.0, 0.0], [910.0, 0.0]]])
    body = np.concatenate([truth[[1, 0]] + 3.0, np.ones((2, 2, 1))], axis=-1)
    assert list(nearest_people(truth, body, gate_px=50.0)) == [1, 0, -1]
    ids = np.array([8, -1])
    assert list(track_of_truth(truth, body, ids, gate_px=50.0)) == [U, 8, S]
    assert list(track_of_truth(truth, body[:0], ids[:0])) == [S, S, S]


class _DetectorOrder:
    """Ids = the detector's person order: what the counts must catch as switches."""

    def update(self, people, stamp_s):
        people.track_ids = np.arange(len(people), dtype=np.int32)
        return type("Out", (), {"people": people})


def test_pose2sim_two_people_keep_their_ids(shared_data):
    from openpose_ros.evaluation.datasets import load_pose2sim_trial
    from openpose_ros.threed.calibration_io import load_calibration

    root = shared_data / "multiview/pose2sim_demo"
    rig = load_calibration(root / "calibration/Calib_qualisys.toml").rig()
    frames, truth = load_pose2sim_trial(root / "S00_P01_T02_Participants1-2", rig.names,
                                        tuple(c.image_size for c in rig.cameras))
    cameras = rig.names[:2]
    counts = multiview_identity_counts(rig, frames, truth, Tracker2D, fps=60.0, cameras=cameras)
    for name, c in counts.items():
        print(name, c)
        assert c.switches == 0 and c.fragments == 0
        assert all(len(ids) == 1 for ids in c.ids) and c.ids[0] != c.ids[1]
        assert all(t >= 0.95 * s for t, s in zip(c.tracked, c.seen)) and min(c.seen) >= 90
    untracked = multiview_identity_counts(rig, frames, truth, _DetectorOrder, fps=60.0,
                                          cameras=cameras)
    assert all(c.switches > 10 for c in untracked.values())
