"""Network forward benchmark on this CPU: our BODY_25 vs OpenCV's Caffe importer, and our
lightweight COCO-18 network vs the OpenVINO runtime on the same IR, per engine and precision.
Not a test.

Run: ``.venv/bin/python bench/bench_networks.py`` (about 4 minutes; needs ../shared).

* BODY_25: one random He-scaled caffemodel (the official weights are not on this machine),
  loaded into ``cv2.dnn.readNetFromCaffe`` with the official prototxt and into our network
  prepared as ``load_model`` would (``prepare_network(..., "cpu")``: channels-last, pre-packed
  oneDNN convolutions, Winograd F(4x4,3x3)); same input, 368x368 and 656x368. Then every
  other CPU path this CPU runs (OpenVINO fp32, bf16 where native) at 656x368, side by side
  with cv2.dnn again: ``body25_cpu_fastest_vs_cv2dnn`` is the best of them.
* Lightweight: Intel's human-pose-estimation-0001 FP16-INT8 IR, 456x256, one real photo;
  OpenVINO's own runtime on the IR (INT8 kernels) against our torch float32 path
  (``lightweight_cpu_forward_vs_openvino``), and our default engine (``engine=auto,
  precision=auto``) against torch fp32 on the same frames (``lightweight_engine_speedup``).
  OKS AP on the COCO and MPII samples for every engine and precision this CPU runs.

Both run with 2 threads (``torch.set_num_threads(2)``, ``cv2.setNumThreads(2)``,
``INFERENCE_NUM_THREADS=2``). Timings are medians of interleaved runs (A, B, A, B, ...) so a
load spike from other processes hits both sides. PyTorch's OpenMP workers spin while waiting,
so when other processes hold a core our two-thread wall time suffers more than OpenCV's or
OpenVINO's (their pools block); a one-thread CPU-time ratio is printed too, which does not
depend on other processes.
Ratios are ``their time / our time`` (> 1: we are faster).
"""

from __future__ import annotations

import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "test"))

from helpers_caffe import random_layer_weights, write_caffemodel  # noqa: E402

from bench_common import bench_line  # noqa: E402

from openpose_ros.nets import Body25Net, LightweightPoseNet, prepare_network  # noqa: E402
from openpose_ros.nets.loader import resolve_run_settings  # noqa: E402
from openpose_ros.nets.openvino_engine import compile_network  # noqa: E402
from openpose_ros.nets.precision import cpu_has_native_bf16, supported_precisions  # noqa: E402
from openpose_ros.nets.weights import load_caffemodel  # noqa: E402

SHARED = Path(os.environ.get("OPENPOSE_ROS_SHARED", REPO.parent / "shared")) / "data"
PROTOTXT = SHARED / "models/openpose_prototxt/body_25/pose_deploy.prototxt"
IR = SHARED / "models/intel_human_pose_estimation_0001_FP16-INT8/human-pose-estimation-0001.xml"
PHOTOS = SHARED / "images/openpose_examples"
THREADS = 2


def report(name: str, value: float, goal: str | None = None) -> None:
    print(bench_line(name, value, goal, digits=4))


def interleaved(a: Callable[[], object], b: Callable[[], object], reps: int,
                clock: Callable[[], float] = time.perf_counter) -> tuple[float, float]:
    """Median seconds of ``a`` and ``b`` run alternately ``reps`` times after one warm-up each."""
    a(), b()
    ta, tb = [], []
    for _ in range(reps):
        for fn, out in ((a, ta), (b, tb)):
            start = clock()
            fn()
            out.append(clock() - start)
    return statistics.median(ta), statistics.median(tb)


