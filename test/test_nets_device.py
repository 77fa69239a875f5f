"""Device handling, the module contract other areas rely on, and ``load_model`` end to end."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from helpers_caffe import random_layer_weights, write_caffemodel  # noqa: E402

from openpose_ros.layouts import BODY_25, COCO_18, FACE_70, HAND_21, MPI_15  # noqa: E402
from openpose_ros.nets import (  # noqa: E402
    Body25Net, CocoNet, FaceNet, HandNet, LightweightPoseNet, MpiNet, build_network, load_model,
    prepare_network, resolve_device,
)
from openpose_ros.nets import registry  # noqa: E402
from openpose_ros.nets.cpu_fast import FastConv2d  # noqa: E402
from openpose_ros.nets.registry import ModelFile, ModelSpec  # noqa: E402

CONTRACT = [
    (Body25Net, BODY_25, 16, 78), (CocoNet, COCO_18, 16, 57), (lambda: MpiNet(4), MPI_15, 16, 44),
    (HandNet, HAND_21, 8, 22), (FaceNet, FACE_70, 8, 71), (LightweightPoseNet, COCO_18, 8, 57),
]


@pytest.mark.parametrize("factory, layout, multiple, channels", CONTRACT)
def test_module_contract(factory, layout, multiple, channels):
    """Attributes and output shape on a tiny batch of two 32x48 inputs, plain and on the CPU
    fast path (which must agree with the plain module)."""
    net = factory().eval()
    assert net.layout is layout and net.stride == 8 and net.input_multiple == multiple
    assert net.model_name and layout.num_channels == channels
    x = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(5)) - 0.5
    out = net(x)
    assert out.shape == (2, channels, 4, 6) and out.dtype == torch.float32
    assert not out.requires_grad
    fast = prepare_network(copy.deepcopy(net), "cpu")(x)
    assert (fast - out).abs().max() <= 1e-4 * out.abs().max() + 1e-6


def test_bad_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"HAND_21 expects a \[N, 3, H, W\]"):
        HandNet()(torch.zeros(1, 1, 32, 32))


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("gpu0")
    with pytest.raises(ValueError, match="unsupported device"):
        resolve_device("meta")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(ValueError, match=f"has {count} CUDA device"):
        resolve_device(f"cuda:{count}")


@pytest.mark.parametrize("cpu_fast", [False, True])
def test_prepare_network_on_cpu(cpu_fast):
    reference = HandNet().eval()
    net = prepare_network(copy.deepcopy(reference), "cpu", cpu_fast=cpu_fast)
    assert net.channels_last and not net.training
    assert all(not p.requires_grad for p in net.parameters())
    assert net.front.conv1_1.weight.is_contiguous(memory_format=torch.channels_last)
    assert isinstance(net.front.conv1_1, FastConv2d) == cpu_fast
    x = torch.rand(1, 3, 40, 56) - 0.5
    expected = reference(x)
    assert (net(x) - expected).abs().max() <= 1e-4 * expected.abs().max()
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        prepare_network(HandNet(), "cpu", fp16=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fp16_channels_last_close_to_float32():
    torch.manual_seed(0)
    ref = HandNet().eval()
    x = torch.rand(1, 3, 96, 96) - 0.5
    expected = ref(x)
    fast = prepare_network(ref, "cuda", fp16=True)
    assert fast.channels_last and next(fast.parameters()).dtype == torch.float16
    out = fast(x)
    assert out.device.type == "cuda" and out.dtype == torch.float32
    assert (out.cpu() - expected).abs().max() / expected.abs().max() < 2e-2


def test_load_model_from_caffemodel_writes_and_uses_cache(tmp_path, monkeypatch):
    """``load_model`` with a registry entry pointing at a random caffemodel (no checksum):
    first load parses the caffemodel and writes ``<stem>.<MODEL>.safetensors``, the second
    reads that cache, and a changed caffemodel invalidates it."""
    net = HandNet()
    weights = random_layer_weights(net, seed=3)
    path = tmp_path / "hand" / "pose_iter_102000.caffemodel"
    path.parent.mkdir()
    write_caffemodel(path, net, weights)
    spec = ModelSpec("HAND_21", "handface", (ModelFile("hand/pose_iter_102000.caffemodel", None,
                                                       None, ()),), "test", "random")
    monkeypatch.setattr(registry, "MODELS", {"HAND_21": spec})
    x = torch.rand(1, 3, 32, 32) - 0.5
    first = load_model("hand_21", models_dir=tmp_path)
    cache = path.with_name("pose_iter_102000.HAND_21.safetensors")
    assert cache.is_file()
    monkeypatch.setattr("openpose_ros.nets.loader.load_caffemodel",
                        lambda *a: pytest.fail("cache not used"))
    second = load_model("HAND_21", models_dir=tmp_path)
    assert torch.equal(first(x), second(x))
    path.touch()
    with pytest.raises(pytest.fail.Exception, match="cache not used"):
        load_model("HAND_21", models_dir=tmp_path)


def test_build_network_names():
    assert isinstance(build_network("mpi_15_4"), MpiNet) and len(build_network("MPI_15_4").stages) == 4
    with pytest.raises(ValueError, match="unknown model"):
        build_network("BODY_135")
