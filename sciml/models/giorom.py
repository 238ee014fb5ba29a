"""GIOROM: a reduced-order learned particle simulator that steps a sparse subset of particles.

Viswanath et al., "Reduced-Order Neural Operators: Learning Lagrangian Dynamics on Highly Sparse
Graphs" (arXiv 2407.03925; v3: "Learning Lagrangian Interaction Dynamics with Sampling-Based
Model Order Reduction"). The time-stepper sees only ``M ≈ 5–10 %`` of the ``P`` particles of a
body (chosen once, on the reference frame, by farthest-point sampling, :func:`sparse_indices`);
:mod:`sciml.models.dense_reconstruction` maps its rollout back to all ``P`` particles.

**Network** (per step, on the ``M`` sparse particles of each example):

1. GNS features (:class:`sciml.models.gns.GNS`): ``H`` normalized velocities and clipped wall
   distances per node, ``[(x_j − x_i)/r, ‖x_j − x_i‖/r]`` per edge of the radius graph, MLP
   encoders to a latent size ``L``;
2. ``n_encoder_layers`` interaction networks on the sparse graph;
3. the operator block (:class:`LatentGridOperator`): a GNO from the particles to a regular latent
   grid of ``G^d`` cell centres on the box, an FNO on that grid, a GNO back to the particles,
   added to the node latents (residual);
4. ``n_decoder_layers`` interaction networks and the GNS MLP decoder to the normalized
   acceleration ``â`` (``d`` per particle).

Training noise, the noise-corrected target, the statistics buffers and the semi-implicit Euler
rollout ``a = σ_a â + μ_a``, ``v_{t+1} = v_t + a``, ``x_{t+1} = x_t + v_{t+1}`` are the GNS's
(:class:`GIOROM` subclasses it and only inserts the operator block into its processor).

**Training step** (the same as the GNS's, on sparse windows): a batch is the dict of
:class:`sciml.data.particles.ParticleWindowDataset` built on the *sparse* trajectories
``positions[n][:, idx[n]]`` (:func:`sparse_positions`):

* ``batch["x"]``: ``(B, M, H+1, d)`` positions at frames ``t−H … t`` (m);
* ``batch["y"]``: ``(B, M, d)`` normalized target acceleration ``(a_t − μ_a)/σ_a``,

and the loss is ``mean((model(batch["x"]) − batch["y"])²)`` with the model in ``train()`` mode
(the noise and the target correction happen inside ``forward``). GIOROM adds
``1e9 · MSE(next position)`` to its loss; with a unit time step the next-position error is
``σ_a (â − y)``, so that term only reweights the acceleration MSE per component (DERIVED) and is
left out here.

Shapes: as :class:`~sciml.models.gns.GNS` with ``P`` replaced by the sparse count ``M``.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from sciml.data.particle_vtu import write_particle_series
from sciml.data.particles import ParticleStats, read_positions, sparse_positions
from sciml.models.config import strict_config
from sciml.models.dense_reconstruction import KernelReconstruction, knn_interpolate
from sciml.models.fno import FNO
from sciml.models.gno import GNO
from sciml.models.gns import GNS
from sciml.models.graph_ops import fps, knn_graph
from sciml.registry import MODELS

__all__ = [
    "GIOROM",
    "LatentGridOperator",
    "ReducedOrderPrediction",
    "ReducedOrderRollout",
    "ReducedOrderSimulator",
    "SparseTrajectories",
    "check_sampling",
    "make_sampler",
    "sparse_indices",
    "sparse_positions",
]

_METHODS = ("fps", "random")


def check_sampling(method: str, ratio: float) -> None:
    """A :class:`ValueError` naming the bad value unless ``method`` is ``"fps"`` or
    ``"random"`` and ``0 < ratio ≤ 1``."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise ValueError(f"sampling ratio must be in (0, 1], got {ratio!r}")
    if method not in _METHODS:
        raise ValueError(f"sampling method={method!r} is not one of {list(_METHODS)}")


