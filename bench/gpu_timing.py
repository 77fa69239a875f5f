"""What ``bench_gpu.py`` measures with: timing, precision casts, CUDA graphs, sync counting.

Kept apart from the scenes so that ``bench_gpu.py`` reads as the list of figures it prints.
Nothing here fakes a CUDA figure on a CPU: a CUDA-only tool raises or is skipped by the caller.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "test"))

from bench_common import bench_line  # noqa: E402
from helpers_caffe import random_layer_weights  # noqa: E402

from openpose_ros.nets import prepare_network  # noqa: E402
from openpose_ros.nets.weights import named_caffe_layers  # noqa: E402

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class Timer:
    """Median seconds per call of ``fn``, bounded in time.

    Each repeat runs ``fn`` ``inner`` times back to back between two device synchronisations
    (so launches overlap the GPU work as in a stream of frames) and reads the host clock; the
    repeats stop at ``repeats`` or once ``max_seconds`` have passed (at least one is kept).
    """

    device: torch.device
    warmup: int
    repeats: int
    inner: int
    max_seconds: float

    def seconds(self, fn: Callable[[], object], inner: int | None = None) -> float:
        inner = self.inner if inner is None else inner
        with torch.inference_mode():
            for _ in range(self.warmup):
                fn()
            synchronize(self.device)
            times: list[float] = []
            deadline = time.perf_counter() + self.max_seconds
            while len(times) < self.repeats and (not times or time.perf_counter() < deadline):
                start = time.perf_counter()
                for _ in range(inner):
                    fn()
                synchronize(self.device)
                times.append((time.perf_counter() - start) / inner)
        return statistics.median(times)


def fill_random(net: nn.Module, seed: int) -> nn.Module:
    """He-scaled random weights (``helpers_caffe.random_layer_weights``: activations keep unit
    scale through 100+ layers, so fp16 neither overflows nor flushes to zero as it could with
    PyTorch's default init). No real OpenPose weights exist here; speed does not depend on them.
    """
    blobs = random_layer_weights(net, seed)
    with torch.no_grad():
        for name, module in named_caffe_layers(net).items():
            conv = isinstance(module, nn.Conv2d)
            params = [module.weight, module.bias] if conv else [module.weight]
            for tensor, blob in zip(params, blobs[name]):
                tensor.copy_(torch.from_numpy(blob).reshape(tensor.shape))
    return net.eval()


def cast_network(net: nn.Module, device: torch.device, precision: str,
                 channels_last: bool = True) -> nn.Module:
    """``net`` on ``device`` in ``precision`` (fp32/fp16/bf16), NCHW or channels-last.

    Uses ``prepare_network`` as ``load_model`` does (without the CPU fast path, which is an
    fp32-only CPU optimisation). The network's ``forward`` casts its input to the weights' dtype.
    """
    return prepare_network(net, device, precision=precision, channels_last=channels_last,
                           cpu_fast=False)


def net_input(batch: int, size_wh: tuple[int, int], device: torch.device, precision: str,
              channels_last: bool = True, seed: int = 0) -> torch.Tensor:
    """Random ``[batch, 3, h, w]`` input in the network's dtype and memory format (never
    zeros: they can run faster than real data)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 3, size_wh[1], size_wh[0], generator=g) - 0.5
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return x.to(device, DTYPES[precision]).contiguous(memory_format=fmt)


def precisions(device: torch.device) -> tuple[tuple[str, ...], str]:
    """The precisions to time and the half precision of the headline figures. CPU half
    convolutions are slower than fp32 and are not OpenPose's path: fp16 is CUDA-only."""
    if device.type == "cuda":
        return ("fp32", "fp16", "bf16"), "fp16"
    return ("fp32", "bf16"), "bf16"


def camera_image(size_wh: tuple[int, int], seed: int) -> np.ndarray:
    """Random BGR pixels (the body pass costs the same whatever they show)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size_wh[1], size_wh[0], 3), dtype=np.uint8)


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """``||out - ref|| / ||ref||`` in float64 (NaN stays NaN, so it cannot pass a check)."""
    out, ref = out.double().cpu(), ref.double().cpu()
    return float(torch.linalg.vector_norm(out - ref) / torch.linalg.vector_norm(ref))


class _PoseModule(nn.Module):
    """Carries the attributes ``BodyEstimator`` reads (layout, stride, input_multiple)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.layout, self.stride = net.layout, net.stride
        self.input_multiple, self.model_name = net.input_multiple, net.model_name


