"""What every pose network module shares: its layout, stride and input/output contract."""

from __future__ import annotations

import torch
from torch import nn

from openpose_ros.layouts import Layout

__all__ = ["PoseNetwork", "check_input"]


def check_input(x: torch.Tensor, model_name: str) -> None:
    """Raise ``ValueError`` unless ``x`` is a ``[N, 3, H, W]`` (BGR) batch for ``model_name``."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(
            f"{model_name} expects a [N, 3, H, W] BGR tensor, got shape {tuple(x.shape)}")


class PoseNetwork(nn.Module):
    """Base class of the OpenPose-style networks (inference only).

    ``forward(x)`` takes ``x``: ``[N, 3, H, W]`` float, planar **BGR** normalised as
    ``pixel / 256 - 0.5`` (spec §1.1), and returns ``net_output``: float32
    ``[N, C, ceil(H/8), ceil(W/8)]`` in OpenPose channel order (part heatmaps, background, then
    PAF x/y pairs). It runs under ``torch.inference_mode()`` and casts ``x`` to the network's
    device, dtype (fp16/bf16 after ``prepare_network(..., precision=...)``) and memory format.

    Attributes:
        layout: keypoint layout whose channel map describes ``net_output``.
        stride: output stride in input pixels (8 for every family).
        input_multiple: H and W should be multiples of this (16 for OpenPose body nets, 8 else).
        model_name: registry name (``"BODY_25"``, ``"HAND_21"``, ...).
        channels_last: run convolutions in NHWC memory format (set by ``prepare_network``).
    """

    stride: int = 8

    def __init__(self, layout: Layout, model_name: str, input_multiple: int):
        super().__init__()
        self.layout = layout
        self.model_name = model_name
        self.input_multiple = input_multiple
        self.channels_last = False

    @property
    def num_output_channels(self) -> int:
        """Channels of ``net_output`` (``layout.num_channels``)."""
        return self.layout.num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.model_name)
        weight = next(self.parameters())
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        with torch.inference_mode():
            x = x.to(weight.device, weight.dtype).contiguous(memory_format=memory_format)
            return self.net_output(x).float()

    def net_output(self, x: torch.Tensor) -> torch.Tensor:
        """The network graph proper; ``x`` is already on the right device/dtype/format."""
        raise NotImplementedError
