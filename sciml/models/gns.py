"""GNS: a learned particle simulator with an encode–process–decode graph network.

Sanchez-Gonzalez et al., "Learning to Simulate Complex Physics with Graph Networks", ICML 2020
(arXiv 2002.09405). A black-box baseline: it sees only particle positions, with no material
law, conservation or symmetry built in beyond translation invariance of its edge features.

**Inputs.** Positions ``x_{t−H}, …, x_t`` of ``P`` particles. Velocities and accelerations are
finite differences in frame units (``v_t = x_t − x_{t−1}``, see :mod:`sciml.data.particles`).

* Node features: the ``H`` last velocities normalized by ``(v − μ_v)/σ_v``, and (optionally) the
  distances of ``x_t`` to the ``2d`` walls of the box ``[lo, hi]^d`` divided by the connectivity
  radius ``r`` and clipped to ``[−1, 1]``: ``(H + 2) d`` features.
* Edges: all pairs closer than ``r`` (:func:`sciml.models.graph_ops.radius_graph`), with features
  ``[(x_j − x_i)/r, ‖x_j − x_i‖/r]`` for the edge from source ``j`` to target ``i``.

**Network.** MLP encoders to a latent size ``L`` (LayerNorm on their outputs), ``M`` unshared
:class:`InteractionNetwork` layers with residual node and edge updates, and an MLP decoder to the
normalized acceleration ``â``.

**Integration** (semi-implicit Euler with a unit time step):
``a = σ_a â + μ_a``, ``v_{t+1} = v_t + a``, ``x_{t+1} = x_t + v_{t+1}``.

**Training noise.** In ``train()`` mode with ``noise_std > 0``, :meth:`GNS.forward` adds a
random walk to the input positions: velocity noise ``ε_k ~ N(0, noise_std²/H)`` summed over the
window, so the last velocity is perturbed by ``noise_std``. As in the reference code, the target
is then the acceleration that takes the *noisy* last position and velocity to the *true* next
velocity, ``ã = a − (n_H − n_{H−1})`` for position noise ``n``. The dataset supplies the clean
target ``y = (a − μ_a)/σ_a``, so the model returns ``â + (n_H − n_{H−1})/σ_a`` instead of
``â``: for any loss of ``pred − y`` (MSE) this is exactly the loss of ``â`` against ``ã``.
The noise is drawn from torch's global generator, which :class:`sciml.training.Trainer` seeds
and saves in its checkpoints, so a training run is reproducible and resumes bit-identically.
In ``eval()`` mode (and always in :meth:`GNS.step` / :meth:`GNS.rollout`) no noise is added.

Shapes: ``forward`` takes ``x: (B, P, H+1, d)`` or ``(P, H+1, d)`` (m) and returns the normalized
acceleration ``(B, P, d)`` or ``(P, d)``; ``rollout`` takes frame-major histories
``(B, H+1, P, d)`` or ``(H+1, P, d)`` like the data files and returns ``(…, n_steps, P, d)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

from sciml.data.particles import ParticleStats
from sciml.models.config import strict_config
from sciml.models.graph_ops import radius_graph
from sciml.registry import MODELS

__all__ = ["GNS", "InteractionNetwork", "build_mlp"]


def build_mlp(
    in_features: int, hidden: int, out_features: int, n_hidden: int, layer_norm: bool
) -> nn.Sequential:
    """``in → (hidden, ReLU) × n_hidden → out`` MLP, with a LayerNorm on the output if asked."""
    widths = [in_features, *[hidden] * n_hidden, out_features]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    if layer_norm:
        layers.append(nn.LayerNorm(out_features))
    return nn.Sequential(*layers)


def _reset(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.LayerNorm)):
            m.reset_parameters()


class InteractionNetwork(MessagePassing):
    """One GNS processor step: residual edge update, sum aggregation, residual node update.

    .. math::

        e'_{ji} &= φ_e([e_{ji}, h_i, h_j]),\\qquad
        h_i \\leftarrow h_i + φ_v\\Big([h_i, \\textstyle\\sum_{j ∈ \\mathcal N(i)} e'_{ji}]\\Big),
        \\qquad e_{ji} \\leftarrow e_{ji} + e'_{ji},

    with ``φ_e, φ_v`` MLPs ending in a LayerNorm (Battaglia et al. 2018; GNS Sec. 2). The first
    layer of ``φ_e`` is applied to the concatenation by parts, ``W [e; h_i; h_j] = W_e e +
    (W_i h)_i + (W_j h)_j``, with the node terms computed once per node instead of once per edge
    (the same function and parameters, about a third fewer edge FLOPs).

    Parameters
    ----------
    latent:
        Node and edge latent size ``L``.
    hidden:
        Hidden width of both MLPs.
    n_hidden:
        Hidden layers per MLP.

    Shapes: ``h (N, L)``, ``edge_index (2, E)`` (row 0 source ``j``, row 1 target ``i``),
    ``e (E, L)`` → ``(h (N, L), e (E, L))``.
    """

    def __init__(self, latent: int, hidden: int, n_hidden: int = 2) -> None:
        super().__init__(aggr="sum")
        self.edge_mlp = build_mlp(3 * latent, hidden, latent, n_hidden, layer_norm=True)
        self.node_mlp = build_mlp(2 * latent, hidden, latent, n_hidden, layer_norm=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialize both MLPs (PyTorch's default Linear init, unit LayerNorm)."""
        super().reset_parameters()
        _reset(self.edge_mlp)
        _reset(self.node_mlp)

    def forward(self, h: Tensor, edge_index: Tensor, e: Tensor) -> tuple[Tensor, Tensor]:
        """Updated ``(h, e)``; see the class docstring."""
        first = self.edge_mlp[0]
        _, w_target, w_source = first.weight.split(h.shape[-1], dim=1)
        e_new = self.edge_updater(edge_index, e=e, a=h @ w_target.T, b=h @ w_source.T)
        n = h.shape[0]
        aggregated = self.propagate(edge_index, m=e_new, size=(n, n))
        h = h + self.node_mlp(torch.cat([h, aggregated], dim=-1))
        return h, e + e_new

    def edge_update(self, e: Tensor, a_i: Tensor, b_j: Tensor) -> Tensor:
        first = self.edge_mlp[0]
        w_edge = first.weight[:, : e.shape[-1]]
        return self.edge_mlp[1:](e @ w_edge.T + first.bias + a_i + b_j)

    def message(self, m: Tensor) -> Tensor:
        return m


class GNS(nn.Module):
    """Graph Network-based Simulator (see the module docstring for the model and its training).

    Parameters
    ----------
    dim:
        Spatial dimension ``d`` (2 or 3).
    history:
        ``H``, past velocities per input window (GNS: 5).
    radius:
        Connectivity radius ``r`` (m); a few particle spacings.
    latent:
        Latent size ``L`` of nodes and edges (GNS: 128).
    hidden:
        Hidden width of every MLP (default: ``latent``).
    n_message_passing:
        Processor steps ``M`` (GNS: 10).
    n_hidden:
        Hidden layers per MLP (GNS: 2).
    noise_std:
        Random-walk noise on the input positions in training (position units per frame).
    bounds:
        ``(lo, hi)`` of the box ``[lo, hi]^d`` the wall features refer to.
    wall_features:
        Include the clipped wall distances in the node features.
    max_num_neighbors:
        Neighbours kept per particle by the radius graph.
    stats:
        Velocity/acceleration normalization; normally fitted by
        :class:`sciml.data.particles.ParticleWindowDataset` (``set_stats`` sets it later).
    """

    input_keys = ("x",)

    def __init__(
        self,
        dim: int = 2,
        history: int = 5,
        radius: float = 0.03,
        latent: int = 64,
        hidden: int | None = None,
        n_message_passing: int = 5,
        n_hidden: int = 2,
        noise_std: float = 0.0,
        bounds: Sequence[float] = (0.0, 1.0),
        wall_features: bool = True,
        max_num_neighbors: int = 64,
        stats: ParticleStats | None = None,
    ) -> None:
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"GNS dimension must be 2 or 3, got {dim}")
        if history < 1 or n_message_passing < 1 or latent < 1:
            raise ValueError("history, n_message_passing and latent must be >= 1")
        if not radius > 0 or noise_std < 0:
            raise ValueError(f"need radius > 0 and noise_std >= 0, got {radius}, {noise_std}")
        if len(bounds) != 2 or not bounds[0] < bounds[1]:
            raise ValueError(f"bounds must be (lo, hi) with lo < hi, got {list(bounds)}")
        hidden = latent if hidden is None else hidden
        self.dim, self.history, self.radius = dim, history, float(radius)
        self.noise_std = float(noise_std)
        self.bounds = (float(bounds[0]), float(bounds[1]))
        self.wall_features = wall_features
        self.max_num_neighbors = max_num_neighbors
        node_in = history * dim + (2 * dim if wall_features else 0)
        self.node_encoder = build_mlp(node_in, hidden, latent, n_hidden, layer_norm=True)
        self.edge_encoder = build_mlp(dim + 1, hidden, latent, n_hidden, layer_norm=True)
        self.processor = nn.ModuleList(
            InteractionNetwork(latent, hidden, n_hidden) for _ in range(n_message_passing)
        )
        self.decoder = build_mlp(latent, hidden, dim, n_hidden, layer_norm=False)
        for name in ("velocity_mean", "acceleration_mean"):
            self.register_buffer(name, torch.zeros(dim))
        for name in ("velocity_std", "acceleration_std"):
            self.register_buffer(name, torch.ones(dim))
        if stats is not None:
            self.set_stats(stats)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialize all learnable weights (the normalization buffers are kept)."""
        _reset(self.node_encoder)
        _reset(self.edge_encoder)
        _reset(self.decoder)
        for layer in self.processor:
            layer.reset_parameters()

    @torch.no_grad()
    def set_stats(self, stats: ParticleStats) -> None:
        """Copy normalization statistics (``(d,)`` each) into the buffers."""
        for name in ("velocity_mean", "velocity_std", "acceleration_mean", "acceleration_std"):
            value = getattr(stats, name)
            if value.shape != (self.dim,):
                raise ValueError(f"stats.{name} must have shape ({self.dim},), got {value.shape}")
            getattr(self, name).copy_(value)

    # ------------------------------------------------------------------------------ network
    def _check(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[-2:] != (self.history + 1, self.dim):
            raise ValueError(
                f"expected positions (B, P, {self.history + 1}, {self.dim}) or "
                f"(P, {self.history + 1}, {self.dim}), got {tuple(x.shape)}"
            )

    def normalized_acceleration(self, x: Tensor) -> Tensor:
        """``(B, P, d)`` network output ``â`` for position windows ``x`` ``(B, P, H+1, d)``."""
        self._check(x)
        B, P = x.shape[:2]
        last = x[:, :, -1].reshape(B * P, self.dim)
        v = (x[:, :, 1:] - x[:, :, :-1] - self.velocity_mean) / self.velocity_std
        features = [v.reshape(B * P, -1)]
        if self.wall_features:
            lo, hi = self.bounds
            walls = torch.cat([last - lo, hi - last], dim=-1) / self.radius
            features.append(walls.clamp(-1.0, 1.0))
        batch = torch.arange(B, device=x.device).repeat_interleave(P)
        edge_index = radius_graph(
            last.detach(), self.radius, batch, max_num_neighbors=self.max_num_neighbors
        )
        src, dst = edge_index
        rel = (last[src] - last[dst]) / self.radius
        edge_attr = torch.cat([rel, rel.norm(dim=-1, keepdim=True)], dim=-1)
        h = self.node_encoder(torch.cat(features, dim=-1))
        e = self.edge_encoder(edge_attr)
        for layer in self.processor:
            h, e = layer(h, edge_index, e)
        return self.decoder(h).reshape(B, P, self.dim)

    def forward(self, x: Tensor) -> Tensor:
        """Normalized acceleration ``(B, P, d)`` (or ``(P, d)``) for windows ``x``
        ``(B, P, H+1, d)`` (or ``(P, H+1, d)``); noisy and target-corrected in training mode
        (module docstring)."""
        single = x.dim() == 3
        if single:
            x = x.unsqueeze(0)
        self._check(x)
        if self.training and self.noise_std > 0:
            # Random walk: per-step velocity noise of std noise_std/√H, position noise n_0 = 0.
            eps = torch.randn_like(x[:, :, 1:]) * (self.noise_std / self.history**0.5)
            noise = torch.cat([torch.zeros_like(x[:, :, :1]), eps.cumsum(2)], dim=2)
            out = self.normalized_acceleration(x + noise) + eps[:, :, -1] / self.acceleration_std
        else:
            out = self.normalized_acceleration(x)
        return out[0] if single else out

    # ---------------------------------------------------------------------------- simulation
    def step(self, x: Tensor) -> Tensor:
        """Next positions ``(B, P, d)`` from windows ``x`` ``(B, P, H+1, d)`` (no noise)."""
        a = self.normalized_acceleration(x) * self.acceleration_std + self.acceleration_mean
        velocity = x[:, :, -1] - x[:, :, -2] + a
        return x[:, :, -1] + velocity

    def rollout(self, positions_history: Tensor, n_steps: int) -> Tensor:
        """Autoregressive prediction of ``n_steps`` frames after a history of ``H+1`` frames.

        Parameters
        ----------
        positions_history:
            ``(B, H+1, P, d)`` or ``(H+1, P, d)`` positions (frame-major, like the data files).
        n_steps:
            Frames to predict.

        Returns
        -------
        Tensor
            ``(B, n_steps, P, d)`` or ``(n_steps, P, d)`` predicted positions. Gradients flow
            through the rollout; wrap the call in ``torch.no_grad()`` for evaluation.
        """
        single = positions_history.dim() == 3
        window = (positions_history.unsqueeze(0) if single else positions_history).transpose(1, 2)
        self._check(window)
        if n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {n_steps}")
        frames = []
        for _ in range(n_steps):
            nxt = self.step(window)
            frames.append(nxt)
            window = torch.cat([window[:, :, 1:], nxt.unsqueeze(2)], dim=2)
        B, P = window.shape[:2]
        out = torch.stack(frames, 1) if frames else window.new_zeros(B, 0, P, self.dim)
        return out[0] if single else out


MODELS.register("gns")(strict_config("gns")(GNS))
