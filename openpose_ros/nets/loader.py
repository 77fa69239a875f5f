"""``load_model``: registry name -> verified weights -> network on its device, ready to run."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from openpose_ros.nets.base import PoseNetwork
from openpose_ros.nets.body25 import Body25Net
from openpose_ros.nets.device import prepare_network
from openpose_ros.nets.handface import FaceNet, HandNet
from openpose_ros.nets.lightweight import LightweightPoseNet
from openpose_ros.nets.registry import locate, model_spec
from openpose_ros.nets.vgg_body import CocoNet, MpiNet
from openpose_ros.nets.weights import (
    WeightFileError, load_caffemodel, load_state, read_state_metadata, save_state,
)

__all__ = ["build_network", "load_weights_file", "load_model"]

_BUILDERS: dict[str, Callable[[], PoseNetwork]] = {
    "BODY_25": Body25Net,
    "COCO_18": CocoNet,
    "MPI_15": MpiNet,
    "MPI_15_4": lambda: MpiNet(stages=4),
    "HAND_21": HandNet,
    "FACE_70": FaceNet,
    "LIGHTWEIGHT_COCO_18": LightweightPoseNet,
}


def build_network(name: str) -> PoseNetwork:
    """A fresh (randomly initialised) network for registry name ``name``, in eval mode."""
    return _BUILDERS[model_spec(name).name]().eval()


def load_weights_file(net: PoseNetwork, path: str | Path) -> PoseNetwork:
    """Fill ``net`` from a file chosen by suffix: ``.caffemodel``, IR ``.xml``, or
    ``.safetensors``/``.pt``/``.pth`` keyed by Caffe layer names."""
    path = Path(path)
    if path.suffix == ".caffemodel":
        return load_caffemodel(net, path)
    if path.suffix == ".xml":
        from openpose_ros.nets.openvino_ir import load_ir_into

        return load_ir_into(net, path)
    if path.suffix in (".safetensors", ".pt", ".pth"):
        return load_state(net, path)
    raise WeightFileError(f"{path}: unknown weight file type {path.suffix!r}")


def _source_stamp(source: Path) -> dict[str, str]:
    stat = source.stat()
    return {"source": source.name, "source_size": str(stat.st_size),
            "source_mtime_ns": str(stat.st_mtime_ns)}


def _load_with_cache(net: PoseNetwork, source: Path, model_name: str) -> None:
    """Load from the converted ``.safetensors`` beside ``source`` when it is current, else from
    ``source`` and write that cache (best effort: a read-only models dir just skips it)."""
    cache = source.with_name(f"{source.stem}.{model_name}.safetensors")
    stamp = _source_stamp(source)
    try:
        if cache.is_file() and all(read_state_metadata(cache).get(k) == v for k, v in stamp.items()):
            load_state(net, cache)
            return
    except (ImportError, WeightFileError, OSError):
        pass  # a stale or broken cache is rebuilt from the source below
    load_weights_file(net, source)
    try:
        save_state(net, cache, stamp)
    except (ImportError, OSError):
        pass


def load_model(
    name: str,
    *,
    models_dir: str | Path | None = None,
    device: str | torch.device = "cpu",
    fp16: bool = False,
    channels_last: bool | None = None,
    cpu_fast: bool = True,
) -> PoseNetwork:
    """The network ``name`` (case-insensitive: BODY_25, COCO_18, MPI_15, MPI_15_4, HAND_21,
    FACE_70, LIGHTWEIGHT_COCO_18) with verified weights, on ``device``, in eval mode.

    Raises ``ModelNotFoundError`` (what to download or place where) when the model is not
    installed and ``WeightFileError`` for a wrong, truncated or mismatched file.
    ``device``, ``fp16``, ``channels_last`` and ``cpu_fast`` go to ``prepare_network``.
    """
    spec = model_spec(name)
    net = build_network(spec.name)
    _load_with_cache(net, locate(spec.name, models_dir), spec.name)
    return prepare_network(net, device, fp16=fp16, channels_last=channels_last, cpu_fast=cpu_fast)