def bench_body25(folder: Path) -> None:
    net = Body25Net()
    caffemodel = write_caffemodel(folder / "body25.caffemodel", net,
                                  random_layer_weights(net, seed=0))
    plain = copy.deepcopy(load_caffemodel(net, caffemodel))  # for the other engines
    ours = prepare_network(net, "cpu")
    theirs = cv2.dnn.readNetFromCaffe(str(PROTOTXT), str(caffemodel))
    theirs.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    theirs.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    ratios = {}
    for w, h, reps in ((368, 368, 5), (656, 368, 5)):
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(w)) - 0.5
        blob = x.numpy()

        def opencv() -> np.ndarray:
            theirs.setInput(blob)
            return theirs.forward()

        ref = opencv()
        err = float(np.abs(ours(x).numpy() - ref).max() / np.abs(ref).max())
        t_cv, t_ours = interleaved(opencv, lambda: ours(x), reps)
        ratios[(w, h)] = t_cv / t_ours
        print(f"BODY_25 {w}x{h}: cv2.dnn {1e3 * t_cv:.0f} ms, ours {1e3 * t_ours:.0f} ms, "
              f"ratio {t_cv / t_ours:.2f}, relative difference {err:.1e}")
        report(f"body25_cpu_forward_ms_{w}x{h}", 1e3 * t_ours)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    x = torch.rand(1, 3, 368, 368) - 0.5
    theirs.setInput(x.numpy())
    t_cv, t_ours = interleaved(lambda: theirs.forward(), lambda: ours(x), 3, time.process_time)
    torch.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)
    print(f"BODY_25 368x368, one thread, CPU time: cv2.dnn {1e3 * t_cv:.0f} ms, "
          f"ours {1e3 * t_ours:.0f} ms")
    report("body25_cpu_forward_vs_cv2dnn_368x368", ratios[(368, 368)])
    report("body25_cpu_forward_vs_cv2dnn_1thread_cputime_368x368", t_cv / t_ours)
    report("body25_cpu_forward_vs_cv2dnn", ratios[(656, 368)], ">=1.0")
    bench_body25_fastest(plain, ours, opencv_656x368(theirs))


def opencv_656x368(theirs) -> tuple[Callable[[], object], torch.Tensor]:
    x = torch.rand(1, 3, 368, 656, generator=torch.Generator().manual_seed(656)) - 0.5
    blob = x.numpy()

    def run() -> np.ndarray:
        theirs.setInput(blob)
        return theirs.forward()

    return run, x


def _cpu_paths(net: torch.nn.Module, prepared: torch.nn.Module, model: str) -> dict:
    """Every CPU path this CPU runs natively: ``{"<engine> <precision>": network}``."""
    paths = {"torch fp32": prepared}
    if cpu_has_native_bf16():
        paths["torch bf16"] = prepare_network(copy.deepcopy(net), "cpu", precision="bf16")
    for precision in supported_precisions("openvino", torch.device("cpu"), model):
        if precision != "int8":
            paths[f"openvino {precision}"] = compile_network(net, precision=precision,
                                                             num_threads=THREADS)
    return paths


def bench_body25_fastest(net: torch.nn.Module, ours: torch.nn.Module, opencv) -> None:
    run_cv, x = opencv
    ref = run_cv()
    best = 0.0
    for label, path in _cpu_paths(net, ours, "BODY_25").items():
        err = float(np.abs(path(x).numpy() - ref).max() / np.abs(ref).max())
        t_cv, t_path = interleaved(run_cv, lambda: path(x), 3)
        best = max(best, t_cv / t_path)
        print(f"BODY_25 656x368 {label}: {1e3 * t_path:.0f} ms vs cv2.dnn {1e3 * t_cv:.0f} ms, "
              f"ratio {t_cv / t_path:.2f}, relative difference {err:.1e}")
    if not cpu_has_native_bf16():
        print("(this CPU has no native bf16: bf16 paths, emulated, are slower and not timed)")
    report("body25_cpu_fastest_vs_cv2dnn", best, ">=1.8")


def _photo(path: Path) -> np.ndarray:
    """Raw BGR ``[1,3,256,456]`` float32 in 0..255, area-resized."""
    img = cv2.resize(cv2.imread(str(path)), (456, 256), interpolation=cv2.INTER_AREA)
    return img.transpose(2, 0, 1)[None].astype(np.float32)


