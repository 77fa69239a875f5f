"""Body decoding: net output (heatmaps + PAFs) -> ``People`` in image pixels (spec §3).

Pipeline. The maps stay on their device, where NMS and every map read run; the peaks and
candidate pairs (small arrays) are bookkept on the host:

    net_output [C, h, w] (one per scale)
      -> UpsampledMaps (exact x8 OpenPose bicubic, scale-averaged, evaluated lazily)
      -> Peaks (NMS on the device + 7x7 centroid)  peaks.find_peaks
      -> LimbCandidates + PAF scores               paf.limb_candidates / paf.paf_scores
      -> sorted connections -> greedy people       assemble
      -> filters, number_people_max, keypoint_scale -> People
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch

from openpose_ros.decode.assemble import (
    assemble_people, filter_people, keep_top_people, sort_connections,
)
from openpose_ros.decode.paf import limb_candidates, paf_scores
from openpose_ros.decode.peaks import find_peaks
from openpose_ros.decode import sizing
from openpose_ros.decode.upsampled import DenseMaps, UpsampledMaps
from openpose_ros.layouts import MPI_15, Layout
from openpose_ros.people import People, empty_keypoints

__all__ = ["BodyDecodeConfig", "decode_body", "decode_maps", "scale_keypoints", "MAX_PEOPLE"]

MAX_PEOPLE = 127  # OpenPose's POSE_MAX_PEOPLE: peaks per part and people per image
KEYPOINT_SCALES = range(7)


@dataclass(frozen=True)
class BodyDecodeConfig:
    """Every decoding threshold and output option (defaults: BODY_25/COCO, spec §3.8-3.9).

    Attributes:
        nms_threshold: heatmap peak threshold (``NMSThreshold``).
        inter_threshold: per-sample PAF score threshold (``ConnectInterThreshold``).
        inter_min_above_threshold: fraction of samples that must pass it.
        min_subset_cnt: fewest joints a person may have (``ConnectMinSubsetCnt``).
        min_subset_score: lowest ``total / joints`` a person may have.
        maximize_positives: OpenPose's ``--maximize_positives`` (looser defaults via
            ``for_layout``; also switches off the BODY_25 foot rule).
        number_people_max: keep only the best N people (``-1``: all).
        keypoint_scale: output coordinates, 0 image pixels ... 6 (spec §6).
        output_resolution: ``(w, h)`` for ``keypoint_scale`` 2; ``(-1, -1)`` = image size.
        max_peaks: candidates kept per part (POSE_MAX_PEOPLE).
        fast_nms: search peaks only around low-resolution maxima (faster in crowds, slower
            for a few people; can miss a peak where same-part blobs merge, so not
            bit-faithful). Default off: NMS equals OpenPose's on the fully upsampled maps.
    """

    nms_threshold: float = 0.05
    inter_threshold: float = 0.05
    inter_min_above_threshold: float = 0.95
    min_subset_cnt: int = 3
    min_subset_score: float = 0.4
    maximize_positives: bool = False
    number_people_max: int = -1
    keypoint_scale: int = 0
    output_resolution: tuple[int, int] = (-1, -1)
    max_peaks: int = MAX_PEOPLE
    fast_nms: bool = False

    def __post_init__(self) -> None:
        if self.keypoint_scale not in KEYPOINT_SCALES:
            raise ValueError(f"keypoint_scale must be 0..6, got {self.keypoint_scale}")
        if not 1 <= self.max_peaks <= MAX_PEOPLE:
            raise ValueError(f"max_peaks must be 1..{MAX_PEOPLE}, got {self.max_peaks}")
        if not 0 <= self.nms_threshold < float("inf"):  # a peak's 7x7 centroid needs weight
            raise ValueError(f"nms_threshold must be >= 0 and finite, got {self.nms_threshold}")
        if self.min_subset_cnt < 1:
            raise ValueError(f"min_subset_cnt must be >= 1, got {self.min_subset_cnt}")

    @classmethod
    def for_layout(
        cls, layout: Layout, *, maximize_positives: bool = False, mpi_4_stages: bool = False,
        **overrides: object,
    ) -> "BodyDecodeConfig":
        """OpenPose's defaults for ``layout`` (poseParameters.cpp), then ``overrides``.

        MPI uses NMS 0.6 (0.3 for the 4-stage net) and inter threshold 0.01. With
        ``maximize_positives`` every model uses NMS 0.02, inter 0.01, min above 0.75,
        min count 2 and min score 0.05.
        """
        if maximize_positives:
            base = cls(nms_threshold=0.02, inter_threshold=0.01, inter_min_above_threshold=0.75,
                       min_subset_cnt=2, min_subset_score=0.05, maximize_positives=True)
        elif layout.name == MPI_15.name:
            base = cls(nms_threshold=0.3 if mpi_4_stages else 0.6, inter_threshold=0.01)
        else:
            base = cls()
        return replace(base, **overrides)


@lru_cache(maxsize=16)
def _default_config(layout: Layout) -> BodyDecodeConfig:
    """``BodyDecodeConfig.for_layout(layout)``, built once per layout (it is frozen)."""
    return BodyDecodeConfig.for_layout(layout)


def scale_keypoints(
    body: np.ndarray, mode: int, image_size: tuple[int, int], net_to_output: float,
    output_resolution: tuple[int, int] = (-1, -1),
) -> np.ndarray:
    """``[N, J, 3]`` image-pixel keypoints in OpenPose's ``--keypoint_scale`` units.

    0 image pixels; 1 net input pixels (``/ scaleNetToOutput``); 2 ``output_resolution``
    pixels (corner-aligned, as the image->net mapping); 3 ``[0, 1]`` as ``x / (W - 1)``;
    4 ``[-1, 1]``; 5 and 6 as 3 and 4 with ``max(W, H)`` on both axes. Scores are unchanged,
    missing joints stay NaN.
    """
    if mode == 0:
        return body
    out = body.copy()
    w, h = image_size
    if mode == 1:
        out[..., :2] /= net_to_output
    elif mode == 2:
        ow, oh = (w, h) if min(output_resolution) <= 0 else output_resolution
        out[..., :2] *= min((ow - 1) / (w - 1), (oh - 1) / (h - 1))
    else:
        side = max(w, h)
        sx, sy = (w - 1, h - 1) if mode in (3, 4) else (side - 1, side - 1)
        out[..., 0] /= sx
        out[..., 1] /= sy
        if mode in (4, 6):
            out[..., :2] = 2 * out[..., :2] - 1
    return out


@torch.inference_mode()
def decode_maps(
    maps: UpsampledMaps | DenseMaps,
    layout: Layout,
    config: BodyDecodeConfig,
    *,
    image_size: tuple[int, int],
    scale_net_to_output: float,
) -> People:
    """Decode upsampled maps (lazy or dense, ``size_hw`` = scale-0 net input) into ``People``.

    ``scale_net_to_output`` maps net pixels to image pixels (spec §3.7).
    """
    if maps.num_channels != layout.num_channels:
        raise ValueError(f"{layout.name} needs {layout.num_channels} channels, "
                         f"got {maps.num_channels}")
    peaks = find_peaks(maps, layout.num_parts, config.nms_threshold, max_peaks=config.max_peaks,
                       offset=0.5 / scale_net_to_output, exact=not config.fast_nms)
    candidates = limb_candidates(peaks, layout)
    scores = paf_scores(
        maps, peaks, candidates, layout,
        inter_threshold=config.inter_threshold,
        inter_min_above_threshold=config.inter_min_above_threshold,
        nms_threshold=config.nms_threshold,
    )
    keep = np.flatnonzero(scores > 1e-6)
    limb, a, b, score = candidates.limb[keep], candidates.a[keep], candidates.b[keep], scores[keep]
    peak_score = peaks.score
    peak_xy = np.stack([peaks.x, peaks.y], axis=1)
    peak_rank = np.arange(len(peaks)) - peaks.start[peaks.part]

    order = sort_connections(limb, a, b, score, peak_score, peak_rank)
    people = assemble_people(order, limb, a, b, score, peak_score, layout)
    kept = filter_people(
        people, layout, min_subset_cnt=config.min_subset_cnt,
        min_subset_score=config.min_subset_score,
        maximize_positives=config.maximize_positives, max_people=MAX_PEOPLE,
    )
    parts = people.parts[kept]
    body = empty_keypoints(len(kept), layout.num_parts)
    found = parts >= 0
    body[found, :2] = peak_xy[parts[found]] * scale_net_to_output
    body[found, 2] = peak_score[parts[found]]
    person_score = people.total[kept] / (layout.num_parts + len(layout.paf_pairs))
    top = keep_top_people(body, person_score, config.number_people_max)
    body = scale_keypoints(body[top], config.keypoint_scale, image_size, scale_net_to_output,
                           config.output_resolution)
    return People(layout, image_size, body, person_score[top])


@torch.inference_mode()
def decode_body(
    net_output: torch.Tensor | Sequence[torch.Tensor],
    layout: Layout,
    config: BodyDecodeConfig | None = None,
    *,
    image_size: tuple[int, int],
    net_size: tuple[int, int] | None = None,
    scale_input_to_net: Sequence[float] | None = None,
    scale_net_to_output: float | None = None,
) -> People:
    """Decode one image's net output into people in source-image pixels.

    Args:
        net_output: ``[C, h, w]`` (or ``[1, C, h, w]``) float maps in OpenPose channel order, or
            a sequence of them, one per scale with scale 0 first (spec §3.3).
        layout: body layout of the maps.
        config: thresholds and options; default ``BodyDecodeConfig.for_layout(layout)``.
        image_size: source image ``(w, h)``.
        net_size: scale-0 net input ``(w, h)``; default 8x the scale-0 map.
        scale_input_to_net: ``scaleInputToNet`` per scale; needed with several scales.
        scale_net_to_output: net pixels -> image pixels; default from ``image_size`` and
            ``net_size`` (spec §3.7).

    Returns:
        ``People`` with ``body`` ``[P, J, 3]`` (x, y, score; missing NaN, NaN, 0).

    Raises:
        ValueError: maps of the wrong rank, channel count or an empty size, or a too small image.
    """
    config = _default_config(layout) if config is None else config
    maps = [net_output] if isinstance(net_output, torch.Tensor) else list(net_output)
    maps = [m[0] if m.dim() == 4 and m.shape[0] == 1 else m for m in maps]
    if not maps or any(m.dim() != 3 or m.shape[-1] < 1 or m.shape[-2] < 1 for m in maps):
        raise ValueError(f"net output must be [C, h, w] maps, got {[tuple(m.shape) for m in maps]}")
    h0, w0 = maps[0].shape[-2:]
    net_size = (8 * w0, 8 * h0) if net_size is None else tuple(net_size)
    if scale_net_to_output is None:
        scale_net_to_output = sizing.scale_net_to_output(image_size, net_size)
    upsampled = UpsampledMaps.from_net_output(maps, (net_size[1], net_size[0]), scale_input_to_net)
    return decode_maps(upsampled, layout, config, image_size=tuple(image_size),
                       scale_net_to_output=scale_net_to_output)
