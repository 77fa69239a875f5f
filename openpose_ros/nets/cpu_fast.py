"""CPU inference fast path: pre-packed oneDNN convolutions and Winograd F(4x4, 3x3).

``optimize_for_cpu(net)`` swaps every ``nn.Conv2d`` for a ``FastConv2d`` (a Conv2d subclass,
so names, weights and ``state_dict`` are unchanged) and folds a directly following ReLU into
it. The network must then run in channels-last (NHWC) memory format.

Why: on a CPU, 97% of an OpenPose forward is convolution. PyTorch's eager ``conv2d`` re-lays
out the weights for oneDNN on *every* call; packing them once per input shape removes that.
OpenCV's dnn module additionally uses Winograd for 3x3 convolutions, which needs 2.25x
(4x4 tiles: 4x) fewer multiplications; ``FastConv2d`` does the same for wide 3x3 layers with
batched GEMMs: tiles are transformed with the separable 6x6 matrices (two small GEMMs per
axis), multiplied by the pre-transformed weights per tile position, and transformed back,
in strips of tile rows sized to stay in cache. Float32 error is ~1e-5 relative per layer.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FastConv2d", "optimize_for_cpu", "winograd_eligible"]

# Winograd F(4x4, 3x3) matrices (Lavin & Gray 2015; interpolation points 0, +-1, +-2, inf).
_BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64)
_G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
               [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64)
_AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                [0, 1, -1, 8, -8, 1]], np.float64)
_TILE, _ALPHA = 4, 6
# Floats of transformed tiles processed per strip: measured best at ~4 MB on a 1 MB-L2 core.
_STRIP_FLOATS = 1 << 20
# Winograd beats oneDNN's direct 3x3 kernel once both channel counts are this wide (measured:
# 1.4-2.8x at 96-512 channels, slower below ~96 where the transforms dominate).
_MIN_CHANNELS = 96
# Input shapes whose packed weights are kept per layer (multi-scale runs use a few sizes).
_PACKED_SHAPES = 8


def winograd_eligible(conv: nn.Conv2d) -> bool:
    """3x3 "same" conv (stride 1, padding = dilation, no groups) wide enough to pay off."""
    d = conv.dilation
    return (conv.kernel_size == (3, 3) and conv.stride == (1, 1) and d[0] == d[1]
            and conv.padding == d and conv.groups == 1 and conv.padding_mode == "zeros"
            and min(conv.in_channels, conv.out_channels) >= _MIN_CHANNELS)


class FastConv2d(nn.Conv2d):
    """A ``Conv2d`` for CPU inference on NHWC input, optionally with a fused ReLU.

    Weights stay ordinary parameters; the packed oneDNN weight (per input shape) and the
    Winograd-domain weight are caches rebuilt when the parameters change.
    """

    fused_relu: bool = False
    use_winograd: bool = False

    def _weight_key(self) -> tuple[int, int]:
        return (self.weight._version, self.bias._version if self.bias is not None else 0)

    def _packed(self, shape: tuple[int, ...]) -> torch.Tensor:
        """The weight in oneDNN's blocked layout for inputs of ``shape`` (a few kept)."""
        cache = self.__dict__.setdefault("_packed_cache", {})
        key = self._weight_key()
        entry = cache.get(shape)
        if entry is None or entry[0] != key:
            if len(cache) >= _PACKED_SHAPES:
                cache.clear()
            packed = torch._C._nn.mkldnn_reorder_conv2d_weight(
                self.weight.detach().to_mkldnn(), list(self.padding), list(self.stride),
                list(self.dilation), self.groups, list(shape),
            )
            entry = cache[shape] = (key, packed)
        return entry[1]

    def _winograd_weight(self) -> torch.Tensor:
        """``U = G g G^T`` as ``[36, C_in, C_out]`` (float64 maths, float32 result)."""
        key = self._weight_key()
        cached = self.__dict__.get("_winograd_cache")
        if cached is None or cached[0] != key:
            g = torch.from_numpy(_G)
            u = torch.einsum("ik,ockl,jl->ijco", g, self.weight.detach().double().cpu(), g)
            u = u.reshape(_ALPHA * _ALPHA, self.in_channels, self.out_channels)
            cached = (key, u.float().contiguous())
            self.__dict__["_winograd_cache"] = cached
        return cached[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.dtype != torch.float32:
            y = super().forward(x)
            return torch.relu_(y) if self.fused_relu else y
        x = x.contiguous(memory_format=torch.channels_last)
        if self.use_winograd:
            return self._winograd(x)
        attr = "relu" if self.fused_relu else "none"
        return torch.ops.mkldnn._convolution_pointwise(
            x, self._packed(tuple(x.shape)), self.bias, list(self.padding), list(self.stride),
            list(self.dilation), self.groups, attr, [], "",
        )

    def _winograd(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` channels-last -> ``[N, K, H, W]`` channels-last.

        A conv dilated by d is d*d undilated convs, one per polyphase sub-image
        ``x[..., p::d, q::d]`` (each padded by 1 in its own pixels), interleaved back.
        """
        n, _, h, w = x.shape
        d = self.dilation[0]
        nhwc = x.permute(0, 2, 3, 1)
        out = torch.empty(n, h, w, self.out_channels)
        for p in range(d):
            for q in range(d):
                out[:, p::d, q::d] = self._winograd_nhwc(nhwc[:, p::d, q::d])
        out.add_(self.bias)
        if self.fused_relu:
            out.relu_()
        return out.permute(0, 3, 1, 2)

    def _winograd_nhwc(self, x: torch.Tensor) -> torch.Tensor:
        """Undilated 3x3 "same" conv without bias: ``[N, H, W, C] -> [N, H, W, K]``."""
        n, h, w, c = x.shape
        k = self.out_channels
        bt = torch.from_numpy(_BT).float()
        at = torch.from_numpy(_AT).float()
        u = self._winograd_weight()
        th, tw = -(-h // _TILE), -(-w // _TILE)
        # Zero padding: the 1 px "same" border plus whatever completes the last tile.
        padded = F.pad(x, (0, 0, 1, tw * _TILE + 1 - w, 1, th * _TILE + 1 - h))
        out = torch.empty(n, th * _TILE, tw * _TILE, k)
        rows = max(1, _STRIP_FLOATS // (_ALPHA * _ALPHA * tw * max(c, k)))
        for b in range(n):
            for r0 in range(0, th, rows):
                r1 = min(th, r0 + rows)
                tiles = (r1 - r0) * tw
                strip = padded[b, _TILE * r0:_TILE * r1 + 2]
                # [6 ki, 6 kj, rows, tw, C]: transform along ki, then along kj.
                d = strip.unfold(0, _ALPHA, _TILE).unfold(1, _ALPHA, _TILE)
                d = d.permute(3, 4, 0, 1, 2).reshape(_ALPHA, -1)
                v = torch.mm(bt, d).view(_ALPHA, _ALPHA, -1)
                v = torch.matmul(bt, v).view(_ALPHA * _ALPHA, tiles, c)
                m = torch.bmm(v, u).view(_ALPHA, -1)                     # [36, tiles, K]
                y = torch.mm(at, m).view(_TILE, _ALPHA, -1)
                y = torch.matmul(at, y).view(_TILE, _TILE, r1 - r0, tw, k)
                out[b, _TILE * r0:_TILE * r1] = y.permute(2, 0, 3, 1, 4).reshape(-1, tw * _TILE, k)
        return out[:, :h, :w]


def optimize_for_cpu(net: nn.Module, *, winograd: bool = True) -> nn.Module:
    """Swap every Conv2d for a ``FastConv2d`` in place and fuse ReLUs that directly follow a
    conv inside an ``nn.Sequential``. Weights are shared, so loading later still works."""
    for module in list(net.modules()):
        names = list(module._modules)
        for i, name in enumerate(names):
            child = module._modules[name]
            if type(child) is not nn.Conv2d:
                continue
            child.__class__ = FastConv2d
            child.use_winograd = winograd and winograd_eligible(child)
            nxt = module._modules.get(names[i + 1]) if i + 1 < len(names) else None
            if isinstance(module, nn.Sequential) and isinstance(nxt, nn.ReLU):
                child.fused_relu = True
                module._modules[names[i + 1]] = nn.Identity()
    return net
