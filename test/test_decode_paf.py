"""PAF line-integral scores (spec §3.5): the staged vectorised scorer against a literal loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from openpose_ros.decode.paf import LimbCandidates, limb_candidates, paf_scores
from openpose_ros.decode.peaks import Peaks, find_peaks
from openpose_ros.evaluation.synthetic_maps import synthetic_scene
from openpose_ros.decode.upsampled import DenseMaps, UpsampledMaps
from openpose_ros.layouts import COCO_18

THRESHOLDS = dict(inter_threshold=0.05, inter_min_above_threshold=0.95, nms_threshold=0.05)


def _reference_score(maps: np.ndarray, cx: int, cy: int, a, b, inter, min_above, nms) -> float:
    """The CUDA kernel's per-pair code, transcribed one sample at a time (float32)."""
    f32 = np.float32
    h, w = maps.shape[1:]
    dx, dy = f32(b[0]) - f32(a[0]), f32(b[1]) - f32(a[1])
    n = max(5, min(25, int(math.floor(math.sqrt(5 * max(abs(dx), abs(dy))) + 0.5))))
    norm = f32(math.sqrt(dx * dx + dy * dy))
    if not norm > 1e-6:
        return -1.0
    ux, uy = dx / norm, dy / norm
    total, count = f32(0), 0
    for m in range(n):
        x = min(w - 1, int(math.floor(f32(a[0]) + f32(m) * (dx / f32(n)) + 0.5)))
        y = min(h - 1, int(math.floor(f32(a[1]) + f32(m) * (dy / f32(n)) + 0.5)))
        score = ux * maps[cx, y, x] + uy * maps[cy, y, x]
        if score > inter:
            total += score
            count += 1
    if f32(count) / f32(n) > f32(min_above):
        return float(total / count)
    if norm < math.sqrt(w * h) / 150:
        return float(f32(nms + 1e-6))
    return -1.0


def _peaks(points: list[tuple[int, float, float]], num_parts: int) -> Peaks:
    part = np.array([p for p, _, _ in points])
    start = np.zeros(num_parts + 1, dtype=np.int64)
    start[1:] = np.cumsum(np.bincount(part, minlength=num_parts))
    return Peaks(part, np.array([x for _, x, _ in points], dtype=np.float32),
                 np.array([y for _, _, y in points], dtype=np.float32),
                 np.ones(len(points), dtype=np.float32), start)


def test_staged_scores_equal_the_literal_kernel_on_a_crowd():
    """Reduced: one 12-person COCO scene; every candidate pair of every limb."""
    scene = synthetic_scene(COCO_18, 12, np.random.default_rng(3), overlap=True)
    lazy = UpsampledMaps.from_net_output(scene.net_output, (368, 656))
    peaks = find_peaks(lazy, COCO_18.num_parts, 0.05, offset=0.17)
    cand = limb_candidates(peaks, COCO_18)
    got = paf_scores(lazy, peaks, cand, COCO_18, **THRESHOLDS)
    dense = lazy.dense().maps.numpy()
    want = [
        _reference_score(dense, *COCO_18.paf_channels[k],
                         (peaks.x[a], peaks.y[a]),
                         (peaks.x[b], peaks.y[b]),
                         0.05, 0.95, 0.05)
        for k, a, b in zip(cand.limb.tolist(), cand.a.tolist(), cand.b.tolist())
    ]
    np.testing.assert_allclose(got, want, atol=2e-6)
    assert (got > 0).sum() >= 12 * 10  # the real limbs connect


def test_maps_that_require_grad_decode_like_plain_ones():
    """Net output straight from a module (autograd on) is read without detaching it first."""
    scene = synthetic_scene(COCO_18, 3, np.random.default_rng(4))
    results = []
    for maps in (scene.net_output, scene.net_output.clone().requires_grad_()):
        lazy = UpsampledMaps.from_net_output(maps, (368, 656))
        peaks = find_peaks(lazy, COCO_18.num_parts, 0.05)
        cand = limb_candidates(peaks, COCO_18)
        results.append((peaks, paf_scores(lazy, peaks, cand, COCO_18, **THRESHOLDS)))
    (plain, plain_scores), (grad, grad_scores) = results
    assert len(plain) > 0 and (plain_scores > 0).sum() >= 3 * 10
    np.testing.assert_array_equal(grad.x, plain.x)
    np.testing.assert_array_equal(grad_scores, plain_scores)


def test_candidates_are_all_pairs_limb_major():
    peaks = _peaks([(1, 10, 10), (1, 50, 10), (2, 10, 30), (2, 50, 30), (2, 90, 30)], 18)
    cand = limb_candidates(peaks, COCO_18)
    assert len(cand) == 6 and set(cand.limb.tolist()) == {0}  # limb 0 is Neck(1)-RShoulder(2)
    assert cand.a.tolist() == [0, 0, 0, 1, 1, 1] and cand.b.tolist() == [2, 3, 4, 2, 3, 4]


def _limb0_maps(value_x: float, value_y: float, size=(64, 64), hole=None) -> DenseMaps:
    maps = torch.zeros(COCO_18.num_channels, *size)
    cx, cy = COCO_18.paf_channels[0]
    maps[cx], maps[cy] = value_x, value_y
    if hole is not None:
        maps[cx, hole[1], hole[0]] = maps[cy, hole[1], hole[0]] = 0.0
    return DenseMaps(maps)


def _score(maps: DenseMaps, a, b, **overrides) -> float:
    peaks = _peaks([(1, *a), (2, *b)], 18)
    cand = LimbCandidates(np.array([0]), np.array([0]), np.array([1]))
    return paf_scores(maps, peaks, cand, COCO_18, **{**THRESHOLDS, **overrides}).item()


def test_aligned_field_scores_its_mean_and_opposite_fails():
    assert _score(_limb0_maps(0.8, 0.0), (10, 20), (40, 20)) == pytest.approx(0.8)
    assert _score(_limb0_maps(-0.8, 0.0), (10, 20), (40, 20)) == -1.0


def test_one_failing_sample_kills_short_lines_but_not_long_ones():
    # 30 px apart: n = round(sqrt(150)) = 12 samples, none may fail.
    assert _score(_limb0_maps(1.0, 0.0, hole=(20, 20)), (10, 20), (40, 20)) == -1.0
    # 100 px apart: n = round(sqrt(500)) = 22 samples; 21/22 > 0.95 passes (mean of the rest).
    long_field = _limb0_maps(1.0, 0.0, size=(64, 128), hole=(10 + round(100 * 5 / 22), 20))
    assert _score(long_field, (10, 20), (110, 20)) == pytest.approx(1.0)


def test_near_and_coincident_parts():
    zero = _limb0_maps(0.0, 0.0)
    # On a 64x64 map the near-part radius is sqrt(64 * 64) / 150 = 0.43 px: 2 px apart fails...
    assert _score(zero, (10, 20), (12, 20)) == -1.0
    # ... while on a 656x368 map (radius 3.27 px) it scores the NMS threshold + 1e-6.
    big = DenseMaps(torch.zeros(COCO_18.num_channels, 368, 656))
    assert _score(big, (10, 20), (12, 20)) == pytest.approx(0.05 + 1e-6)
    assert _score(big, (10, 20), (10, 20)) == -1.0  # coincident


def test_maximize_positives_threshold_lets_more_fail():
    field = _limb0_maps(1.0, 0.0, hole=(20, 20))
    assert _score(field, (10, 20), (40, 20), inter_min_above_threshold=0.75) == pytest.approx(1.0)
