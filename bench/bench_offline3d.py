"""``openpose-ros-3d`` on the whole Pose2Sim balancing trial (4 calibrated videos, 100 frames at
60 fps, one person; cam01/cam02 decode 1080 wide against a 1088-wide calibration) with the
lightweight detector, as ``make demo3d`` runs it, compared with Pose2Sim's own results:

- ``offline3d_pose2sim_found_fraction``: share of frames whose .trc row has the person
  (goal >= 0.99; before image sizes were fitted to the calibration it was 0.57);
- ``offline3d_pose2sim_distance_mm``: mean distance to Pose2Sim's unfiltered 3D over the 14
  joints both name (a different 2D detector, so this measures agreement, not error);
- ``offline3d_pose2sim_reprojection_px``: mean reprojection error of our 3D onto Pose2Sim's own
  OpenPose BODY_25B 2D detections (``evaluation.multiview.kept_view_error``'s view selection).

Usage: ``python bench/bench_offline3d.py [--net-resolution=-1x368] [--max-frames N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_common import bench_line  # noqa: E402

from openpose_ros.cli3d import main as offline3d  # noqa: E402
from openpose_ros.evaluation.datasets import load_pose2sim_trial, load_trc  # noqa: E402
from openpose_ros.evaluation.multiview import agreement_with_reference  # noqa: E402
from openpose_ros.layouts import BODY_25  # noqa: E402
from openpose_ros.threed.calibration_io import load_calibration  # noqa: E402

SHARED = Path(os.environ.get("OPENPOSE_ROS_SHARED", REPO.parent / "shared")) / "data"
ROOT = SHARED / "multiview" / "pose2sim_demo"
TRIAL = "S00_P00_T01_BalancingTrial"
IR = SHARED / "models" / "intel_human_pose_estimation_0001_FP16-INT8"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net-resolution", default="-1x368")
    parser.add_argument("--max-frames", type=int, default=0)
    args = parser.parse_args()
    if not (ROOT / TRIAL).is_dir() or not IR.is_dir():
        print(f"bench_offline3d: needs {ROOT / TRIAL} and {IR} (set OPENPOSE_ROS_SHARED); skipped")
        return 0
    calibration = ROOT / "calibration" / "Calib_qualisys.toml"
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "models" / "intel" / "human-pose-estimation-0001" / "FP16-INT8"
        models.mkdir(parents=True)
        for f in IR.iterdir():
            (models / f.name).symlink_to(f)
        out = Path(tmp) / "out"
        start = time.monotonic()
        code = offline3d(["--calibration", str(calibration), "--output", str(out),
                          "--videos", *[str(ROOT / TRIAL / "videos" / f"cam0{k}.mp4") for k in range(1, 5)],
                          "--model", "LIGHTWEIGHT_COCO_18", f"--net-resolution={args.net_resolution}",
                          "--device", "cpu", "--models-dir", str(models.parents[2]), "--no-download",
                          "--max-frames", str(args.max_frames)])
        seconds = time.monotonic() - start
        if code != 0:
            print("bench_offline3d: openpose-ros-3d failed")
            return 1
        names, ours = load_trc(out / f"{TRIAL}.trc")
    rig = load_calibration(calibration).rig()
    views, theirs = load_pose2sim_trial(ROOT / TRIAL, rig.names, tuple(c.image_size for c in rig.cameras))
    found, dist_mm, reproj_px = agreement_with_reference(rig, names, ours, views,
                                                         theirs[:len(ours), 0], BODY_25)
    print(f"{len(ours)} frame sets in {seconds:.0f} s at {args.net_resolution} (2D detection dominates)")
    print(bench_line("offline3d_pose2sim_found_fraction", found, ">=0.99"))
    print(bench_line("offline3d_pose2sim_distance_mm", dist_mm))
    print(bench_line("offline3d_pose2sim_reprojection_px", reproj_px))
    return 0


if __name__ == "__main__":
    sys.exit(main())
