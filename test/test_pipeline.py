"""The ROS-free pipeline: config checks, composition of body + hands/faces, updates, release.

Networks here are tiny stand-ins (a strided conv with the right output channels) at small
crop sizes (64 px), so the tests measure the composition, not the models.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from openpose_ros.handface.detector import HandFaceConfig, HandFaceDetector
from openpose_ros.layouts import COCO_18
from openpose_ros.people import People
from openpose_ros.pipeline import (PipelineConfig, PosePipeline, format_net_resolution,
                                   parse_net_resolution)


class StridedMaps(nn.Module):
    """``[N, 3, H, W]`` -> ``[N, channels, H/8, W/8]``: a fixed random strided conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        torch.manual_seed(channels)
        self.conv = nn.Conv2d(3, channels, 8, stride=8)

    def forward(self, x):
        return torch.sigmoid(self.conv(x))


class OnePersonEstimator:
    """A body estimator stand-in: one COCO_18 person with both arms in view."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, images):
        self.calls.append(len(images))
        out = []
        for image in images:
            h, w = image.shape[:2]
            body = np.full((1, COCO_18.num_parts, 3), np.nan, np.float32)
            body[..., 2] = 0
            # neck, shoulders, elbows, wrists, nose, eyes, ears around the image centre
            xy = {1: (0.5, 0.3), 2: (0.4, 0.3), 3: (0.35, 0.45), 4: (0.3, 0.6), 5: (0.6, 0.3),
                  6: (0.65, 0.45), 7: (0.7, 0.6), 0: (0.5, 0.18), 14: (0.47, 0.16),
                  15: (0.53, 0.16), 16: (0.44, 0.17), 17: (0.56, 0.17)}
            for part, (fx, fy) in xy.items():
                body[0, part] = (fx * w, fy * h, 0.9)
            out.append(People(COCO_18, (w, h), body, [0.8]))
        return out


def test_net_resolution_text_round_trips_and_rejects_nonsense():
    assert parse_net_resolution("-1x368") == (-1, 368)
    assert parse_net_resolution("656 X 368") == (656, 368)
    assert format_net_resolution((656, -1)) == "656x-1"
    for bad in ("368", "axb", "-1x-1", "0x0", "1x2x3"):
        with pytest.raises(ValueError, match="net_resolution"):
            parse_net_resolution(bad)


@pytest.mark.parametrize("kwargs, message", [
    (dict(scale_number=0), "scale_number"),
    (dict(scale_gap=1.5), "scale_gap"),
    (dict(scale_number=5, scale_gap=0.25), "scale <= 0"),
    (dict(number_people_max=0), "number_people_max"),
])
def test_config_rejects_impossible_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PipelineConfig(**kwargs)


def test_config_knows_when_only_thresholds_differ():
    base = PipelineConfig()
    assert base.same_networks(PipelineConfig(render_threshold=0.5, nms_threshold=0.1))
    assert not base.same_networks(PipelineConfig(model="COCO_18"))
    assert not base.same_networks(PipelineConfig(handface=HandFaceConfig(hands=True,
                                                                         faces=False)))


def test_body_then_hands_and_faces_in_one_batch():
    estimator = OnePersonEstimator()
    handface = HandFaceConfig(hands=True, faces=True, hand_net_resolution=64,
                              face_net_resolution=64)
    detector = HandFaceDetector(StridedMaps(22), StridedMaps(71), handface)
    pipeline = PosePipeline(estimator, handface=detector,
                            config=PipelineConfig(handface=handface))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (120, 160, 3), np.uint8) for _ in range(3)]
    people = pipeline(images)
    assert estimator.calls == [3] and len(people) == 3
    for image, result in zip(images, people):
        assert result.image_size == (160, 120) and result.has_hands and result.has_face
        alone = detector(image, estimator([image])[0])
        np.testing.assert_array_equal(result.left_hand, alone.left_hand)
        np.testing.assert_array_equal(result.face, alone.face)
    assert pipeline([]) == []


def test_update_changes_thresholds_but_not_networks():
    handface = HandFaceConfig(hands=True, faces=False, hand_net_resolution=64)
    detector = HandFaceDetector(StridedMaps(22), None, handface)
    pipeline = PosePipeline(OnePersonEstimator(), handface=detector,
                            config=PipelineConfig(handface=handface))
    looser = HandFaceConfig(hands=True, faces=False, hand_net_resolution=64,
                            hand_render_threshold=0.5)
    pipeline.update(PipelineConfig(render_threshold=0.3, handface=looser))
    assert pipeline.config.render_threshold == 0.3
    assert detector.config.hand_render_threshold == 0.5
    with pytest.raises(ValueError, match="other networks"):
        pipeline.update(PipelineConfig(model="MPI_15", handface=looser))


def test_release_drops_the_networks():
    pipeline = PosePipeline(OnePersonEstimator(), config=PipelineConfig(), device="cpu")
    pipeline.release()
    assert pipeline.estimator is None and pipeline.handface is None