def bench_lightweight() -> None:
    import openvino as ov

    ours = prepare_network(LightweightPoseNet.from_ir(IR), "cpu")
    compiled = ov.Core().compile_model(
        str(IR), "CPU", {"INFERENCE_NUM_THREADS": THREADS, "PERFORMANCE_HINT": "LATENCY"}
    )
    request = compiled.create_infer_request()
    photos = [_photo(p) for p in sorted(PHOTOS.glob("*.jpg"))]
    raw = photos[0]
    x = torch.from_numpy(raw / 256.0 - 0.5)
    t_ov, t_ours = interleaved(lambda: request.infer([raw]), lambda: ours(x), 20)
    print(f"lightweight 456x256: openvino INT8 {1e3 * t_ov:.1f} ms, ours float32 "
          f"{1e3 * t_ours:.1f} ms")
    diffs = []
    for img in photos:
        outs = list(request.infer([img]).values())
        ref = np.concatenate([next(o for o in outs if o.shape[1] == 19),
                              next(o for o in outs if o.shape[1] == 38)], axis=1)
        diffs.append(np.abs(ours(torch.from_numpy(img / 256.0 - 0.5)).numpy() - ref))
    diff = np.stack(diffs)
    print(f"lightweight vs openvino on {len(photos)} photos: max |diff| {diff.max():.3f}, "
          f"mean {diff.mean():.4f}")
    report("lightweight_cpu_forward_ms", 1e3 * t_ours)
    report("lightweight_cpu_forward_vs_openvino", t_ov / t_ours, ">=0.5")
    report("lightweight_vs_openvino_max_abs_diff", float(diff.max()))

    default = resolve_run_settings("LIGHTWEIGHT_COCO_18", "cpu", num_threads=THREADS)
    engines = lightweight_engines(ours)
    fast = engines[(default.engine, default.precision)]
    frames = [torch.from_numpy(img / 256.0 - 0.5) for img in photos[:5]]

    def over_frames(network) -> Callable[[], None]:
        return lambda: [network(f) for f in frames]

    t_torch, t_default = interleaved(over_frames(ours), over_frames(fast), 4)
    print(f"lightweight 456x256 over {len(frames)} frames: torch fp32 "
          f"{1e3 * t_torch / len(frames):.1f} ms, default ({default.engine} {default.precision}) "
          f"{1e3 * t_default / len(frames):.1f} ms per frame")
    report(f"lightweight_cpu_forward_ms_{default.engine}_{default.precision}",
           1e3 * t_default / len(frames))
    report("lightweight_engine_speedup", t_torch / t_default, ">=3.5")
    bench_lightweight_ap(engines)


def lightweight_engines(ours: torch.nn.Module) -> dict:
    """``{(engine, precision): network}`` for every form of the lightweight network this CPU
    runs natively (emulated bf16 is left out: minutes per sample, and never chosen)."""
    net = LightweightPoseNet.from_ir(IR)
    engines = {("torch", "fp32"): ours}
    if cpu_has_native_bf16():
        engines[("torch", "bf16")] = prepare_network(LightweightPoseNet.from_ir(IR), "cpu",
                                                     precision="bf16")
    for precision in supported_precisions("openvino", torch.device("cpu"), net.model_name):
        engines[("openvino", precision)] = compile_network(net, precision=precision,
                                                           num_threads=THREADS, source=IR,
                                                           cache_dir=Path(tempfile.mkdtemp()))
    return engines


def bench_lightweight_ap(engines: dict) -> None:
    from openpose_ros.decode.estimator import BodyEstimator, EstimatorConfig
    from openpose_ros.evaluation.oks import coco_sample_ap, mpii_sample_ap

    for (engine, precision), network in engines.items():
        estimator = BodyEstimator(network, EstimatorConfig(net_resolution=(-1, 256)))
        coco = coco_sample_ap(estimator, SHARED / "annotated/mmpose_coco")
        mpii = mpii_sample_ap(estimator, SHARED / "annotated/mmpose_mpii")
        report(f"lightweight_oks_ap_coco_sample_{engine}_{precision}", coco)
        report(f"lightweight_oks_ap_mpii_sample_{engine}_{precision}", mpii)


def main() -> int:
    if not PROTOTXT.is_file() or not IR.is_file():
        print(f"needs the shared data folder at {SHARED.parent}", file=sys.stderr)
        return 1
    torch.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)
    print(f"torch {torch.__version__}, OpenCV {cv2.__version__}, {THREADS} threads")
    with tempfile.TemporaryDirectory() as folder:
        bench_body25(Path(folder))
    bench_lightweight()
    return 0


if __name__ == "__main__":
    sys.exit(main())
