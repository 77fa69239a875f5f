"""Fill a network's weights from a ``.caffemodel``, a ``.pth`` conversion or our saved format.

Every source is keyed by Caffe layer name (``conv1_1.weight``, ``prelu4_2.weight``): the leaf
name of each Conv2d/PReLU module in our networks. Loading is all-or-nothing: every layer of
the network is checked (present, right type, right blob count and shapes) before a single
tensor is copied, and the first problem raises ``WeightFileError`` naming the file, the layer
and the expected and found shapes. Layers the network does not use are ignored (MPI_15_4 reads
the 6-stage MPI file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from torch import nn

from openpose_ros.nets.caffe_proto import CaffeBlob, CaffeFormatError, CaffeLayer, read_caffemodel

__all__ = [
    "WeightFileError",
    "named_caffe_layers",
    "verify_layers",
    "copy_layers",
    "load_caffemodel",
    "load_state",
    "save_state",
    "state_from_network",
    "read_state_metadata",
]

_FORMAT_TAG = "openpose_ros-weights-1"


class WeightFileError(ValueError):
    """A weight file is unreadable, truncated, corrupt or made for another network."""


def named_caffe_layers(net: nn.Module) -> dict[str, nn.Module]:
    """``{caffe_layer_name: module}`` for every Conv2d and PReLU, in network order."""
    layers: dict[str, nn.Module] = {}
    for path, module in net.named_modules():
        if isinstance(module, (nn.Conv2d, nn.PReLU)):
            name = path.rsplit(".", 1)[-1]
            if name in layers:
                raise ValueError(f"two layers are named {name!r} in {type(net).__name__}")
            layers[name] = module
    return layers


def _expected(module: nn.Module) -> tuple[str, list[tuple[str, torch.Tensor]]]:
    """Caffe type and the ``(param name, tensor)`` list in Caffe blob order."""
    if isinstance(module, nn.Conv2d):
        return "Convolution", [("weight", module.weight), ("bias", module.bias)]
    return "PReLU", [("weight", module.weight)]


def _shape_matches(found: tuple[int, ...], expected: tuple[int, ...], legacy: bool) -> bool:
    if found == expected:
        return True
    # Legacy num/channels/height/width blobs match when left-padding the target with 1s agrees.
    return legacy and len(expected) <= 4 and found == (1,) * (4 - len(expected)) + expected


def _model_hint(net: nn.Module, problems: int, total: int) -> str:
    name = getattr(net, "model_name", type(net).__name__)
    if problems <= 1:
        return ""
    return f" ({problems} of {total} layers do not match: is this the weight file for {name}?)"


def _layer_problem(name: str, module: nn.Module, layer: CaffeLayer | None) -> str | None:
    """Why ``layer`` (from a file) cannot fill ``module``, or None when it can."""
    kind, params = _expected(module)
    if layer is None:
        return f"layer {name!r} ({kind}) is missing from the file"
    if layer.type and layer.type != kind:
        return f"layer {name!r} is a {layer.type} in the file, the network expects {kind}"
    if len(layer.blobs) != len(params):
        return (f"layer {name!r} has {len(layer.blobs)} blobs, the network expects "
                f"{len(params)} ({', '.join(p for p, _ in params)})")
    for (pname, tensor), blob in zip(params, layer.blobs):
        want = tuple(tensor.shape)
        if not _shape_matches(blob.shape, want, blob.legacy_shape):
            return f"layer {name!r} {pname}: expected shape {want}, found {blob.shape}"
    return None


def verify_layers(net: nn.Module, path: Path, found: Mapping[str, CaffeLayer]) -> None:
    """Raise ``WeightFileError`` for the first layer of ``net`` that ``found`` cannot fill.

    Checks presence, type (when known), blob count and shapes of every layer; the message
    names ``path``, the layer, and the expected and found shapes, and counts the other misfits.
    """
    layers = named_caffe_layers(net)
    problems = [p for name, module in layers.items()
                if (p := _layer_problem(name, module, found.get(name))) is not None]
    if problems:
        raise WeightFileError(f"{path}: {problems[0]}{_model_hint(net, len(problems), len(layers))}")


@torch.no_grad()
def copy_layers(net: nn.Module, found: Mapping[str, CaffeLayer]) -> None:
    """Copy blobs into the network; call only after ``verify_layers`` passed."""
    for name, module in named_caffe_layers(net).items():
        _, params = _expected(module)
        for (_, tensor), blob in zip(params, found[name].blobs):
            tensor.copy_(torch.from_numpy(np.array(blob.data, copy=True)).reshape(tensor.shape))


def load_caffemodel(net: nn.Module, path: str | Path) -> nn.Module:
    """Fill ``net`` from a ``.caffemodel`` (V1 or V2 layers) and return it.

    Raises ``WeightFileError`` (file named, layer named, expected and found shapes) when the
    file is truncated, corrupt or for another network; ``FileNotFoundError`` when absent.
    """
    path = Path(path)
    try:
        found = read_caffemodel(path)
    except CaffeFormatError as err:
        raise WeightFileError(f"{path}: not a readable caffemodel: {err}") from None
    verify_layers(net, path, found)
    copy_layers(net, found)
    return net


def state_from_network(net: nn.Module) -> dict[str, torch.Tensor]:
    """``{"<caffe layer>.<weight|bias>": tensor}`` (float32, CPU) of every Conv2d/PReLU."""
    state = {}
    for name, module in named_caffe_layers(net).items():
        for pname, tensor in _expected(module)[1]:
            state[f"{name}.{pname}"] = tensor.detach().to("cpu", torch.float32).contiguous()
    return state


def _layers_from_state(path: Path, state: Mapping[str, torch.Tensor]) -> dict[str, CaffeLayer]:
    """Group ``...<layer>.<weight|bias>`` keys by layer; any prefix (``model0.``) is ignored."""
    grouped: dict[str, dict[str, np.ndarray]] = {}
    for key, tensor in state.items():
        parts = key.rsplit(".", 2)
        if len(parts) < 2 or parts[-1] not in ("weight", "bias") or not torch.is_tensor(tensor):
            continue
        entry = grouped.setdefault(parts[-2], {})
        if parts[-1] in entry:
            raise WeightFileError(f"{path}: two entries for layer {parts[-2]!r} {parts[-1]}")
        entry[parts[-1]] = tensor.detach().to("cpu", torch.float32).numpy()
    layers = {}
    for name, params in grouped.items():
        order = [p for p in ("weight", "bias") if p in params]
        blobs = tuple(CaffeBlob(params[p], legacy_shape=False) for p in order)
        layers[name] = CaffeLayer(name, "", blobs)
    return layers


def load_state(net: nn.Module, path: str | Path) -> nn.Module:
    """Fill ``net`` from a ``.safetensors`` or ``.pt``/``.pth`` file keyed by Caffe layer names.

    Keys may carry a prefix (e.g. ``model1_1.conv5_1_CPM_L1.weight`` from common ``.pth``
    conversions); the same checks as ``load_caffemodel`` apply.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
                state = state["state_dict"]
    except Exception as err:  # each backend raises its own types for a corrupt file
        raise WeightFileError(f"{path}: not a readable weight file: {err}") from None
    if not isinstance(state, Mapping):
        raise WeightFileError(f"{path}: expected a mapping of tensors, found {type(state).__name__}")
    found = _layers_from_state(path, state)
    verify_layers(net, path, found)
    copy_layers(net, found)
    return net


def save_state(net: nn.Module, path: str | Path, metadata: Mapping[str, str] | None = None) -> Path:
    """Save the network's weights keyed by Caffe layer name (``.safetensors`` or ``.pt``).

    The file is written to a temporary name and renamed, so readers never see half a file.
    """
    path = Path(path)
    state = state_from_network(net)
    meta = {"format": _FORMAT_TAG, "model": getattr(net, "model_name", type(net).__name__)}
    meta.update(metadata or {})
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(tmp), metadata=meta)
    else:
        torch.save(state, tmp)
    tmp.replace(path)
    return path


def read_state_metadata(path: str | Path) -> dict[str, str]:
    """Metadata of a ``.safetensors`` file written by ``save_state`` (empty if none)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})
