"""``load_model``: registry name -> verified weights -> network on its device, ready to run."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import torch

from openpose_ros.nets.base import PoseNetwork
from openpose_ros.nets.body25 import Body25Net
from openpose_ros.nets.device import prepare_network, resolve_device
from openpose_ros.nets.handface import FaceNet, HandNet
from openpose_ros.nets.lightweight import LightweightPoseNet
from openpose_ros.nets.precision import (
    RunSettings, default_num_threads, resolve_engine, resolve_precision,
)
from openpose_ros.nets.registry import locate, model_spec
from openpose_ros.nets.vgg_body import CocoNet, MpiNet
from openpose_ros.nets.weights import (
    WeightFileError, load_caffemodel, load_state, read_state_metadata, save_state,
)

__all__ = ["build_network", "load_weights_file", "load_model", "resolve_run_settings"]

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


def resolve_run_settings(name: str, device: str | torch.device = "cpu", *,
                         engine: str = "auto", precision: str = "auto",
                         num_threads: int = 0) -> RunSettings:
    """The engine, precision and thread count network ``name`` runs with on ``device``
    (``precision`` module for the ``auto`` rules; ``num_threads`` <= 0: this machine's cores).

    Raises ``ValueError`` naming what the device and engine can run.
    """
    dev = resolve_device(device)
    chosen = resolve_engine(engine, dev)
    model = model_spec(name).name
    return RunSettings(chosen, resolve_precision(precision, engine=chosen, device=dev, model=model),
                       int(num_threads) if num_threads > 0 else default_num_threads())


def load_model(
    name: str,
    *,
    models_dir: str | Path | None = None,
    device: str | torch.device = "cpu",
    engine: str = "torch",
    precision: str = "fp32",
    num_threads: int = 0,
    fp16: bool | None = None,
    channels_last: bool | None = None,
    cpu_fast: bool = True,
) -> PoseNetwork:
    """The network ``name`` (case-insensitive: BODY_25, COCO_18, MPI_15, MPI_15_4, HAND_21,
    FACE_70, LIGHTWEIGHT_COCO_18) with verified weights, on ``device``, in eval mode.

    ``engine`` (``torch``, ``openvino`` or ``auto``) and ``precision`` (``fp32``, ``fp16``,
    ``bf16``, ``int8`` or ``auto``) are resolved by ``resolve_run_settings``; the defaults keep
    a plain float32 torch module. ``num_threads`` (> 0) sets the CPU threads of either engine
    (torch's are process-wide); 0 leaves torch's as they are and gives OpenVINO every core.
    Under OpenVINO the result is an ``OpenVinoNetwork`` (same call contract); its converted
    IR is cached beside the weights. ``fp16=True`` is the deprecated ``precision="fp16"``.

    Raises ``ModelNotFoundError`` (what to download or place where) when the model is not
    installed, ``WeightFileError`` for a wrong, truncated or mismatched file and ``ValueError``
    for an engine or precision this device cannot run.
    ``channels_last`` and ``cpu_fast`` go to ``prepare_network`` (torch only).
    """
    if fp16 is not None:
        warnings.warn("load_model(fp16=...) is deprecated; use precision='fp16'",
                      DeprecationWarning, stacklevel=2)
        precision = "fp16" if fp16 else precision
    settings = resolve_run_settings(name, device, engine=engine, precision=precision,
                                    num_threads=num_threads)
    spec = model_spec(name)
    net = build_network(spec.name)
    source = locate(spec.name, models_dir)
    _load_with_cache(net, source, spec.name)
    if settings.engine == "openvino":
        from openpose_ros.nets.openvino_engine import compile_network

        return compile_network(net, precision=settings.precision,
                               num_threads=settings.num_threads, source=source)
    if num_threads > 0 and resolve_device(device).type == "cpu":
        torch.set_num_threads(settings.num_threads)
    return prepare_network(net, device, precision=settings.precision,
                           channels_last=channels_last, cpu_fast=cpu_fast)
