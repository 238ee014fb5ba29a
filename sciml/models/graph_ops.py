"""Graph construction for particle models: radius, kNN graphs and farthest-point sampling.

The functions follow PyG's (``torch_geometric.nn.radius_graph``, ``radius``, ``knn_graph``,
``knn``, ``fps``, which need the compiled ``torch_cluster``): each uses ``torch_cluster`` when that
package is importable and otherwise a pure-torch implementation, so the particle models run on a
plain ``torch`` + ``torch_geometric`` install. Every pure-torch path is memory-bounded: it holds at
most about ``_MAX_PAIRS`` candidate pairs at once, whatever the point count.

Conventions (PyG's): ``batch`` vectors are sorted example indices; a *graph* (``radius_graph``,
``knn_graph``) is returned as ``edge_index`` with row 0 the source ``j`` and row 1 the target
(centre) ``i`` (``flow="source_to_target"``); a *bipartite search* (``radius``, ``knn``) returns
row 0 the index into the query set ``y`` and row 1 the index into the searched set ``x``.
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

__all__ = ["fps", "knn", "knn_graph", "radius", "radius_graph"]

#: largest number of candidate pairs the pure-torch fallbacks hold at once (about
#: ``(d + 4) · 8`` bytes each), which bounds their memory whatever the particle count
_MAX_PAIRS = 2**20


def _use_cluster(use_torch_cluster: bool | None) -> bool:
    if use_torch_cluster is None:
        return _torch_cluster is not None
    if use_torch_cluster and _torch_cluster is None:
        raise ImportError("use_torch_cluster=True but torch_cluster is not installed")
    return use_torch_cluster


def _check_points(name: str, x: Tensor, batch: Tensor | None) -> Tensor:
    """The batch vector of ``x`` (zeros if ``None``), after checking shapes and sorting."""
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (N, d), got {tuple(x.shape)}")
    if batch is None:
        return torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    if batch.shape != x.shape[:1]:
        raise ValueError(
            f"the batch vector of {name} must have shape ({x.shape[0]},), got {tuple(batch.shape)}"
        )
    if bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("batch must be sorted (PyG's convention)")
    return batch


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
    The pure-torch fallback is the cell list of :func:`radius` with ``y = x``. When a target
    has more than ``max_num_neighbors`` neighbours the fallback keeps the nearest ones;
    ``torch_cluster`` keeps an unspecified subset. The graph is not differentiable (indices
    only).
    """
    batch_x = _check_points("x", x, batch)
    _check_radius(r, max_num_neighbors)
    if _use_cluster(use_torch_cluster):
        return _torch_cluster.radius_graph(
            x, r, batch, loop, max_num_neighbors, flow="source_to_target"
        )
    query, source = _radius_torch(x, x, float(r), batch_x, batch_x, max_num_neighbors, not loop)
    return torch.stack([source, query])


