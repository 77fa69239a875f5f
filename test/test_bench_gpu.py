"""``bench/bench_gpu.py``: its CPU dry run prints every figure a CPU can measure, finite, and
reports the CUDA-only ones as skipped, so the script cannot rot between GPU loans (issue 18)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "bench_gpu.py"

# The dry run's batches are 1 and 2 (the GPU run's 1, 8 and 32), its precisions fp32 and bf16.
DRY_RUN_FIGURES = {
    "gpu_matmul_bf16_tflops",
    "gpu_body25_fps_b1_fp32", "gpu_body25_fps_b1_bf16",
    "gpu_body25_fps_b2_fp32", "gpu_body25_fps_b2_bf16",
    "gpu_body25_fps_b2_bf16_nchw", "gpu_body25_rel_err_bf16",
    "gpu_body25_latency_ms", "gpu_decode_2people_ms", "gpu_body25_latency_host_decode_ms",
    "gpu_hands_faces_10people_batched_ms", "gpu_hands_faces_10people_one_at_a_time_ms",
    "gpu_hands_faces_batched_speedup_10people",
    "gpu_4cam_batched_ms", "gpu_4cam_one_by_one_ms", "gpu_batched_4cam_speedup",
    "gpu_lightweight_fps_b1_bf16", "gpu_lightweight_fps_b2_bf16",
    "gpu_body25_compile_eager_s", "gpu_body25_fps_b1_bf16_compile_eager",
    "gpu_body25_compile_eager_vs_eager_rel_err",
    "gpu_body25_fps_batched",
}
CUDA_ONLY = {
    "gpu_body25_fps_b1_fp16", "gpu_body25_fps_b2_fp16", "gpu_body25_rel_err_fp32",
    "gpu_body25_fps_b1_fp16_graph", "gpu_body25_fps_b2_fp16_graph",
    "gpu_decode_syncs_per_frame", "gpu_latency_syncs_per_frame",
    "gpu_decode_device_allocs_per_frame",
    "gpu_body25_fps_b1_fp16_tensorrt", "gpu_body25_fps_b2_fp16_tensorrt",
}
GOALS = {
    "gpu_body25_fps_batched": ">=1000", "gpu_body25_latency_ms": "<=3",
    "gpu_hands_faces_batched_speedup_10people": ">=3", "gpu_batched_4cam_speedup": ">=2",
}
BENCH = re.compile(r"^BENCH (\S+) (\S+) goal (.+)$")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> tuple[str, dict]:
    out = tmp_path_factory.mktemp("bench_gpu") / "figures.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--dry-run", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, json.loads(out.read_text())


def test_dry_run_prints_every_cpu_figure_finite(dry_run):
    stdout, _ = dry_run
    lines = [m.groups() for m in map(BENCH.match, stdout.splitlines()) if m]
    names = [name for name, _, _ in lines]
    assert len(names) == len(set(names)), f"a figure printed twice: {names}"
    assert set(names) == DRY_RUN_FIGURES, (set(names) ^ DRY_RUN_FIGURES, stdout)
    for name, value, goal in lines:
        assert math.isfinite(float(value)), (name, value)
        # A tiny CPU figure is never judged against a GPU goal.
        assert goal == "measured", (name, goal)


def test_dry_run_skips_cuda_only_parts_and_fakes_none(dry_run):
    stdout, doc = dry_run
    skipped = {line.split(":")[0][len("SKIP "):] for line in stdout.splitlines()
               if line.startswith("SKIP ")}
    assert skipped == CUDA_ONLY, skipped ^ CUDA_ONLY
    assert set(doc["skipped"]) == CUDA_ONLY
    assert not CUDA_ONLY & set(doc["figures"])
    assert "DRY RUN" in stdout


def test_dry_run_json_holds_the_printed_figures_and_the_goals(dry_run):
    stdout, doc = dry_run
    printed = {m[1]: float(m[2]) for m in map(BENCH.match, stdout.splitlines()) if m}
    assert set(doc["figures"]) == set(printed)
    for name, value in printed.items():
        assert doc["figures"][name] == pytest.approx(value, rel=1e-3), name
    assert doc["goals"] == GOALS
    assert doc["meta"]["dry_run"] is True and doc["meta"]["device"] == "cpu"
    assert set(doc["meta"]["section_s"]) >= {"body_forward", "latency", "handface", "cameras"}


def test_dry_run_figures_are_sane(dry_run):
    """What a broken path would show: decoding that finds nobody, bf16 far off fp32, a compiled
    graph that computes something else."""
    stdout, doc = dry_run
    found = re.search(r"decoded (\d+) people of (\d+)", stdout)
    assert found and found[1] == found[2] and int(found[2]) > 0, stdout
    fig = doc["figures"]
    assert 0 < fig["gpu_body25_rel_err_bf16"] < 0.1  # bf16 operands: 1e-3 .. 1e-2 expected
    assert fig["gpu_body25_compile_eager_vs_eager_rel_err"] < 1e-4
    # The headline is the best batched (batch > 1) half-precision figure: here the only one.
    assert fig["gpu_body25_fps_batched"] == fig["gpu_body25_fps_b2_bf16"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_says_so_and_succeeds():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "needs a CUDA GPU" in done.stdout
    assert "BENCH" not in done.stdout


def _gpu_timing():
    sys.path.insert(0, str(REPO / "bench"))
    import gpu_timing

    return gpu_timing


def test_timer_stops_at_its_time_limit():
    gpu_timing = _gpu_timing()
    calls = []
    timer = gpu_timing.Timer(torch.device("cpu"), warmup=1, repeats=1000, inner=1,
                             max_seconds=0.05)
    seconds = timer.seconds(lambda: (calls.append(1), time.sleep(0.01)))
    assert 0.01 <= seconds < 0.05
    assert 2 <= len(calls) < 20  # one warm-up, then a few repeats until 50 ms had passed


def test_report_writes_json_after_every_figure_and_judges_goals_only_when_asked(tmp_path, capsys):
    gpu_timing = _gpu_timing()
    out = tmp_path / "figures.json"
    judged = gpu_timing.Report(out, goals_on=True)
    judged.bench("gpu_x_ms", 2.0, "<=3")
    assert json.loads(out.read_text())["figures"] == {"gpu_x_ms": 2.0}
    judged.skip("gpu_y", "needs CUDA")
    assert json.loads(out.read_text())["skipped"] == {"gpu_y": "needs CUDA"}
    gpu_timing.Report(None, goals_on=False).bench("gpu_x_ms", 4.0, "<=3")
    assert capsys.readouterr().out.splitlines() == [
        "BENCH gpu_x_ms 2 goal <=3 met", "SKIP gpu_y: needs CUDA", "BENCH gpu_x_ms 4 goal measured"]


def test_synthetic_output_runs_the_network_and_refuses_too_many_images():
    gpu_timing = _gpu_timing()
    from openpose_ros.nets import LightweightPoseNet

    net = LightweightPoseNet().eval()
    ran = []
    net.register_forward_hook(lambda *_: ran.append(1))
    maps = torch.rand(2, net.layout.num_channels, 2, 2)
    stand_in = gpu_timing.SyntheticOutput(net, maps)
    assert stand_in.layout is net.layout and stand_in.stride == net.stride
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(stand_in(x), maps) and ran == [1]
    assert torch.equal(gpu_timing.SyntheticOutput(net, maps, to_host=True)(x[:1]), maps[:1])
    with pytest.raises(ValueError, match="only 2 synthetic maps"):
        stand_in(torch.rand(3, 3, 16, 16))
