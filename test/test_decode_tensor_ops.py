"""The CPU fast paths of ``decode.tensor_ops`` give torch's results, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from openpose_ros.decode.tensor_ops import flat_nonzero, greater, nonzero_tuple


@pytest.mark.parametrize("shape", [(0,), (1,), (97,), (3, 5, 7), (2, 0, 4)])
def test_nonzero_matches_torch(shape):
    mask = torch.rand(shape, generator=torch.Generator().manual_seed(len(shape))) > 0.6
    got = flat_nonzero(mask)
    assert got.dtype == torch.long
    assert torch.equal(got, torch.nonzero(mask.reshape(-1)).squeeze(1))
    for a, b in zip(nonzero_tuple(mask), torch.nonzero(mask, as_tuple=True), strict=True):
        assert a.dtype == torch.long and torch.equal(a, b)


def test_nonzero_of_a_strided_view():
    mask = torch.rand(6, 8, generator=torch.Generator().manual_seed(1)) > 0.5
    view = mask.T[1:, ::2]
    assert torch.equal(flat_nonzero(view), torch.nonzero(view.reshape(-1)).squeeze(1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_greater_matches_torch_with_nan_inf_and_rounding(dtype):
    threshold = 0.1  # not exact in binary: compared after rounding to the tensor's dtype
    values = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.1, 0.10000001,
                           0.09999999, -0.2, 0.0], dtype=dtype)
    values = torch.cat([values, torch.rand(100, dtype=dtype)]).view(9, 12)
    got = greater(values, threshold)
    assert got.dtype == torch.bool and got.shape == values.shape
    assert torch.equal(got, values > threshold)
    assert torch.equal(greater(values[:, ::3], threshold), values[:, ::3] > threshold)
    assert not bool(greater(torch.tensor(float("nan"), dtype=dtype), 0.0))


def test_greater_writes_into_a_strided_view():
    values = torch.rand(4, 6, generator=torch.Generator().manual_seed(2))
    out = torch.zeros(5, 7, dtype=torch.bool)
    got = greater(values, 0.5, out=out[1:, 1:])
    assert got.data_ptr() == out[1:, 1:].data_ptr()
    assert torch.equal(out[1:, 1:], values > 0.5) and not out[0].any() and not out[:, 0].any()