def sparse_indices(
    reference: Tensor,
    ratio: float,
    *,
    method: str = "fps",
    radius: float | None = None,
    seed: int = 0,
) -> Tensor:
    """Indices of the ``M = ⌈ratio · P⌉`` particles a reduced-order model steps, per trajectory.

    Parameters
    ----------
    reference:
        ``(N, P, d)`` (or ``(P, d)``) positions of the reference frame (frame 0 of each
        trajectory, m); GIOROM samples on it once and keeps the same particles for the rollout.
    ratio:
        Fraction of the particles kept, in ``(0, 1]`` (GIOROM: 0.05–0.33).
    method:
        ``"fps"``: farthest-point sampling from particle 0 (:func:`~sciml.models.graph_ops.fps`,
        well spread, deterministic); ``"random"``: a uniform draw without replacement from
        ``seed``.
    radius:
        Connectivity radius of the stepper's graph. If given, a sampled particle with no other
        sampled particle within ``radius`` on the reference frame is an error: the interaction
        network would see no neighbour there.

    Returns
    -------
    Tensor
        ``(N, M)`` (or ``(M,)``) long indices into the particle axis.
    """
    check_sampling(method, ratio)
    single = reference.dim() == 2
    ref = reference.unsqueeze(0) if single else reference
    if ref.dim() != 3:
        raise ValueError(f"reference must be (N, P, d) or (P, d), got {tuple(reference.shape)}")
    n, p, d = ref.shape
    m = math.ceil(ratio * p)
    if method == "fps":
        batch = torch.arange(n, device=ref.device).repeat_interleave(p)
        idx = fps(ref.reshape(n * p, d), batch, ratio).reshape(n, m) - p * torch.arange(
            n, device=ref.device
        ).unsqueeze(1)
    else:
        gen = torch.Generator().manual_seed(seed)
        idx = torch.stack([torch.randperm(p, generator=gen)[:m] for _ in range(n)]).to(ref.device)
    if radius is not None:
        _check_connected(torch.gather(ref, 1, idx[..., None].expand(n, m, d)), radius, ratio)
    return idx[0] if single else idx


def _check_connected(sparse: Tensor, radius: float, ratio: float) -> None:
    """Error if a sparse particle has no other sparse particle within ``radius``."""
    n, m, d = sparse.shape
    if m < 2:
        raise ValueError(
            f"sampling ratio {ratio} keeps {m} particle per trajectory: no graph; raise the ratio"
        )
    batch = torch.arange(n, device=sparse.device).repeat_interleave(m)
    src, tgt = knn_graph(sparse.reshape(n * m, d), 1, batch)
    nearest = (sparse.reshape(n * m, d)[src] - sparse.reshape(n * m, d)[tgt]).norm(dim=-1)
    isolated = int((nearest > radius).sum())
    if isolated:
        raise ValueError(
            f"radius {radius} leaves {isolated} of {n * m} sampled particles without a neighbour "
            f"on the reference frame (sampling ratio {ratio}); the largest nearest-neighbour "
            f"distance is {float(nearest.max()):.4g}: use a radius at least that large"
        )


@dataclass(frozen=True)
class SparseTrajectories:
    """Dense particle trajectories with the sparse subset a reduced-order model steps.

    Attributes
    ----------
    positions:
        ``(N, T, P, d)`` dense positions (m); frame 0 is the reference configuration.
    indices:
        ``(N, M)`` sampled particles per trajectory (:func:`sparse_indices` on frame 0).
    """

    positions: Tensor
    indices: Tensor

    @property
    def sparse(self) -> Tensor:
        """``(N, T, M, d)`` positions of the sampled particles."""
        return sparse_positions(self.positions, self.indices)

    @property
    def reference(self) -> Tensor:
        """``(N, P, d)`` reference (frame 0) positions of all particles."""
        return self.positions[:, 0]

    @classmethod
    def from_positions(
        cls,
        positions: Tensor,
        ratio: float,
        *,
        method: str = "fps",
        radius: float | None = None,
        seed: int = 0,
    ) -> SparseTrajectories:
        """Sample ``positions`` ``(N, T, P, d)`` on frame 0 (arguments of
        :func:`sparse_indices`)."""
        if positions.dim() != 4 or positions.shape[-1] not in (2, 3):
            raise ValueError(
                f"positions must be (N, T, P, d) with d in (2, 3), got {tuple(positions.shape)}"
            )
        idx = sparse_indices(positions[:, 0], ratio, method=method, radius=radius, seed=seed)
        return cls(positions, idx)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        ratio: float,
        *,
        trajectories: Sequence[int] | None = None,
        n_frames: int | None = None,
        method: str = "fps",
        radius: float | None = None,
        seed: int = 0,
    ) -> SparseTrajectories:
        """Read the ``position`` field of a particle file (``mpm2d``/``mpm3d``; a file without
        it is a :class:`~sciml.data.format.DataFileError`) and sample it."""
        positions = read_positions(path, trajectories, n_frames)
        return cls.from_positions(positions, ratio, method=method, radius=radius, seed=seed)


