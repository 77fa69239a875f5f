"""The OpenVINO engine against torch: fp32 parity on all five OpenPose networks (random
He-scaled weights, small inputs) and on the lightweight IR; INT8 and bf16 deviations bounded;
the converted-IR cache and its key."""

from __future__ import annotations

import copy
import functools
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from helpers_caffe import random_layer_weights  # noqa: E402

from openpose_ros.nets import (  # noqa: E402
    Body25Net, CocoNet, FaceNet, HandNet, LightweightPoseNet, MpiNet, prepare_network,
)
from openpose_ros.nets import openvino_engine  # noqa: E402
from openpose_ros.nets.openvino_engine import (  # noqa: E402
    OpenVinoNetwork, compile_network, weights_key,
)
from openpose_ros.nets.precision import supported_precisions  # noqa: E402
from openpose_ros.nets.weights import named_caffe_layers  # noqa: E402

pytest.importorskip("openvino", reason="the OpenVINO engine needs the openvino package")

FAMILIES = {"BODY_25": Body25Net, "COCO_18": CocoNet, "MPI_15": MpiNet, "HAND_21": HandNet,
            "FACE_70": FaceNet}
MAX_RELATIVE_ERROR = 1e-4
IR_NAME = "human-pose-estimation-0001"


def _randomised(factory, seed: int) -> torch.nn.Module:
    """A network with random He-scaled weights (as the cv2.dnn parity tests use)."""
    net = factory().eval()
    layers = named_caffe_layers(net)
    with torch.no_grad():
        for name, blobs in random_layer_weights(net, seed=seed).items():
            for tensor, blob in zip(layers[name].parameters(), blobs):
                tensor.copy_(torch.from_numpy(blob).reshape(tensor.shape))
    return net


def _relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return float((ours - reference).abs().max() / reference.abs().max())


@pytest.fixture(scope="module")
def converted():
    """``converted(name) -> (torch net, OpenVINO fp32 net)``, each converted once per module
    (no IR cache: the cache is tested on the small lightweight network)."""

    @functools.cache
    def make(name: str):
        net = _randomised(FAMILIES[name], seed=sorted(FAMILIES).index(name))
        return net, compile_network(net, precision="fp32", num_threads=2)

    return make


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_openvino_fp32_matches_torch_fp32(name, converted):
    """One converted model serves any batch and size (dynamic shapes): two inputs for one
    network, one for the others."""
    net, ov_net = converted(name)
    assert isinstance(ov_net, OpenVinoNetwork) and ov_net.layout is net.layout
    gen = torch.Generator().manual_seed(7)
    shapes = ((1, 3, 48, 64), (2, 3, 32, 32)) if name == "HAND_21" else ((1, 3, 32, 48),)
    for shape in shapes:
        x = torch.rand(*shape, generator=gen) - 0.5
        ref, out = net(x), ov_net(x)
        assert out.shape == ref.shape and out.dtype == torch.float32
        err = _relative_error(out, ref)
        print(f"\n{name} {shape}: OpenVINO fp32 vs torch fp32 relative error {err:.1e}")
        assert err < MAX_RELATIVE_ERROR


def test_wrong_input_is_a_clear_error(converted):
    _, ov_net = converted("HAND_21")
    with pytest.raises(ValueError, match=r"HAND_21 expects a \[N, 3, H, W\]"):
        ov_net(torch.zeros(1, 1, 32, 32))


def test_bf16_deviation_is_bounded_or_refused(converted):
    """bf16 where this CPU's OpenVINO plugin has it; torch bf16 always (emulated where the CPU
    lacks it). Both bounded against fp32 at the level bf16's 8-bit mantissa allows."""
    net, _ = converted("HAND_21")
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3)) - 0.5
    ref = net(x)
    bf16 = prepare_network(copy.deepcopy(net), "cpu", precision="bf16")
    torch_err = _relative_error(bf16(x), ref)
    print(f"\nHAND_21 torch bf16 vs fp32 relative error {torch_err:.1e}")
    assert 0 < torch_err < 5e-2
    if "bf16" in supported_precisions("openvino", torch.device("cpu"), "HAND_21"):
        ov_bf16 = compile_network(net, precision="bf16", num_threads=2)
        ov_err = _relative_error(ov_bf16(x), ref)
        print(f"HAND_21 OpenVINO bf16 vs fp32 relative error {ov_err:.1e}")
        assert ov_err < 5e-2
    else:
        from openpose_ros.nets.precision import resolve_precision

        with pytest.raises(ValueError, match="it can run: fp32"):
            resolve_precision("bf16", engine="openvino", device=torch.device("cpu"),
                              model="HAND_21")


