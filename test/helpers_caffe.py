"""Test helper: write ``.caffemodel`` files (protobuf ``NetParameter``) with random weights.

An independent protobuf *encoder*, so the project's reader is checked against bytes it did not
produce itself and against OpenCV's Caffe importer. Field numbers follow Caffe's caffe.proto:
NetParameter.layer = 100 (V2) / layers = 2 (V1); LayerParameter name 1, type 2, blobs 7;
V1LayerParameter name 4, type 5 (enum), blobs 6; BlobProto shape 7, data 5, num/channels/
height/width 1-4; BlobShape dim 1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

_V1_ENUM = {"Convolution": 4, "ReLU": 18, "Pooling": 17, "Concat": 3}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _len_field(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def encode_blob(array: np.ndarray, *, legacy_shape: bool = False) -> bytes:
    """BlobProto with packed float data and either a BlobShape or num/channels/height/width."""
    array = np.asarray(array, dtype="<f4")
    if legacy_shape:
        dims = (1,) * (4 - array.ndim) + array.shape
        shape = b"".join(_key(f, 0) + _varint(d) for f, d in zip((1, 2, 3, 4), dims))
    else:
        shape = _len_field(7, _len_field(1, b"".join(_varint(d) for d in array.shape)))
    return shape + _len_field(5, array.tobytes())


def encode_layer(name: str, type_name: str, blobs: Sequence[np.ndarray], *, v1: bool = False,
                 legacy_shape: bool = False) -> bytes:
    encoded = [encode_blob(b, legacy_shape=legacy_shape) for b in blobs]
    if v1:
        body = _len_field(4, name.encode()) + _key(5, 0) + _varint(_V1_ENUM[type_name])
        return _len_field(2, body + b"".join(_len_field(6, e) for e in encoded))
    body = _len_field(1, name.encode()) + _len_field(2, type_name.encode())
    return _len_field(100, body + b"".join(_len_field(7, e) for e in encoded))


def random_layer_weights(net: nn.Module, seed: int, gain: float = 1.0) -> dict[str, list[np.ndarray]]:
    """Random Caffe blobs for every Conv2d/PReLU of ``net``, keyed by Caffe layer name.

    Conv weights are He-normal, std = gain * sqrt(2 / ((1 + a^2) fan_in)) with a = 0.25 the mean
    PReLU slope, so activations keep roughly unit scale through 100+ layers; biases ~ N(0, 0.05);
    PReLU slopes ~ U(0, 0.5).
    """
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {}
    for path, module in net.named_modules():
        name = path.rsplit(".", 1)[-1]
        if isinstance(module, nn.Conv2d):
            o, i, kh, kw = module.weight.shape
            std = gain * np.sqrt(2.0 / ((1 + 0.25**2) * i * kh * kw))
            out[name] = [
                (rng.standard_normal((o, i, kh, kw)) * std).astype(np.float32),
                (rng.standard_normal(o) * 0.05).astype(np.float32),
            ]
        elif isinstance(module, nn.PReLU):
            out[name] = [rng.uniform(0.0, 0.5, module.weight.shape[0]).astype(np.float32)]
    return out


def write_caffemodel(path: Path, net: nn.Module, weights: dict[str, list[np.ndarray]], *,
                     v1: bool = False, legacy_shape: bool = False) -> Path:
    """Write ``weights`` as a caffemodel in the network's layer order (V2 or V1 layers)."""
    parts = [_len_field(1, b"random-test-net")]
    for name, blobs in weights.items():
        kind = "PReLU" if len(blobs) == 1 else "Convolution"
        parts.append(encode_layer(name, kind, blobs, v1=v1, legacy_shape=legacy_shape))
    path.write_bytes(b"".join(parts))
    return path


def truncated_prototxt(source: Path, dest: Path, stages: int) -> Path:
    """MPI's faster variant from the 6-stage prototxt: drop stages > ``stages`` and output
    ``[Mconv7_stage{stages}_L2, Mconv7_stage{stages}_L1]`` (what the 4-stage prototxt does)."""
    text = source.read_text()
    blocks = re.findall(r"layer\s*\{.*?\n\}", text, re.S)
    head = text[: text.index(blocks[0])]
    keep = []
    for block in blocks:
        numbers = [int(n) for n in re.findall(r'"[^"]*stage(\d+)[^"]*"', block)]
        if numbers and max(numbers) > stages:
            continue
        keep.append(block)
    keep.append(
        'layer {\n  name: "net_output"\n  type: "Concat"\n'
        f'  bottom: "Mconv7_stage{stages}_L2"\n  bottom: "Mconv7_stage{stages}_L1"\n'
        '  top: "net_output"\n  concat_param {\n    axis: 1\n  }\n}'
    )
    dest.write_text(head + "\n".join(keep) + "\n")
    return dest


def opencv_forward(prototxt: Path, caffemodel: Path, x: torch.Tensor, output: str | None = None,
                   winograd: bool = True) -> np.ndarray:
    """Run OpenCV's Caffe importer (plain OpenCV backend, CPU, float32) on ``x`` ``[1,3,H,W]``."""
    import cv2

    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    net.enableWinograd(winograd)
    net.setInput(x.numpy().astype(np.float32))
    return net.forward(output) if output else net.forward()
