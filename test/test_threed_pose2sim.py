"""Real 2D detections: Pose2Sim's demo (4 calibrated cameras, OpenPose BODY_25B JSON per frame,
and Pose2Sim's own triangulated .trc). Every frame of the balancing trial (1 person) and of the
two-person trial is reconstructed and compared with Pose2Sim's 3D:

- mean 3D distance over the joints both reconstruct (people matched one to one per frame);
- reprojection error against the detections, measured the same way for both 3D results: per
  joint, the mean over the views Pose2Sim's rule keeps (drop the worst camera while the mean
  exceeds its 15 px threshold, at least 2 views; ``evaluation.multiview.kept_view_error``).
"""

from __future__ import annotations

import numpy as np
import pytest

from openpose_ros.threed.calibration_io import load_calibration
from openpose_ros.evaluation.datasets import load_pose2sim_trial
from openpose_ros.evaluation.multiview import detection_errors, kept_view_error, match_people
from openpose_ros.threed.reconstruct import Reconstructor

TRIALS = ("S00_P00_T01_BalancingTrial", "S00_P01_T02_Participants1-2")


def compare_with_pose2sim(rig, frames, theirs):
    """(mean 3D distance mm, our error px, their error px, share of their people we found)."""
    rec = Reconstructor(rig)
    dist, ours_px, theirs_px, found = [], [], [], 0
    for f in sorted(frames):
        ours = rec.reconstruct(frames[f]).people.body.astype(np.float64)
        rows, cols = match_people(ours, theirs[f])
        for i, j in zip(rows, cols):
            both = np.isfinite(ours[i, :, 0]) & np.isfinite(theirs[f, j, :, 0])
            d = np.linalg.norm(ours[i] - theirs[f, j], axis=-1)[both]
            if not d.size or d.mean() > 0.3:  # not the same person
                continue
            found += 1
            dist.append(d)
            ours_px.append(kept_view_error(detection_errors(rig, frames[f], ours[i:i + 1])[0][both]))
            theirs_px.append(kept_view_error(detection_errors(rig, frames[f], theirs[f, j:j + 1])[0][both]))
    return (float(np.concatenate(dist).mean() * 1000), float(np.nanmean(np.concatenate(ours_px))),
            float(np.nanmean(np.concatenate(theirs_px))), found / (theirs.shape[0] * theirs.shape[1]))


@pytest.mark.parametrize("trial", TRIALS)
def test_pose2sim_trial(shared_data, trial):
    root = shared_data / "multiview/pose2sim_demo"
    rig = load_calibration(root / "calibration/Calib_qualisys.toml").rig()
    frames, theirs = load_pose2sim_trial(root / trial, rig.names, tuple(c.image_size for c in rig.cameras))
    assert len(frames) == 100 and theirs.shape[:2] == (100, 1 if "Balancing" in trial else 2)
    dist_mm, ours_px, theirs_px, found = compare_with_pose2sim(rig, frames, theirs)
    print(f"{trial}: 3D distance {dist_mm:.1f} mm, reprojection ours {ours_px:.2f} px, "
          f"Pose2Sim {theirs_px:.2f} px, found {found:.0%}")
    assert found >= 0.95
    # Same detections, same cameras, different robust choices (Pose2Sim: plain weighted DLT,
    # 15 px camera exclusion, cubic gap filling; here Huber refinement): a few centimetres apart.
    assert dist_mm < 40.0
    assert ours_px <= theirs_px
