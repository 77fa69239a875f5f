"""The OpenVINO engine: any pose network compiled for the CPU, with the call contract of
``PoseNetwork`` (``[N, 3, H, W]`` float32 BGR ``pixel/256 - 0.5`` in, float32 ``net_output``
``[N, C, ceil(H/8), ceil(W/8)]`` out, as torch tensors), so the estimator and the hand/face
detector use it unchanged.

Two sources of a graph:

* the lightweight network's shipped IR (Intel's FP16-INT8, run as Intel ships it): our
  ``pixel/256 - 0.5`` input is mapped back to the IR's raw 0..255 by a pre-processing step
  compiled into the graph, and its two outputs are joined in OpenPose's channel order;
* any other network (and the lightweight one in fp32/bf16): ``openvino.convert_model`` of the
  loaded torch module, with dynamic batch and size, saved once as an IR beside the weights.
  The file name carries a key of the weights' bytes, the precision and the OpenVINO version,
  so new weights, another precision or another OpenVINO rebuild it.

``openvino`` is imported lazily: nothing here is loaded unless this engine is chosen.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from openpose_ros.nets.base import PoseNetwork, check_input

__all__ = ["OpenVinoNetwork", "compile_network", "convert_network", "ir_cache_path",
           "weights_key"]

_HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "f32"}
# The IR's heatmap and PAF outputs (human-pose-estimation-0001): heatmaps first in net_output.
_LIGHTWEIGHT_HEATMAPS, _LIGHTWEIGHT_PAFS = 19, 38


class _NetOutput(nn.Module):
    """The graph proper of a ``PoseNetwork`` (no input checks, casts or inference mode)."""

    def __init__(self, net: PoseNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.net_output(x)


def weights_key(net: nn.Module, precision: str) -> str:
    """16 hex digits identifying ``net``'s weights, ``precision`` and the OpenVINO version."""
    import openvino as ov

    digest = hashlib.sha256(f"{precision}|{ov.__version__}|".encode())
    for name, tensor in net.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def ir_cache_path(folder: Path, stem: str, model_name: str, key: str) -> Path:
    """``<folder>/<stem>.<MODEL>.openvino-<key>.xml`` (its ``.bin`` beside it)."""
    return Path(folder) / f"{stem}.{model_name}.openvino-{key}.xml"


def convert_network(net: PoseNetwork, cache: Path | None = None):
    """An ``openvino.Model`` of ``net`` (float32, input ``[-1, 3, -1, -1]``), read from the IR at
    ``cache`` when it exists, else converted and saved there (best effort: a read-only folder
    just skips saving). ``net`` must be a plain float32 module (not CPU-fast-path prepared)."""
    import openvino as ov

    core = ov.Core()
    if cache is not None and cache.is_file() and cache.with_suffix(".bin").is_file():
        try:
            return core.read_model(str(cache))
        except RuntimeError:
            pass  # a broken cache is rebuilt below
    example = torch.zeros(1, 3, 2 * net.input_multiple, 2 * net.input_multiple)
    with torch.no_grad():
        # Traced here without torch's trace check, which re-runs and compares the graph and
        # took most of the conversion time; the OpenVINO tests check the result instead.
        traced = torch.jit.trace(_NetOutput(net.float().eval()), example, check_trace=False)
        model = ov.convert_model(traced, example_input=example,
                                 input=[ov.PartialShape([-1, 3, -1, -1])])
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(cache.stem + ".partial.xml")
            ov.save_model(model, str(partial), compress_to_fp16=False)
            partial.with_suffix(".bin").replace(cache.with_suffix(".bin"))
            partial.replace(cache)
        except (OSError, RuntimeError):
            pass
    return model


