"""Lightweight COCO-18 network: the graph of Intel's ``human-pose-estimation-0001`` IR.

MobileNet-v1 trunk (stride 8, ``conv5_1/dw`` dilated by 2), a residual CPM block with ELUs,
an initial stage and one refinement stage with dilated residual blocks; 19 heatmaps
(18 parts + background) and 38 PAFs at stride 8. Batch norms are already folded into conv
biases in the IR, so every conv here has a bias.

Module names are the IR layer names with ``/`` replaced by ``_`` (``conv2_1/dw`` ->
``conv2_1_dw``), so ``from_ir`` fills them by name (``openpose_ros.nets.openvino_ir``).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from openpose_ros.layouts import COCO_18
from openpose_ros.nets.base import PoseNetwork

__all__ = ["LightweightPoseNet"]

_PAFS = 38
_HEATMAPS = 19
_FEATURES = 128
# MobileNet depthwise-separable pairs: (name, in, out, stride, dilation).
_MOBILENET = (
    ("conv2_1", 32, 64, 1, 1), ("conv2_2", 64, 128, 2, 1), ("conv3_1", 128, 128, 1, 1),
    ("conv3_2", 128, 256, 2, 1), ("conv4_1", 256, 256, 1, 1), ("conv4_2", 256, 512, 1, 1),
    ("conv5_1", 512, 512, 1, 2), ("conv5_2", 512, 512, 1, 1), ("conv5_3", 512, 512, 1, 1),
    ("conv5_4", 512, 512, 1, 1), ("conv5_5", 512, 512, 1, 1),
)


def _conv(cin: int, cout: int, k: int, *, stride: int = 1, dilation: int = 1, dw: bool = False):
    pad = dilation * (k // 2)
    return nn.Conv2d(cin, cout, k, stride, pad, dilation, groups=cin if dw else 1)


def _seq(*layers: tuple[str, nn.Module]) -> nn.Sequential:
    return nn.Sequential(OrderedDict(layers))


def _mobilenet() -> nn.Sequential:
    layers: list[tuple[str, nn.Module]] = [
        ("conv1", _conv(3, 32, 3, stride=2)), ("relu1", nn.ReLU(inplace=True)),
    ]
    for name, cin, cout, stride, dil in _MOBILENET:
        layers += [
            (f"{name}_dw", _conv(cin, cin, 3, stride=stride, dilation=dil, dw=True)),
            (f"relu{name[4:]}_dw", nn.ReLU(inplace=True)),
            (f"{name}_sep", _conv(cin, cout, 1)),
            (f"relu{name[4:]}_sep", nn.ReLU(inplace=True)),
        ]
    return _seq(*layers)


def _cpm_trunk() -> nn.Sequential:
    """``conv4_3_CPM`` residual branch: 1x1, three (3x3 depthwise, 1x1) pairs ending in ``inc``."""
    p = "conv4_3_CPM"
    convs = [("red", False), ("dw1", True), ("dw1_1x1", False), ("dw2", True),
             ("dw2_1x1", False), ("dw3", True), ("inc", False)]
    layers: list[tuple[str, nn.Module]] = []
    for suffix, depthwise in convs:
        layers += [
            (f"{p}_{suffix}", _conv(_FEATURES, _FEATURES, 3 if depthwise else 1, dw=depthwise)),
            (f"elu_{suffix}", nn.ELU(inplace=True)),
        ]
    return _seq(*layers)


class _RefinementBlock(nn.Module):
    """``Mconv{b}_stage2_L1``: 1x1 ``sq`` + ReLU, then 3x3 and dilated 3x3 (+ReLU); sum of both."""

    def __init__(self, prefix: str, in_channels: int):
        super().__init__()
        self.squeeze = _seq((f"{prefix}_sq", _conv(in_channels, _FEATURES, 1)), ("relu", nn.ReLU()))
        self.trunk = _seq(
            (f"{prefix}_3x3", _conv(_FEATURES, _FEATURES, 3)), ("relu1", nn.ReLU(inplace=True)),
            (f"{prefix}_3x3_2", _conv(_FEATURES, _FEATURES, 3, dilation=2)),
            ("relu2", nn.ReLU(inplace=True)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        return x + self.trunk(x)


def _head(first: str, second: str, in_channels: int, hidden: int, out: int) -> nn.Sequential:
    return _seq(
        (first, _conv(in_channels, hidden, 1)), ("relu", nn.ReLU(inplace=True)),
        (second, _conv(hidden, out, 1)),
    )


class LightweightPoseNet(PoseNetwork):
    """``[N,3,H,W]`` BGR ``pixel/256 - 0.5`` -> ``[N, 57, H/8, W/8]``: 19 heatmaps, then 38 PAFs.

    The IR normalises its raw 0..255 input itself as ``x * scale + shift`` (about
    ``(x - 128) / 255``); ``from_ir`` stores the matching per-channel map from our
    normalisation to the IR's in the ``input_affine`` layer (identity for a fresh net).
    """

    def __init__(self) -> None:
        super().__init__(COCO_18, "LIGHTWEIGHT_COCO_18", input_multiple=8)
        # Per-channel affine map from our normalisation to the IR's (a depthwise 1x1 conv, so
        # it loads and saves by name like every other layer).
        self.input_affine = nn.Conv2d(3, 3, 1, groups=3)
        with torch.no_grad():
            self.input_affine.weight.fill_(1.0)
            self.input_affine.bias.zero_()
        self.backbone = _mobilenet()
        self.cpm_align = _seq(("conv4_3_CPM_al", _conv(512, _FEATURES, 1)), ("elu", nn.ELU()))
        self.cpm_trunk = _cpm_trunk()
        self.cpm_out = _seq(
            ("conv4_4_CPM", _conv(_FEATURES, _FEATURES, 3)), ("relu", nn.ReLU(inplace=True))
        )
        self.initial_trunk = _seq(*[
            item for i in (1, 2, 3) for item in (
                (f"conv5_{i}_CPM_L1", _conv(_FEATURES, _FEATURES, 3)),
                (f"relu5_{i}_CPM_L1", nn.ReLU(inplace=True)),
            )
        ])
        self.initial_pafs = _head("conv5_4_CPM_L1", "conv5_5_CPM_L1", _FEATURES, 512, _PAFS)
        self.initial_heatmaps = _head("conv5_4_CPM_L2", "conv5_5_CPM_L2", _FEATURES, 512, _HEATMAPS)
        concat = _PAFS + _HEATMAPS + _FEATURES
        self.refinement = nn.Sequential(*[
            _RefinementBlock(f"Mconv{b}_stage2_L1", concat if b == 1 else _FEATURES)
            for b in range(1, 6)
        ])
        self.refined_pafs = _head("Mconv6_stage2_L1", "Mconv7_stage2_L1", _FEATURES, _FEATURES, _PAFS)
        self.refined_heatmaps = _head(
            "Mconv6_stage2_L2", "Mconv7_stage2_L2", _FEATURES, _FEATURES, _HEATMAPS
        )

    def net_output(self, x: torch.Tensor) -> torch.Tensor:
        x = self.backbone(self.input_affine(x))
        aligned = self.cpm_align(x)
        features = self.cpm_out(aligned + self.cpm_trunk(aligned))
        trunk = self.initial_trunk(features)
        concat = torch.cat([self.initial_pafs(trunk), self.initial_heatmaps(trunk), features], dim=1)
        refined = self.refinement(concat)
        return torch.cat([self.refined_heatmaps(refined), self.refined_pafs(refined)], dim=1)

    @classmethod
    def from_ir(cls, xml_path: str | Path) -> "LightweightPoseNet":
        """A network with the weights of an OpenVINO IR (``.xml`` with its ``.bin`` beside it).

        Reads FP32, FP16 and FP16-INT8 IRs; INT8 weights are dequantised to float and the
        activation FakeQuantize ops are dropped. Raises ``WeightFileError`` on a bad file.
        """
        from openpose_ros.nets.openvino_ir import load_ir_into

        net = cls()
        load_ir_into(net, Path(xml_path))
        return net.eval()
