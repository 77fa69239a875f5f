"""Layer builders shared by the OpenPose network families (spec §1.1-1.2).

Every convolution and PReLU is registered under its Caffe layer name, so the last component of
its module path *is* the Caffe name and weights load by name (``weights.named_caffe_layers``).
Caffe convolutions here are stride 1, dilation 1, no groups, with "same" padding.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

__all__ = [
    "BODY_FRONT_TAIL",
    "HANDFACE_FRONT_TAIL",
    "conv",
    "activation",
    "vgg_front",
    "ConvStage",
]

# (layer name, output channels) of the VGG front end after pool3, per family (spec §1.2).
BODY_FRONT_TAIL: tuple[tuple[str, int], ...] = (
    ("conv4_1", 512), ("conv4_2", 512), ("conv4_3_CPM", 256), ("conv4_4_CPM", 128),
)
HANDFACE_FRONT_TAIL: tuple[tuple[str, int], ...] = (
    ("conv4_1", 512), ("conv4_2", 512), ("conv4_3", 512), ("conv4_4", 512),
    ("conv5_1", 512), ("conv5_2", 512), ("conv5_3_CPM", 128),
)
_VGG_HEAD: tuple[tuple[str, int], ...] = (
    ("conv1_1", 64), ("conv1_2", 64), ("pool1", 0),
    ("conv2_1", 128), ("conv2_2", 128), ("pool2", 0),
    ("conv3_1", 256), ("conv3_2", 256), ("conv3_3", 256), ("conv3_4", 256), ("pool3", 0),
)


def conv(in_channels: int, out_channels: int, kernel: int) -> nn.Conv2d:
    """Caffe-style convolution: stride 1, "same" padding (pad 1 for k3, 3 for k7, 0 for k1)."""
    return nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2)


def activation(channels: int, prelu: bool) -> nn.Module:
    """ReLU, or a PReLU with one slope per channel (BODY_25 has no ``prelu_param``, spec §1.1)."""
    return nn.PReLU(channels) if prelu else nn.ReLU(inplace=True)


def vgg_front(
    tail: Sequence[tuple[str, int]], *, pool_suffix: str = "_stage1", prelu_from: str | None = None
) -> nn.Sequential:
    """The shared VGG-19 front end: ``[N,3,H,W] -> [N,128,H/8,W/8]`` feature map F.

    Args:
        tail: layers after pool3, e.g. ``BODY_FRONT_TAIL``.
        pool_suffix: pooling layers are ``pool{i}{pool_suffix}`` (face uses ``""``).
        prelu_from: first conv whose activation is a PReLU named ``prelu{suffix}`` (BODY_25:
            ``"conv4_2"``); every later conv also gets one.
    """
    layers: list[tuple[str, nn.Module]] = []
    in_ch = 3
    use_prelu = False
    for name, out_ch in (*_VGG_HEAD, *tail):
        if name.startswith("pool"):
            # Caffe pooling rounds up; ceil_mode keeps odd sizes identical (spec §1.1).
            layers.append((name + pool_suffix, nn.MaxPool2d(2, 2, ceil_mode=True)))
            continue
        use_prelu = use_prelu or name == prelu_from
        act_name = ("prelu" if use_prelu else "relu") + name[len("conv"):]
        layers += [(name, conv(in_ch, out_ch, 3)), (act_name, activation(out_ch, use_prelu))]
        in_ch = out_ch
    return nn.Sequential(OrderedDict(layers))


class ConvStage(nn.Module):
    """A plain CPM stage: convolutions in series, each but the last followed by an activation.

    ``spec`` lists ``(caffe_name, out_channels, kernel)``; the last conv (Mconv7/conv5_5/
    conv6_2) has no activation (spec §1.1). ``[N, in_channels, h, w] -> [N, spec[-1][1], h, w]``.
    """

    def __init__(self, in_channels: int, spec: Sequence[tuple[str, int, int]], prelu: bool = False):
        super().__init__()
        layers: list[tuple[str, nn.Module]] = []
        for i, (name, out_ch, kernel) in enumerate(spec):
            layers.append((name, conv(in_channels, out_ch, kernel)))
            if i + 1 < len(spec):
                act_name = name.replace("conv", "prelu" if prelu else "relu", 1)
                layers.append((act_name, activation(out_ch, prelu)))
            in_channels = out_ch
        self.layers = nn.Sequential(OrderedDict(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
