"""Engine and precision resolution: the ``auto`` rules per device and CPU, and the errors that
name what a device and engine can run; ``load_model`` and the parameter table use them."""

from __future__ import annotations

import argparse
import warnings

import pytest
import torch

from openpose_ros.cli import add_device_arguments
from openpose_ros.nets import HandNet, prepare_network, precision
from openpose_ros.nets.loader import resolve_run_settings
from openpose_ros.nets.precision import resolve_engine, resolve_precision

CPU = torch.device("cpu")
CUDA = torch.device("cuda", 0)


@pytest.fixture
def cpu_kind(monkeypatch):
    """``cpu_kind(native_bf16, openvino_bf16)`` fakes this CPU's bf16 support."""

    def set_kind(native_bf16: bool, openvino_bf16: bool = False) -> None:
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native_bf16)
        caps = ("FP32", "INT8", "BF16") if openvino_bf16 else ("FP32", "INT8")
        monkeypatch.setattr(precision, "_openvino_cpu_capabilities", lambda: caps)

    return set_kind


def test_auto_engine_is_openvino_on_cpu_when_installed_and_torch_on_cuda(monkeypatch):
    monkeypatch.setattr(precision, "openvino_available", lambda: True)
    assert resolve_engine("auto", CPU) == "openvino"
    assert resolve_engine("auto", CUDA) == "torch"
    monkeypatch.setattr(precision, "openvino_available", lambda: False)
    assert resolve_engine("AUTO", CPU) == "torch"
    with pytest.raises(ValueError, match="needs the openvino package"):
        resolve_engine("openvino", CPU)
    with pytest.raises(ValueError, match="CPU only"):
        resolve_engine("openvino", CUDA)
    with pytest.raises(ValueError, match="unknown engine 'tensorrt'; use one of auto, torch"):
        resolve_engine("tensorrt", CPU)


@pytest.mark.parametrize("native, engine, model, expected", [
    (False, "torch", "BODY_25", "fp32"), (True, "torch", "BODY_25", "bf16"),
    (False, "openvino", "BODY_25", "fp32"), (True, "openvino", "BODY_25", "bf16"),
    (False, "openvino", "LIGHTWEIGHT_COCO_18", "int8"),
    (True, "openvino", "LIGHTWEIGHT_COCO_18", "int8"),
    (True, "torch", "LIGHTWEIGHT_COCO_18", "bf16"),
])
def test_auto_precision_on_cpu(cpu_kind, native, engine, model, expected):
    cpu_kind(native, openvino_bf16=native)
    assert resolve_precision("auto", engine=engine, device=CPU, model=model) == expected


def test_auto_precision_on_cuda_is_fp16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_precision("auto", engine="torch", device=CUDA, model="BODY_25") == "fp16"
    assert resolve_precision("bf16", engine="torch", device=CUDA, model="HAND_21") == "bf16"


def test_refusals_name_what_can_run(cpu_kind):
    cpu_kind(False)
    with pytest.raises(ValueError, match=r"int8 cannot run BODY_25 .*no calibrated INT8 form"
                                         r".*it can run: fp32$"):
        resolve_precision("int8", engine="openvino", device=CPU, model="BODY_25")
    with pytest.raises(ValueError, match="it can run: fp32, bf16"):
        resolve_precision("int8", engine="torch", device=CPU, model="LIGHTWEIGHT_COCO_18")
    with pytest.raises(ValueError, match="fp16 .*CUDA-only.*it can run: int8, fp32"):
        resolve_precision("fp16", engine="openvino", device=CPU, model="LIGHTWEIGHT_COCO_18")
    with pytest.raises(ValueError, match="bf16 cannot run .*openvino.*it can run: fp32"):
        resolve_precision("bf16", engine="openvino", device=CPU, model="HAND_21")
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", engine="torch", device=CPU, model="HAND_21")


def test_run_settings_default_threads_are_the_cores(cpu_kind):
    cpu_kind(False)
    run = resolve_run_settings("hand_21", "cpu", engine="torch", precision="auto")
    assert run == precision.RunSettings("torch", "fp32", precision.default_num_threads())
    assert resolve_run_settings("HAND_21", "cpu", engine="torch", num_threads=3).num_threads == 3


def test_prepare_network_precisions_and_deprecated_fp16():
    net = prepare_network(HandNet(), "cpu", precision="bf16")
    assert next(net.parameters()).dtype == torch.bfloat16
    assert net(torch.zeros(1, 3, 16, 16)).dtype == torch.float32
    with pytest.raises(ValueError, match="torch runs networks in fp32, fp16, bf16, not 'int8'"):
        prepare_network(HandNet(), "cpu", precision="int8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
            prepare_network(HandNet(), "cpu", fp16=True)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_cpu_bf16_detection_reads_cpu_flags():
    precision.cpu_has_native_bf16.cache_clear()
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        pytest.skip("no /proc/cpuinfo on this system")
    expected = any(f" {flag}" in flags for flag in ("avx512_bf16", "amx_bf16"))
    assert precision.cpu_has_native_bf16() is expected


def test_device_arguments_are_shared_and_checked():
    parser = argparse.ArgumentParser()
    add_device_arguments(parser)
    args = parser.parse_args(["--engine", "OpenVINO", "--precision", "int8", "--num-threads", "2"])
    assert (args.device, args.engine, args.precision, args.num_threads) == (
        "auto", "openvino", "int8", 2)
    with pytest.raises(SystemExit):
        parser.parse_args(["--precision", "fp64"])
