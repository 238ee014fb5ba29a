"""Graph construction for particle models: radius graphs with or without ``torch_cluster``.

:func:`radius_graph` follows PyG's ``torch_geometric.nn.radius_graph`` (which needs
``torch_cluster``): it uses ``torch_cluster.radius_graph`` when that package is importable and
otherwise a pure-torch implementation, so the particle models run on a plain ``torch`` +
``torch_geometric`` install.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

try:  # optional compiled kernel (PyG's own dependency for radius_graph)
    import torch_cluster as _torch_cluster
except ImportError:  # pragma: no cover - depends on the environment
    _torch_cluster = None

__all__ = ["radius_graph"]

#: largest number of candidate pairs the pure-torch fallback holds at once (about
#: ``(d + 4) · 8`` bytes each), which bounds its memory whatever the particle count
_MAX_PAIRS = 2**20


def radius_graph(
    x: Tensor,
    r: float,
    batch: Tensor | None = None,
    loop: bool = False,
    max_num_neighbors: int = 32,
    *,
    use_torch_cluster: bool | None = None,
) -> Tensor:
    """Edges between all points closer than ``r`` (within the same example of a batch).

    .. math::

        \\mathcal{E} = \\{(j, i) : \\|x_j - x_i\\|_2 \\le r,\\ b_j = b_i,\\ (j \\ne i \\text{ unless
        loop})\\},

    with each target ``i`` keeping at most ``max_num_neighbors`` sources ``j``.

    Parameters
    ----------
    x:
        ``(N, d)`` point coordinates.
    r:
        Cut-off radius (same units as ``x``).
    batch:
        ``(N,)`` long, sorted example index of each point (PyG's convention), or ``None`` for a
        single example.
    loop:
        Include self-loops ``(i, i)``.
    max_num_neighbors:
        Maximum number of sources per target.
    use_torch_cluster:
        ``None``: use ``torch_cluster`` if importable; ``False``: always the pure-torch fallback.

    Returns
    -------
    Tensor
        ``(2, E)`` long ``edge_index`` in PyG's ``flow="source_to_target"`` convention: row 0
        holds the source (neighbour) ``j``, row 1 the target (centre) ``i``, so that
        ``MessagePassing`` aggregates ``x_j`` into ``x_i``. Edges are grouped by ascending target.

    Notes
    -----
    The pure-torch fallback is a cell list: points are binned into cubic cells of side ``r``
    (keyed by example and cell), sorted by key, and each point is compared only with the points
    of its ``3^d`` neighbouring cells, found by binary search (``torch.searchsorted``). Cost and
    memory are ``O(N · k)`` for ``k`` candidates per point; candidates are expanded in blocks of
    targets of about ``2 · _MAX_PAIRS`` pairs at most, so memory stays bounded (tens of MiB)
    whatever ``N``. The only Python loops are over the ``3^d`` cell offsets and these blocks,
    never over points. When a target has more than ``max_num_neighbors`` neighbours the
    fallback keeps the nearest ones; ``torch_cluster`` keeps an unspecified subset. The graph
    is not differentiable (indices only).
    """
    if x.dim() != 2:
        raise ValueError(f"x must have shape (N, d), got {tuple(x.shape)}")
    if not r > 0:
        raise ValueError(f"radius must be positive, got {r}")
    if max_num_neighbors < 1:
        raise ValueError(f"max_num_neighbors must be >= 1, got {max_num_neighbors}")
    if batch is not None and batch.shape != x.shape[:1]:
        raise ValueError(f"batch must have shape ({x.shape[0]},), got {tuple(batch.shape)}")
    cluster = _torch_cluster is not None if use_torch_cluster is None else use_torch_cluster
    if cluster:
        if _torch_cluster is None:
            raise ImportError("use_torch_cluster=True but torch_cluster is not installed")
        return _torch_cluster.radius_graph(
            x, r, batch, loop, max_num_neighbors, flow="source_to_target"
        )
    return _radius_graph_torch(x, float(r), batch, loop, max_num_neighbors)


def _radius_graph_torch(
    x: Tensor, r: float, batch: Tensor | None, loop: bool, max_num_neighbors: int
) -> Tensor:
    n, dim = x.shape
    device = x.device
    if n == 0:
        return torch.empty(2, 0, dtype=torch.long, device=device)
    if batch is None:
        batch = torch.zeros(n, dtype=torch.long, device=device)
    elif bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("batch must be sorted (PyG's convention)")
    # Integer cell coordinates, padded by one cell on each side so that every neighbour cell
    # of an occupied cell has a valid linear index.
    xd = x.detach()
    cell = torch.floor((xd - xd.min(0).values) / r).long() + 1  # (n, d), ≥ 1
    shape = (cell.max(0).values + 2).tolist()
    n_examples = int(batch[-1]) + 1
    if math.prod(shape) * n_examples >= 2**62:
        raise ValueError(
            f"radius {r} is too small for the extent of the points: "
            f"{math.prod(shape)} cells per example overflow the cell index"
        )
    strides = torch.tensor([math.prod(shape[:k]) for k in range(dim)], device=device)
    key = batch * math.prod(shape) + (cell * strides).sum(-1)  # (n,) linear cell index
    order = torch.argsort(key)
    sorted_key = key[order]
    r2 = r * r
    src_parts: list[Tensor] = []
    tgt_parts: list[Tensor] = []
    d2_parts: list[Tensor] = []
    for offset in itertools.product((-1, 0, 1), repeat=dim):
        neighbour = key + int((torch.tensor(offset, device=device) * strides).sum())
        first = torch.searchsorted(sorted_key, neighbour, side="left")
        count = torch.searchsorted(sorted_key, neighbour, side="right") - first
        # Candidate pairs (target i, k-th point of its neighbour cell), in target blocks of at
        # most _MAX_PAIRS candidates.
        ends = count.cumsum(0)
        total = int(ends[-1])
        marks = torch.arange(1, total // _MAX_PAIRS + 1, device=device) * _MAX_PAIRS
        cuts = torch.searchsorted(ends, marks, side="right").clamp(max=n)
        bounds = [0, *sorted(set(cuts.tolist())), n]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if lo >= hi:
                continue
            cnt = count[lo:hi]
            tgt = torch.repeat_interleave(torch.arange(lo, hi, device=device), cnt)
            local = torch.arange(tgt.numel(), device=device) - torch.repeat_interleave(
                cnt.cumsum(0) - cnt, cnt
            )
            src = order[torch.repeat_interleave(first[lo:hi], cnt) + local]
            d2 = (xd[src] - xd[tgt]).square().sum(-1)
            keep = d2 <= r2
            if not loop:
                keep &= src != tgt
            src_parts.append(src[keep])
            tgt_parts.append(tgt[keep])
            d2_parts.append(d2[keep])
    src, tgt, d2 = torch.cat(src_parts), torch.cat(tgt_parts), torch.cat(d2_parts)
    # Group by target, nearest first, and keep the first max_num_neighbors of each group.
    by_distance = torch.argsort(d2, stable=True)
    src, tgt = src[by_distance], tgt[by_distance]
    by_target = torch.argsort(tgt, stable=True)
    src, tgt = src[by_target], tgt[by_target]
    rank = torch.arange(tgt.numel(), device=device) - torch.searchsorted(tgt, tgt, side="left")
    keep = rank < max_num_neighbors
    return torch.stack([src[keep], tgt[keep]])