class LatentGridOperator(nn.Module):
    """Particles → GNO → latent grid → FNO → GNO → particles, added to the node latents.

    .. math::

        h_i \\leftarrow h_i + \\mathcal K_{\\text{out}}\\big(\\text{FNO}(\\mathcal K_{\\text{in}}
        h)\\big)(x_i),

    with ``K_in`` a nonlinear-kernel :class:`~sciml.models.gno.GNO` from the particles to the
    ``G^d`` cell centres ``g_k`` of the box (a grid node with no particle within ``r_gno`` gets
    the constant ``b`` of the GNO), :class:`~sciml.models.fno.FNO` on that grid, and ``K_out`` a
    linear-kernel GNO back to the particles (GIOROM Sec. 3, its ``nonlinear_kernelonly`` /
    ``linear`` transforms).

    It sits in the GNS processor (``forward(h, edge_index, e) → (h, e)``), so it receives the
    particle positions through :meth:`bind` before each call.

    Shapes: ``h (B·M, L)`` with the positions ``(B·M, d)`` bound for ``B`` examples.
    """

    def __init__(
        self,
        dim: int,
        latent: int,
        bounds: tuple[float, float],
        grid_size: int,
        gno_radius: float,
        width: int,
        n_modes: int,
        n_layers: int,
        kernel_hidden: Sequence[int],
        max_num_neighbors: int,
    ) -> None:
        super().__init__()
        lo, hi = bounds
        h = (hi - lo) / grid_size
        centres = lo + (torch.arange(grid_size, dtype=torch.float64) + 0.5) * h
        grid = torch.stack(torch.meshgrid(*[centres] * dim, indexing="ij"), -1).reshape(-1, dim)
        self.register_buffer("grid", grid.float(), persistent=False)  # (G^d, d), derived
        self.dim, self.grid_size, self.width = dim, grid_size, width
        self.gno_in = GNO(
            latent, width, dim, gno_radius, kernel_hidden, "nonlinear", max_num_neighbors
        )
        self.fno = FNO(width, width, dim, n_modes=n_modes, hidden_channels=width, n_layers=n_layers)
        self.gno_out = GNO(
            width, latent, dim, gno_radius, kernel_hidden, "linear", max_num_neighbors
        )
        self._bound: tuple[Tensor, int] | None = None

    def reset_parameters(self) -> None:
        """Re-initialize both GNOs and the FNO."""
        self.gno_in.reset_parameters()
        self.gno_out.reset_parameters()
        for m in self.fno.modules():
            if m is not self.fno and hasattr(m, "reset_parameters"):
                m.reset_parameters()

    def bind(self, positions: Tensor | None, n_examples: int = 1) -> None:
        """Set ``(B·M, d)`` particle positions of ``n_examples`` examples for the next call."""
        self._bound = None if positions is None else (positions, n_examples)

    def forward(self, h: Tensor, edge_index: Tensor, e: Tensor) -> tuple[Tensor, Tensor]:
        """``(h + K_out FNO K_in h, e)``; the graph ``edge_index`` is not used."""
        if self._bound is None:
            raise RuntimeError("LatentGridOperator needs bind(positions, n_examples) first")
        pos, n_ex = self._bound
        n_grid = self.grid.shape[0]
        grid = self.grid.to(pos).repeat(n_ex, 1)
        batch_p = torch.arange(n_ex, device=pos.device).repeat_interleave(pos.shape[0] // n_ex)
        batch_g = torch.arange(n_ex, device=pos.device).repeat_interleave(n_grid)
        g = self.gno_in(h, pos, grid, batch_p, batch_g)  # (B·G^d, width)
        g = g.reshape(n_ex, *[self.grid_size] * self.dim, self.width).movedim(-1, 1)
        g = self.fno(g).movedim(1, -1).reshape(n_ex * n_grid, self.width)
        return h + self.gno_out(g, grid, pos, batch_g, batch_p), e


class GIOROM(GNS):
    """GIOROM time-stepper on a sparse particle set (module docstring for the model and API).

    Parameters
    ----------
    dim, history, radius, latent, hidden, n_hidden, noise_std, bounds, wall_features,
    max_num_neighbors, stats:
        As :class:`~sciml.models.gns.GNS` (``radius`` is the sparse graph's: larger than a
        dense GNS's, a few *sparse* particle spacings; GIOROM: window ``H = 5``, noise 3e-4).
    n_encoder_layers, n_decoder_layers:
        Interaction networks before and after the operator block (GIOROM: 1–2).
    grid_size:
        Latent grid points per axis ``G`` (GIOROM 2D: 32). The grid has ``d`` axes, so in 3D
        it holds ``G³`` nodes; GIOROM's 3D configurations instead query a 2D ``16²`` grid.
    gno_radius:
        GNO neighbourhood radius (m); default ``1.5`` grid spacings. Must be at least half a
        grid-cell diagonal, so that every particle in the box has a grid node within it.
    gno_kernel_hidden:
        Hidden widths of the GNO kernel MLPs (GIOROM: ``[32, 64]``).
    fno_width, fno_modes, fno_layers:
        FNO processor width, Fourier modes per axis and layers (GIOROM v1: 32, 24, 2).
    gno_max_num_neighbors:
        Neighbours kept per GNO query.
    reconstruction:
        Options of the dense reconstruction trained with the stepper (GIOROM's second part):
        ``KernelReconstruction(dim, **reconstruction)`` becomes :attr:`reconstruction`, and the
        model then also takes the reconstruction pair as inputs (:attr:`input_keys`, see
        :meth:`forward`). ``None``: the stepper alone (a dense body is then recovered by kNN
        interpolation, :class:`ReducedOrderSimulator`).
    """

    def __init__(
        self,
        dim: int = 2,
        history: int = 5,
        radius: float = 0.08,
        latent: int = 64,
        hidden: int | None = None,
        n_encoder_layers: int = 1,
        n_decoder_layers: int = 1,
        n_hidden: int = 2,
        noise_std: float = 0.0,
        bounds: Sequence[float] = (0.0, 1.0),
        wall_features: bool = True,
        max_num_neighbors: int = 64,
        grid_size: int = 32,
        gno_radius: float | None = None,
        gno_kernel_hidden: Sequence[int] = (32, 64),
        fno_width: int = 32,
        fno_modes: int = 12,
        fno_layers: int = 2,
        gno_max_num_neighbors: int = 256,
        stats: ParticleStats | None = None,
        reconstruction: Mapping[str, Any] | None = None,
    ) -> None:
        if n_encoder_layers < 1 or n_decoder_layers < 0:
            raise ValueError(
                f"giorom needs n_encoder_layers >= 1 and n_decoder_layers >= 0, got "
                f"{n_encoder_layers}, {n_decoder_layers}"
            )
        if grid_size < 2 or not 1 <= fno_modes <= grid_size:
            raise ValueError(
                f"giorom needs grid_size >= 2 and 1 <= fno_modes <= grid_size, got grid_size="
                f"{grid_size}, fno_modes={fno_modes}"
            )
        super().__init__(
            dim,
            history,
            radius,
            latent,
            hidden,
            n_encoder_layers + n_decoder_layers,
            n_hidden,
            noise_std,
            bounds,
            wall_features,
            max_num_neighbors,
            stats,
        )
        spacing = (self.bounds[1] - self.bounds[0]) / grid_size
        gno_radius = 1.5 * spacing if gno_radius is None else float(gno_radius)
        if gno_radius < 0.5 * spacing * math.sqrt(dim):
            raise ValueError(
                f"giorom gno_radius={gno_radius} leaves particles without a latent grid node "
                f"within it (grid spacing {spacing:.4g}); use gno_radius >= "
                f"{0.5 * spacing * math.sqrt(dim):.4g} (half a cell diagonal)"
            )
        self.gno_radius = gno_radius
        self.n_encoder_layers = n_encoder_layers
        operator = LatentGridOperator(
            dim,
            latent,
            self.bounds,
            grid_size,
            gno_radius,
            fno_width,
            fno_modes,
            fno_layers,
            gno_kernel_hidden,
            gno_max_num_neighbors,
        )
        layers = list(self.processor)
        # The GNS processor runs its layers in order on (h, edge_index, e): the operator block
        # goes between the encoder and decoder interaction networks.
        self.processor = nn.ModuleList(
            [*layers[:n_encoder_layers], operator, *layers[n_encoder_layers:]]
        )
        self.reconstruction: KernelReconstruction | None = None
        if reconstruction is not None:
            self.reconstruction = KernelReconstruction(dim, **dict(reconstruction))
            # the trainer feeds forward the reconstruction pair as well
            self.input_keys = ("x", *KernelReconstruction.input_keys)

    @property
    def operator(self) -> LatentGridOperator:
        """The operator block inside the processor."""
        return self.processor[self.n_encoder_layers]  # type: ignore[return-value]

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        sparse_ref: Tensor | None = None,
        sparse_pos: Tensor | None = None,
        dense_ref: Tensor | None = None,
    ) -> Tensor | ReducedOrderPrediction:
        """The stepper's normalized acceleration ``(B, M, d)`` for sparse windows ``x``
        ``(B, M, H+1, d)`` (:meth:`GNS.forward <sciml.models.gns.GNS.forward>`: noisy and
        target-corrected in training mode); given the reconstruction pair too — ``sparse_ref,
        sparse_pos (B, M', d)``, ``dense_ref (B, P, d)``, m — a
        :class:`ReducedOrderPrediction` with the reconstructed dense positions ``(B, P, d)``.
        """
        acceleration = super().forward(x)
        pair = (sparse_ref, sparse_pos, dense_ref)
        if all(t is None for t in pair):
            return acceleration
        if self.reconstruction is None or any(t is None for t in pair):
            raise ValueError(
                "giorom: the reconstruction inputs (sparse_ref, sparse_pos, dense_ref) need all "
                "three and a model built with reconstruction options"
            )
        return ReducedOrderPrediction(acceleration, self.reconstruction(*pair))  # type: ignore[arg-type]

    def normalized_acceleration(self, x: Tensor) -> Tensor:
        """``(B, M, d)`` network output ``â`` for sparse windows ``x`` ``(B, M, H+1, d)``."""
        self._check(x)
        B, M = x.shape[:2]
        self.operator.bind(x[:, :, -1].reshape(B * M, self.dim), B)
        try:
            return super().normalized_acceleration(x)
        finally:
            self.operator.bind(None)


