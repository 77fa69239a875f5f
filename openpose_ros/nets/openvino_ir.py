"""Read OpenVINO IR (``.xml`` graph + ``.bin`` weights) convolution weights without OpenVINO.

Handles the three forms Open Model Zoo ships: FP32, FP16 (``f16`` constants, possibly behind
a ``Convert``) and FP16-INT8 (``i8`` weights decompressed by ``Convert -> Subtract(zero point)
-> Multiply(scale)``, FakeQuantize on activations). Each convolution's weight input is
evaluated as a small constant sub-graph in float32, i.e. INT8 weights are dequantised;
FakeQuantize ops on activations are ignored, so the network runs in float.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from torch import nn

from openpose_ros.nets.caffe_proto import CaffeBlob, CaffeLayer
from openpose_ros.nets.weights import WeightFileError, copy_layers, named_caffe_layers, verify_layers

__all__ = ["IrGraph", "IrLayer", "ir_conv_layers", "ir_input_affine", "load_ir_into"]

_DTYPES = {
    "f32": np.float32, "f16": np.float16, "f64": np.float64, "i8": np.int8, "u8": np.uint8,
    "i32": np.int32, "i64": np.int64, "u1": np.uint8,
}
_ELEMENTWISE = {
    "Add": np.add, "Subtract": np.subtract, "Multiply": np.multiply, "Divide": np.divide,
}
_CONVS = ("Convolution", "GroupConvolution")


@dataclass
class IrLayer:
    """One ``<layer>`` of the IR: its inputs are ``(producer layer id, producer port)`` by port."""

    id: str
    name: str
    type: str
    data: dict[str, str]
    inputs: dict[int, tuple[str, str]] = field(default_factory=dict)


class IrGraph:
    """The layer graph of an IR with constant folding of weight sub-graphs."""

    def __init__(self, xml_path: Path):
        self.xml_path = Path(xml_path)
        self.bin_path = self.xml_path.with_suffix(".bin")
        try:
            root = ET.parse(self.xml_path).getroot()
        except (ET.ParseError, OSError) as err:
            raise WeightFileError(f"{self.xml_path}: not a readable OpenVINO IR: {err}") from None
        if root.tag != "net" or root.find("layers") is None or root.find("edges") is None:
            raise WeightFileError(f"{self.xml_path}: not an OpenVINO IR (no <net>/<layers>/<edges>)")
        self.layers: dict[str, IrLayer] = {}
        for el in root.find("layers"):
            data = el.find("data")
            self.layers[el.get("id")] = IrLayer(
                el.get("id"), el.get("name", ""), el.get("type", ""),
                dict(data.attrib) if data is not None else {},
            )
        self.consumers: dict[str, list[str]] = {}
        for edge in root.find("edges"):
            src, dst = edge.get("from-layer"), edge.get("to-layer")
            if src not in self.layers or dst not in self.layers:
                raise WeightFileError(f"{self.xml_path}: edge refers to an unknown layer id")
            self.layers[dst].inputs[int(edge.get("to-port"))] = (src, edge.get("from-port"))
            self.consumers.setdefault(src, []).append(dst)
        self._cache: dict[str, np.ndarray] = {}
        self._is_constant: dict[str, bool] = {}

    @cached_property
    def blob(self) -> bytes:
        try:
            return self.bin_path.read_bytes()
        except OSError as err:
            raise WeightFileError(f"{self.bin_path}: cannot read the IR weights: {err}") from None

    def input_of(self, layer: IrLayer, port: int) -> IrLayer:
        """The layer feeding ``layer``'s input ``port`` (ports count from 0 in input order)."""
        ports = sorted(layer.inputs)
        if port >= len(ports):
            raise WeightFileError(f"{self.xml_path}: layer {layer.name!r} lacks input {port}")
        return self.layers[layer.inputs[ports[port]][0]]

    def _const(self, layer: IrLayer) -> np.ndarray:
        d = layer.data
        dtype = _DTYPES.get(d.get("element_type", ""))
        if dtype is None:
            raise WeightFileError(f"{self.xml_path}: constant {layer.name!r} has unsupported "
                                  f"element type {d.get('element_type')!r}")
        offset, size = int(d["offset"]), int(d["size"])
        shape = tuple(int(s) for s in d.get("shape", "").split(",") if s.strip())
        if offset + size > len(self.blob):
            raise WeightFileError(
                f"{self.bin_path}: constant {layer.name!r} needs bytes {offset}..{offset + size} but "
                f"the file has {len(self.blob)} (truncated, or the .bin of another model?)"
            )
        values = np.frombuffer(self.blob, dtype, count=size // np.dtype(dtype).itemsize, offset=offset)
        if values.size != int(np.prod(shape, dtype=np.int64)):
            raise WeightFileError(f"{self.xml_path}: constant {layer.name!r} holds {values.size} "
                                  f"values but its shape is {shape}")
        return values.reshape(shape)

    def constant(self, layer: IrLayer) -> np.ndarray:
        """Fold the constant sub-graph ending at ``layer`` into a float32 (or integer) array."""
        if layer.id not in self._cache:
            self._cache[layer.id] = self._fold(layer)
        return self._cache[layer.id]

    def _fold(self, layer: IrLayer) -> np.ndarray:
        kind = layer.type
        if kind == "Const":
            return self._const(layer)
        args = [self.constant(self.input_of(layer, p)) for p in range(len(layer.inputs))]
        if kind == "Convert":
            dtype = _DTYPES.get(layer.data.get("destination_type", "f32"), np.float32)
            return args[0].astype(np.float32 if dtype in (np.float16, np.float64) else dtype)
        if kind in _ELEMENTWISE:
            return _ELEMENTWISE[kind](args[0].astype(np.float32), args[1].astype(np.float32))
        if kind == "Reshape":
            target = [int(v) for v in args[1].reshape(-1)]
            if layer.data.get("special_zero", "false") == "true":
                target = [args[0].shape[i] if v == 0 else v for i, v in enumerate(target)]
            return args[0].reshape(target)
        if kind == "Unsqueeze":
            return np.expand_dims(args[0], tuple(int(a) for a in args[1].reshape(-1)))
        if kind == "Squeeze":
            return np.squeeze(args[0], tuple(int(a) for a in args[1].reshape(-1)))
        if kind == "Transpose":
            return np.transpose(args[0], [int(a) for a in args[1].reshape(-1)])
        if kind == "FakeQuantize":
            return _fake_quantize(*[a.astype(np.float32) for a in args], int(layer.data["levels"]))
        raise WeightFileError(
            f"{self.xml_path}: layer {layer.name!r} ({kind}) feeds weights but cannot be folded"
        )

    def is_constant(self, layer: IrLayer) -> bool:
        """True when ``layer`` depends on constants only (memoised: residual joins would
        otherwise revisit the same ancestors many times)."""
        known = self._is_constant
        if layer.id not in known:
            if layer.type == "Const":
                known[layer.id] = True
            elif layer.type == "Parameter" or not layer.inputs:
                known[layer.id] = False
            else:
                known[layer.id] = all(
                    self.is_constant(self.input_of(layer, p)) for p in range(len(layer.inputs))
                )
        return known[layer.id]


def _fake_quantize(x, in_lo, in_hi, out_lo, out_hi, levels: int) -> np.ndarray:
    """OpenVINO FakeQuantize on a constant (exact dequantisation of quantised weights)."""
    steps = np.round((x - in_lo) / (in_hi - in_lo) * (levels - 1))
    y = steps / (levels - 1) * (out_hi - out_lo) + out_lo
    y = np.where(x <= np.minimum(in_lo, in_hi), out_lo, y)
    return np.where(x > np.maximum(in_lo, in_hi), out_hi, y).astype(np.float32)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",")) if text else ()


