"""Which engine and which number format run a network: ``engine`` and ``precision`` resolved
once, per device, with a clear error naming what the device and engine can run.

Engines: ``torch`` (every device) and ``openvino`` (CPU only; ``openvino_engine``).
Precisions: ``fp32``, ``fp16``, ``bf16``, ``int8``.

``auto`` rules:

* engine: OpenVINO on a CPU when the ``openvino`` package imports, torch otherwise and always
  on CUDA;
* precision: fp16 on CUDA; int8 for the lightweight network under OpenVINO (Intel ships its IR
  quantised, and that is the form its accuracy is published for); bf16 on a CPU with native
  bf16 instructions (AVX512-BF16 or AMX); fp32 elsewhere.

INT8 of the OpenPose networks is refused: there is no calibrated INT8 form of them, and with
no real weights and data here the accuracy loss of a quantisation cannot be bounded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

__all__ = ["ENGINES", "PRECISIONS", "RunSettings", "cpu_has_native_bf16", "default_num_threads",
           "openvino_available", "resolve_engine", "resolve_precision", "supported_precisions"]

ENGINES = ("auto", "torch", "openvino")
PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")
# Networks that exist in a calibrated INT8 form (Intel's FP16-INT8 IR).
_INT8_MODELS = frozenset({"LIGHTWEIGHT_COCO_18"})
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class RunSettings:
    """A resolved choice: ``engine`` is ``torch`` or ``openvino``; ``precision`` one of
    fp32/fp16/bf16/int8; ``num_threads`` >= 1 (CPU threads for either engine)."""

    engine: str
    precision: str
    num_threads: int


def default_num_threads() -> int:
    """The cores this process may run on (its CPU affinity, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """This CPU computes bf16 in hardware (AVX512-BF16 or AMX-BF16).

    Emulated bf16 (every other x86 CPU) is slower than fp32, so ``auto`` never picks it there.
    Read from ``/proc/cpuinfo``; where that does not exist, torch's own CPU capability
    (``AVX512`` alone does not imply BF16, so only ``AMX``-class capabilities count).
    """
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "AMX" in str(torch.backends.cpu.get_cpu_capability()).upper()
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "").split()
    return any(flag in flags for flag in _BF16_CPU_FLAGS)


@lru_cache(maxsize=1)
def openvino_available() -> bool:
    """The ``openvino`` package imports (checked once)."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_engine(engine: str, device: torch.device) -> str:
    """``auto``/``torch``/``openvino`` -> ``torch`` or ``openvino`` for ``device``.

    Raises ``ValueError`` for an unknown engine, OpenVINO on a non-CPU device, or OpenVINO
    asked for but not installed.
    """
    text = str(engine).strip().lower()
    if text not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if text == "auto":
        return "openvino" if device.type == "cpu" and openvino_available() else "torch"
    if text == "openvino":
        if device.type != "cpu":
            raise ValueError(f"engine openvino runs on the CPU only, not on {device}; "
                             "use engine torch (or auto) there")
        if not openvino_available():
            raise ValueError("engine openvino needs the openvino package "
                             "(pip install openvino); engine torch runs without it")
    return text


def supported_precisions(engine: str, device: torch.device, model: str) -> tuple[str, ...]:
    """What ``engine`` (resolved) can run ``model`` in on ``device``, in order of preference."""
    if device.type == "cuda":
        bf16 = ("bf16",) if torch.cuda.is_bf16_supported() else ()
        return ("fp16", *bf16, "fp32")
    # CPU: fp16 kernels exist only on CPUs with AVX512-FP16/AMX-FP16; none is used here, and
    # torch's CPU half convolutions are slower than float32.
    if engine == "openvino":
        # OpenVINO runs bf16 only where its CPU plugin reports the capability (it would
        # otherwise quietly compute in fp32).
        int8 = ("int8",) if model.upper() in _INT8_MODELS else ()
        bf16 = ("bf16",) if "BF16" in _openvino_cpu_capabilities() else ()
        return (*int8, *bf16, "fp32")
    # torch emulates bf16 where the CPU lacks it (slower than fp32: allowed, never auto).
    return ("bf16", "fp32") if cpu_has_native_bf16() else ("fp32", "bf16")


@lru_cache(maxsize=1)
def _openvino_cpu_capabilities() -> tuple[str, ...]:
    import openvino as ov

    return tuple(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def resolve_precision(precision: str, *, engine: str, device: torch.device, model: str) -> str:
    """``auto`` or an explicit precision -> the precision ``model`` runs in (see the module
    docstring for ``auto``). Raises ``ValueError`` naming what this device and engine can run."""
    text = str(precision).strip().lower()
    if text not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    allowed = supported_precisions(engine, device, model)
    if text == "auto":
        return allowed[0]
    if text not in allowed:
        why = ""
        if text == "int8":
            why = (f" (INT8 exists only for {', '.join(sorted(_INT8_MODELS))} under engine "
                   "openvino: the OpenPose networks have no calibrated INT8 form whose accuracy "
                   "loss could be bounded)")
        elif text == "fp16" and device.type == "cpu":
            why = " (half-precision convolutions are CUDA-only here)"
        raise ValueError(f"precision {text} cannot run {model} with engine {engine} on {device}"
                         f"{why}; it can run: {', '.join(allowed)}")
    return text
