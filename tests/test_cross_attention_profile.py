"""benchmarks/cross_attention_profile.py reads the attention the dual view's cross-attention uses."""

from __future__ import annotations

import pytest
import torch

from recbole_hsuga.model.dual_view import ViewCrossAttention


@pytest.fixture
def profile(import_benchmark):
    return import_benchmark("cross_attention_profile")


@pytest.mark.parametrize("causal", [True, False])
def test_weights_reproduce_the_module_output(profile, causal):
    torch.manual_seed(0)
    module = ViewCrossAttention(8, n_heads=2, causal=causal)
    query, key_value = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    item_seq = torch.tensor([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    weights = profile.attention_weights(module, query, key_value, item_seq)  # [B, heads, L, L]
    values = module.linear_v(key_value).view(2, 5, 2, 4).transpose(1, 2)
    rebuilt = module.linear_output(torch.matmul(weights, values).transpose(1, 2).reshape(2, 5, 8))
    torch.testing.assert_close(rebuilt, module(query, key_value, item_seq))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 5))
    assert float(weights[0, :, :, 3:].max()) < 1e-6  # padding keys get nothing
    if causal:
        assert float(weights[1, :, 0, 1:].max()) < 1e-6  # the first position sees only itself
