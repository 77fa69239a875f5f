"""Tensor primitives whose CPU kernels cost several times their work.

On a CPU tensor, ``torch.nonzero`` scans the mask twice (about 2.5 ns per element: a quarter
of a millisecond on the decoder's 100k-block masks) and a comparison with a scalar costs about
0.7 ns per element; NumPy does both on the same memory (a zero-copy view) in a fifth of the
time. On other devices the torch op is used, so results stay on the device.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["flat_nonzero", "nonzero_tuple", "greater"]


def flat_nonzero(mask: torch.Tensor) -> torch.Tensor:
    """Long ``[n]`` indices of the true entries of a flattened bool ``mask``, ascending."""
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.numpy()))
    return torch.nonzero(mask.reshape(-1)).squeeze(1)


def nonzero_tuple(mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``torch.nonzero(mask, as_tuple=True)``: one long ``[n]`` index per dimension, raster
    order."""
    if mask.device.type == "cpu":
        return tuple(torch.from_numpy(i) for i in np.nonzero(mask.numpy()))
    return torch.nonzero(mask, as_tuple=True)


def greater(values: torch.Tensor, threshold: float,
            out: torch.Tensor | None = None) -> torch.Tensor:
    """bool ``values > threshold``, compared in the dtype of ``values`` (as torch does with a
    Python scalar); written into ``out`` (a bool tensor of that shape, may be a view) if given."""
    if values.device.type == "cpu":
        array = values.numpy()
        if out is None:
            return torch.from_numpy(np.asarray(array > array.dtype.type(threshold)))
        np.greater(array, array.dtype.type(threshold), out=out.numpy())
        return out
    return torch.gt(values, threshold, out=out) if out is not None else values > threshold
