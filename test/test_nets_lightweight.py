"""Lightweight COCO-18 network loaded from Intel's human-pose-estimation-0001 IR vs OpenVINO.

Our module takes ``pixel/256 - 0.5``; OpenVINO is fed the raw BGR 0..255 image and applies the
IR's own normalisation (``x * 0.0039215 - 0.50195``, i.e. ``(x - 128) / 255``), so these tests
also prove the input mapping. All at 456x256, the IR's native size.

* FP32 and FP16 forms (derived here from the shared FP16-INT8 IR with OpenVINO: activation
  FakeQuantize removed, weight decompression folded, constants kept f16 or widened to f32):
  max |ours - openvino| < 1e-4 — same float weights, only summation order differs.
* The FP16-INT8 IR as shipped: OpenVINO runs it with 8-bit activations (256 levels per
  FakeQuantize range, ~0.004-0.01 per step on the heatmap/PAF scale, compounded over ~60 layers)
  while we run float, so outputs differ by quantisation noise, mostly near limbs where values
  change fast. On the 20 OpenPose example photos (measured: mean 0.0015, 99.9th percentile
  0.06-0.14 per photo, max 0.39 on one PAF pixel) we assert mean |diff| < 0.005, 99.9th
  percentile < 0.2 and max < 0.5 (half a heatmap's range; a wrong layer or channel order
  gives O(1) errors everywhere and fails the mean bound by 100x), and that every confident
  heatmap peak (> 0.5) lands within 1 output pixel of OpenVINO's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from openpose_ros.layouts import COCO_18
from openpose_ros.nets import LightweightPoseNet, WeightFileError, load_model, prepare_network

ov = pytest.importorskip("openvino")
cv2 = pytest.importorskip("cv2")

SIZE = (456, 256)  # width, height
IR_NAME = "human-pose-estimation-0001"


@pytest.fixture(scope="module")
def ir_xml(shared_data: Path) -> Path:
    return shared_data / "models" / "intel_human_pose_estimation_0001_FP16-INT8" / f"{IR_NAME}.xml"


@pytest.fixture(scope="module")
def images(shared_data: Path) -> list[np.ndarray]:
    """The 20 example photos as raw BGR ``[1,3,256,456]`` float32 (area-resized, 0..255)."""
    paths = sorted((shared_data / "images" / "openpose_examples").glob("*.jpg"))
    assert len(paths) == 20
    out = []
    for p in paths:
        img = cv2.resize(cv2.imread(str(p)), SIZE, interpolation=cv2.INTER_AREA)
        out.append(img.transpose(2, 0, 1)[None].astype(np.float32))
    return out


def _openvino_outputs(xml: Path, raw_images: list[np.ndarray]) -> list[np.ndarray]:
    """OpenVINO CPU outputs as our ``[1,57,h,w]`` layout: 19 heatmaps then 38 PAFs."""
    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    results = []
    for raw in raw_images:
        outs = list(compiled([raw]).values())
        heat = next(o for o in outs if o.shape[1] == 19)
        pafs = next(o for o in outs if o.shape[1] == 38)
        results.append(np.concatenate([heat, pafs], axis=1))
    return results


def _ours(net: LightweightPoseNet, raw_images: list[np.ndarray]) -> list[np.ndarray]:
    return [net(torch.from_numpy(raw / 256.0 - 0.5)).numpy() for raw in raw_images]


@pytest.fixture(scope="module")
def float_irs(ir_xml: Path, tmp_path_factory) -> dict[str, Path]:
    """FP32 (f32 constants) and FP16 (f16 constants + Convert) IRs without FakeQuantize."""
    from openvino import passes

    model = ov.Core().read_model(str(ir_xml))
    for op in model.get_ops():
        if op.get_type_name() == "FakeQuantize":
            op.output(0).replace(op.input_value(0))
    manager = passes.Manager()
    manager.register_pass(passes.ConstantFolding())
    manager.run_passes(model)
    for op in model.get_ops():
        if op.get_type_name() == "Constant" and op.get_output_element_type(0) == ov.Type.f16:
            wide = ov.opset13.constant(op.get_data().astype(np.float32))
            wide.set_friendly_name(op.get_friendly_name())
            op.output(0).replace(wide.output(0))
        elif op.get_type_name() == "Convert":
            op.output(0).replace(op.input_value(0))
    for param in model.get_parameters():
        param.set_element_type(ov.Type.f32)
    model.validate_nodes_and_infer_types()
    folder = tmp_path_factory.mktemp("ir")
    ov.save_model(model, str(folder / "fp32.xml"), compress_to_fp16=False)
    ov.save_model(model, str(folder / "fp16.xml"), compress_to_fp16=True)
    return {"FP32": folder / "fp32.xml", "FP16": folder / "fp16.xml"}


@pytest.mark.parametrize("form, cpu_fast", [("FP32", False), ("FP16", False), ("FP32", True)])
def test_float_ir_forms_match_openvino_exactly(form, cpu_fast, float_irs, images):
    """Also with the CPU fast path (packed depthwise/1x1 convs, Winograd incl. the dilated
    refinement convs) that ``prepare_network`` applies by default."""
    xml = float_irs[form]
    net = LightweightPoseNet.from_ir(xml)
    if cpu_fast:
        net = prepare_network(net, "cpu")
    for ours, ref in zip(_ours(net, images[:3]), _openvino_outputs(xml, images[:3])):
        assert ours.shape == ref.shape == (1, 57, 32, 57)
        assert np.abs(ours - ref).max() < 1e-4


@pytest.fixture(scope="module")
def int8_outputs(ir_xml, images):
    net = LightweightPoseNet.from_ir(ir_xml)
    return _ours(net, images), _openvino_outputs(ir_xml, images)


def test_int8_ir_matches_openvino_within_quantisation_noise(int8_outputs):
    ours, ref = (np.concatenate(v) for v in int8_outputs)
    diff = np.abs(ours - ref)
    print(f"\nlightweight vs openvino INT8: max {diff.max():.4f} mean {diff.mean():.5f} "
          f"(heatmaps max {diff[:, :19].max():.4f}, PAFs max {diff[:, 19:].max():.4f})")
    assert diff.mean() < 0.005
    assert np.percentile(diff, 99.9) < 0.2
    assert diff.max() < 0.5


def _peaks(heatmaps: torch.Tensor, threshold: float) -> torch.Tensor:
    """Boolean mask of 3x3 local maxima above ``threshold``; ``[N,C,h,w]``."""
    pooled = torch.nn.functional.max_pool2d(heatmaps, 3, 1, 1)
    return (heatmaps == pooled) & (heatmaps > threshold)


def test_int8_confident_peaks_agree(int8_outputs):
    """OpenVINO's heatmap peaks above 0.5 have one of ours (above 0.3) within 1 px for >= 99%
    of them (measured 460 of 461) and within 2 px for all: quantisation moves a peak on a
    flat-topped blob by a pixel at most."""
    parts = COCO_18.num_parts
    ours = torch.from_numpy(np.concatenate(int8_outputs[0]))[:, :parts]
    ref = torch.from_numpy(np.concatenate(int8_outputs[1]))[:, :parts]
    ref_peaks = _peaks(ref, 0.5)
    our_peaks = _peaks(ours, 0.3).float()
    within_1 = torch.nn.functional.max_pool2d(our_peaks, 3, 1, 1)[ref_peaks] > 0
    within_2 = torch.nn.functional.max_pool2d(our_peaks, 5, 1, 2)[ref_peaks] > 0
    assert ref_peaks.sum() > 300
    assert within_1.float().mean() >= 0.99
    assert bool(within_2.all())


def test_paf_channels_follow_the_coco_layout(int8_outputs):
    """The lightweight PAF order is OpenPose COCO's (``COCO_18.paf_channels``).

    For every limb whose two parts each have exactly one confident peak (so the pairing is
    unambiguous), integrate all 19 candidate x/y channel pairs along the segment A->B; the
    best-scoring one must be the layout's channel pair for that limb. Measured: all 19 pairs
    (Neck->RShoulder included: channels 31/32 win on all 5 shoulders seen) resolve to the
    layout's channels, 66 of 68 limb instances.
    """
    parts = COCO_18.num_parts
    chosen: dict[int, list[int]] = {k: [] for k in range(len(COCO_18.paf_pairs))}
    for out in int8_outputs[0]:
        maps = torch.from_numpy(out)
        peaks = _peaks(maps, 0.3)[0]
        x_maps, y_maps = out[0, parts + 1::2], out[0, parts + 2::2]
        for k, (a, b) in enumerate(COCO_18.paf_pairs):
            if peaks[a].sum() != 1 or peaks[b].sum() != 1:
                continue
            pa = peaks[a].nonzero()[0].numpy()[::-1].astype(float)  # (x, y)
            pb = peaks[b].nonzero()[0].numpy()[::-1].astype(float)
            d = pb - pa
            if np.linalg.norm(d) < 2:
                continue
            xs, ys = np.round(pa + np.linspace(0, 1, 10)[:, None] * d).astype(int).T
            unit = d / np.linalg.norm(d)
            scores = (x_maps[:, ys, xs] * unit[0] + y_maps[:, ys, xs] * unit[1]).mean(axis=1)
            chosen[k].append(parts + 1 + 2 * int(scores.argmax()))
    for k, channels in chosen.items():
        assert channels, f"pair {k} never seen unambiguously"
        expected = COCO_18.paf_channels[k][0]
        assert channels.count(expected) > len(channels) / 2, (k, expected, channels)
    total = sum(len(c) for c in chosen.values())
    right = sum(c.count(COCO_18.paf_channels[k][0]) for k, c in chosen.items())
    assert right >= 0.9 * total


def test_truncated_ir_is_rejected(ir_xml, tmp_path):
    (tmp_path / f"{IR_NAME}.xml").write_bytes(ir_xml.read_bytes())
    data = ir_xml.with_suffix(".bin").read_bytes()
    (tmp_path / f"{IR_NAME}.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightFileError, match="truncated"):
        LightweightPoseNet.from_ir(tmp_path / f"{IR_NAME}.xml")


def test_load_model_from_models_dir_and_cache(ir_xml, images, tmp_path):
    """``load_model`` finds the IR in a models dir (verified by sha256), writes the converted
    safetensors cache next to it and reloads identical weights from that cache."""
    folder = tmp_path / "intel" / IR_NAME / "FP16-INT8"
    folder.mkdir(parents=True)
    for suffix in (".xml", ".bin"):
        (folder / f"{IR_NAME}{suffix}").symlink_to(ir_xml.with_suffix(suffix))
    first = load_model("lightweight_coco_18", models_dir=tmp_path)
    caches = list(folder.glob("*.safetensors"))
    assert len(caches) == 1
    second = load_model("LIGHTWEIGHT_COCO_18", models_dir=tmp_path)
    x = torch.from_numpy(images[0] / 256.0 - 0.5)
    assert torch.equal(first(x), second(x))
    assert second.stride == 8 and second.input_multiple == 8 and second.layout is COCO_18
