"""Images in, people out: the body estimator plus hands and faces, one batch at a time.

ROS-free. The pose node (``openpose_ros.ros.pose_node``), the demo and the benchmarks all run
the same :class:`PosePipeline`, built from one typed :class:`PipelineConfig`, so a node's output
can be compared with the core's output on the same frame bit for bit.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from openpose_ros.handface.detector import HandFaceConfig
from openpose_ros.people import People

__all__ = ["PipelineConfig", "PosePipeline", "parse_net_resolution", "format_net_resolution"]


def parse_net_resolution(text: str) -> tuple[int, int]:
    """OpenPose's ``--net_resolution`` text (``"-1x368"``, ``"656x368"``) -> ``(w, h)``.

    Raises:
        ValueError: not ``<int>x<int>``, or both sides -1 or 0.
    """
    parts = str(text).lower().replace(" ", "").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"net_resolution {text!r} is not WIDTHxHEIGHT (e.g. -1x368)") from None
    if width <= 0 and height <= 0:
        raise ValueError(f"net_resolution {text!r}: at most one side may be -1")
    return width, height


def format_net_resolution(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the core needs, in OpenPose's flag names and defaults (spec §3.8, §3.9).

    Attributes:
        model: registry name of the body network (BODY_25, COCO_18, MPI_15, MPI_15_4,
            LIGHTWEIGHT_COCO_18).
        models_dir: where model files live; None means the registry's default
            (``OPENPOSE_ROS_MODELS``).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        engine: ``"auto"``, ``"torch"`` or ``"openvino"`` (``nets.precision`` has the rules).
        precision: ``"auto"``, ``"fp32"``, ``"fp16"``, ``"bf16"`` or ``"int8"``.
        num_threads: CPU threads of either engine; 0: this machine's cores.
        net_resolution: body net input ``(w, h)``; one side may be -1 (from the image aspect).
        net_resolution_dynamic: OpenPose's cap on the derived side.
        scale_number, scale_gap: multi-scale body inference.
        nms_threshold, inter_threshold, inter_min_above_threshold, min_subset_cnt,
            min_subset_score: body decoding thresholds; None keeps the model's own default.
        maximize_positives: OpenPose's looser threshold set.
        number_people_max: keep at most this many people per image (-1: all).
        render_threshold: keypoints scoring below it are not drawn.
        handface: hand and face settings (``hands``/``faces`` switch them on).
    """

    model: str = "BODY_25"
    models_dir: str | None = None
    device: str = "auto"
    engine: str = "auto"
    precision: str = "auto"
    num_threads: int = 0
    net_resolution: tuple[int, int] = (-1, 368)
    net_resolution_dynamic: float = 1.0
    scale_number: int = 1
    scale_gap: float = 0.25
    nms_threshold: float | None = None
    inter_threshold: float | None = None
    inter_min_above_threshold: float | None = None
    min_subset_cnt: int | None = None
    min_subset_score: float | None = None
    maximize_positives: bool = False
    number_people_max: int = -1
    render_threshold: float = 0.05
    handface: HandFaceConfig = field(default_factory=lambda: HandFaceConfig(hands=False,
                                                                           faces=False))

    def __post_init__(self) -> None:
        if self.scale_number < 1:
            raise ValueError(f"scale_number must be >= 1, got {self.scale_number}")
        if not 0.0 <= self.scale_gap <= 1.0:
            raise ValueError(f"scale_gap must be in [0, 1], got {self.scale_gap}")
        if (self.scale_number - 1) * self.scale_gap >= 1.0:
            raise ValueError(f"scale_number {self.scale_number} with scale_gap {self.scale_gap} "
                             "reaches a scale <= 0")
        if self.num_threads < 0:
            raise ValueError(f"num_threads must be >= 0 (0: every core), got {self.num_threads}")
        if self.number_people_max < -1 or self.number_people_max == 0:
            raise ValueError(f"number_people_max must be -1 or >= 1, got {self.number_people_max}")

    @property
    def wants_parts(self) -> bool:
        """Hands or faces are switched on."""
        return self.handface.hands or self.handface.faces

    def same_networks(self, other: "PipelineConfig") -> bool:
        """Whether ``other`` runs the very same networks (only thresholds may differ)."""
        keys = ("model", "models_dir", "device", "engine", "precision", "num_threads")
        hf = ("hands", "faces")
        return (all(getattr(self, k) == getattr(other, k) for k in keys)
                and all(getattr(self.handface, k) == getattr(other.handface, k) for k in hf))


def _estimator_config(config: PipelineConfig, network):
    """The body estimator's config for ``network`` from ours: OpenPose's defaults for the
    network's layout, with the thresholds the config sets (None keeps the default)."""
    from openpose_ros.decode.body import BodyDecodeConfig
    from openpose_ros.decode.estimator import EstimatorConfig

    overrides = {name: getattr(config, name) for name in (
        "nms_threshold", "inter_threshold", "inter_min_above_threshold", "min_subset_cnt",
        "min_subset_score") if getattr(config, name) is not None}
    decode = BodyDecodeConfig.for_layout(
        network.layout, maximize_positives=config.maximize_positives,
        mpi_4_stages=getattr(network, "model_name", "") == "MPI_15_4",
        number_people_max=config.number_people_max, **overrides)
    return EstimatorConfig(
        net_resolution=config.net_resolution,
        net_resolution_dynamic=config.net_resolution_dynamic,
        scale_number=config.scale_number,
        scale_gap=config.scale_gap,
        decode=decode,
    )


