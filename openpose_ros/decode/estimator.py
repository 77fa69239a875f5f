"""Images in, people out: warp to the net input, run the body network batched, decode (spec §3).

``BodyEstimator`` owns no ROS and no device choice: it runs on the device of the network's
parameters, keeps every tensor there, and only the small keypoint arrays come back to NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np
import torch
from torch import nn

from openpose_ros.decode.body import BodyDecodeConfig, decode_body
from openpose_ros.decode.sizing import NetSizes, plan_scales
from openpose_ros.people import People

__all__ = ["EstimatorConfig", "ImageMaps", "BodyEstimator", "warp_to_net"]


@dataclass(frozen=True)
class EstimatorConfig:
    """How images become net inputs, and how net outputs are decoded (spec §3.1, §3.9).

    Attributes:
        net_resolution: ``(w, h)`` net input; one side may be -1 (from the image aspect).
        net_resolution_dynamic: cap of the derived side, in units of the 16:9 default (<= 0:
            no cap).
        scale_number, scale_gap: multi-scale inference, scales ``1 - i * scale_gap``.
        decode: decoding thresholds; ``None`` = OpenPose's defaults for the network's layout.
    """

    net_resolution: tuple[int, int] = (-1, 368)
    net_resolution_dynamic: float = 1.0
    scale_number: int = 1
    scale_gap: float = 0.25
    decode: BodyDecodeConfig | None = None


@dataclass(frozen=True)
class ImageMaps:
    """One image's raw network output.

    Attributes:
        sizes: net sizes and scale factors of the image.
        maps: per scale, float32 ``[C, h_i, w_i]`` net output on the network's device.
    """

    sizes: NetSizes
    maps: tuple[torch.Tensor, ...]


def warp_to_net(image: np.ndarray, net_wh: tuple[int, int], scale: float) -> np.ndarray:
    """OpenPose's image -> net input warp (spec §3.2), still uint8 ``[h, w, 3]``.

    ``diag(scale)`` with no translation (top-left aligned), cubic when enlarging and "area"
    otherwise (which OpenCV's warpAffine runs as bilinear, as in OpenPose), zero border.
    """
    matrix = np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0]], dtype=np.float64)
    flags = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    return cv2.warpAffine(image, matrix, tuple(int(v) for v in net_wh), flags=flags,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def _check_image(image: np.ndarray, index: int) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"image {index} must be an (H, W, 3) BGR uint8 array, got {shape} {dtype}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"image {index} is too small: {image.shape[1]}x{image.shape[0]}")


@dataclass
class BodyEstimator:
    """Body pose estimation: ``estimator(images) -> list[People]``.

    Attributes:
        network: any ``nn.Module`` with ``layout``, ``input_multiple`` and ``stride`` that maps
            ``[N, 3, H, W]`` BGR ``pixel / 256 - 0.5`` to ``[N, C, H / stride, W / stride]``.
        config: input sizing and decoding options.
        last_batch_sizes: sizes of the forward passes of the last call (images sharing a net
            size go through the network together).
    """

    network: nn.Module
    config: EstimatorConfig = field(default_factory=EstimatorConfig)
    last_batch_sizes: list[int] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        for name in ("layout", "input_multiple", "stride"):
            if not hasattr(self.network, name):
                raise ValueError(f"the network needs a .{name} attribute")

    @property
    def decode_config(self) -> BodyDecodeConfig:
        return self.config.decode or BodyDecodeConfig.for_layout(self.network.layout)

    @property
    def device(self) -> torch.device:
        """Where the network's parameters live (CPU for a parameterless network)."""
        first = next(iter(self.network.parameters()), None)
        return first.device if first is not None else torch.device("cpu")

    def plan(self, image_size: tuple[int, int]) -> NetSizes:
        """Net sizes and scale factors for an image of ``(w, h)`` pixels."""
        cfg = self.config
        return plan_scales(
            image_size, cfg.net_resolution, dynamic=cfg.net_resolution_dynamic,
            scale_number=cfg.scale_number, scale_gap=cfg.scale_gap,
            multiple=int(self.network.input_multiple),
        )

    def forward_maps(self, images: Sequence[np.ndarray]) -> list[ImageMaps]:
        """Raw net output of every image (all scales), one forward pass per distinct net size.

        Raises:
            ValueError: an image that is not ``(H, W, 3)`` uint8 of at least 2x2 pixels, or a
                network output with the wrong channel count or size.
        """
        for i, image in enumerate(images):
            _check_image(image, i)
        plans = [self.plan((im.shape[1], im.shape[0])) for im in images]
        # (net size) -> [(image index, scale index)]: one batch per distinct net input size.
        groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for i, plan in enumerate(plans):
            for s, size in enumerate(plan.net_sizes):
                groups.setdefault(size, []).append((i, s))
        outputs: dict[tuple[int, int], torch.Tensor] = {}
        self.last_batch_sizes = []
        for size, members in groups.items():
            batch = self._net_input([images[i] for i, _ in members],
                                    size, [plans[i].input_to_net[s] for i, s in members])
            with torch.inference_mode():
                maps = self.network(batch)
            self._check_output(maps, size, len(members))
            self.last_batch_sizes.append(len(members))
            for row, key in enumerate(members):
                outputs[key] = maps[row].float()
        return [
            ImageMaps(plan, tuple(outputs[(i, s)] for s in range(len(plan.net_sizes))))
            for i, plan in enumerate(plans)
        ]

    def __call__(self, images: Sequence[np.ndarray]) -> list[People]:
        """People in each image, in source-image pixels (see ``decode_body``)."""
        layout, config = self.network.layout, self.decode_config
        return [
            decode_body(
                list(found.maps), layout, config,
                image_size=found.sizes.image_size,
                net_size=found.sizes.net_sizes[0],
                scale_input_to_net=found.sizes.input_to_net,
                scale_net_to_output=found.sizes.net_to_output,
            )
            for found in self.forward_maps(images)
        ]

    def _net_input(self, images: list[np.ndarray], size: tuple[int, int],
                   scales: list[float]) -> torch.Tensor:
        """``[N, 3, h, w]`` float32 ``pixel / 256 - 0.5`` on the device (uint8 is uploaded)."""
        warped = np.stack([warp_to_net(im, size, s) for im, s in zip(images, scales)])
        pixels = torch.from_numpy(warped).to(self.device)
        return pixels.permute(0, 3, 1, 2).float() / 256.0 - 0.5

    def _check_output(self, maps: torch.Tensor, size: tuple[int, int], count: int) -> None:
        stride = int(self.network.stride)
        want = (count, self.network.layout.num_channels,
                -(-size[1] // stride), -(-size[0] // stride))
        if not isinstance(maps, torch.Tensor) or tuple(maps.shape) != want:
            got = tuple(maps.shape) if isinstance(maps, torch.Tensor) else type(maps).__name__
            raise ValueError(
                f"network output {got} for a {size[0]}x{size[1]} input; expected {want}")
