"""Two-branch six-stage body networks: COCO-18 and MPI-15 (spec §1.3).

Branch ``L1`` predicts PAFs and ``L2`` heatmaps; each stage t >= 2 reads
``concat_stage{t} = [L1, L2, F]``. ``net_output`` puts heatmaps first: ``[L2, L1]``.
"""

from __future__ import annotations

import torch
from torch import nn

from openpose_ros.layouts import COCO_18, MPI_15, Layout
from openpose_ros.nets.base import PoseNetwork
from openpose_ros.nets.blocks import BODY_FRONT_TAIL, ConvStage, vgg_front

__all__ = ["TwoBranchBodyNet", "CocoNet", "MpiNet"]

_FEATURES = 128


def _first_stage(branch: str, out_channels: int) -> ConvStage:
    """``conv5_{1..5}_CPM_{branch}``: three 3x3/128, 1x1/512, 1x1/out."""
    names = [f"conv5_{i}_CPM_{branch}" for i in range(1, 6)]
    widths = [128, 128, 128, 512, out_channels]
    kernels = [3, 3, 3, 1, 1]
    return ConvStage(_FEATURES, list(zip(names, widths, kernels)))


def _refine_stage(stage: int, branch: str, in_channels: int, out_channels: int) -> ConvStage:
    """``Mconv{1..7}_stage{t}_{branch}``: five 7x7/128, 1x1/128, 1x1/out."""
    names = [f"Mconv{i}_stage{stage}_{branch}" for i in range(1, 8)]
    widths = [128] * 6 + [out_channels]
    kernels = [7] * 5 + [1, 1]
    return ConvStage(in_channels, list(zip(names, widths, kernels)))


class TwoBranchBodyNet(PoseNetwork):
    """Shared COCO/MPI graph: ``[N,3,H,W] -> [N, heatmaps + PAFs, H/8, W/8]``.

    Args:
        layout: the keypoint layout (fixes heatmap and PAF channel counts).
        model_name: registry name.
        stages: number of stages (6; MPI's faster variant uses 4 with the same weights).
    """

    def __init__(self, layout: Layout, model_name: str, stages: int = 6):
        super().__init__(layout, model_name, input_multiple=16)
        if not 2 <= stages <= 6:
            raise ValueError(f"{model_name}: stages must be 2..6, got {stages}")
        heat = layout.num_parts + 1
        pafs = 2 * len(layout.paf_pairs)
        concat = pafs + heat + _FEATURES
        self.front = vgg_front(BODY_FRONT_TAIL)
        self.stages = nn.ModuleList(
            [nn.ModuleDict({"L1": _first_stage("L1", pafs), "L2": _first_stage("L2", heat)})]
            + [
                nn.ModuleDict({
                    "L1": _refine_stage(t, "L1", concat, pafs),
                    "L2": _refine_stage(t, "L2", concat, heat),
                })
                for t in range(2, stages + 1)
            ]
        )

    def net_output(self, x: torch.Tensor) -> torch.Tensor:
        features = self.front(x)
        first = self.stages[0]
        pafs, heatmaps = first["L1"](features), first["L2"](features)
        for stage in self.stages[1:]:
            concat = torch.cat([pafs, heatmaps, features], dim=1)
            pafs, heatmaps = stage["L1"](concat), stage["L2"](concat)
        return torch.cat([heatmaps, pafs], dim=1)


class CocoNet(TwoBranchBodyNet):
    """COCO-18 (``pose_deploy_linevec.prototxt``): 57 channels = 19 heatmaps + 38 PAFs."""

    def __init__(self) -> None:
        super().__init__(COCO_18, "COCO_18")


class MpiNet(TwoBranchBodyNet):
    """MPI-15: 44 channels = 16 heatmaps + 28 PAFs. ``stages=4`` is ``MPI_15_4``.

    Both variants load the same ``pose_iter_160000.caffemodel``; the 4-stage one leaves the
    stage 5-6 layers of the file unused.
    """

    def __init__(self, stages: int = 6) -> None:
        if stages not in (4, 6):
            raise ValueError(f"MPI has 6 stages or the faster 4-stage variant, got {stages}")
        super().__init__(MPI_15, "MPI_15" if stages == 6 else "MPI_15_4", stages=stages)
