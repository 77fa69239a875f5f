"""OKS average precision: the metric on hand-made cases, then the lightweight network on the
annotated COCO and MPII samples (net height 256; about 10 images, a few seconds on a CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from openpose_ros.evaluation.oks import (
    COCO17_SIGMAS, MPII_TO_OPENPOSE, EvalImage, average_precision, coco_sample_ap,
    mpii_sample_ap, oks_matrix, sigmas_by_openpose_name,
)

IR = "models/intel_human_pose_estimation_0001_FP16-INT8/human-pose-estimation-0001.xml"


def _gt(rng: np.random.Generator, n: int) -> np.ndarray:
    gt = np.zeros((n, 17, 3))
    gt[..., :2] = rng.uniform(0, 500, (n, 17, 2))
    gt[..., 2] = 1
    return gt


def test_oks_is_one_for_exact_and_falls_with_distance():
    gt = _gt(np.random.default_rng(0), 1)
    area = np.array([10000.0])
    assert oks_matrix(gt, gt, area, COCO17_SIGMAS)[0, 0] == pytest.approx(1.0)
    shifted = gt.copy()
    shifted[..., 0] += 10
    value = oks_matrix(shifted, gt, area, COCO17_SIGMAS)[0, 0]
    want = np.mean(np.exp(-100 / (2 * area[0] * (2 * COCO17_SIGMAS) ** 2)))
    assert value == pytest.approx(want)
    missing = gt.copy()
    missing[0, :5, :2] = np.nan
    assert oks_matrix(missing, gt, area, COCO17_SIGMAS)[0, 0] == pytest.approx(12 / 17)


def test_ap_perfect_partial_and_ignored():
    rng = np.random.default_rng(1)
    gt = _gt(rng, 3)
    area, keep = np.full(3, 5000.0), np.zeros(3, bool)
    perfect = EvalImage(gt, area, keep, gt.copy(), np.array([0.9, 0.8, 0.7]))
    assert average_precision([perfect], COCO17_SIGMAS) == pytest.approx(1.0)
    # A confident false positive ranked first lowers the precision at every recall.
    far = gt[:1].copy()
    far[..., :2] += 300
    with_fp = EvalImage(gt, area, keep, np.concatenate([far, gt]), np.array([1.0, 0.9, 0.8, 0.7]))
    assert 0.5 < average_precision([with_fp], COCO17_SIGMAS) < 1.0
    # The same detection on an ignored ground truth costs nothing.
    ignored = EvalImage(np.concatenate([gt, far]), np.full(4, 5000.0), np.array([0, 0, 0, 1], bool),
                        np.concatenate([far, gt]), np.array([1.0, 0.9, 0.8, 0.7]))
    assert average_precision([ignored], COCO17_SIGMAS) == pytest.approx(1.0)
    missed = EvalImage(gt, area, keep, gt[:1].copy(), np.array([0.9]))
    # One of three found: precision 1 up to recall 1/3, i.e. 34 of the 101 recall points.
    assert average_precision([missed], COCO17_SIGMAS) == pytest.approx(34 / 101)


def test_mpii_uses_coco_sigmas_of_the_shared_joints():
    sigmas = sigmas_by_openpose_name(MPII_TO_OPENPOSE)
    assert len(sigmas) == 12
    assert sigmas[list(MPII_TO_OPENPOSE).index("l_hip")] == pytest.approx(0.107)


@pytest.fixture(scope="module")
def lightweight_estimator(shared_data):
    from openpose_ros.decode.estimator import BodyEstimator, EstimatorConfig
    from openpose_ros.nets.lightweight import LightweightPoseNet

    torch.set_num_threads(2)
    net = LightweightPoseNet.from_ir(shared_data / IR)
    return BodyEstimator(net, EstimatorConfig(net_resolution=(-1, 256)))


def test_lightweight_network_coco_sample_ap(lightweight_estimator, shared_data, capsys):
    ap = coco_sample_ap(lightweight_estimator, shared_data / "annotated/mmpose_coco")
    with capsys.disabled():
        print(f"\nlightweight (human-pose-estimation-0001, net height 256) "
              f"COCO sample OKS AP {ap:.3f}")
    assert ap > 0.4


def test_lightweight_network_mpii_sample_ap(lightweight_estimator, shared_data, capsys):
    ap = mpii_sample_ap(lightweight_estimator, shared_data / "annotated/mmpose_mpii")
    with capsys.disabled():
        print(f"\nlightweight (human-pose-estimation-0001, net height 256) "
              f"MPII sample OKS AP {ap:.3f}"
              " (12 shared joints)")
    assert ap > 0.4


def test_lightweight_openvino_int8_ap_within_0_02_of_float32(lightweight_estimator, shared_data):
    """The default CPU engine (OpenVINO running Intel's INT8 IR) against float32 torch on the
    same samples: the accuracy given up for the speed is bounded."""
    pytest.importorskip("openvino", reason="the OpenVINO engine needs the openvino package")
    from openpose_ros.decode.estimator import BodyEstimator
    from openpose_ros.nets.openvino_engine import compile_network

    int8 = BodyEstimator(compile_network(lightweight_estimator.network, precision="int8",
                                         num_threads=2, source=shared_data / IR),
                         lightweight_estimator.config)
    for sample, ap in (("mmpose_coco", coco_sample_ap), ("mmpose_mpii", mpii_sample_ap)):
        reference = ap(lightweight_estimator, shared_data / "annotated" / sample)
        quantised = ap(int8, shared_data / "annotated" / sample)
        print(f"\n{sample}: OKS AP torch fp32 {reference:.4f}, openvino int8 {quantised:.4f}")
        assert reference - quantised <= 0.02
