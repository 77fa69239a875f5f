"""OpenPose networks vs OpenCV's Caffe importer on random weights, and broken weight files.

For each family a ``.caffemodel`` with random He-scaled weights is written by
``helpers_caffe`` (an encoder independent of our reader), loaded into our network and into
``cv2.dnn.readNetFromCaffe`` with the official prototxt, and both run on the same random
input (float32, CPU). Relative error = max|ours - opencv| / max|opencv| over the whole
``net_output``; asserted < 1e-4. Inputs are reduced to 128x160 (body) and 128x128 (hand,
face) instead of 368-656 px so the suite stays fast on a 2-core CI runner; every layer still
runs, only on fewer pixels. The files exercise both encodings: V2 ``layer`` and V1
``layers``, BlobShape and legacy num/channels/height/width shapes.
"""

from __future__ import annotations

import copy
import functools
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from helpers_caffe import (  # noqa: E402
    opencv_forward, random_layer_weights, truncated_prototxt, write_caffemodel,
)

from openpose_ros.nets import Body25Net, CocoNet, FaceNet, HandNet, MpiNet, prepare_network  # noqa: E402
from openpose_ros.nets.cpu_fast import FastConv2d  # noqa: E402
from openpose_ros.nets.weights import (  # noqa: E402
    WeightFileError, load_caffemodel, load_state, save_state, state_from_network,
)

cv2 = pytest.importorskip("cv2")

# model -> (network factory, prototxt, V1 layers?, legacy blob shapes?, input H x W)
CASES = {
    "BODY_25": (Body25Net, "body_25/pose_deploy.prototxt", False, False, (128, 160)),
    "COCO_18": (CocoNet, "coco/pose_deploy_linevec.prototxt", True, False, (128, 160)),
    "MPI_15": (MpiNet, "mpi/pose_deploy_linevec.prototxt", False, True, (128, 160)),
    "HAND_21": (HandNet, "hand/pose_deploy.prototxt", True, True, (128, 128)),
    "FACE_70": (FaceNet, "face/pose_deploy.prototxt", False, True, (128, 128)),
}
MAX_RELATIVE_ERROR = 1e-4


@pytest.fixture(scope="module")
def caffemodel(tmp_path_factory):
    """``caffemodel(name)``: a random caffemodel for that family, written once per module."""
    folder = tmp_path_factory.mktemp("caffemodels")

    @functools.cache
    def make(name: str) -> Path:
        factory, _, v1, legacy, _ = CASES[name]
        net = factory()
        weights = random_layer_weights(net, seed=sorted(CASES).index(name))
        return write_caffemodel(folder / f"{name}.caffemodel", net, weights, v1=v1,
                                legacy_shape=legacy)

    return make


def _relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


@pytest.fixture(scope="module")
def prototxt_dir(shared_data: Path) -> Path:
    return shared_data / "models" / "openpose_prototxt"


@pytest.fixture(scope="module")
def opencv_reference(caffemodel, prototxt_dir):
    """``opencv_reference(name) -> (input, net_output)``, computed once per family."""

    @functools.cache
    def run(name: str) -> tuple[torch.Tensor, np.ndarray]:
        _, prototxt, _, _, (h, w) = CASES[name]
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)) - 0.5
        return x, opencv_forward(prototxt_dir / prototxt, caffemodel(name), x)

    return run


@pytest.fixture(scope="module")
def loaded(caffemodel):
    """``loaded(name)``: our network with that family's random caffemodel, loaded once."""
    return functools.cache(lambda name: load_caffemodel(CASES[name][0](), caffemodel(name)))