class PosePipeline:
    """Body estimator, then hands and faces, over a batch of BGR images.

    Args:
        estimator: callable ``list[H x W x 3 uint8] -> list[People]`` (normally
            ``openpose_ros.decode.estimator.BodyEstimator``).
        handface: ``HandFaceDetector`` or None when hands and faces are off.
        config: the config the parts were built from (kept for ``update`` and ``render``).
        device: the resolved torch device string, for reports.
        runs: per loaded network (``body``, ``hand``, ``face``), the resolved
            ``RunSettings`` (engine, precision, threads), for reports.
    """

    def __init__(self, estimator: Callable[[list[np.ndarray]], list[People]], *,
                 handface=None, config: PipelineConfig = PipelineConfig(),
                 device: str = "cpu", runs: dict | None = None) -> None:
        self.estimator = estimator
        self.handface = handface
        self.config = config
        self.device = device
        self.runs = dict(runs or {})

    @classmethod
    def load(cls, config: PipelineConfig) -> "PosePipeline":
        """Load the networks ``config`` names onto its device, with its engine and precision.

        Raises:
            openpose_ros.nets.registry.ModelNotFoundError: a model file is missing (its
                message says where it was looked for and how to get it).
            ValueError: an engine or precision the device cannot run (the message lists
                what it can), checked for every network before any is loaded.
        """
        from openpose_ros.decode.estimator import BodyEstimator
        from openpose_ros.nets import load_model
        from openpose_ros.nets.device import resolve_device
        from openpose_ros.nets.loader import resolve_run_settings

        device = str(resolve_device(config.device))
        names = {"body": config.model}
        if config.handface.hands:
            names["hand"] = "HAND_21"
        if config.handface.faces:
            names["face"] = "FACE_70"
        runs = {role: resolve_run_settings(name, device, engine=config.engine,
                                           precision=config.precision,
                                           num_threads=config.num_threads)
                for role, name in names.items()}

        def load(role: str):
            run = runs[role]
            return load_model(names[role], models_dir=config.models_dir, device=device,
                              engine=run.engine, precision=run.precision,
                              num_threads=run.num_threads)

        body = load("body")
        estimator = BodyEstimator(body, _estimator_config(config, body))
        handface = None
        if config.wants_parts:
            from openpose_ros.handface.detector import HandFaceDetector

            hand = load("hand") if config.handface.hands else None
            face = load("face") if config.handface.faces else None
            handface = HandFaceDetector(hand, face, config.handface)
        return cls(estimator, handface=handface, config=config, device=device, runs=runs)

    def describe(self) -> str:
        """``BODY_25 on cpu (openvino fp32, 2 threads)``: what runs where, for reports."""
        body = self.runs.get("body")
        how = f" ({body.engine} {body.precision}, {body.num_threads} threads)" if body else ""
        return f"{self.model_name} on {self.device}{how}"

    @property
    def model_name(self) -> str:
        network = getattr(self.estimator, "network", None)
        return getattr(network, "model_name", self.config.model)

    def __call__(self, images: Sequence[np.ndarray]) -> list[People]:
        """People for each BGR uint8 ``H x W x 3`` image, in order. Images sharing a net input
        size go through the body network together (one forward pass)."""
        images = list(images)
        if not images:
            return []
        people = self.estimator(images)
        if self.handface is not None:
            people = self.handface.detect_batch(images, people)
        return people

    def update(self, config: PipelineConfig) -> None:
        """Apply new thresholds without reloading networks.

        Raises:
            ValueError: ``config`` needs other networks (reload instead).
        """
        if not self.config.same_networks(config):
            raise ValueError("the new config needs other networks; build a new pipeline")
        network = getattr(self.estimator, "network", None)
        if network is not None and hasattr(self.estimator, "config"):
            self.estimator.config = _estimator_config(config, network)
        if self.handface is not None:
            self.handface.config = config.handface
        self.config = config

    def render(self, image: np.ndarray, people: People) -> np.ndarray:
        """A copy of ``image`` with the skeletons (and hands/faces) drawn."""
        from openpose_ros.render import draw_people

        return draw_people(image, people, threshold=self.config.render_threshold,
                           hand_threshold=self.config.handface.hand_render_threshold,
                           face_threshold=self.config.handface.face_render_threshold)

    def release(self) -> None:
        """Drop every network and return cached accelerator memory to the device."""
        self.estimator = None
        self.handface = None
        gc.collect()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


def models_dir_or_none(text: str) -> str | None:
    """A parameter's models directory text: empty means the registry's default."""
    return str(Path(text).expanduser()) if text else None