def radius(
    x: Tensor,
    y: Tensor,
    r: float,
    batch_x: Tensor | None = None,
    batch_y: Tensor | None = None,
    max_num_neighbors: int = 32,
    *,
    use_torch_cluster: bool | None = None,
) -> Tensor:
    """For each query point ``y_i``, the points ``x_j`` of the same example within ``r``.

    .. math:: \\{(i, j) : \\|x_j - y_i\\|_2 \\le r,\\ b^x_j = b^y_i\\},

    at most ``max_num_neighbors`` ``j`` per ``i`` (the pure-torch path keeps the nearest).

    Parameters
    ----------
    x:
        ``(N, d)`` points searched.
    y:
        ``(M, d)`` query points.
    r:
        Cut-off radius.
    batch_x, batch_y:
        ``(N,)`` / ``(M,)`` sorted example indices, or ``None`` for one example.
    max_num_neighbors:
        Maximum number of points ``x_j`` per query.
    use_torch_cluster:
        ``None``: use ``torch_cluster`` if importable; ``False``: always the pure-torch path.

    Returns
    -------
    Tensor
        ``(2, E)`` long: row 0 the query index ``i`` (into ``y``, ascending), row 1 the index
        ``j`` into ``x`` — ``torch_cluster.radius``'s convention. Flip the rows for a
        ``MessagePassing`` from ``x`` to ``y``.

    Notes
    -----
    The pure-torch path is a cell list: the points ``x`` are binned into cubic cells of side
    ``r`` (keyed by example and cell), sorted by key, and each query is compared only with the
    points of its ``3^d`` neighbouring cells, found by binary search (``torch.searchsorted``).
    Cost and memory are ``O(M · k)`` for ``k`` candidates per query; candidates are expanded in
    blocks of queries of about ``2 · _MAX_PAIRS`` pairs at most, so memory stays bounded (tens
    of MiB) whatever ``N``. The only Python loops are over the ``3^d`` cell offsets and these
    blocks, never over points.
    """
    bx = _check_points("x", x, batch_x)
    by = _check_points("y", y, batch_y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    _check_radius(r, max_num_neighbors)
    if _use_cluster(use_torch_cluster):
        return _torch_cluster.radius(x, y, r, batch_x, batch_y, max_num_neighbors)
    return torch.stack(_radius_torch(x, y, float(r), bx, by, max_num_neighbors, False))


def _check_radius(r: float, max_num_neighbors: int) -> None:
    if not r > 0:
        raise ValueError(f"radius must be positive, got {r}")
    if max_num_neighbors < 1:
        raise ValueError(f"max_num_neighbors must be >= 1, got {max_num_neighbors}")


def _keep_nearest(query: Tensor, source: Tensor, d2: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Group pairs by ascending query, nearest source first, and keep ``k`` per query."""
    by_distance = torch.argsort(d2, stable=True)
    query, source = query[by_distance], source[by_distance]
    by_query = torch.argsort(query, stable=True)
    query, source = query[by_query], source[by_query]
    rank = torch.arange(query.numel(), device=query.device)
    rank = rank - torch.searchsorted(query, query, side="left")
    keep = rank < k
    return query[keep], source[keep]


def _radius_torch(
    x: Tensor,
    y: Tensor,
    r: float,
    batch_x: Tensor,
    batch_y: Tensor,
    max_num_neighbors: int,
    exclude_self: bool,
) -> tuple[Tensor, Tensor]:
    """Cell-list radius search (see :func:`radius`): ``(query index, source index)``."""
    n, dim = x.shape
    m = y.shape[0]
    device = x.device
    empty = torch.empty(0, dtype=torch.long, device=device)
    if n == 0 or m == 0:
        return empty, empty.clone()
    # Integer cell coordinates from a common origin, padded by one cell on each side so that
    # every neighbour cell of an occupied cell has a valid linear index.
    xd, yd = x.detach(), y.detach()
    origin = torch.minimum(xd.min(0).values, yd.min(0).values)
    cell_x = torch.floor((xd - origin) / r).long() + 1  # (n, d), ≥ 1
    cell_y = torch.floor((yd - origin) / r).long() + 1  # (m, d), ≥ 1
    shape = (torch.maximum(cell_x.max(0).values, cell_y.max(0).values) + 2).tolist()
    n_examples = int(max(batch_x[-1], batch_y[-1])) + 1
    if math.prod(shape) * n_examples >= 2**62:
        raise ValueError(
            f"radius {r} is too small for the extent of the points: "
            f"{math.prod(shape)} cells per example overflow the cell index"
        )
    strides = torch.tensor([math.prod(shape[:k]) for k in range(dim)], device=device)
    key_x = batch_x * math.prod(shape) + (cell_x * strides).sum(-1)  # (n,) linear cell index
    key_y = batch_y * math.prod(shape) + (cell_y * strides).sum(-1)  # (m,)
    order = torch.argsort(key_x)
    sorted_key = key_x[order]
    r2 = r * r
    src_parts: list[Tensor] = []
    tgt_parts: list[Tensor] = []
    d2_parts: list[Tensor] = []
    for offset in itertools.product((-1, 0, 1), repeat=dim):
        neighbour = key_y + int((torch.tensor(offset, device=device) * strides).sum())
        first = torch.searchsorted(sorted_key, neighbour, side="left")
        count = torch.searchsorted(sorted_key, neighbour, side="right") - first
        # Candidate pairs (query i, k-th point of its neighbour cell), in query blocks of at
        # most _MAX_PAIRS candidates.
        ends = count.cumsum(0)
        total = int(ends[-1])
        marks = torch.arange(1, total // _MAX_PAIRS + 1, device=device) * _MAX_PAIRS
        cuts = torch.searchsorted(ends, marks, side="right").clamp(max=m)
        bounds = [0, *sorted(set(cuts.tolist())), m]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if lo >= hi:
                continue
            cnt = count[lo:hi]
            tgt = torch.repeat_interleave(torch.arange(lo, hi, device=device), cnt)
            local = torch.arange(tgt.numel(), device=device) - torch.repeat_interleave(
                cnt.cumsum(0) - cnt, cnt
            )
            src = order[torch.repeat_interleave(first[lo:hi], cnt) + local]
            d2 = (xd[src] - yd[tgt]).square().sum(-1)
            keep = d2 <= r2
            if exclude_self:
                keep &= src != tgt
            src_parts.append(src[keep])
            tgt_parts.append(tgt[keep])
            d2_parts.append(d2[keep])
    src, tgt, d2 = torch.cat(src_parts), torch.cat(tgt_parts), torch.cat(d2_parts)
    return _keep_nearest(tgt, src, d2, max_num_neighbors)


def knn_graph(
    x: Tensor,
    k: int,
    batch: Tensor | None = None,
    loop: bool = False,
    *,
    use_torch_cluster: bool | None = None,
) -> Tensor:
    """Edges from the ``k`` nearest neighbours ``j`` of every point ``i`` (same example) to ``i``.

    Parameters
    ----------
    x:
        ``(N, d)`` point coordinates.
    k:
        Neighbours per point (fewer where an example has fewer than ``k`` other points).
    batch:
        ``(N,)`` sorted example indices, or ``None``.
    loop:
        Count the point itself among its neighbours (distance 0).
    use_torch_cluster:
        ``None``: use ``torch_cluster`` if importable; ``False``: always the pure-torch path.

    Returns
    -------
    Tensor
        ``(2, E)`` long ``edge_index``, row 0 the source (neighbour) ``j``, row 1 the target
        ``i`` (``flow="source_to_target"``), grouped by ascending target; the pure-torch path
        orders each group nearest first.
    """
    bx = _check_points("x", x, batch)
    _check_k(k)
    if _use_cluster(use_torch_cluster):
        return _torch_cluster.knn_graph(x, k, batch, loop, flow="source_to_target")
    query, source = _knn_torch(x, x, k, bx, bx, exclude_self=not loop)
    return torch.stack([source, query])


def knn(
    x: Tensor,
    y: Tensor,
    k: int,
    batch_x: Tensor | None = None,
    batch_y: Tensor | None = None,
    *,
    use_torch_cluster: bool | None = None,
) -> Tensor:
    """For each query point ``y_i``, its ``k`` nearest points ``x_j`` of the same example.

    Parameters
    ----------
    x:
        ``(N, d)`` points searched.
    y:
        ``(M, d)`` query points.
    k:
        Neighbours per query (fewer where an example of ``x`` has fewer points).
    batch_x, batch_y:
        Sorted example indices, or ``None`` for one example.
    use_torch_cluster:
        ``None``: use ``torch_cluster`` if importable; ``False``: always the pure-torch path.

    Returns
    -------
    Tensor
        ``(2, E)`` long: row 0 the query index ``i`` (ascending), row 1 the index ``j`` into
        ``x`` (``torch_cluster.knn``'s convention); the pure-torch path orders each query's
        neighbours nearest first.

    Notes
    -----
    The pure-torch path runs ``torch.cdist`` + ``topk`` per example over blocks of queries of at
    most ``_MAX_PAIRS`` distances: memory ``O(_MAX_PAIRS)``, time ``O(N M / B)`` for ``B``
    examples of equal size. Ties are broken by ``topk`` (unspecified order).
    """
    bx = _check_points("x", x, batch_x)
    by = _check_points("y", y, batch_y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    _check_k(k)
    if _use_cluster(use_torch_cluster):
        return _torch_cluster.knn(x, y, k, batch_x, batch_y)
    return torch.stack(_knn_torch(x, y, k, bx, by, exclude_self=False))


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _ptr(batch: Tensor, n_examples: int) -> list[int]:
    """Start offsets of each example in a sorted batch vector, and the end."""
    counts = torch.bincount(batch, minlength=n_examples)
    return [0, *counts.cumsum(0).tolist()]


def _knn_torch(
    x: Tensor,
    y: Tensor,
    k: int,
    batch_x: Tensor,
    batch_y: Tensor,
    exclude_self: bool,
) -> tuple[Tensor, Tensor]:
    """Blocked ``cdist`` + ``topk`` per example (see :func:`knn`): ``(query, source)``."""
    device = x.device
    xd, yd = x.detach(), y.detach()
    n_examples = int(max(batch_x.max(), batch_y.max())) + 1 if x.numel() and y.numel() else 0
    ptr_x, ptr_y = _ptr(batch_x, n_examples), _ptr(batch_y, n_examples)
    queries: list[Tensor] = []
    sources: list[Tensor] = []
    for b in range(n_examples):
        x0, x1, y0, y1 = ptr_x[b], ptr_x[b + 1], ptr_y[b], ptr_y[b + 1]
        n_src = x1 - x0
        k_b = min(k, n_src - 1 if exclude_self else n_src)
        if k_b < 1 or y1 == y0:
            continue
        # One output tensor per example, filled block by block: appending a small tensor per
        # block between the large distance blocks fragmented the heap (tens of GB for Chamfer
        # distances over 10k particles x 75 frames).
        nearest = torch.empty(y1 - y0, k_b, dtype=torch.long, device=device)
        block = max(1, _MAX_PAIRS // n_src)
        for lo in range(y0, y1, block):
            hi = min(lo + block, y1)
            d = torch.cdist(yd[lo:hi], xd[x0:x1])  # (hi - lo, n_src)
            if exclude_self:  # x is y: query i is source i
                rows = torch.arange(hi - lo, device=device)
                d[rows, rows + lo - x0] = math.inf
            # sorted, nearest first
            nearest[lo - y0 : hi - y0] = d.topk(k_b, dim=1, largest=False).indices
        queries.append(torch.arange(y0, y1, device=device).repeat_interleave(k_b))
        sources.append((nearest + x0).reshape(-1))
    if not queries:
        empty = torch.empty(0, dtype=torch.long, device=device)
        return empty, empty.clone()
    return torch.cat(queries), torch.cat(sources)


def fps(
    x: Tensor,
    batch: Tensor | None = None,
    ratio: float = 0.5,
    random_start: bool = False,
    *,
    generator: torch.Generator | None = None,
    use_torch_cluster: bool | None = None,
) -> Tensor:
    """Farthest-point sampling: ``⌈ratio · n_b⌉`` well-spread points of every example ``b``.

    Greedy (Eldar et al. 1997; the sampler of PointNet++): start from one point ``s_0``, then

    .. math:: s_{m} = \\arg\\max_{i} \\min_{l < m} \\|x_i - x_{s_l}\\|_2 ,

    so every new point is the one farthest from those already chosen.

    Parameters
    ----------
    x:
        ``(N, d)`` point coordinates.
    batch:
        ``(N,)`` sorted example indices, or ``None``.
    ratio:
        Fraction of each example's points to keep, in ``(0, 1]``.
    random_start:
        Start from a random point of each example (drawn from ``generator``) instead of its first.
    generator:
        Random generator for ``random_start`` (pure-torch path only).
    use_torch_cluster:
        ``None``: use ``torch_cluster`` if importable; ``False``: always the pure-torch path.

    Returns
    -------
    Tensor
        ``(S,)`` long global indices into ``x``, example by example, each example's in the order
        chosen. Ties in the ``argmax`` go to the lowest index on the pure-torch path.

    Notes
    -----
    The pure-torch path keeps the squared distance of every point to the chosen set and updates
    it with the newest point: ``O(n_b)`` memory and ``O(n_b · S_b)`` time per example, a Python
    loop over the ``S_b`` chosen points.
    """
    bx = _check_points("x", x, batch)
    if not 0 < ratio <= 1:
        raise ValueError(f"fps ratio must be in (0, 1], got {ratio}")
    if _use_cluster(use_torch_cluster):
        return _torch_cluster.fps(x, batch, ratio, random_start)
    xd = x.detach()
    n_examples = int(bx.max()) + 1 if x.numel() else 0
    ptr = _ptr(bx, n_examples)
    chosen: list[Tensor] = []
    for b in range(n_examples):
        pts = xd[ptr[b] : ptr[b + 1]]
        n = pts.shape[0]
        if n == 0:
            continue
        n_keep = math.ceil(ratio * n)
        idx = torch.empty(n_keep, dtype=torch.long, device=x.device)
        start = int(torch.randint(n, (1,), generator=generator)) if random_start else 0
        idx[0] = start
        dist = (pts - pts[start]).square().sum(-1)
        for m in range(1, n_keep):
            nxt = torch.argmax(dist)
            idx[m] = nxt
            dist = torch.minimum(dist, (pts - pts[nxt]).square().sum(-1))
        chosen.append(idx + ptr[b])
    if not chosen:
        return torch.empty(0, dtype=torch.long, device=x.device)
    return torch.cat(chosen)
