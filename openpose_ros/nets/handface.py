"""Single-branch CPM networks for hands (21 + background) and faces (70 + background), spec §1.5.

Stage 1 is ``conv6_1_CPM`` (1x1/512) and ``conv6_2_CPM`` (1x1/K); stages 2..6 read
``[previous stage output, F]`` (hand ``concat_stage{t}``, face ``features_in_stage_{t}``).
The input is the 368x368 crop (spec §4.3), giving a 46x46 output; other sizes work too.
"""

from __future__ import annotations

import torch
from torch import nn

from openpose_ros.layouts import FACE_70, HAND_21, Layout
from openpose_ros.nets.base import PoseNetwork
from openpose_ros.nets.blocks import HANDFACE_FRONT_TAIL, ConvStage, vgg_front

__all__ = ["CpmNet", "HandNet", "FaceNet"]

_FEATURES = 128


class CpmNet(PoseNetwork):
    """``[N,3,H,W]`` normalised BGR -> ``[N, K, H/8, W/8]`` heatmaps, background last.

    Args:
        layout: ``HAND_21`` or ``FACE_70``; K = parts + 1.
        pool_suffix: Caffe pooling names are ``pool{i}{pool_suffix}`` (hand ``_stage1``, face ``""``).
    """

    def __init__(self, layout: Layout, model_name: str, pool_suffix: str):
        super().__init__(layout, model_name, input_multiple=8)
        k = layout.num_parts + 1
        self.front = vgg_front(HANDFACE_FRONT_TAIL, pool_suffix=pool_suffix)
        first = ConvStage(_FEATURES, [("conv6_1_CPM", 512, 1), ("conv6_2_CPM", k, 1)])
        refine = [
            ConvStage(
                k + _FEATURES,
                [(f"Mconv{i}_stage{t}", 128, 7) for i in range(1, 6)]
                + [(f"Mconv6_stage{t}", 128, 1), (f"Mconv7_stage{t}", k, 1)],
            )
            for t in range(2, 7)
        ]
        self.stages = nn.ModuleList([first, *refine])

    def net_output(self, x: torch.Tensor) -> torch.Tensor:
        features = self.front(x)
        out = self.stages[0](features)
        for stage in self.stages[1:]:
            out = stage(torch.cat([out, features], dim=1))
        return out


class HandNet(CpmNet):
    """OpenPose hand network (``models/hand/pose_deploy.prototxt``): 22 output channels."""

    def __init__(self) -> None:
        super().__init__(HAND_21, "HAND_21", pool_suffix="_stage1")


class FaceNet(CpmNet):
    """OpenPose face network (``models/face/pose_deploy.prototxt``): 71 output channels."""

    def __init__(self) -> None:
        super().__init__(FACE_70, "FACE_70", pool_suffix="")