class GraphedNetwork(_PoseModule):
    """``net``'s forward captured once as a CUDA graph for one input shape and replayed.

    A BODY_25 forward is ~200 kernel launches; at batch 1 on a fast GPU their launch cost can
    exceed the arithmetic, which replaying a graph removes. ``forward`` copies (and casts)
    its input into the captured buffer; the output buffer is reused by the next call.
    """

    def __init__(self, net: nn.Module, example: torch.Tensor, warmup: int = 3):
        super().__init__(net)
        if example.device.type != "cuda":
            raise ValueError("CUDA graphs need a CUDA input")
        self.static_in = example.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode(), torch.cuda.stream(side):
            for _ in range(warmup):  # cuDNN picks its algorithms before capture
                net(self.static_in)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(self.graph):
            self.static_out = net(self.static_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape != self.static_in.shape:
            raise ValueError(f"graph captured for {tuple(self.static_in.shape)}, "
                             f"got {tuple(x.shape)}")
        self.static_in.copy_(x)
        self.graph.replay()
        return self.static_out


class SyntheticOutput(_PoseModule):
    """Runs the real network, then returns ideal maps of known people for the decoder.

    Random weights give maps with no people in them, so decoding them would time nothing
    useful; the real forward still runs, and as the decoder's reads are queued behind it on
    the same stream, an image-to-People time covers both. ``maps``: ``[K, C, h, w]`` on the
    network's device, K at least the largest batch. ``to_host``: hand them over on the CPU
    (one copy, which waits for the forward), so that decoding runs on the host.
    """

    def __init__(self, net: nn.Module, maps: torch.Tensor, to_host: bool = False):
        super().__init__(net)
        self.maps, self.to_host = maps, to_host

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.net(x)
        if len(x) > len(self.maps):
            raise ValueError(f"{len(x)} images but only {len(self.maps)} synthetic maps")
        out = self.maps[: len(x)]
        return out.cpu() if self.to_host else out


class ForwardGraph(nn.Module):
    """``net.net_output`` alone (no dtype casts, no inference_mode inside): what
    ``torch.compile`` and TensorRT trace. Inputs must already be in the net's dtype/format."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.net_output(x)


def count_syncs(fn: Callable[[], object]) -> tuple[int, dict[str, int]]:
    """Host-device synchronisations during ``fn`` (CUDA only), as PyTorch reports them with
    ``torch.cuda.set_sync_debug_mode("warn")`` (``.cpu()``, ``.item()``, ``nonzero``, and
    blocking uploads from pageable memory too), and how many came from each Python line
    (``file:line``, relative to the repository): where the GPU session should look."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with torch.inference_mode():
                fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    sites: dict[str, int] = {}
    for w in caught:
        if "synchroniz" in str(w.message):
            path = Path(w.filename)
            where = f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{w.lineno}"
            sites[where] = sites.get(where, 0) + 1
    return sum(sites.values()), sites


def device_allocations(fn: Callable[[], object], device: torch.device) -> int:
    """Caching-allocator allocations made during ``fn`` on a CUDA device (per-frame tensors)."""
    key = "allocation.all.allocated"
    synchronize(device)
    before = torch.cuda.memory_stats(device).get(key, 0)
    with torch.inference_mode():
        fn()
    synchronize(device)
    return int(torch.cuda.memory_stats(device).get(key, 0) - before)


@dataclass
class Report:
    """Prints ``BENCH``/``SKIP`` lines and keeps every figure for ``--out`` (rewritten after
    each figure, so a run stopped at its time limit still brings back what it measured).

    ``goals_on`` False (dry runs) prints every line as ``goal measured``: a tiny CPU figure
    against a GPU goal would read as a claim; the goal is still recorded in the JSON.
    """

    out: Path | None
    goals_on: bool
    meta: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    goals: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def bench(self, name: str, value: float, goal: str | None = None, digits: int = 4) -> None:
        if not math.isfinite(value):
            self.note(f"(figure {name} is not finite: {value})")
        print(bench_line(name, value, goal if self.goals_on else None, digits), flush=True)
        self.figures[name] = value
        if goal:
            self.goals[name] = goal
        self.save()

    def skip(self, name: str, reason: str) -> None:
        print(f"SKIP {name}: {reason}", flush=True)
        self.skipped[name] = reason
        self.save()

    def note(self, text: str) -> None:
        print(text, flush=True)
        self.notes.append(text)

    def save(self) -> None:
        if self.out is None:
            return
        doc = {"meta": self.meta, "figures": self.figures, "goals": self.goals,
               "skipped": self.skipped, "notes": self.notes}
        tmp = self.out.with_name(self.out.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True, allow_nan=True))
        tmp.replace(self.out)
