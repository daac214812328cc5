"""benchmarks/isrf_cost.py counts a product with a sparse adjacency by its stored entries: the
counter's own formulas skip its forward and count its backward as dense, which made a LightGCN
over 34k nodes look like 60x the T5's own work."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode


@pytest.fixture
def cost(import_benchmark):
    return import_benchmark("isrf_cost")


def counted(cost, run) -> int:
    counter = FlopCounterMode(display=False, custom_mapping=cost.FLOP_FORMULAS)
    with counter:
        run()
    return counter.get_total_flops()


def test_a_sparse_product_counts_its_stored_entries(cost):
    rows, columns = torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0])
    adjacency = torch.sparse_coo_tensor(torch.stack([rows, columns]), torch.ones(3), (1000, 1000)).coalesce()
    dense = torch.randn(1000, 8)
    assert counted(cost, lambda: torch.sparse.mm(adjacency.to_sparse_csr(), dense)) == 2 * 3 * 8
    assert counted(cost, lambda: torch.sparse.mm(adjacency, dense)) == 2 * 3 * 8
    # with a gradient: the forward product and the backward one (adjacency transposed), both sparse
    trained = torch.randn(1000, 8, requires_grad=True)
    assert counted(cost, lambda: torch.sparse.mm(adjacency.to_sparse_csr(), trained).sum().backward()) == 2 * (2 * 3 * 8)


def test_a_dense_product_counts_as_the_counter_does(cost):
    left, right = torch.randn(5, 7), torch.randn(7, 3)
    assert counted(cost, lambda: left @ right) == 2 * 5 * 7 * 3
    plain = FlopCounterMode(display=False)
    with plain:
        left @ right
    assert plain.get_total_flops() == 2 * 5 * 7 * 3
