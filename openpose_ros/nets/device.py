"""One ``device`` argument for every network: parse it once, prepare the module once."""

from __future__ import annotations

import warnings

import torch
from torch import nn

__all__ = ["resolve_device", "prepare_network"]

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(spec: str | torch.device) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (first GPU if there is one, else CPU).

    Raises ``ValueError`` for an unknown spec or a CUDA device this machine does not have.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    text = spec.strip().lower()
    if text == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ValueError(f"unknown device {spec!r}; use cpu, cuda, cuda:N or auto") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ValueError(f"unsupported device {spec!r}; use cpu, cuda, cuda:N or auto")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = 0 if device.index is None else device.index
    if index >= count:
        raise ValueError(f"device {spec!r} requested but this machine has {count} CUDA device(s)")
    return torch.device("cuda", index)


def prepare_network(
    net: nn.Module,
    device: str | torch.device = "cpu",
    *,
    precision: str = "fp32",
    fp16: bool | None = None,
    channels_last: bool | None = None,
    cpu_fast: bool = True,
) -> nn.Module:
    """Move ``net`` to ``device`` for inference: eval mode, no gradients, in ``precision``
    (``fp32``, ``fp16`` (CUDA only) or ``bf16``; ``precision.resolve_precision`` turns ``auto``
    into one of them). ``fp16=True`` is the deprecated spelling of ``precision="fp16"``.

    ``channels_last`` (NHWC convolutions) defaults to on: cuDNN's NHWC kernels are faster (and
    needed for tensor cores in fp16), and on CPU it is the layout of the fast path (NCHW
    turns the fast path off). With ``cpu_fast`` (default) a CPU network gets pre-packed oneDNN convolutions, fused ReLUs and
    Winograd 3x3 convolutions (``cpu_fast.optimize_for_cpu``; ~1e-5 relative difference).
    fp16 is CUDA-only: CPU half-precision convolutions are slower than float32. bf16 runs on
    both (natively on CPUs with AVX512-BF16/AMX; the fast path is float32-only). The network's
    ``forward`` casts its input to match, so callers always pass float32 NCHW.

    Call it after loading weights; the CPU fast path caches transformed weights.
    """
    if fp16 is not None:
        warnings.warn("prepare_network(fp16=...) is deprecated; use precision='fp16'",
                      DeprecationWarning, stacklevel=2)
        precision = "fp16" if fp16 else precision
    dtype = _DTYPES.get(precision)
    if dtype is None:
        raise ValueError(f"torch runs networks in {', '.join(_DTYPES)}, not {precision!r}")
    dev = resolve_device(device)
    if precision == "fp16" and dev.type != "cuda":
        raise ValueError(f"fp16 needs a CUDA device, got {dev}")
    if channels_last is None:
        channels_last = True
    # The fast path is NHWC float32 only.
    use_fast = cpu_fast and dev.type == "cpu" and channels_last and dtype == torch.float32
    net = net.eval().requires_grad_(False)
    net = net.to(device=dev, dtype=dtype)
    if use_fast:
        from openpose_ros.nets.cpu_fast import optimize_for_cpu

        optimize_for_cpu(net)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    if hasattr(net, "channels_last"):
        net.channels_last = channels_last
    return net