class ReducedOrderPrediction(NamedTuple):
    """Training output of a :class:`GIOROM` with a reconstruction: both parts' predictions."""

    acceleration: Tensor
    """``(B, M, d)`` normalized acceleration of the sampled particles (target ``batch["y"]``)."""
    dense: Tensor
    """``(B, P, d)`` reconstructed dense positions, m (target ``batch["dense"]``)."""


def make_sampler(
    method: str, ratio: float, seed: int = 0, radius: float | None = None
) -> functools.partial[Tensor]:
    """``reference (N, P, d) → (N, M)`` indices: :func:`sparse_indices` with these settings
    (the one sampler both the training data and :class:`ReducedOrderSimulator` use)."""
    check_sampling(method, ratio)
    return functools.partial(sparse_indices, ratio=ratio, method=method, radius=radius, seed=seed)


class ReducedOrderRollout(NamedTuple):
    """A reduced-order rollout: the stepped sparse particles and the reconstructed body."""

    sparse: Tensor
    """``(B, n, M, d)`` positions of the sampled particles, m."""
    dense: Tensor
    """``(B, n, P, d)`` positions of every particle, m."""
    indices: Tensor
    """``(B, M)`` the sampled particles (indices into ``P``)."""

    def write_vtu(
        self,
        directory: str | os.PathLike,
        reference: Tensor,
        *,
        times: Sequence[float] | Tensor | None = None,
        truth: Tensor | None = None,
        trajectory: int = 0,
    ) -> dict[str, Path]:
        """Write one trajectory of the rollout as ParaView series (``.vtu`` per frame + ``.pvd``,
        :func:`sciml.data.particle_vtu.write_particle_series`).

        Series (file stems): ``dense`` — every particle, with point data ``displacement``
        (``x − X``, m), ``sampled`` (1 on the stepped particles) and ``particle`` (index);
        ``sparse`` — the stepped particles, with their ``particle`` index; with ``truth``,
        ``truth`` (same point data as ``dense``) and ``error`` on ``dense``: ``‖x − x_true‖``
        per particle (m).

        Parameters
        ----------
        directory:
            Output folder.
        reference:
            ``(B, P, d)`` or ``(P, d)`` frame-0 positions of the trajectories (m).
        times:
            ``(n,)`` times of the rollout frames (s); default the frame numbers ``1 … n`` after
            the last input frame.
        truth:
            ``(B, n, P, d)`` or ``(n, P, d)`` ground-truth positions of the same frames.
        trajectory:
            Which of the ``B`` trajectories (batched rollouts).

        Returns
        -------
        dict
            ``{series: .pvd path}``.
        """
        batched = self.indices.dim() == 2
        pick = (lambda t: t[trajectory]) if batched else (lambda t: t)
        if batched and not 0 <= trajectory < self.indices.shape[0]:
            raise ValueError(
                f"trajectory={trajectory} is not one of the rollout's {self.indices.shape[0]}"
            )
        dense, sparse, idx = pick(self.dense), pick(self.sparse), pick(self.indices).cpu()
        ref = (reference[trajectory] if reference.dim() == 3 else reference).to(dense)
        if ref.shape != dense.shape[1:]:
            raise ValueError(
                f"reference must be (P, d) = {tuple(dense.shape[1:])} per trajectory, got "
                f"{tuple(reference.shape)}"
            )
        n, p = dense.shape[:2]
        if times is None:
            times = torch.arange(1, n + 1, dtype=torch.float64)
        sampled = torch.zeros(p, dtype=torch.int32)
        sampled[idx] = 1
        particle = torch.arange(p, dtype=torch.int32)

        def fields(x: Tensor) -> dict[str, Tensor]:
            return {"displacement": x - ref, "sampled": sampled, "particle": particle}

        dense_fields = fields(dense)
        out: dict[str, Path] = {}
        if truth is not None:
            true = truth[trajectory] if truth.dim() == 4 else truth
            if true.shape != dense.shape:
                raise ValueError(
                    f"truth must be (n, P, d) = {tuple(dense.shape)} per trajectory, got "
                    f"{tuple(truth.shape)}"
                )
            true = true.to(dense)
            dense_fields["error"] = (dense - true).norm(dim=-1)
            out["truth"] = write_particle_series(
                directory, true, times=times, point_data=fields(true), name="truth"
            )
        out["dense"] = write_particle_series(
            directory, dense, times=times, point_data=dense_fields, name="dense"
        )
        out["sparse"] = write_particle_series(
            directory, sparse, times=times, point_data={"particle": idx.int()}, name="sparse"
        )
        return out


