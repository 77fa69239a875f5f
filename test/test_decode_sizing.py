"""Net input sizing and scale factors (spec §3.1, §3.7)."""

from __future__ import annotations

import pytest

from openpose_ros.decode.sizing import (
    net_input_size, plan_scales, round_half_up, scale_factors, scale_input_to_net,
    scale_net_sizes, scale_net_to_output,
)


def test_1080p_example_from_the_spec():
    assert net_input_size((1920, 1080)) == (656, 368)
    assert scale_input_to_net((1920, 1080), (656, 368)) == pytest.approx(0.340130, abs=1e-6)
    # Not 1 / 0.340130 = 2.9401: OpenPose rounds the scaled image size first.
    assert scale_net_to_output((1920, 1080), (656, 368)) == pytest.approx(2.943252, abs=1e-6)


def test_minus_one_width_follows_the_aspect_capped_at_16_9():
    assert net_input_size((640, 480)) == (496, 368)  # 368 * 4/3 = 490.7 -> 496
    assert net_input_size((3000, 500)) == (656, 368)  # capped at 16:9
    assert net_input_size((3000, 500), dynamic=0) == (2208, 368)  # no cap
    assert net_input_size((3000, 500), dynamic=2) == (1312, 368)


def test_minus_one_height_is_symmetric():
    assert net_input_size((480, 640), (368, -1)) == (368, 208)  # capped at 9/16 of the width
    assert net_input_size((480, 640), (368, -1), dynamic=0) == (368, 496)


def test_multiple_and_rounding():
    assert round_half_up(2.5) == 3 and round_half_up(-0.5) == 0
    assert net_input_size((456, 256), (-1, 256), multiple=8) == (456, 256)
    assert net_input_size((456, 256), (-1, 256), multiple=16) == (448, 256)  # 16:9 cap: 455.1


@pytest.mark.parametrize("resolution", [(-1, -1), (-1, 370), (650, -1)])
def test_bad_net_resolution_is_a_value_error(resolution):
    with pytest.raises(ValueError):
        net_input_size((640, 480), resolution)


def test_bad_images_are_value_errors():
    with pytest.raises(ValueError):
        net_input_size((1, 480))
    with pytest.raises(ValueError):
        scale_input_to_net((0, 0), (656, 368))


def test_scales_and_scale_net_sizes():
    assert scale_factors(4, 0.25) == (1.0, 0.75, 0.5, 0.25)
    with pytest.raises(ValueError):
        scale_factors(5, 0.25)  # 1 - 4 * 0.25 = 0 leaves (0, 1]
    with pytest.raises(ValueError):
        scale_factors(0)
    sizes = scale_net_sizes((656, 368), (1.0, 0.75, 0.5))
    assert sizes == ((656, 368), (480, 272), (320, 176))  # floor(round(W s) / 16) * 16


def test_plan_scales_bundles_everything():
    plan = plan_scales((1920, 1080), scale_number=2, scale_gap=0.25)
    assert plan.net_sizes == ((656, 368), (480, 272))
    assert plan.input_to_net[1] == pytest.approx(min(479 / 1919, 271 / 1079))
    assert plan.net_to_output == pytest.approx(2.943252, abs=1e-6)
