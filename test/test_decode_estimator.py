"""BodyEstimator: warp, batched forward passes, decoding, with small fake networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from openpose_ros.decode.estimator import BodyEstimator, EstimatorConfig, warp_to_net
from openpose_ros.decode.sizing import scale_input_to_net, scale_net_to_output
from openpose_ros.evaluation.synthetic_maps import random_people, render_net_output, score_round_trip
from openpose_ros.layouts import COCO_18


class SceneNet(nn.Module):
    """Returns the ideal maps of known skeletons (image pixels) for whatever net size it gets."""

    layout, input_multiple, stride = COCO_18, 16, 8

    def __init__(self, truth_by_width: dict[int, tuple[np.ndarray, tuple[int, int]]]):
        super().__init__()
        self.truth_by_width = truth_by_width  # net width -> (truth, image size)
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x)
        net_wh = (x.shape[3], x.shape[2])
        truth, image_wh = self.truth_by_width[x.shape[3]]
        maps = render_net_output(truth, self.layout, image_wh, net_wh)
        return maps[None].repeat(x.shape[0], 1, 1, 1)


def _image(w: int, h: int, value: int = 128) -> np.ndarray:
    return np.full((h, w, 3), value, dtype=np.uint8)


def test_end_to_end_recovers_the_skeletons_and_batches_equal_sizes():
    rng = np.random.default_rng(0)
    truth_a = random_people(COCO_18, 3, (1280, 720), rng)
    truth_b = random_people(COCO_18, 2, (640, 480), rng)
    net = SceneNet({656: (truth_a, (1280, 720)), 496: (truth_b, (640, 480))})
    estimator = BodyEstimator(net)
    people = estimator([_image(1280, 720), _image(640, 480), _image(1280, 720)])
    assert estimator.last_batch_sizes == [2, 1]  # the two 1280x720 frames share one pass
    assert [p.image_size for p in people] == [(1280, 720), (640, 480), (1280, 720)]
    for found, (truth, size) in zip(people, [(truth_a, (1280, 720)), (truth_b, (640, 480)),
                                             (truth_a, (1280, 720))]):
        s = scale_net_to_output(size, (656, 368) if size[0] == 1280 else (496, 368))
        stats = score_round_trip(found.body, truth, tolerance=8 * s)
        assert stats.recall == 1.0 and stats.precision == 1.0


def test_multi_scale_runs_every_scale_and_averages():
    rng = np.random.default_rng(1)
    truth = random_people(COCO_18, 2, (1280, 720), rng)
    net = SceneNet({656: (truth, (1280, 720)), 480: (truth, (1280, 720))})
    estimator = BodyEstimator(net, EstimatorConfig(scale_number=2, scale_gap=0.25))
    maps = estimator.forward_maps([_image(1280, 720), _image(1280, 720)])
    assert estimator.last_batch_sizes == [2, 2]
    assert [tuple(m.shape) for m in maps[0].maps] == [(57, 46, 82), (57, 34, 60)]
    people = estimator([_image(1280, 720)])[0]
    s = maps[0].sizes.net_to_output
    assert score_round_trip(people.body, truth, tolerance=8 * s).recall == 1.0


def test_net_input_is_top_left_warped_and_normalised():
    net = SceneNet({656: (np.zeros((0, 18, 3), np.float32), (1280, 720))})
    image = _image(1280, 720, value=200)
    BodyEstimator(net)([image])
    x = net.inputs[0]
    assert tuple(x.shape) == (1, 3, 368, 656)
    s = scale_input_to_net((1280, 720), (656, 368))
    rows = int(719 * s)  # the warped image covers the top rows; zero padding below
    image_part, padding = x[0, :, : rows - 1, :640], x[0, :, rows + 2 :, :]
    torch.testing.assert_close(image_part, torch.full_like(image_part, 200 / 256 - 0.5))
    torch.testing.assert_close(padding, torch.full_like(padding, -0.5))


def test_warp_uses_cubic_when_enlarging():
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, 4:] = 255
    up = warp_to_net(image, (32, 32), 4.0)
    assert up.shape == (32, 32, 3)
    assert up[0, 14:20, 0].max() == 255 and 0 < up[0, 13, 0] < 255  # a cubic edge, not nearest


class Broken(nn.Module):
    layout, input_multiple, stride = COCO_18, 16, 8

    def forward(self, x):
        return torch.zeros(x.shape[0], 10, 3, 3)


@pytest.mark.parametrize("image", [
    np.zeros((100, 100), np.uint8), np.zeros((100, 100, 3), np.float32),
    np.zeros((100, 100, 4), np.uint8), np.zeros((1, 100, 3), np.uint8), "frame.jpg",
])
def test_bad_images_are_value_errors(image):
    with pytest.raises(ValueError, match="image 0"):
        BodyEstimator(Broken())([image])


def test_bad_network_output_and_missing_attributes_are_value_errors():
    with pytest.raises(ValueError, match="network output"):
        BodyEstimator(Broken())([_image(64, 48)])
    with pytest.raises(ValueError, match="layout"):
        BodyEstimator(nn.Identity())


def test_empty_input_and_parameterless_device():
    estimator = BodyEstimator(Broken())
    assert estimator([]) == [] and estimator.last_batch_sizes == []
    assert estimator.device == torch.device("cpu")
