"""GPU figures: BODY_25 throughput and latency, batching gains, syncs per frame (issue 18).

Run on a machine with a CUDA GPU (under 5 minutes on an H100/H200-class card):

    python3 bench/bench_gpu.py --out gpu_bench.json

Without CUDA (and without ``--device cpu --dry-run``) it says it needs a GPU and exits 0, so
``make bench`` passes. ``--device cpu --dry-run`` runs every path a CPU can at tiny sizes (the
test suite does, so the script cannot rot between GPU loans) and reports the CUDA-only ones
(fp16, CUDA graphs, sync counting, TensorRT) as ``SKIP`` lines. Weights are random
(He-scaled): no OpenPose weights exist here, and speed does not depend on them. Measured:
* BODY_25 at 656x368, batch 1/8/32 x fp32 (TF32 convolutions, PyTorch's default)/fp16/bf16,
  channels-last; fp16 NCHW once for contrast; CUDA graphs and ``torch.compile`` for fp16;
  TensorRT (``torch_tensorrt``) where it is installed; relative errors against fp32 without TF32.
* Image-to-``People`` latency of one 1920x1080 frame: warp, upload, fp16 forward (CUDA graph),
  decoding of ideal 8-person maps (``SyntheticOutput``: random weights find nobody), plus the
  decoder alone, its host-device syncs and its device allocations per frame, and the same frame
  with the maps copied to the host and decoded there.
* Hands and faces of 10 people batched vs one crop at a time (368x368 crops, fp16).
* 4 cameras batched vs one by one through ``PosePipeline`` (body only, fp16 eager).
* The lightweight network at 456x256, batch 1 and 8.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gpu_timing import (
    ForwardGraph, GraphedNetwork, Report, SyntheticOutput, Timer, camera_image, cast_network,
    count_syncs, device_allocations, fill_random, net_input, precisions, relative_error,
)

from openpose_ros.decode.body import decode_body
from openpose_ros.decode.estimator import BodyEstimator, EstimatorConfig
from openpose_ros.evaluation.synthetic_maps import synthetic_scene
from openpose_ros.layouts import BODY_25
from openpose_ros.nets import Body25Net, FaceNet, HandNet, LightweightPoseNet
from openpose_ros.pipeline import PosePipeline


@dataclass(frozen=True)
class Plan:
    """Sizes and repeats of one run: the full GPU run or the tiny dry run."""

    net_wh: tuple[int, int]       # BODY_25 input (OpenPose's default 656x368)
    image_wh: tuple[int, int]     # camera frame for latency and 4-camera runs
    batches: tuple[int, ...]
    people: int                   # people in the decoded synthetic maps
    crop: int                     # hand and face crop side (OpenPose: 368)
    light_wh: tuple[int, int]     # lightweight network input
    matmul: int                   # side of the bf16 matrix product that measures the ceiling
    timer: dict


FULL = Plan(net_wh=(656, 368), image_wh=(1920, 1080), batches=(1, 8, 32), people=8, crop=368,
            light_wh=(456, 256), matmul=8192,
            timer=dict(warmup=3, repeats=15, inner=3, max_seconds=3.0))
# About 0.1 s per BODY_25 forward on one CPU thread; 2 people so that the 128x96 frame holds them.
DRY = Plan(net_wh=(64, 48), image_wh=(128, 96), batches=(1, 2), people=2, crop=16,
           light_wh=(64, 48), matmul=256,
           timer=dict(warmup=0, repeats=1, inner=1, max_seconds=1.0))


def bench_ceiling(rep: Report, plan: Plan, device: torch.device, timer: Timer) -> None:
    n = plan.matmul
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
    seconds = timer.seconds(lambda: a @ b)
    rep.bench("gpu_matmul_bf16_tflops", 2 * n**3 / seconds / 1e12)


def bench_body_forward(rep: Report, plan: Plan, device: torch.device, timer: Timer,
                       base: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """fps per batch and precision (channels-last), NCHW contrast, errors; returns the nets."""
    names, half = precisions(device)
    nets = {p: cast_network(copy.deepcopy(base), device, p) for p in names}
    for batch in plan.batches:
        for p, net in nets.items():
            xs = [net_input(batch, plan.net_wh, device, p, seed=s) for s in range(2)]
            seconds = timer.seconds(lambda: [net(x) for x in xs], inner=1) / len(xs)
            rep.bench(f"gpu_body25_fps_b{batch}_{p}", batch / seconds)
    if "fp16" not in names:
        for batch in plan.batches:
            rep.skip(f"gpu_body25_fps_b{batch}_fp16", "fp16 convolutions are CUDA-only")
    mid = plan.batches[len(plan.batches) // 2]
    nchw = cast_network(copy.deepcopy(base), device, half, channels_last=False)
    x = net_input(mid, plan.net_wh, device, half, channels_last=False)
    rep.bench(f"gpu_body25_fps_b{mid}_{half}_nchw", mid / timer.seconds(lambda: nchw(x)))
    del nchw

    # Errors at batch 1 against fp32 without TF32 (float32 arithmetic lands far under 1e-3).
    x = net_input(1, plan.net_wh, device, "fp32", seed=7)
    with torch.inference_mode():
        if device.type == "cuda":
            torch.backends.cudnn.allow_tf32 = False
            ref = nets["fp32"](x)
            torch.backends.cudnn.allow_tf32 = True
        else:
            ref = nets["fp32"](x)
        for p in names:
            if p != "fp32" or device.type == "cuda":  # on CPU fp32 is the reference itself
                rep.bench(f"gpu_body25_rel_err_{p}", relative_error(nets[p](x), ref))
    if device.type != "cuda":
        rep.skip("gpu_body25_rel_err_fp32", "TF32 is CUDA-only; on CPU fp32 is the reference")
    return nets


def bench_graphs(rep: Report, plan: Plan, device: torch.device, timer: Timer,
                 net: torch.nn.Module, half: str) -> GraphedNetwork | None:
    """CUDA-graph replays at the smallest and largest batch; returns the batch-1 graph."""
    if device.type != "cuda":
        for batch in (plan.batches[0], plan.batches[-1]):
            rep.skip(f"gpu_body25_fps_b{batch}_fp16_graph", "CUDA graphs need CUDA")
        return None
    graphs = {}
    for batch in (plan.batches[0], plan.batches[-1]):
        x = net_input(batch, plan.net_wh, device, half)
        graphs[batch] = GraphedNetwork(net, x)
        rep.bench(f"gpu_body25_fps_b{batch}_{half}_graph",
                  batch / timer.seconds(lambda: graphs[batch](x)))
    # Fresh input, not the captured one: a replay that ignored its input would show here.
    x = net_input(plan.batches[0], plan.net_wh, device, half, seed=5)
    with torch.inference_mode():
        err = relative_error(graphs[plan.batches[0]](x), net(x))
    rep.bench("gpu_body25_graph_vs_eager_rel_err", err)
    return graphs[plan.batches[0]]


def synthetic_maps(plan: Plan, device: torch.device, copies: int) -> tuple[torch.Tensor, int]:
    """``copies`` x the ideal net output of one frame of ``plan.people`` people, on device."""
    scene = synthetic_scene(BODY_25, plan.people, np.random.default_rng(18),
                            image_size=plan.image_wh, net_resolution=plan.net_wh)
    maps = scene.net_output.to(device)
    seen = int((scene.truth[..., 2] > 0).any(-1).sum())
    return maps[None].expand(copies, *maps.shape).contiguous(), seen


def bench_latency(rep: Report, plan: Plan, device: torch.device, timer: Timer,
                  forward: torch.nn.Module, how: str) -> None:
    """Image -> People of one frame, the decoder alone, and (CUDA) its syncs and allocations."""
    maps, truth = synthetic_maps(plan, device, 1)
    config = EstimatorConfig(net_resolution=plan.net_wh)
    estimator = BodyEstimator(SyntheticOutput(forward, maps), config)
    image = camera_image(plan.image_wh, 0)
    with torch.inference_mode():
        found = len(estimator([image])[0])
    rep.note(f"latency: {how} forward + decoding of {plan.people}-person maps; decoded "
             f"{found} people of {truth}")
    rep.bench("gpu_body25_latency_ms", 1e3 * timer.seconds(lambda: estimator([image]), inner=1),
              "<=3")
    sizes = estimator.plan(plan.image_wh)

    def decode() -> object:
        return decode_body(maps[0], BODY_25, image_size=plan.image_wh, net_size=sizes.net_sizes[0])

    rep.bench(f"gpu_decode_{plan.people}people_ms", 1e3 * timer.seconds(decode, inner=1))
    # The other design: one copy of the maps to the host, then the CPU decoder (no per-step
    # syncs, no small kernels). On a CPU run both are the same host decode.
    host = BodyEstimator(SyntheticOutput(forward, maps, to_host=True), config)
    rep.bench("gpu_body25_latency_host_decode_ms",
              1e3 * timer.seconds(lambda: host([image]), inner=1))
    if device.type != "cuda":
        for name in ("gpu_decode_syncs_per_frame", "gpu_latency_syncs_per_frame",
                     "gpu_decode_device_allocs_per_frame"):
            rep.skip(name, "sync counting (torch.cuda.set_sync_debug_mode) and the CUDA "
                     "allocator's statistics need CUDA")
        return
    for name, fn in (("gpu_decode_syncs_per_frame", decode),
                     ("gpu_latency_syncs_per_frame", lambda: estimator([image]))):
        count, sites = count_syncs(fn)
        rep.note(f"{name} by site: " + ", ".join(f"{k} x{v}" for k, v in sites.items()))
        rep.meta.setdefault("sync_sites", {})[name] = sites
        rep.bench(name, count)
    rep.bench("gpu_decode_device_allocs_per_frame", device_allocations(decode, device))


def bench_handface(rep: Report, plan: Plan, device: torch.device, timer: Timer, half: str) -> None:
    """10 people (20 hand + 10 face crops): one batched call vs one crop per call."""
    from bench_handface import _crowd, _one_at_a_time  # the CPU bench's crowd and per-box loop
    from openpose_ros.handface import HandFaceConfig, HandFaceDetector

    hand = cast_network(fill_random(HandNet(), 1), device, half)
    face = cast_network(fill_random(FaceNet(), 2), device, half)
    det = HandFaceDetector(hand, face, HandFaceConfig(hand_net_resolution=plan.crop,
                                                      face_net_resolution=plan.crop))
    people = _crowd(10)
    image = camera_image(people.image_size, 1)  # _crowd's 640x480 frame
    with torch.inference_mode():
        out = det(image, people)
    if not (np.isfinite(out.right_hand).all() and np.isfinite(out.face).all()):
        raise RuntimeError("a hand or face crop did not run: the speed-up would be meaningless")
    batched = timer.seconds(lambda: det(image, people), inner=1)
    single = timer.seconds(lambda: _one_at_a_time(det, image, people), inner=1)
    rep.bench("gpu_hands_faces_10people_batched_ms", 1e3 * batched)
    rep.bench("gpu_hands_faces_10people_one_at_a_time_ms", 1e3 * single)
    rep.bench("gpu_hands_faces_batched_speedup_10people", single / batched, ">=3")


def bench_cameras(rep: Report, plan: Plan, device: torch.device, timer: Timer,
                  net: torch.nn.Module) -> None:
    """4 frames in one pipeline call (one batch-4 forward) vs 4 calls. The same scene in
    every frame, so both sides decode the same work."""
    maps, _ = synthetic_maps(plan, device, 4)
    config = EstimatorConfig(net_resolution=plan.net_wh)
    estimator = BodyEstimator(SyntheticOutput(net, maps), config)
    pipeline = PosePipeline(estimator, device=str(device))
    images = [camera_image(plan.image_wh, 10 + i) for i in range(4)]
    batched = timer.seconds(lambda: pipeline(images), inner=1)
    if estimator.last_batch_sizes != [4]:
        raise RuntimeError(f"4 frames ran as batches {estimator.last_batch_sizes}, not one of 4")
    sequential = timer.seconds(lambda: [pipeline([im]) for im in images], inner=1)
    rep.bench("gpu_4cam_batched_ms", 1e3 * batched)
    rep.bench("gpu_4cam_one_by_one_ms", 1e3 * sequential)
    rep.bench("gpu_batched_4cam_speedup", sequential / batched, ">=2")


def bench_lightweight(rep: Report, plan: Plan, device: torch.device, timer: Timer,
                      half: str) -> None:
    net = cast_network(fill_random(LightweightPoseNet(), 3), device, half)
    for batch in (plan.batches[0], plan.batches[1]):
        x = net_input(batch, plan.light_wh, device, half)
        rep.bench(f"gpu_lightweight_fps_b{batch}_{half}", batch / timer.seconds(lambda: net(x)))


def bench_compile(rep: Report, plan: Plan, device: torch.device, timer: Timer,
                  net: torch.nn.Module, half: str) -> None:
    """``torch.compile`` of the forward graph at the largest batch (Inductor on CUDA). On a CPU
    the ``eager`` backend checks only that Dynamo traces the network whole: compiling BODY_25
    with Inductor on 2 shared cores takes minutes."""
    backend = "inductor" if device.type == "cuda" else "eager"
    batch = plan.batches[-1] if device.type == "cuda" else plan.batches[0]
    name = f"gpu_body25_fps_b{batch}_{half}_compile_{backend}"
    compiled = torch.compile(ForwardGraph(net), backend=backend, fullgraph=True, dynamic=False)
    x = net_input(batch, plan.net_wh, device, half)
    start = time.perf_counter()
    try:
        with torch.inference_mode():
            compiled(x)
    except Exception as err:  # a failed compile is a finding; the other figures still count
        rep.skip(name, f"torch.compile failed: {type(err).__name__}: {err}"[:300])
        return
    rep.bench(f"gpu_body25_compile_{backend}_s", time.perf_counter() - start)
    rep.bench(name, batch / timer.seconds(lambda: compiled(x)))
    x = net_input(batch, plan.net_wh, device, half, seed=6)
    with torch.inference_mode():
        rep.bench(f"gpu_body25_compile_{backend}_vs_eager_rel_err",
                  relative_error(compiled(x), net(x)))


def bench_tensorrt(rep: Report, plan: Plan, device: torch.device, timer: Timer,
                   net: torch.nn.Module) -> None:
    """torch-tensorrt fp16 engines at the smallest and largest batch, where it is installed."""
    names = [f"gpu_body25_fps_b{b}_fp16_tensorrt" for b in (plan.batches[0], plan.batches[-1])]
    found = {}
    for module in ("tensorrt", "torch_tensorrt"):
        try:
            found[module] = getattr(importlib.import_module(module), "__version__", "?")
        except ImportError:
            pass
        rep.note(f"{module}: {found[module] if module in found else 'not installed'}")
    if "torch_tensorrt" not in found:
        why = ("torch_tensorrt is not installed (it builds the engines here; `python3 -m pip "
               "install torch-tensorrt` matching the machine's torch and CUDA; a lent GPU "
               "machine reaches no registry, so its wheels must be carried)")
        for name in names:
            rep.skip(name, why)
        return
    import torch_tensorrt
    if device.type != "cuda":
        for name in names:
            rep.skip(name, "TensorRT needs CUDA")
        return
    for name, batch in zip(names, (plan.batches[0], plan.batches[-1])):
        x = net_input(batch, plan.net_wh, device, "fp16")
        try:
            engine = torch_tensorrt.compile(ForwardGraph(net), ir="dynamo", inputs=[x],
                                            enabled_precisions={torch.float16})
        except Exception as err:  # a failed build is a finding, not a crash of the whole run
            rep.skip(name, f"torch_tensorrt.compile failed: {type(err).__name__}: {err}"[:300])
            continue
        rep.bench(name, batch / timer.seconds(lambda: engine(x)))
        with torch.inference_mode():
            rep.bench(f"gpu_body25_tensorrt_b{batch}_vs_eager_rel_err",
                      relative_error(engine(x), net(x)))


def headline(rep: Report, half: str) -> None:
    """``gpu_body25_fps_batched``: the best batched (batch > 1) figure in the half precision."""
    batched = {n: v for n, v in rep.figures.items() if n.startswith("gpu_body25_fps_b")
               and f"_{half}" in n and not n.endswith("_nchw")
               and int(n[len("gpu_body25_fps_b"):].split("_")[0]) > 1}
    best = max(batched, key=batched.get)
    rep.note(f"best batched {half} figure: {best}")
    rep.bench("gpu_body25_fps_batched", batched[best], ">=1000")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes, 1-2 repeats")
    parser.add_argument("--out", type=Path, default=None, help="write every figure as JSON")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="time limit of one measurement's repeats")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--budget-s", type=float, default=300.0,
                        help="TensorRT and torch.compile (each can take minutes to build) "
                        "start only within the first 60%% of this (default 300)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("bench_gpu: needs a CUDA GPU and none is visible here; nothing measured. "
              "Run `python bench/bench_gpu.py --device cpu --dry-run` to check the script.")
        return 0
    device = torch.device(args.device)
    if device.type == "cpu" and not args.dry_run:
        print("bench_gpu: full sizes on a CPU take hours; use --dry-run", file=sys.stderr)
        return 2
    plan = DRY if args.dry_run else FULL
    timing = dict(plan.timer)
    if args.max_seconds is not None:
        timing["max_seconds"] = args.max_seconds
    timer = Timer(device, **timing)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    rep = Report(args.out, goals_on=not args.dry_run,
                 meta=dict(device=device_name, torch=torch.__version__, dry_run=args.dry_run,
                           plan=repr(plan), cuda=torch.version.cuda))
    started = time.perf_counter()
    rep.note(f"bench_gpu on {device_name}, torch {torch.__version__}"
             + (" -- DRY RUN: tiny sizes, figures not comparable; goals not judged"
                if args.dry_run else ""))
    torch.manual_seed(0)
    if device.type == "cpu":
        # One thread: on a shared 2-core machine OpenMP's spinning workers stall whenever another
        # process holds a core (seen: 0.8-3.6 s per tiny BODY_25 forward on 2 threads, 0.11 s on 1).
        torch.set_num_threads(1)
    torch.backends.cudnn.benchmark = True  # one autotuning per shape, in the warm-up
    _, half = precisions(device)

    failed: list[str] = []

    def section(name: str, fn, *more):
        """Run one part; a failure is printed and recorded, and the other parts still run (a
        GPU loan is too short to lose every later figure to one broken part)."""
        start = time.perf_counter()
        try:
            return fn(rep, plan, device, timer, *more)
        except Exception as err:
            traceback.print_exc()
            rep.note(f"SECTION-FAILED {name}: {type(err).__name__}: {err}")
            failed.append(name)
            return None
        finally:
            rep.meta.setdefault("section_s", {})[name] = round(time.perf_counter() - start, 1)

    section("ceiling", bench_ceiling)
    nets = section("body_forward", bench_body_forward, fill_random(Body25Net(), 0)) or {}
    body = nets.get(half)
    graph = section("graphs", bench_graphs, body, half)
    section("latency", bench_latency, graph or body,
            f"{half} CUDA graph" if graph else f"{half} eager")
    section("handface", bench_handface, half)
    section("cameras", bench_cameras, body)
    section("lightweight", bench_lightweight, half)
    # Engine builds and compiles can take minutes: start them only with 40% of the budget left.
    late = f"over 60% of --budget-s {args.budget_s:g} had passed"
    if time.perf_counter() - started < 0.6 * args.budget_s:
        section("tensorrt", bench_tensorrt, body)
    else:
        rep.skip("gpu_body25_fps_tensorrt", late)
    if args.no_compile or time.perf_counter() - started >= 0.6 * args.budget_s:
        rep.skip("gpu_body25_fps_compile", "--no-compile" if args.no_compile else late)
    else:
        section("compile", bench_compile, body, half)
    section("headline", lambda *_: headline(rep, half))
    rep.meta["elapsed_s"] = round(time.perf_counter() - started, 1)
    rep.meta["failed_sections"] = failed
    rep.note(f"bench_gpu: {len(rep.figures)} figures, {len(rep.skipped)} skipped, "
             f"{rep.meta['elapsed_s']} s (seconds per section: {rep.meta['section_s']})")
    rep.save()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
