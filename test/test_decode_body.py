"""Decoding net output into people (spec §3): ground-truth round trips, degenerate inputs, options.

Scenes are rendered by ``openpose_ros.evaluation.synthetic_maps`` at OpenPose's 1080p geometry (net input
656x368, maps 82x46). A joint counts as recovered within one heatmap pixel (8 net pixels): the
faithful decoder's own resolution on stride-8 maps is about 1-3 net pixels (x8 Catmull-Rom
interpolation of the Gaussian, the integer peak, the 7x7 centroid, OpenPose's +0.5 offset and
its ``scaleNetToOutput`` rounding), so the error distribution is checked separately.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from openpose_ros.decode.body import BodyDecodeConfig, decode_body, decode_maps, scale_keypoints
from openpose_ros.decode.sizing import scale_net_to_output
from openpose_ros.evaluation.synthetic_maps import score_round_trip, synthetic_scene
from openpose_ros.decode.upsampled import UpsampledMaps
from openpose_ros.layouts import BODY_25, COCO_18, MPI_15

LAYOUTS = (BODY_25, COCO_18, MPI_15)


def _decode(scene, config=None):
    return decode_body(scene.net_output, scene.layout, config, image_size=scene.image_size)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay.name)
@pytest.mark.parametrize("people", [1, 4, 8, 20])
def test_round_trip_separate_people(layout, people):
    scene = synthetic_scene(layout, people, np.random.default_rng(people))
    s = scale_net_to_output(scene.image_size, scene.net_size)
    decoded = _decode(scene)
    stats = score_round_trip(decoded.body, scene.truth, tolerance=8 * s)
    assert stats.recall == 1.0 and stats.precision == 1.0
    assert stats.merged == 0 and stats.split == 0
    assert len(decoded) == people
    # Joint error in net pixels: about one pixel typically, never more than a few.
    visible = scene.truth[..., 2] > 0
    dist = np.linalg.norm(decoded.body[:, None, :, :2] - scene.truth[None, :, :, :2], axis=-1)
    error = np.nanmin(np.where(visible[None], dist, np.inf), axis=0)[visible] / s
    assert np.median(error) < 1.5 and error.max() < 3.5


@pytest.mark.parametrize("layout", [BODY_25, COCO_18], ids=lambda lay: lay.name)
def test_round_trip_crowds_with_crossing_limbs(layout, capsys):
    """Overlapping people: precision and recall are reported; most joints come back right."""
    rng = np.random.default_rng(7)
    totals = np.zeros(3)
    for people in (4, 8, 12, 20):
        scene = synthetic_scene(layout, people, rng, overlap=True)
        s = scale_net_to_output(scene.image_size, scene.net_size)
        stats = score_round_trip(_decode(scene).body, scene.truth, tolerance=8 * s)
        totals += (stats.matched, stats.visible, stats.decoded)
    recall, precision = totals[0] / totals[1], totals[0] / totals[2]
    with capsys.disabled():
        print(f"\n{layout.name} crowded scenes: joint recall {recall:.3f}, "
              f"precision {precision:.3f}")
    assert recall > 0.85 and precision > 0.85


def test_lazy_and_dense_decoding_agree():
    scene = synthetic_scene(COCO_18, 12, np.random.default_rng(11), overlap=True)
    lazy = UpsampledMaps.from_net_output(scene.net_output, (368, 656))
    s = scale_net_to_output(scene.image_size, scene.net_size)
    config = BodyDecodeConfig.for_layout(COCO_18)
    a = decode_maps(lazy, COCO_18, config, image_size=scene.image_size,
                    scale_net_to_output=s)
    b = decode_maps(lazy.dense(), COCO_18, config, image_size=scene.image_size,
                    scale_net_to_output=s)
    assert len(a) == len(b) > 0
    np.testing.assert_allclose(a.body, b.body, atol=1e-4)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)


def test_people_follow_the_people_contract():
    scene = synthetic_scene(BODY_25, 5, np.random.default_rng(2), partial=1.0)
    decoded = _decode(scene)
    missing = decoded.body[..., 2] == 0
    assert missing.any() and np.isnan(decoded.body[missing][:, :2]).all()
    found = decoded.body[~missing]
    assert (found[:, 0] >= 0).all() and (found[:, 0] < 1920).all()
    assert decoded.image_size == (1920, 1080) and decoded.body.dtype == np.float32
    assert (decoded.scores > 0).all() and (decoded.track_ids == -1).all()


@pytest.mark.parametrize("maps", [
    torch.zeros(57, 46, 82),
    torch.full((57, 46, 82), float("nan")),
    torch.full((57, 46, 82), float("inf")),
    torch.zeros(57, 1, 1),
    torch.rand(57, 2, 3) * 1e-3,
], ids=["zeros", "nan", "inf", "one-pixel", "tiny"])
def test_degenerate_maps_give_no_people(maps):
    people = decode_body(maps, COCO_18, image_size=(640, 480))
    assert len(people) == 0 and people.body.shape == (0, 18, 3)


def test_one_nan_sample_in_a_part_map_loses_only_what_reads_it():
    scene = synthetic_scene(BODY_25, 4, np.random.default_rng(1))
    clean = _decode(scene)
    maps = scene.net_output.clone()
    maps[0, 0, 0] = float("nan")  # a corner far from every person
    people = decode_body(maps, BODY_25, image_size=scene.image_size)
    np.testing.assert_array_equal(people.body, clean.body)


def test_one_nan_sample_in_multi_scale_maps_loses_only_what_reads_it():
    """Multi-scale decoding upsamples the part maps in full: the NaN stays within its taps."""
    scene = synthetic_scene(BODY_25, 4, np.random.default_rng(1))
    half = torch.nn.functional.interpolate(scene.net_output[None], scale_factor=0.5,
                                           mode="bilinear")[0]
    scales = dict(image_size=scene.image_size, scale_input_to_net=[1.0, 0.5])
    clean = decode_body([scene.net_output, half], BODY_25, **scales)
    maps = scene.net_output.clone()
    maps[0, 0, 0] = float("nan")  # a corner far from every person
    people = decode_body([maps, half], BODY_25, **scales)
    assert len(clean) == 4
    np.testing.assert_array_equal(people.body, clean.body)


def test_maps_larger_than_the_image_decode_into_image_pixels():
    scene = synthetic_scene(COCO_18, 3, np.random.default_rng(4))
    people = decode_body(scene.net_output, COCO_18, image_size=(164, 92))  # a quarter of the net
    assert len(people) == 3
    found = people.body[people.body[..., 2] > 0]
    assert found[:, 0].max() < 164 and found[:, 1].max() < 92


@pytest.mark.parametrize("maps,message", [
    (torch.zeros(44, 46, 82), "channels"),
    (torch.zeros(46, 82), "net output"),
    (torch.zeros(57, 0, 82), "net output"),
])
def test_bad_maps_are_value_errors(maps, message):
    with pytest.raises(ValueError, match=message):
        decode_body(maps, COCO_18, image_size=(640, 480))
    with pytest.raises(ValueError):
        decode_body(torch.zeros(57, 46, 82), COCO_18, image_size=(1, 1))


def test_number_people_max_keeps_the_largest_best():
    scene = synthetic_scene(COCO_18, 6, np.random.default_rng(5))
    every = _decode(scene)
    top = _decode(scene, BodyDecodeConfig(number_people_max=2))
    assert len(every) == 6 and len(top) == 2
    rows = [np.flatnonzero(np.all(np.isclose(every.body, p, equal_nan=True), axis=(1, 2)))[0]
            for p in top.body]
    assert rows == sorted(rows)  # original order kept


def test_keypoint_scale_modes():
    body = np.array([[[0.0, 0.0, 1.0], [1919.0, 1079.0, 0.5], [np.nan, np.nan, 0.0]]], np.float32)
    size, s = (1920, 1080), 2.943252
    np.testing.assert_allclose(scale_keypoints(body, 1, size, s)[0, 1, :2], [1919 / s, 1079 / s])
    np.testing.assert_allclose(scale_keypoints(body, 3, size, s)[0, 1, :2], [1.0, 1.0])
    np.testing.assert_allclose(scale_keypoints(body, 4, size, s)[0, :2, :2], [[-1, -1], [1, 1]])
    np.testing.assert_allclose(scale_keypoints(body, 5, size, s)[0, 1, :2], [1.0, 1079 / 1919])
    corner_aligned = min(959 / 1919, 539 / 1079)  # output_resolution 960x540
    np.testing.assert_allclose(scale_keypoints(body, 2, size, s, (960, 540))[0, 1, :2],
                               [1919 * corner_aligned, 1079 * corner_aligned], rtol=1e-5)
    assert np.isnan(scale_keypoints(body, 4, size, s)[0, 2, :2]).all()
    assert (scale_keypoints(body, 6, size, s)[..., 2] == body[..., 2]).all()
    with pytest.raises(ValueError):
        BodyDecodeConfig(keypoint_scale=7)
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="nms_threshold"):
            BodyDecodeConfig(nms_threshold=bad)


def test_layout_defaults():
    assert BodyDecodeConfig.for_layout(BODY_25) == BodyDecodeConfig()
    mpi = BodyDecodeConfig.for_layout(MPI_15)
    assert (mpi.nms_threshold, mpi.inter_threshold) == (0.6, 0.01)
    assert BodyDecodeConfig.for_layout(MPI_15, mpi_4_stages=True).nms_threshold == 0.3
    loose = BodyDecodeConfig.for_layout(COCO_18, maximize_positives=True)
    assert (loose.nms_threshold, loose.inter_threshold, loose.inter_min_above_threshold,
            loose.min_subset_cnt, loose.min_subset_score) == (0.02, 0.01, 0.75, 2, 0.05)
    assert BodyDecodeConfig.for_layout(COCO_18, number_people_max=3).number_people_max == 3


def test_fast_nms_mode_decodes_separate_people_the_same():
    scene = synthetic_scene(BODY_25, 8, np.random.default_rng(9))
    exact, fast = _decode(scene), _decode(scene, BodyDecodeConfig(fast_nms=True))
    np.testing.assert_allclose(exact.body, fast.body, atol=1e-6)  # same peaks, same rounding