@pytest.fixture(scope="module")
def lightweight(shared_data: Path, tmp_path_factory):
    """The lightweight network from the shipped IR: torch fp32, OpenVINO fp32 (converted from
    that module), OpenVINO INT8 (the IR as shipped), and three photos as net input."""
    xml = shared_data / "models" / "intel_human_pose_estimation_0001_FP16-INT8" / f"{IR_NAME}.xml"
    net = LightweightPoseNet.from_ir(xml)
    cache = tmp_path_factory.mktemp("lightweight")
    fp32 = compile_network(net, precision="fp32", num_threads=2, source=xml, cache_dir=cache)
    int8 = compile_network(net, precision="int8", num_threads=2, source=xml)
    paths = sorted((shared_data / "images" / "openpose_examples").glob("*.jpg"))[:3]
    photos = [cv2.resize(cv2.imread(str(p)), (456, 256), interpolation=cv2.INTER_AREA)
              for p in paths]
    x = torch.from_numpy(np.stack(photos)).permute(0, 3, 1, 2).float() / 256.0 - 0.5
    return SimpleNamespace(net=net, fp32=fp32, int8=int8, x=x, cache=cache, xml=xml)


def test_lightweight_ir_openvino_fp32_matches_torch(lightweight):
    net, fp32, x = lightweight.net, lightweight.fp32, lightweight.x
    err = _relative_error(fp32(x[:1, :, :128, :224]), net(x[:1, :, :128, :224]))
    print(f"\nlightweight OpenVINO fp32 vs torch fp32 relative error {err:.1e}")
    assert err < MAX_RELATIVE_ERROR


def test_converted_ir_is_cached_and_keyed_by_weights_and_precision(lightweight, monkeypatch):
    """The fixture's fp32 conversion wrote ``<stem>.<MODEL>.openvino-<key>.xml``; a second
    compile reads it; other weights (or another precision) get another key and a new IR."""
    net, first, cache = lightweight.net, lightweight.fp32, lightweight.cache
    x = lightweight.x[:1, :, :64, :64]
    xmls = sorted(cache.glob("*.xml"))
    assert [p.name for p in xmls] == [
        f"{IR_NAME}.LIGHTWEIGHT_COCO_18.openvino-{weights_key(net, 'fp32')}.xml"]
    assert xmls[0].with_suffix(".bin").is_file()
    monkeypatch.setattr(openvino_engine.torch.jit, "trace",
                        lambda *a, **k: pytest.fail("the cached IR was not used"))
    second = compile_network(net, precision="fp32", num_threads=1, cache_dir=cache,
                             source=lightweight.xml)
    assert torch.equal(first(x), second(x))
    assert weights_key(net, "fp32") != weights_key(net, "bf16")
    other = copy.deepcopy(net)
    with torch.no_grad():
        other.backbone.conv1.weight.mul_(1.01)
    assert weights_key(other, "fp32") != weights_key(net, "fp32")
    with pytest.raises(pytest.fail.Exception, match="cached IR was not used"):
        compile_network(other, precision="fp32", num_threads=1, cache_dir=cache)


def test_lightweight_int8_deviation_is_bounded(lightweight):
    """The shipped INT8 IR (8-bit activations) against float32 on real photos, with the
    bounds the float reader's INT8 test uses; the heatmap peaks stay where they are."""
    net, int8, x = lightweight.net, lightweight.int8, lightweight.x
    ref, out = net(x), int8(x)
    assert out.shape == ref.shape == (3, 57, 32, 57)
    diff = (out - ref).abs()
    print(f"\nlightweight INT8 vs fp32: max {diff.max():.4f} mean {diff.mean():.5f}")
    assert 0 < diff.mean() < 0.005
    assert np.percentile(diff.numpy(), 99.9) < 0.2
    assert diff.max() < 0.5
    heat_ref, heat = ref[:, :18], out[:, :18]
    strong = heat_ref > 0.5
    assert strong.sum() > 20
    assert (heat[strong] > 0.3).float().mean() > 0.95
