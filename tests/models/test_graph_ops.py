"""radius_graph: same edges as a brute-force reference, in PyG's source → target convention."""

from __future__ import annotations

import pytest
import torch

from sciml.models import graph_ops
from sciml.models.graph_ops import radius_graph


def _reference(x: torch.Tensor, r: float, batch: torch.Tensor, loop: bool) -> set[tuple[int, int]]:
    d = torch.cdist(x.double(), x.double())
    ok = (d <= r) & (batch[:, None] == batch[None, :])
    if not loop:
        ok.fill_diagonal_(False)
    return {(int(j), int(i)) for i, j in ok.nonzero().tolist()}


def _edges(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return {(int(j), int(i)) for j, i in edge_index.t().tolist()}


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("loop", [False, True])
def test_matches_brute_force_reference_within_batches(dim: int, loop: bool) -> None:
    gen = torch.Generator().manual_seed(dim)
    x = torch.rand(300, dim, generator=gen)
    batch = torch.sort(torch.randint(0, 3, (300,), generator=gen)).values
    edge_index = radius_graph(x, 0.2, batch, loop=loop, max_num_neighbors=300)
    assert edge_index.dtype == torch.long and edge_index.shape[0] == 2
    assert edge_index.shape[1] == len(_edges(edge_index))  # no duplicates
    assert _edges(edge_index) == _reference(x, 0.2, batch, loop)


def test_row_zero_is_the_source_and_row_one_the_target() -> None:
    # Point 0 has two neighbours, point 3 is isolated; flow="source_to_target" puts the centre
    # (the point whose neighbourhood is searched) in row 1.
    x = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0]])
    edge_index = radius_graph(x, 0.12, max_num_neighbors=1)
    assert edge_index[1].tolist() == [0, 1, 2]  # every target once, sorted, capped at one source
    assert edge_index[:, 0].tolist() == [1, 0] or edge_index[:, 0].tolist() == [2, 0]


def test_neighbour_cap_keeps_the_nearest_sources() -> None:
    x = torch.tensor([[0.0], [0.3], [0.1], [0.2], [-0.05]])
    edge_index = radius_graph(x, 1.0, max_num_neighbors=2)
    sources_of_0 = edge_index[0, edge_index[1] == 0].tolist()
    assert sorted(sources_of_0) == [2, 4]
    assert torch.bincount(edge_index[1]).max() == 2


def test_fallback_bounds_memory_by_processing_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(500, 2, generator=gen, dtype=torch.float64)
    batch = torch.arange(5).repeat_interleave(100)
    full = radius_graph(x, 0.1, batch, max_num_neighbors=500)
    monkeypatch.setattr(graph_ops, "_MAX_PAIRS", 1000)  # many blocks of candidates
    blocked = radius_graph(x, 0.1, batch, max_num_neighbors=500)
    assert _edges(blocked) == _edges(full) == _reference(x, 0.1, batch, False)


def test_ten_thousand_points_without_quadratic_memory() -> None:
    x = torch.rand(10_000, 3, generator=torch.Generator().manual_seed(1))
    edge_index = radius_graph(x, 0.03, max_num_neighbors=16)
    assert edge_index.shape[0] == 2 and 0 < edge_index.shape[1] <= 16 * 10_000


def test_empty_input_and_invalid_arguments() -> None:
    assert radius_graph(torch.zeros(0, 2), 0.1).shape == (2, 0)
    with pytest.raises(ValueError, match="sorted"):
        radius_graph(torch.rand(4, 2), 0.5, torch.tensor([1, 0, 0, 1]))
    with pytest.raises(ValueError, match="positive"):
        radius_graph(torch.rand(4, 2), 0.0)
    with pytest.raises(ValueError, match="shape"):
        radius_graph(torch.rand(4), 0.1)


def test_message_passing_over_the_graph_aggregates_each_points_neighbours() -> None:
    from torch_geometric.nn import MessagePassing

    class NeighbourSum(MessagePassing):
        def forward(self, v: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
            return self.propagate(edge_index, v=v)

        def message(self, v_j: torch.Tensor) -> torch.Tensor:
            return v_j

    gen = torch.Generator().manual_seed(4)
    x = torch.rand(60, 2, generator=gen, dtype=torch.float64)
    v = torch.randn(60, 1, generator=gen, dtype=torch.float64)
    out = NeighbourSum(aggr="sum")(v, radius_graph(x, 0.25, max_num_neighbors=60))
    near = (torch.cdist(x, x) <= 0.25).double().fill_diagonal_(0)
    assert torch.allclose(out, near @ v)
