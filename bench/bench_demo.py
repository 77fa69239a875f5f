"""The main job end to end: the demo's frames/s with its defaults (``--engine auto --precision
auto``) against ``--engine torch --precision fp32``, on the same frames of the example video.
Not a test.

Run: ``.venv/bin/python bench/bench_demo.py [--frames 40]`` (needs ../shared and env.sh).
Each run is its own process (the demo as a user starts it), alternating A, B, A, B so a load
spike from other processes hits both; the ratio of the medians is reported.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from bench_common import bench_line  # noqa: E402

SHARED = Path(os.environ.get("OPENPOSE_ROS_SHARED", REPO.parent / "shared")) / "data"
VIDEO = SHARED / "video" / "openpose_video.avi"
IR = SHARED / "models" / "intel_human_pose_estimation_0001_FP16-INT8"
_FPS = re.compile(r"([0-9.]+) frames/s end to end")


def demo_fps(models: Path, frames: int, extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run(
            [sys.executable, "-m", "openpose_ros.ros.demo", "--input", str(VIDEO), "--output",
             out, "--models-dir", str(models), "--max-frames", str(frames), "--no-download",
             *extra], capture_output=True, text=True, cwd=REPO)
    found = _FPS.search(result.stdout)
    if result.returncode or not found:
        raise RuntimeError(f"demo {extra} failed:\n{result.stdout}\n{result.stderr}")
    print(result.stdout.strip().splitlines()[2])
    return float(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    if not VIDEO.is_file() or not IR.is_dir():
        print(f"needs the shared data folder at {SHARED.parent}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as models:
        folder = Path(models) / "intel" / "human-pose-estimation-0001" / "FP16-INT8"
        folder.mkdir(parents=True)
        for path in IR.iterdir():
            (folder / path.name).symlink_to(path)
        runs: dict[str, list[float]] = {"default": [], "torch_fp32": []}
        for _ in range(args.reps):
            runs["default"].append(demo_fps(Path(models), args.frames, []))
            runs["torch_fp32"].append(demo_fps(Path(models), args.frames,
                                               ["--engine", "torch", "--precision", "fp32"]))
    fps = {k: statistics.median(v) for k, v in runs.items()}
    print(bench_line("demo_fps_default", fps["default"]))
    print(bench_line("demo_fps_torch_fp32", fps["torch_fp32"]))
    print(bench_line("demo_fps_speedup", fps["default"] / fps["torch_fp32"], ">=2.5"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