@pytest.mark.parametrize("name", list(CASES))
def test_matches_opencv_caffe(name, loaded, opencv_reference):
    _, _, _, _, (h, w) = CASES[name]
    x, reference = opencv_reference(name)
    net = loaded(name)
    ours = net(x).numpy()
    assert ours.shape == reference.shape == (1, net.layout.num_channels, h // 8, w // 8)
    assert np.abs(reference).max() > 0.1, "degenerate random net: outputs vanished"
    assert _relative_error(ours, reference) < MAX_RELATIVE_ERROR


@pytest.mark.parametrize("name", ["BODY_25", "COCO_18", "HAND_21"])
def test_cpu_fast_path_matches_opencv_caffe(name, loaded, opencv_reference):
    """The CPU fast path ``prepare_network`` applies by default (pre-packed oneDNN convs, fused
    ReLU, Winograd F(4x4,3x3)) on the three graph kinds: PReLU triple blocks, two-branch and
    single-branch CPM (MPI and face share the last two's code)."""
    x, reference = opencv_reference(name)
    net = prepare_network(copy.deepcopy(loaded(name)), "cpu")
    assert any(isinstance(m, FastConv2d) and m.use_winograd for m in net.modules())
    assert _relative_error(net(x).numpy(), reference) < MAX_RELATIVE_ERROR


def test_mpi_four_stage_variant_matches_opencv(caffemodel, prototxt_dir, tmp_path):
    """MPI_15_4 reads the 6-stage file and stops after stage 4 (prototxt cut accordingly)."""
    prototxt = truncated_prototxt(prototxt_dir / "mpi/pose_deploy_linevec.prototxt",
                                  tmp_path / "mpi_4.prototxt", stages=4)
    x = torch.rand(1, 3, 128, 160, generator=torch.Generator().manual_seed(1)) - 0.5
    net = load_caffemodel(MpiNet(stages=4), caffemodel("MPI_15"))
    ours = net(x).numpy()
    reference = opencv_forward(prototxt, caffemodel("MPI_15"), x)
    assert ours.shape == reference.shape == (1, 44, 16, 20)
    assert _relative_error(ours, reference) < MAX_RELATIVE_ERROR


def test_saved_state_round_trip(loaded, tmp_path):
    """Our safetensors cache and a prefixed ``.pth`` conversion give the caffemodel's outputs."""
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2)) - 0.5
    reference = loaded("HAND_21")
    expected = reference(x)
    cache = save_state(reference, tmp_path / "hand.safetensors")
    assert torch.equal(load_state(HandNet(), cache)(x), expected)
    # Common .pth conversions key layers as "<block>.<caffe layer>.<param>".
    prefixed = {f"model6.{k}": v for k, v in state_from_network(reference).items()}
    torch.save(prefixed, tmp_path / "hand.pth")
    assert torch.equal(load_state(HandNet(), tmp_path / "hand.pth")(x), expected)


def _unchanged(net: torch.nn.Module, before: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_truncated_caffemodel_is_rejected_without_partial_load(caffemodel, tmp_path):
    data = caffemodel("BODY_25").read_bytes()
    broken = tmp_path / "truncated.caffemodel"
    broken.write_bytes(data[: len(data) * 2 // 3])
    net = Body25Net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(WeightFileError, match="truncated") as info:
        load_caffemodel(net, broken)
    assert str(broken) in str(info.value)
    assert _unchanged(net, before)


def test_caffemodel_of_another_network_names_the_missing_layer(caffemodel):
    net = CocoNet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(WeightFileError) as info:
        load_caffemodel(net, caffemodel("BODY_25"))
    message = str(info.value)
    assert str(caffemodel("BODY_25")) in message
    assert "'conv5_1_CPM_L1'" in message and "missing" in message
    assert "is this the weight file for COCO_18" in message
    assert _unchanged(net, before)


def test_caffemodel_with_other_shapes_names_expected_and_found(caffemodel):
    """MPI and COCO share layer names; the first differing layer is reported with both shapes."""
    with pytest.raises(WeightFileError) as info:
        load_caffemodel(CocoNet(), caffemodel("MPI_15"))
    message = str(info.value)
    assert "'conv5_5_CPM_L1' weight: expected shape (38, 512, 1, 1), found (28, 512, 1, 1)" in message


def test_not_a_caffemodel_is_rejected(tmp_path):
    junk = tmp_path / "junk.caffemodel"
    junk.write_bytes(b"\xff" * 64)
    with pytest.raises(WeightFileError, match=str(junk)):
        load_caffemodel(HandNet(), junk)
