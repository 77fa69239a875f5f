"""Net input sizes and the image <-> net scale factors (spec §3.1 and §3.7).

All sizes are ``(width, height)`` in pixels. OpenPose maps image pixel centres to net pixel
centres *corner-aligned*: image pixel 0 -> net pixel 0 and image pixel ``W-1`` -> ``(W-1)*s``,
which is where the ``- 1`` in every ratio below comes from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "NetSizes",
    "round_half_up",
    "net_input_size",
    "scale_factors",
    "scale_net_sizes",
    "scale_input_to_net",
    "scale_net_to_output",
    "plan_scales",
]


def round_half_up(x: float) -> int:
    """OpenPose's ``positiveIntRound``: ``floor(x + 0.5)``."""
    return int(math.floor(x + 0.5))


def _check_image(image_wh: tuple[int, int]) -> tuple[int, int]:
    w, h = (int(v) for v in image_wh)
    if w < 2 or h < 2:
        raise ValueError(f"image must be at least 2x2 pixels, got {w}x{h}")
    return w, h


def net_input_size(
    image_wh: tuple[int, int],
    net_resolution: tuple[int, int] = (-1, 368),
    *,
    dynamic: float = 1.0,
    multiple: int = 16,
) -> tuple[int, int]:
    """Scale-0 net input ``(w, h)`` for an image (``--net_resolution`` with one ``-1`` side).

    Args:
        image_wh: source image ``(width, height)``.
        net_resolution: ``(w, h)``; at most one side may be ``-1`` (derived from the image
            aspect). Given sides must be multiples of ``multiple``.
        dynamic: ``net_resolution_dynamic``; when > 0 the derived side is capped at
            ``dynamic * 16/9`` (width) or ``dynamic * 9/16`` (height) of the other side.
        multiple: 16 for OpenPose's body nets, 8 for the lightweight network.
    """
    img_w, img_h = _check_image(image_wh)
    net_w, net_h = (int(v) for v in net_resolution)
    if net_w <= 0 and net_h <= 0:
        raise ValueError(f"net_resolution {net_w}x{net_h}: at most one side may be -1")
    for side in (net_w, net_h):
        if side > 0 and side % multiple:
            raise ValueError(
                f"net_resolution {net_w}x{net_h}: sides must be multiples of {multiple}")
    if net_w <= 0:
        wanted = net_h * img_w / img_h
        if dynamic > 0:
            wanted = min(net_h * dynamic * 16.0 / 9.0, wanted)
        net_w = multiple * round_half_up(wanted / multiple)
    elif net_h <= 0:
        wanted = net_w * img_h / img_w
        if dynamic > 0:
            wanted = min(net_w * dynamic * 9.0 / 16.0, wanted)
        net_h = multiple * round_half_up(wanted / multiple)
    if net_w < multiple or net_h < multiple:
        raise ValueError(f"image {img_w}x{img_h} gives an empty net input {net_w}x{net_h}")
    return net_w, net_h


def scale_factors(scale_number: int = 1, scale_gap: float = 0.25) -> tuple[float, ...]:
    """Scales ``1 - i * scale_gap`` for ``i < scale_number``; each must lie in ``(0, 1]``."""
    if scale_number < 1:
        raise ValueError(f"scale_number must be >= 1, got {scale_number}")
    scales = tuple(1.0 - i * scale_gap for i in range(scale_number))
    if any(not 0.0 < s <= 1.0 for s in scales):
        raise ValueError(f"scale_number {scale_number} with scale_gap {scale_gap} leaves [0, 1]")
    return scales


def scale_net_sizes(
    net_wh: tuple[int, int], scales: tuple[float, ...], *, multiple: int = 16
) -> tuple[tuple[int, int], ...]:
    """Net input size of each scale: ``clamp(floor(round(W * s) / m) * m, 1, W)`` per side."""
    def side(n: int, s: float) -> int:
        return min(max((round_half_up(n * s) // multiple) * multiple, 1), n)

    return tuple((side(net_wh[0], s), side(net_wh[1], s)) for s in scales)


def scale_input_to_net(image_wh: tuple[int, int], net_wh: tuple[int, int]) -> float:
    """``min((netW-1)/(imgW-1), (netH-1)/(imgH-1))``: image -> net pixels (corner-aligned)."""
    img_w, img_h = _check_image(image_wh)
    return min((net_wh[0] - 1) / (img_w - 1), (net_wh[1] - 1) / (img_h - 1))


def scale_net_to_output(image_wh: tuple[int, int], net_wh: tuple[int, int]) -> float:
    """Net pixels -> image pixels, computed OpenPose's way (spec §3.7).

    ``a = scaleInputToNet``; ``nW = round(a*imgW)``, ``nH = round(a*imgH)``;
    ``s = min((imgW-1)/(nW-1), (imgH-1)/(nH-1))``. For 1920x1080 at 656x368 this is 2.943252,
    not ``1/a`` = 2.9401.
    """
    img_w, img_h = _check_image(image_wh)
    a = scale_input_to_net(image_wh, net_wh)
    n_w, n_h = round_half_up(a * img_w), round_half_up(a * img_h)
    ratios = [(img - 1) / (n - 1) for img, n in ((img_w, n_w), (img_h, n_h)) if n > 1]
    if not ratios:
        raise ValueError(f"image {img_w}x{img_h} maps to under 2 net pixels at {net_wh}")
    return min(ratios)


@dataclass(frozen=True)
class NetSizes:
    """Everything the estimator and decoder need to know about one image's net inputs.

    Attributes:
        image_size: source ``(w, h)``.
        net_sizes: net input ``(w, h)`` per scale; index 0 is the decode target size.
        input_to_net: ``scaleInputToNet`` per scale.
        net_to_output: ``scaleNetToOutput`` (scale-0 net pixels -> image pixels).
    """

    image_size: tuple[int, int]
    net_sizes: tuple[tuple[int, int], ...]
    input_to_net: tuple[float, ...]
    net_to_output: float


def plan_scales(
    image_wh: tuple[int, int],
    net_resolution: tuple[int, int] = (-1, 368),
    *,
    dynamic: float = 1.0,
    scale_number: int = 1,
    scale_gap: float = 0.25,
    multiple: int = 16,
) -> NetSizes:
    """Net sizes and scale factors of every scale for one image (spec §3.1, §3.7)."""
    image_wh = _check_image(image_wh)
    net0 = net_input_size(image_wh, net_resolution, dynamic=dynamic, multiple=multiple)
    sizes = scale_net_sizes(net0, scale_factors(scale_number, scale_gap), multiple=multiple)
    return NetSizes(
        image_size=image_wh,
        net_sizes=sizes,
        input_to_net=tuple(scale_input_to_net(image_wh, s) for s in sizes),
        net_to_output=scale_net_to_output(image_wh, net0),
    )
