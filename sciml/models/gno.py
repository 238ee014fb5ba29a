"""Graph neural operator: a learned kernel integral over radius neighbourhoods, between point sets.

Li et al., "Neural Operator: Graph Kernel Network for Partial Differential Equations" (2020,
arXiv 2003.03485) and Kovachki et al., "Neural Operator: Learning Maps Between Function Spaces"
(JMLR 2023, Sec. 4.1); the GNO blocks of GINO (Li et al. 2023) and GIOROM (arXiv 2407.03925) map
particles to a latent regular grid and back with it. Here it is a torch-geometric
``MessagePassing`` layer over the bipartite graph of :func:`sciml.models.graph_ops.radius`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

from sciml.models.graph_ops import radius

__all__ = ["GNO"]

_TRANSFORMS = ("linear", "nonlinear")


class GNO(MessagePassing):
    """Kernel integral from functions sampled at points ``x`` to query points ``y``.

    .. math::

        (\\mathcal K f)(y_i) = W\\,\\frac{1}{|\\mathcal N(i)|} \\sum_{j \\in \\mathcal N(i)}
        m_{ij},\\qquad \\mathcal N(i) = \\{j : \\|x_j - y_i\\| \\le r\\},

    with the message ``m_ij = κ_θ((x_j − y_i)/r) ⊙ f(x_j)`` (``transform="linear"``, GINO's
    linear kernel integral) or ``m_ij = κ_θ([(x_j − y_i)/r, f(x_j)])`` (``"nonlinear"``,
    neuraloperator's ``nonlinear_kernelonly``), ``κ_θ`` an MLP and ``W`` a linear map. The mean
    over the neighbourhood is a Monte-Carlo estimate of ``(1/|B_r|) ∫_{B_r(y)} κ f ρ dx`` for the
    point density ``ρ``: refining the points converges to that integral (the operator is
    discretisation-invariant), whereas a sum would grow with the point count. A query with no
    point within ``r`` gets ``W·0 = b`` (the bias of ``W``).

    Parameters
    ----------
    in_channels, out_channels:
        Channels of ``f`` and of the output.
    dim:
        Spatial dimension ``d`` of ``x`` and ``y``.
    radius:
        Neighbourhood radius ``r`` (units of ``x``).
    kernel_hidden:
        Hidden widths of ``κ_θ`` (GIOROM: ``[32, 64]``), GELU activations.
    transform:
        ``"linear"`` or ``"nonlinear"`` (above).
    max_num_neighbors:
        Neighbours kept per query (the nearest); make it large enough not to truncate.

    Shapes: ``f (N, C_in)``, ``x (N, d)``, ``y (M, d)``, sorted ``batch_x (N,)``,
    ``batch_y (M,)`` → ``(M, C_out)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dim: int,
        radius: float,
        kernel_hidden: Sequence[int] = (32, 64),
        transform: str = "linear",
        max_num_neighbors: int = 256,
    ) -> None:
        super().__init__(aggr="mean")
        if transform not in _TRANSFORMS:
            raise ValueError(f"gno transform={transform!r} is not one of {list(_TRANSFORMS)}")
        if not radius > 0:
            raise ValueError(f"gno radius must be positive, got {radius}")
        self.dim, self.radius, self.transform = dim, float(radius), transform
        self.max_num_neighbors = max_num_neighbors
        kernel_in = dim + (in_channels if transform == "nonlinear" else 0)
        kernel_out = in_channels if transform == "linear" else out_channels
        widths = [kernel_in, *kernel_hidden, kernel_out]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(nn.GELU())
        self.kernel = nn.Sequential(*layers)
        self.out = nn.Linear(kernel_out, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialize the kernel MLP and the output map (PyTorch's Linear init)."""
        super().reset_parameters()
        for m in self.kernel.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()
        self.out.reset_parameters()

    def neighbourhoods(
        self, x: Tensor, y: Tensor, batch_x: Tensor | None = None, batch_y: Tensor | None = None
    ) -> Tensor:
        """``(2, E)`` ``edge_index`` from points ``x`` (row 0) to queries ``y`` (row 1)."""
        index = radius(
            x.detach(), y.detach(), self.radius, batch_x, batch_y, self.max_num_neighbors
        )
        return index.flip(0)

    def forward(
        self,
        f: Tensor,
        x: Tensor,
        y: Tensor,
        batch_x: Tensor | None = None,
        batch_y: Tensor | None = None,
        edge_index: Tensor | None = None,
    ) -> Tensor:
        """``(M, C_out)`` kernel integral at ``y`` of ``f`` sampled at ``x`` (class docstring);
        pass ``edge_index`` from :meth:`neighbourhoods` to reuse a graph."""
        if f.shape[0] != x.shape[0] or x.shape[-1] != self.dim or y.shape[-1] != self.dim:
            raise ValueError(
                f"gno expects f (N, C), x (N, {self.dim}), y (M, {self.dim}); got "
                f"{tuple(f.shape)}, {tuple(x.shape)}, {tuple(y.shape)}"
            )
        if edge_index is None:
            edge_index = self.neighbourhoods(x, y, batch_x, batch_y)
        aggregated = self.propagate(edge_index, f=f, pos=(x, y), size=(x.shape[0], y.shape[0]))
        return self.out(aggregated)

    def message(self, f_j: Tensor, pos_j: Tensor, pos_i: Tensor) -> Tensor:
        rel = (pos_j - pos_i) / self.radius
        if self.transform == "linear":
            return self.kernel(rel) * f_j
        return self.kernel(torch.cat([rel, f_j], dim=-1))