def _conv_bias(graph: IrGraph, conv: IrLayer, channels: int) -> np.ndarray:
    """The bias of ``conv``: the constant operand of an ``Add`` consuming its output, else 0."""
    for cid in graph.consumers.get(conv.id, []):
        add = graph.layers[cid]
        if add.type != "Add":
            continue
        for port in range(2):
            operand = graph.input_of(add, port)
            if operand.id != conv.id and graph.is_constant(operand):
                bias = graph.constant(operand).astype(np.float32)
                if bias.size == channels:
                    return bias.reshape(channels)
    return np.zeros(channels, np.float32)


def ir_conv_layers(graph: IrGraph) -> dict[str, tuple[IrLayer, CaffeLayer]]:
    """Every convolution keyed by our module name (IR name minus ``/WithoutBiases``, ``/``->``_``),
    with its float32 weight ``[out, in/groups, kh, kw]`` and bias ``[out]``."""
    convs: dict[str, tuple[IrLayer, CaffeLayer]] = {}
    for layer in graph.layers.values():
        if layer.type not in _CONVS:
            continue
        weight = graph.constant(graph.input_of(layer, 1)).astype(np.float32)
        if layer.type == "GroupConvolution":  # [groups, out/g, in/g, kh, kw] -> [out, in/g, kh, kw]
            weight = weight.reshape(-1, *weight.shape[2:])
        name = layer.name.removesuffix("/WithoutBiases").replace("/", "_")
        bias = _conv_bias(graph, layer, weight.shape[0])
        blobs = (CaffeBlob(weight, False), CaffeBlob(bias, False))
        convs[name] = (layer, CaffeLayer(name, "Convolution", blobs))
    return convs


