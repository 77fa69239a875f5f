"""A minimal reader for Caffe ``.caffemodel`` files (protobuf ``NetParameter``), no protobuf dependency.

Only the fields needed to load weights are decoded: layer names, types and blobs with their
shapes. Both layer encodings are read: V2 ``layer`` (field 100, ``LayerParameter``) and the old
V1 ``layers`` (field 2, ``V1LayerParameter``, whose type is an enum), and both blob shape forms:
``BlobShape shape`` (field 7) and the legacy ``num/channels/height/width`` (fields 1-4).
Field numbers are those of Caffe's ``caffe.proto``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

__all__ = ["CaffeBlob", "CaffeLayer", "CaffeFormatError", "read_caffemodel", "parse_caffemodel"]

# V1LayerParameter.LayerType values of the layer kinds OpenPose-era files use.
_V1_TYPES = {
    3: "Concat", 4: "Convolution", 5: "Data", 6: "Dropout", 14: "InnerProduct", 15: "LRN",
    17: "Pooling", 18: "ReLU", 19: "Sigmoid", 20: "Softmax", 22: "Split", 23: "TanH",
    25: "Eltwise", 39: "Deconvolution",
}
_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5


class CaffeFormatError(ValueError):
    """The bytes are not a well-formed caffemodel (truncated, corrupt or another format)."""


@dataclass(frozen=True)
class CaffeBlob:
    """One parameter blob: float32 ``data`` already reshaped to ``shape``.

    ``legacy_shape`` is True when the file gave num/channels/height/width instead of a
    ``BlobShape``; Caffe then accepts any target shape that matches after left-padding with 1s.
    """

    data: np.ndarray
    legacy_shape: bool

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)


@dataclass(frozen=True)
class CaffeLayer:
    """A layer's name, type string (V1 enums mapped to V2 names) and parameter blobs."""

    name: str
    type: str
    blobs: tuple[CaffeBlob, ...]


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise CaffeFormatError(f"truncated varint at byte {pos}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise CaffeFormatError(f"malformed varint at byte {pos}")


def _fields(buf: memoryview, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(field, wire_type, value, pos)``; for length-delimited fields ``value`` is the
    payload start and ``pos`` its end, otherwise ``value`` is the scalar and ``pos`` the next byte."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _varint(buf, pos, end)
            yield field, wire, value, pos
        elif wire == _LEN:
            length, pos = _varint(buf, pos, end)
            if pos + length > end:
                raise CaffeFormatError(
                    f"field {field} at byte {pos} claims {length} bytes but only {end - pos} remain"
                    " (file truncated?)"
                )
            yield field, wire, pos, pos + length
            pos += length
        elif wire in (_FIXED32, _FIXED64):
            size = 4 if wire == _FIXED32 else 8
            if pos + size > end:
                raise CaffeFormatError(f"truncated fixed-width field {field} at byte {pos}")
            yield field, wire, pos, pos + size
            pos += size
        else:
            raise CaffeFormatError(f"unsupported protobuf wire type {wire} (field {field}) at byte {pos}")


def _packed_varints(buf: memoryview, start: int, end: int) -> list[int]:
    values, pos = [], start
    while pos < end:
        value, pos = _varint(buf, pos, end)
        values.append(value)
    return values


def _parse_blob(buf: memoryview, start: int, end: int) -> CaffeBlob:
    dims: list[int] | None = None
    legacy = {1: 1, 2: 1, 3: 1, 4: 1}  # num, channels, height, width default to 1 when absent
    has_legacy = False
    chunks: list[np.ndarray] = []
    for field, wire, a, b in _fields(buf, start, end):
        if field == 7 and wire == _LEN:  # BlobShape { repeated int64 dim = 1 [packed] }
            dims = []
            for f2, w2, c, d in _fields(buf, a, b):
                if f2 == 1:
                    dims += _packed_varints(buf, c, d) if w2 == _LEN else [c]
        elif field in legacy and wire == _VARINT:
            legacy[field], has_legacy = a, True
        elif field == 5 and wire != _VARINT:  # repeated float data [packed]
            chunks.append(np.frombuffer(buf[a:b], dtype="<f4"))
        elif field == 8 and wire != _VARINT:  # repeated double double_data [packed]
            chunks.append(np.frombuffer(buf[a:b], dtype="<f8").astype(np.float32))
    data = np.concatenate(chunks) if len(chunks) != 1 else chunks[0]
    if data.size == 0:
        data = np.zeros(0, np.float32)
    shape = tuple(dims) if dims is not None else tuple(legacy[k] for k in (1, 2, 3, 4))
    if dims is None and not has_legacy:
        shape = (data.size,)
    if int(np.prod(shape, dtype=np.int64)) != data.size:
        raise CaffeFormatError(f"blob holds {data.size} values but its shape says {shape}")
    return CaffeBlob(data.astype(np.float32, copy=False).reshape(shape), dims is None and has_legacy)


def _parse_layer(buf: memoryview, start: int, end: int, v1: bool) -> CaffeLayer:
    name_field, type_field, blob_field = (4, 5, 6) if v1 else (1, 2, 7)
    name, type_name, spans = "", "", []
    for field, wire, a, b in _fields(buf, start, end):
        if field == name_field and wire == _LEN:
            name = bytes(buf[a:b]).decode("utf-8", "replace")
        elif field == type_field:
            if v1 and wire == _VARINT:
                type_name = _V1_TYPES.get(a, f"V1Type{a}")
            elif wire == _LEN:
                type_name = bytes(buf[a:b]).decode("utf-8", "replace")
        elif field == blob_field and wire == _LEN:
            spans.append((a, b))
    blobs = []
    for i, (a, b) in enumerate(spans):
        try:
            blobs.append(_parse_blob(buf, a, b))
        except CaffeFormatError as err:
            raise CaffeFormatError(f"layer {name!r} blob {i}: {err}") from None
    return CaffeLayer(name, type_name, tuple(blobs))


def parse_caffemodel(data: bytes | memoryview) -> dict[str, CaffeLayer]:
    """Layers of a serialised ``NetParameter`` by name, in file order (V2 before V1 entries).

    Raises ``CaffeFormatError`` for truncated or corrupt bytes, or when no layer is found.
    """
    buf = memoryview(data)
    v2: list[tuple[int, int]] = []
    v1: list[tuple[int, int]] = []
    for field, wire, a, b in _fields(buf, 0, len(buf)):
        if wire == _LEN and field == 100:
            v2.append((a, b))
        elif wire == _LEN and field == 2:
            v1.append((a, b))
    layers: dict[str, CaffeLayer] = {}
    for spans, is_v1 in ((v2, False), (v1, True)):
        for a, b in spans:
            layer = _parse_layer(buf, a, b, is_v1)
            layers.setdefault(layer.name, layer)
    if not layers:
        raise CaffeFormatError("no Caffe layers found (not a .caffemodel file?)")
    return layers


def read_caffemodel(path: str | Path) -> dict[str, CaffeLayer]:
    """Read and parse a ``.caffemodel`` file; see ``parse_caffemodel``."""
    return parse_caffemodel(Path(path).read_bytes())
