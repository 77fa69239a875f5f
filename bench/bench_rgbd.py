"""One RGB-D camera -> 3D: accuracy on rendered ground truth, and the node path's cost per frame.

Frames come from ``openpose_ros.evaluation.rgbd_synthetic``: real 3D poses (CMU Panoptic band1
bodies and Pose2Sim's trajectories) as capsules, 1-5 m from a 640x480 camera with lens
distortion, a floor and a wall; depth noise sigma 0.002 z^2, 10 % missing pixels, mixed pixels
at depth edges; 2D keypoints = projections + 2 px noise, and a keypoint within two noise sigmas of
its silhouette's edge falls 1-3 px past it with probability 0.5 (8 % of the joints). Two people
per frame, side by side, 160 frames (``BENCH_RGBD_FRAMES``): the mean moves by some tenths of a
millimetre between seeds, more over fewer frames. The robust estimator and the single-pixel
lookup (no offset, no consistency check) run on the same frames. Errors are over the joints the
camera sees (``visible``: their own body part is what the depth shows at their projection).

Lines: ``rgbd_mpjpe_mm`` (goal <= 30), ``rgbd_mpjpe_single_pixel_mm`` (measured),
``rgbd_background_snaps`` (joints placed >= 0.3 m behind the truth; goal <= 0), the share of
visible 2D joints each method places, and ``rgbd_node_ms_5people_640x480`` (goal <= 5): the
node's per-frame core work, median over frames: the 16UC1 message bytes checked, the all-invalid
test, the estimator (converting only the pixels it reads) for five
BODY_25 people, ids and One-Euro smoothing.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_common import bench_line  # noqa: E402

from openpose_ros.depth_codec import depth_image  # noqa: E402
from openpose_ros.evaluation.rgbd_synthetic import pose_library, synthetic_frame  # noqa: E402
from openpose_ros.rgbd import DepthGeometry, RgbdConfig, RgbdEstimator, RgbdIdentity  # noqa: E402
from openpose_ros.threed.smoothing import OneEuroConfig  # noqa: E402

SHARED = Path(os.environ.get("OPENPOSE_ROS_SHARED", REPO.parent / "shared")) / "data"
FRAMES = int(os.environ.get("BENCH_RGBD_FRAMES", 160))


def accuracy(poses) -> None:
    rng = np.random.default_rng(2026)
    err = {"window": [], "single_pixel": []}
    snaps = dict.fromkeys(err, 0)
    placed = dict.fromkeys(err, 0)
    visible_2d = 0
    for _ in range(FRAMES):
        frame = synthetic_frame(poses, rng, num_people=2)
        has_2d = frame.visible & (frame.people.body[..., 2] > 0)
        visible_2d += int(has_2d.sum())
        for method in err:
            est = RgbdEstimator(DepthGeometry(frame.camera), RgbdConfig(method=method))
            result = est.estimate(frame.people, frame.depth)
            full = np.full(frame.truth.shape, np.nan)
            full[result.kept] = result.people.body
            d = np.linalg.norm(full - frame.truth, axis=-1)
            ok = has_2d & np.isfinite(d)
            err[method] += list(d[ok])
            placed[method] += int(ok.sum())
            snaps[method] += int(((full[..., 2] - frame.truth[..., 2])[ok] >= 0.3).sum())
    ours, single = (1000 * float(np.mean(err[m])) for m in ("window", "single_pixel"))
    print(bench_line("rgbd_mpjpe_mm", ours, "<=30", digits=3))
    print(bench_line("rgbd_mpjpe_single_pixel_mm", single, digits=3))
    print(bench_line("rgbd_background_snaps", snaps["window"], "<=0"))
    print(bench_line("rgbd_background_snaps_single_pixel", snaps["single_pixel"]))
    print(bench_line("rgbd_median_error_mm", 1000 * float(np.median(err["window"])), digits=3))
    print(bench_line("rgbd_joints_placed", placed["window"] / visible_2d, digits=3))
    print(bench_line("rgbd_joints_placed_single_pixel", placed["single_pixel"] / visible_2d, digits=3))


def node_cost(poses) -> None:
    rng = np.random.default_rng(7)
    frames = [synthetic_frame(poses, rng, num_people=5, distance=(1.5, 5.0)) for _ in range(6)]
    raw = [(np.nan_to_num(f.depth * 1000.0, nan=0.0)).astype(np.uint16).tobytes() for f in frames]
    identity = RgbdIdentity(smoothing=OneEuroConfig())
    times = []
    for k in range(60):
        frame = frames[k % len(frames)]
        estimator = RgbdEstimator(DepthGeometry(frame.camera))
        t0 = time.perf_counter()
        depth = depth_image(raw[k % len(frames)], encoding="16UC1", height=480, width=640,
                            step=1280)  # as the node reads it: checked, converted where read
        if depth.any_valid():
            people = estimator.estimate(frame.people, depth).people
            identity.update(people, k / 30.0)
        times.append(time.perf_counter() - t0)
    print(bench_line("rgbd_node_ms_5people_640x480", 1000 * statistics.median(times), "<=5",
                     digits=3))


def main() -> int:
    if not (SHARED / "multiview").is_dir():
        print(f"SKIP bench_rgbd: needs {SHARED}/multiview (set OPENPOSE_ROS_SHARED)")
        return 0
    poses = pose_library(SHARED)
    accuracy(poses)
    node_cost(poses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