class ReducedOrderSimulator(nn.Module):
    """A sparse stepper with its dense reconstruction: what ``sciml.load`` returns for a run
    trained on sampled particles (``data.options.sampling``).

    ``rom = sciml.load(run)``, then

    * ``rom(dense_history, n_steps)`` (= :meth:`rollout`): ``dense_history (B, H+1, P, d)``
      (or ``(H+1, P, d)``) positions in m, frame 0 the reference configuration → a
      :class:`ReducedOrderRollout` ``(sparse (B, n, M, d), dense (B, n, P, d), indices (B, M))``
      (batch axis dropped for unbatched input);
    * :meth:`sample` ``(B, P, d) → (B, M)``: the particles the stepper moves (the training
      sampler: same method, ratio and seed);
    * :meth:`step` ``(B, M, H+1, d) → (B, M, d)``: one semi-implicit Euler step of the stepper;
    * :meth:`reconstruct` ``(sparse_ref (B, M, d), sparse (B, T, M, d), dense_ref (B, P, d))
      → (B, T, P, d)``: the learned reconstruction (``stepper.reconstruction``), or kNN
      interpolation (``k = knn_k``) for a stepper without one;
    * :meth:`knn_reconstruct`: the kNN-interpolation baseline, same shapes.

    Parameters
    ----------
    stepper:
        A trained sparse stepper (:class:`GIOROM`, or a :class:`~sciml.models.gns.GNS`
        trained on sampled particles), in eval mode.
    sampling:
        ``{"method", "ratio", "seed"}`` of the training data (:func:`make_sampler`).
    knn_k:
        Neighbours of the kNN interpolation.
    """

    def __init__(self, stepper: GNS, sampling: Mapping[str, Any], knn_k: int = 3) -> None:
        super().__init__()
        self.stepper = stepper
        self.sampling = dict(sampling)
        self.knn_k = knn_k
        self.sampler = make_sampler(**self.sampling, radius=stepper.radius)

    @property
    def history(self) -> int:
        """``H``, past velocities per window."""
        return self.stepper.history

    def sample(self, reference: Tensor) -> Tensor:
        """``(B, M)`` sampled particles of reference frames ``(B, P, d)`` (float64 sampling,
        as the training data's)."""
        return self.sampler(reference.to(torch.float64))

    def step(self, x: Tensor) -> Tensor:
        """Next sparse positions ``(B, M, d)`` from windows ``x`` ``(B, M, H+1, d)``."""
        return self.stepper.step(x)

    @torch.no_grad()
    def knn_reconstruct(self, sparse_ref: Tensor, sparse: Tensor, dense_ref: Tensor) -> Tensor:
        """``(B, T, P, d)`` by :func:`~sciml.models.dense_reconstruction.knn_interpolate` of
        every frame of ``sparse (B, T, M, d)`` (one neighbour search for the whole rollout)."""
        dense = knn_interpolate(sparse_ref, sparse.transpose(0, 1), dense_ref, self.knn_k)
        return dense.transpose(0, 1)

    @torch.no_grad()
    def reconstruct(self, sparse_ref: Tensor, sparse: Tensor, dense_ref: Tensor) -> Tensor:
        """``(B, T, P, d)`` dense positions from sparse trajectories ``(B, T, M, d)`` (class
        docstring)."""
        learned = getattr(self.stepper, "reconstruction", None)
        if learned is None:
            return self.knn_reconstruct(sparse_ref, sparse, dense_ref)
        return learned.rollout(sparse_ref, sparse, dense_ref)

    @torch.no_grad()
    def rollout(self, dense_history: Tensor, n_steps: int) -> ReducedOrderRollout:
        """Sample frame 0, step the sampled particles ``n_steps`` frames, reconstruct every
        particle (class docstring for the shapes)."""
        single = dense_history.dim() == 3
        x = dense_history.unsqueeze(0) if single else dense_history
        indices = self.sample(x[:, 0]).to(x.device)
        sparse_history = sparse_positions(x, indices)  # (B, H+1, M, d)
        sparse = self.stepper.rollout(sparse_history, n_steps)
        dense = self.reconstruct(sparse_history[:, 0], sparse, x[:, 0])
        out = ReducedOrderRollout(sparse, dense, indices)
        return ReducedOrderRollout(*(t[0] for t in out)) if single else out

    forward = rollout


MODELS.register("giorom")(strict_config("giorom")(GIOROM))
