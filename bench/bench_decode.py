"""Body decoding benchmark: ms per frame on one CPU core, speed-up over the usual Python port,
ground-truth round trips and the lightweight network's OKS AP on the annotated samples.

Run: ``.venv/bin/python bench/bench_decode.py`` (about 2 minutes). Every ratio is measured
side by side in this run, on the same maps. Timings are medians over repeated decodes of the
CPU time of the decoding thread with ``torch.set_num_threads(1)`` (one core); the exact and
fast-NMS decodes take turns, and the minimum and 90th percentile are printed beside the median
(on a shared virtual machine core speed drifts by tens of percent within seconds).

The baseline is our own plain re-implementation of the approach of popular PyTorch ports
(e.g. Hzzone's ``body.py``): upsample every channel with OpenCV cubic to the full image
(1920x1080), smooth each part map with ``scipy.ndimage.gaussian_filter(sigma=3)``, find peaks by
shifted comparisons, then score candidate pairs and assemble people in Python loops.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.ndimage import gaussian_filter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_common import bench_line  # noqa: E402
from openpose_ros.decode.body import BodyDecodeConfig, decode_body  # noqa: E402
from openpose_ros.decode.sizing import scale_net_to_output  # noqa: E402
from openpose_ros.evaluation.synthetic_maps import score_round_trip, synthetic_scene  # noqa: E402
from openpose_ros.layouts import BODY_25, COCO_18, MPI_15, Layout  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
# Decodes per variant and scene: about a second of decoding per scene, so that the median
# spans more than one of the VM's fast or slow phases (each lasts a few seconds).
REPEATS = 100
IR = SHARED / "models/intel_human_pose_estimation_0001_FP16-INT8/human-pose-estimation-0001.xml"


def median_ms(fn, repeats: int) -> tuple[float, float]:
    """Median (CPU ms of this thread, wall ms) of ``fn()``.

    With ``torch.set_num_threads(1)`` every op runs on the calling thread, so its CPU time is
    the time on one core; wall time also counts waiting for a core on a shared machine.
    """
    fn()  # warm up (tables are cached per map size)
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.thread_time(), time.perf_counter()
        fn()
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def interleaved_cpu_ms(fns: dict, repeats: int) -> dict[str, tuple[float, float, float]]:
    """``{name: (median, min, 90th percentile)}`` CPU ms of each ``fn()``, run in turns.

    On a shared virtual machine the speed of a core drifts by tens of percent over seconds;
    taking turns exposes every variant to the same drift, so their ratio holds even when the
    absolute medians do not (the minimum is the least disturbed run, the 90th percentile shows
    how wide the drift was during the run).
    """
    for fn in fns.values():
        fn()  # warm up (tables are cached per map size)
    cpu = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            c0 = time.thread_time()
            fn()
            cpu[name].append((time.thread_time() - c0) * 1000)
    return {name: (statistics.median(v), min(v), float(np.percentile(v, 90)))
            for name, v in cpu.items()}


# --- The usual Python approach, re-implemented plainly as the baseline -------------------------
def baseline_decode(maps: np.ndarray, layout: Layout, image_wh: tuple[int, int],
                    thre1: float = 0.1, thre2: float = 0.05) -> list[list[tuple]]:
    """Full-resolution cubic upsampling, Gaussian smoothing, per-pair loops (people as lists)."""
    width, height = image_wh
    hwc = np.ascontiguousarray(maps.transpose(1, 2, 0))
    net = cv2.resize(hwc, (hwc.shape[1] * 8, hwc.shape[0] * 8), interpolation=cv2.INTER_CUBIC)
    full = cv2.resize(net, (width, height), interpolation=cv2.INTER_CUBIC)
    parts = []
    for j in range(layout.num_parts):
        smooth = gaussian_filter(full[:, :, j], sigma=3)
        up, down = np.zeros_like(smooth), np.zeros_like(smooth)
        left, right = np.zeros_like(smooth), np.zeros_like(smooth)
        up[1:], down[:-1] = smooth[:-1], smooth[1:]
        left[:, 1:], right[:, :-1] = smooth[:, :-1], smooth[:, 1:]
        mask = (smooth >= up) & (smooth >= down) & (smooth >= left) & (smooth >= right)
        mask &= smooth > thre1
        ys, xs = np.nonzero(mask)
        parts.append([(int(x), int(y), float(full[y, x, j])) for y, x in zip(ys, xs)])
    people: list[list] = []  # each: [peak per joint or None, score]
    for k, (a, b) in enumerate(layout.paf_pairs):
        cx, cy = layout.paf_channels[k]
        candidates = []
        for i, pa in enumerate(parts[a]):
            for j, pb in enumerate(parts[b]):
                vx, vy = pb[0] - pa[0], pb[1] - pa[1]
                norm = math.sqrt(vx * vx + vy * vy) + 1e-9
                xs = np.linspace(pa[0], pb[0], 10).round().astype(int)
                ys = np.linspace(pa[1], pb[1], 10).round().astype(int)
                s = full[ys, xs, cx] * vx / norm + full[ys, xs, cy] * vy / norm
                prior = s.mean() + min(0.5 * height / norm - 1, 0)
                if (s > thre2).sum() > 0.8 * len(s) and prior > 0:
                    candidates.append((prior, i, j))
        candidates.sort(reverse=True)
        used_a, used_b = set(), set()
        for score, i, j in candidates:
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            owner = next((p for p in people if p[0][a] == parts[a][i]), None)
            if owner is None:
                owner = [[None] * layout.num_parts, 0.0]
                owner[0][a] = parts[a][i]
                people.append(owner)
            if owner[0][b] is None:
                owner[0][b] = parts[b][j]
                owner[1] += score
    return [p for p in people if sum(q is not None for q in p[0]) >= 4]


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(2024)
    timings = {}
    fast_cfg = BodyDecodeConfig(fast_nms=True)
    for people in (1, 4, 8, 20):
        scene = synthetic_scene(BODY_25, people, rng)
        got = interleaved_cpu_ms({
            "exact": lambda: decode_body(scene.net_output, BODY_25, image_size=scene.image_size),
            "fast": lambda: decode_body(scene.net_output, BODY_25, fast_cfg,
                                        image_size=scene.image_size),
        }, REPEATS)
        timings[people] = (got["exact"], got["fast"], scene)
        print(f"BODY_25 {people:2d} people, 656x368 net, 1920x1080 image, one core, CPU ms: "
              "exact median {:6.2f} (min {:6.2f}, p90 {:6.2f}), "
              "fast NMS median {:6.2f} (min {:6.2f}, p90 {:6.2f})".format(*got["exact"],
                                                                        *got["fast"]))
    print(bench_line("decode_8people_ms", timings[8][0][0], "<=5"))
    print(bench_line("decode_8people_min_ms", timings[8][0][1]))
    print(bench_line("decode_8people_fast_nms_ms", timings[8][1][0]))
    print(bench_line("decode_20people_ms", timings[20][0][0]))

    scene = timings[8][2]
    maps = scene.net_output.numpy()
    base = median_ms(lambda: baseline_decode(maps, BODY_25, scene.image_size), 3)
    print(f"baseline (full-image cubic + gaussian_filter + pair loops), 8 people: "
          f"{base[0]:.0f} ms CPU ({base[1]:.0f} wall)")
    print(bench_line("decode_speedup_1080p", base[0] / timings[8][0][0], ">=100"))

    matched = visible = 0
    crowd = np.zeros(3)
    for layout in (BODY_25, COCO_18, MPI_15):
        for people in (1, 4, 8, 20):
            for overlap in (False, True):
                scene = synthetic_scene(layout, people, rng, overlap=overlap)
                s = scale_net_to_output(scene.image_size, scene.net_size)
                got = decode_body(scene.net_output, layout, image_size=scene.image_size)
                stats = score_round_trip(got.body, scene.truth, tolerance=8 * s)
                if overlap:
                    crowd += (stats.matched, stats.visible, stats.decoded)
                else:
                    matched, visible = matched + stats.matched, visible + stats.visible
    print(bench_line("gt_roundtrip_joint_recall", matched / visible, ">=0.99"))
    print(bench_line("gt_crowded_joint_recall", crowd[0] / crowd[1]))
    print(bench_line("gt_crowded_joint_precision", crowd[0] / crowd[2]))

    if IR.exists():
        from openpose_ros.decode.estimator import BodyEstimator, EstimatorConfig
        from openpose_ros.evaluation.oks import coco_sample_ap, mpii_sample_ap
        from openpose_ros.nets.lightweight import LightweightPoseNet

        torch.set_num_threads(2)
        net = LightweightPoseNet.from_ir(IR)
        estimator = BodyEstimator(net, EstimatorConfig(net_resolution=(-1, 256)))
        print(bench_line("lightweight_oks_ap_coco_sample",
                   coco_sample_ap(estimator, SHARED / "annotated/mmpose_coco")))
        print(bench_line("lightweight_oks_ap_mpii_sample",
                   mpii_sample_ap(estimator, SHARED / "annotated/mmpose_mpii")))
    else:
        print(f"(no {IR}: AP lines skipped)")


if __name__ == "__main__":
    main()