def ir_input_affine(graph: IrGraph) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(scale, shift)`` the IR applies to its raw input before the first conv.

    Follows the chain of Multiply/Add/Subtract with constant operands after the ``Parameter``
    (FakeQuantize and Convert pass through). ``[3]`` arrays; identity if there is none.
    """
    params = [l for l in graph.layers.values() if l.type == "Parameter"]
    if len(params) != 1:
        raise WeightFileError(f"{graph.xml_path}: expected one input, found {len(params)}")
    scale, shift = np.ones(3, np.float32), np.zeros(3, np.float32)
    node = params[0]
    while len(graph.consumers.get(node.id, [])) == 1:
        nxt = graph.layers[graph.consumers[node.id][0]]
        if nxt.type in ("FakeQuantize", "Convert"):
            node = nxt
            continue
        if nxt.type not in ("Multiply", "Add", "Subtract"):
            break
        operands = [graph.input_of(nxt, p) for p in range(2)]
        const = next((o for o in operands if o.id != node.id), None)
        if const is None or not graph.is_constant(const):
            break
        value = np.broadcast_to(graph.constant(const).astype(np.float32).reshape(-1), (3,))
        if nxt.type == "Multiply":
            scale, shift = scale * value, shift * value
        else:
            shift = shift + (value if nxt.type == "Add" else -value)
        node = nxt
    return scale, shift


def _check_geometry(graph: IrGraph, ir_layer: IrLayer, module: nn.Conv2d, name: str) -> None:
    d = ir_layer.data
    pads_begin, pads_end = _ints(d.get("pads_begin", "0,0")), _ints(d.get("pads_end", "0,0"))
    found = (_ints(d.get("strides", "1,1")), pads_begin, _ints(d.get("dilations", "1,1")))
    expected = (module.stride, tuple(module.padding), module.dilation)
    if pads_begin != pads_end or found != expected:
        raise WeightFileError(
            f"{graph.xml_path}: layer {name!r}: expected stride/pad/dilation {expected}, "
            f"found {found} (pads_end {pads_end})"
        )


def load_ir_into(net: nn.Module, xml_path: Path) -> nn.Module:
    """Fill ``net`` (a ``LightweightPoseNet``) from an IR; all-or-nothing, like ``load_caffemodel``.

    ``net.input_affine`` receives the map from ``pixel/256 - 0.5`` to the IR's own input
    normalisation: with raw ``x = 256 * (y + 0.5)``, ``scale*x + shift = 256*scale*y +
    (128*scale + shift)``.
    """
    graph = IrGraph(xml_path)
    convs = ir_conv_layers(graph)
    ours = named_caffe_layers(net)
    extra = sorted(set(convs) - set(ours))
    if extra:
        raise WeightFileError(
            f"{xml_path}: the IR has convolutions the network lacks ({', '.join(extra[:5])}"
            f"{', ...' if len(extra) > 5 else ''}): not a human-pose-estimation-0001 IR?"
        )
    scale, shift = ir_input_affine(graph)
    affine = (256.0 * scale).reshape(3, 1, 1, 1), 128.0 * scale + shift
    found = {name: layer for name, (_, layer) in convs.items()}
    found["input_affine"] = CaffeLayer(
        "input_affine", "Convolution",
        (CaffeBlob(affine[0].astype(np.float32), False), CaffeBlob(affine[1].astype(np.float32), False)),
    )
    verify_layers(net, graph.xml_path, found)
    for name, (ir_layer, _) in convs.items():
        _check_geometry(graph, ir_layer, ours[name], name)
    copy_layers(net, found)
    return net
