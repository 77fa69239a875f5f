"""BODY_25 network (``models/pose/body_25/pose_deploy.prototxt``, spec §1.4).

PAF stages run first (``stage0..3_L2``, 52 ch), then heatmap stages (``stage0..1_L1``, 26 ch).
Every convolution except ``Mconv7`` is followed by a per-channel PReLU from ``conv4_2`` on.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from openpose_ros.layouts import BODY_25
from openpose_ros.nets.base import PoseNetwork
from openpose_ros.nets.blocks import BODY_FRONT_TAIL, activation, conv, vgg_front

__all__ = ["Body25Net", "TripleBlock", "Body25Stage"]

_FEATURES = 128   # conv4_4_CPM channels (feature map F)
_PAFS = 52
_HEATMAPS = 26    # 25 parts + background

# stage name -> (input channels, N per triple conv, Mconv6 channels, Mconv7 channels); spec §1.4.
_STAGES: dict[str, tuple[int, int, int, int]] = {
    "stage0_L2": (_FEATURES, 96, 256, _PAFS),
    "stage1_L2": (_FEATURES + _PAFS, 128, 512, _PAFS),
    "stage2_L2": (_FEATURES + _PAFS, 128, 512, _PAFS),
    "stage3_L2": (_FEATURES + _PAFS, 128, 512, _PAFS),
    "stage0_L1": (_FEATURES + _PAFS, 96, 256, _HEATMAPS),
    "stage1_L1": (_FEATURES + _HEATMAPS + _PAFS, 128, 512, _HEATMAPS),
}


class TripleBlock(nn.Module):
    """``Mconv{b}_{stage}``: three 3x3 conv+PReLU in series whose outputs are concatenated.

    ``[N, in, h, w] -> [N, 3*width, h, w]`` (Caffe ``Mconv{b}_{stage}_concat`` = [_0, _1, _2]).
    """

    def __init__(self, prefix: str, in_channels: int, width: int):
        super().__init__()
        act_prefix = prefix.replace("conv", "prelu", 1)
        self.convs = nn.ModuleDict(
            {f"M{prefix}_{i}": conv(in_channels if i == 0 else width, width, 3) for i in range(3)}
        )
        self.acts = nn.ModuleDict({f"M{act_prefix}_{i}": activation(width, True) for i in range(3)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = []
        for conv_layer, act in zip(self.convs.values(), self.acts.values()):
            x = act(conv_layer(x))
            outputs.append(x)
        return torch.cat(outputs, dim=1)


class Body25Stage(nn.Module):
    """One BODY_25 stage: 5 triple blocks, ``Mconv6`` (1x1 + PReLU), ``Mconv7`` (1x1, no act)."""

    def __init__(self, stage: str, in_channels: int, width: int, hidden: int, out_channels: int):
        super().__init__()
        blocks = []
        for b in range(1, 6):
            blocks.append(TripleBlock(f"conv{b}_{stage}", in_channels if b == 1 else 3 * width, width))
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(OrderedDict([
            (f"Mconv6_{stage}", conv(3 * width, hidden, 1)),
            (f"Mprelu6_{stage}", activation(hidden, True)),
            (f"Mconv7_{stage}", conv(hidden, out_channels, 1)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x))


class Body25Net(PoseNetwork):
    """BODY_25: ``[N,3,H,W]`` normalised BGR -> ``[N, 78, H/8, W/8]`` (26 heatmaps, 52 PAFs).

    Weights start random (PyTorch default init); fill them with ``weights.load_caffemodel``.
    """

    def __init__(self) -> None:
        super().__init__(BODY_25, "BODY_25", input_multiple=16)
        self.front = vgg_front(BODY_FRONT_TAIL, prelu_from="conv4_2")
        self.stages = nn.ModuleDict({name: Body25Stage(name, *dims) for name, dims in _STAGES.items()})

    def net_output(self, x: torch.Tensor) -> torch.Tensor:
        features = self.front(x)
        s = self.stages
        pafs = s["stage0_L2"](features)
        for name in ("stage1_L2", "stage2_L2", "stage3_L2"):
            pafs = s[name](torch.cat([features, pafs], dim=1))
        heatmaps = s["stage0_L1"](torch.cat([features, pafs], dim=1))
        heatmaps = s["stage1_L1"](torch.cat([features, heatmaps, pafs], dim=1))
        return torch.cat([heatmaps, pafs], dim=1)