def _shipped_lightweight_ir(xml: Path):
    """The shipped IR with our input normalisation folded in, and the indices of its heatmap
    and PAF outputs (joined in that order, OpenPose's, after each call)."""
    import openvino as ov
    from openvino.preprocess import PrePostProcessor

    model = ov.Core().read_model(str(xml))
    model.reshape([-1, 3, -1, -1])
    ppp = PrePostProcessor(model)
    # raw = (x + 0.5) * 256: "mean" subtracts, "scale" divides.
    ppp.input().preprocess().mean(-0.5).scale(1.0 / 256.0)
    model = ppp.build()
    channels = [int(out.get_partial_shape()[1].get_length()) for out in model.outputs]
    if sorted(channels) != sorted((_LIGHTWEIGHT_HEATMAPS, _LIGHTWEIGHT_PAFS)):
        raise ValueError(f"{xml}: expected outputs of 19 and 38 channels (heatmaps, PAFs), "
                         f"found {channels}")
    return model, (channels.index(_LIGHTWEIGHT_HEATMAPS), channels.index(_LIGHTWEIGHT_PAFS))


class OpenVinoNetwork(nn.Module):
    """A compiled OpenVINO model behaving as a ``PoseNetwork`` on the CPU (no parameters).

    Attributes (as ``PoseNetwork``): ``layout``, ``model_name``, ``input_multiple``,
    ``stride``; plus ``engine`` ("openvino"), ``precision`` and ``num_threads``.
    One infer request: call it from one thread at a time (the pose node's worker does).
    """

    engine = "openvino"
    stride = 8
    channels_last = False

    def __init__(self, compiled, reference: PoseNetwork, *, precision: str,
                 num_threads: int, outputs: tuple[int, ...] = (0,)) -> None:
        super().__init__()
        self.layout = reference.layout
        self.model_name = reference.model_name
        self.input_multiple = reference.input_multiple
        self.precision = precision
        self.num_threads = num_threads
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self._outputs = outputs  # output indices joined, in order, along channels

    @property
    def num_output_channels(self) -> int:
        return self.layout.num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.model_name)
        array = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        self._request.infer([array], share_inputs=True)
        maps = [torch.from_numpy(self._request.get_output_tensor(i).data) for i in self._outputs]
        # A copy either way: the request reuses its output buffers on the next call.
        return torch.cat(maps, dim=1) if len(maps) > 1 else maps[0].clone()

    def extra_repr(self) -> str:
        return f"{self.model_name}, openvino {self.precision}, {self.num_threads} threads"


def compile_network(net: PoseNetwork, *, precision: str, num_threads: int,
                    source: Path | None = None, cache_dir: Path | None = None) -> OpenVinoNetwork:
    """``net`` (loaded, float32, unprepared) compiled by OpenVINO for the CPU.

    ``precision`` is resolved already (``precision.resolve_precision``): ``int8`` compiles the
    shipped IR at ``source`` (the lightweight network only); fp32/bf16/fp16 convert ``net``
    (cached in ``cache_dir``, default ``source``'s folder; no cache when both are None).
    """
    import openvino as ov

    if precision == "int8":
        if source is None or Path(source).suffix != ".xml":
            raise ValueError(f"int8 needs the network's INT8 IR (.xml); {net.model_name} was "
                             f"loaded from {source}")
        model, outputs = _shipped_lightweight_ir(Path(source))
    else:
        outputs = (0,)
        folder = cache_dir if cache_dir is not None else (
            Path(source).parent if source is not None else None)
        stem = Path(source).stem if source is not None else net.model_name.lower()
        cache = (ir_cache_path(folder, stem, net.model_name, weights_key(net, precision))
                 if folder is not None else None)
        model = convert_network(net, cache)
    config = {"INFERENCE_NUM_THREADS": int(num_threads), "PERFORMANCE_HINT": "LATENCY",
              "INFERENCE_PRECISION_HINT": _HINTS[precision]}
    compiled = ov.Core().compile_model(model, "CPU", config)
    return OpenVinoNetwork(compiled, net, precision=precision, num_threads=num_threads,
                           outputs=outputs)
