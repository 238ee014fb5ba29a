r"""PI-HC and PI-HC-MoE: a basis network's output made to satisfy a PDE by least squares.

A backbone with ``N`` output channels gives the basis :math:`b = (b^1, \dots, b^N)` on the
space-time grid; the constrained field is :math:`u = b\cdot\omega` with, per sample,

.. math:: \omega^* = \arg\min_\omega \|\rho(b\,\omega)(x_{1..m})\|^2
          + \|A(b)\,\omega - c\|^2 + \epsilon^2\|\omega\|^2

over ``m`` sampled grid points (PDE rows), the initial/boundary rows and a ridge (Chalapathi,
Du, Krishnapriyan, "Scaling physics-informed hard constraints with mixture-of-experts", ICLR
2024, §3). **Mixture of experts** (§3, eqs. 2–3): the grid is split uniformly into
``K = ∏ experts[i]`` blocks; expert ``k`` solves its own problem with ``m`` points of its block
and *all* initial/boundary rows, and :math:`u(x) = b(x)\cdot\omega_{k(x)}`. All ``B·K`` problems
go through one batched Levenberg–Marquardt call in float64; ``experts = [1, 1]`` is PI-HC.
The paper has no interface rows, so the prediction may jump between blocks. **Our extension**
(``interface_weight > 0``, not in the paper): the ``K`` experts of a sample are solved as one
problem in the ``K·N`` weights, with the rows
:math:`\lambda\, b(x_q)\cdot(\omega_{k(p)} - \omega_{k(q)}) = 0` at every pair of neighbouring
grid points ``p, q`` in different blocks (continuity of the two experts' fields at ``x_q``). This
couples the experts, so they are no longer independent solves. **Our extension**
(``local_conditions=True``, not in the paper): expert ``k`` keeps only the initial/boundary rows
whose grid point lies in its own block (the paper's code gives every diffusion–sorption expert
all of them; with ``K = 1`` the two are the same).

The backward pass is the implicit-function-theorem solve of
:mod:`sciml.constraints.hard.implicit` (``backward_mode``). Each forward records
:attr:`last_result` (iterations, convergence per problem); problems that did not converge are
counted in :attr:`n_not_converged` and logged (``on_nonconvergence="warn"``) or raise
(``"raise"``) — never silently used as if solved.

**Export.** Under ``torch.export`` the solve runs ``max_iter`` masked iterations
(:func:`~sciml.constraints.hard.lm.levenberg_marquardt` with ``fixed_iterations=True``: the same
weights as the early-stopping solve) and records nothing: an exported program cannot report
non-convergence. TorchScript tracing raises :class:`NotExportableError`.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from sciml.constraints.base import Constraint, Output
from sciml.constraints.hard.implicit import (
    BACKWARD_MODES,
    LMOptions,
    SingularSystemError,
    solve_least_squares,
)
from sciml.constraints.hard.lm import LMResult
from sciml.constraints.hard.pdes import PDES, PDEResidual
from sciml.constraints.hard.system import LeastSquaresSystem, Pointwise, ShiftedPointwise
from sciml.models.outputs import GaussianOutput
from sciml.registry import CONSTRAINTS

__all__ = [
    "STATISTICS",
    "HardPDEConstraint",
    "NotConvergedError",
    "PDEAnsatzConstraint",
    "NotExportableError",
    "expert_blocks",
]

log = logging.getLogger(__name__)

_ON_FAILURE = ("warn", "raise")

#: :meth:`HardPDEConstraint.training_statistics` columns, sums over the training solves since
#: the last call: problems solved, LM iterations, problems not converged, final residual norms
#: :math:`\|r\|` (means per problem: divide by ``lm_solves``)
STATISTICS = ("lm_solves", "lm_iterations", "lm_not_converged", "lm_residual")


class NotExportableError(RuntimeError):
    """The hard constraint was asked to be traced by TorchScript (``torch.export`` works)."""


class NotConvergedError(RuntimeError):
    """Levenberg–Marquardt hit ``max_iter`` on some problems and ``on_nonconvergence="raise"``."""


@functools.lru_cache(maxsize=16)
def _block_members(shape: tuple[int, ...], experts: tuple[int, ...]) -> tuple[list[int], ...]:
    """Flat grid indices (ascending) of every expert block of :func:`expert_blocks`, in Python
    integers."""
    expert_blocks(shape, experts)  # checks the arguments
    parts = [
        [[i for i in range(n) if i * e // n == p] for p in range(e)] for n, e in zip(shape, experts)
    ]
    strides = [math.prod(shape[a + 1 :]) for a in range(len(shape))]
    members = []
    for block in itertools.product(*parts):
        flat = [0]
        for axis, indices in enumerate(block):
            flat = [f + i * strides[axis] for f in flat for i in indices]
        members.append(sorted(flat))
    return tuple(members)


def expert_blocks(shape: Sequence[int], experts: Sequence[int]) -> Tensor:
    """Expert index of every grid point for a uniform split, ``(*shape,)`` long.

    Axis ``i`` of length ``n`` is cut into ``experts[i]`` contiguous ranges of ``n // e`` or
    ``n // e + 1`` points; experts are numbered in C order over the axes.
    """
    if len(shape) != len(experts):
        raise ValueError(
            f"experts={list(experts)} needs one entry per grid axis {tuple(shape)} (T, X, ...)"
        )
    index = torch.zeros((), dtype=torch.long)
    for n, e in zip(shape, experts):
        if isinstance(e, bool) or not isinstance(e, int) or not 1 <= e <= n:
            raise ValueError(f"experts entries must be integers in [1, {n}], got {list(experts)}")
        part = torch.div(torch.arange(n) * e, n, rounding_mode="floor")
        index = index[..., None] * e + part
    return index


class HardPDEConstraint(Constraint):
    """Hard PDE constraint (PI-HC) and its mixture of experts (PI-HC-MoE); see module docstring.

    Parameters
    ----------
    pde:
        Name in :data:`~sciml.constraints.hard.pdes.PDES` or a :class:`PDEResidual`.
    n_basis:
        ``N``, the backbone's output channels (PI-HC-MoE: 16 on diffusion–sorption).
    n_points:
        PDE points ``m`` per expert (paper: 20 000), or ``None`` for every point of the block.
    experts:
        Blocks per grid axis ``(T, X, ...)``; ``[1, 1]`` is PI-HC, ``[1, 4]`` the paper's MoE.
    ridge:
        :math:`\\epsilon` (1e-4 in the paper's code). ``0`` is allowed; a rank-deficient system
        then raises :class:`~sciml.constraints.hard.implicit.SingularSystemError`.
    backward_mode:
        ``"ift_exact"``, ``"ift_gn"`` or ``"unrolled"``.
    max_iter, rtol, atol, damping, init:
        Levenberg–Marquardt options (paper: 50 iterations, tolerance 1e-4, :math:`\\omega_0 = 1`).
    on_nonconvergence:
        ``"warn"`` (log and count) or ``"raise"``.
    seed:
        Seed of the point sampling (training draws new points each call; evaluation mode reuses
        the points of ``seed``).
    pde_options:
        Keyword arguments of the PDE class (e.g. ``residual_scale``, ``t_end``).
    interface_weight:
        :math:`\\lambda` of the interface-continuity rows (our extension, module docstring); 0
        (default, the paper) solves the experts independently.
    local_conditions:
        Give each expert only the initial/boundary rows inside its block (our extension,
        module docstring); ``False`` (default, the paper): all rows to every expert.
    """

    #: why ONNX export refuses this layer before converting (the converter would trace for
    #: minutes and then fail on the solve): read by :func:`sciml.tasks.onnx_export.export_onnx`
    onnx_refusal: ClassVar[str] = (
        "the Levenberg-Marquardt step's batched linear solve (aten._linalg_solve_ex) has no ONNX "
        "operator; export with torch.export (`sciml export RUN --format export`) or use sciml.load"
    )

    def __init__(
        self,
        pde: str | PDEResidual = "diffusion_sorption",
        *,
        n_basis: int,
        n_points: int | None = 20000,
        experts: Sequence[int] = (1, 1),
        ridge: float = 1e-4,
        backward_mode: str = "ift_exact",
        max_iter: int = 50,
        rtol: float = 1e-4,
        atol: float = 1e-4,
        damping: float = 1e-3,
        init: float = 1.0,
        on_nonconvergence: str = "warn",
        seed: int = 0,
        pde_options: Mapping[str, Any] | None = None,
        interface_weight: float = 0.0,
        local_conditions: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(pde, str):
            if pde not in PDES:
                raise ValueError(f"pde={pde!r} is not one of {sorted(PDES)}")
            pde = PDES[pde](**dict(pde_options or {}))
        self.pde = pde
        if isinstance(n_basis, bool) or not isinstance(n_basis, int) or n_basis < 1:
            raise ValueError(f"n_basis must be a positive integer, got {n_basis!r}")
        if n_points is not None and (not isinstance(n_points, int) or n_points < 1):
            raise ValueError(f"n_points must be a positive integer or None (all), got {n_points!r}")
        if backward_mode not in BACKWARD_MODES:
            raise ValueError(
                f"backward_mode={backward_mode!r} is not one of {list(BACKWARD_MODES)}"
            )
        if on_nonconvergence not in _ON_FAILURE:
            raise ValueError(
                f"on_nonconvergence={on_nonconvergence!r} is not one of {list(_ON_FAILURE)}"
            )
        if not ridge >= 0:
            raise ValueError(f"ridge must be >= 0, got {ridge!r}")
        if not interface_weight >= 0:
            raise ValueError(f"interface_weight must be >= 0, got {interface_weight!r}")
        self.interface_weight = float(interface_weight)
        if not isinstance(local_conditions, bool):
            raise ValueError(f"local_conditions must be true or false, got {local_conditions!r}")
        if local_conditions and interface_weight > 0:
            raise ValueError("local_conditions and interface_weight > 0 cannot be combined")
        self.local_conditions = local_conditions
        self.n_basis = n_basis
        self.n_points = n_points
        self.experts = [int(e) for e in experts]
        self.ridge = float(ridge)
        self.backward_mode = backward_mode
        self.options = LMOptions(
            max_iter=max_iter, rtol=rtol, atol=atol, damping=damping, init=init
        )
        self.on_nonconvergence = on_nonconvergence
        self.seed = int(seed)
        self._generator = torch.Generator().manual_seed(self.seed)
        self.last_result: LMResult | None = None
        self.n_solves = 0
        self.n_not_converged = 0
        self._window = dict.fromkeys(STATISTICS, 0.0)

    @property
    def n_experts(self) -> int:
        return math.prod(self.experts)

    def model_out_channels(self, data_channels: int) -> int:
        """Output channels the backbone needs: ``n_basis`` (the data field has ``data_channels``)."""
        return self.n_basis

    def metrics(self) -> dict[str, float]:
        """Solver figures of the last call and the running non-convergence count, for logging."""
        if self.last_result is None:
            return {}
        return {
            "lm_iters_mean": float(self.last_result.n_iter.double().mean()),
            "lm_iters_max": float(self.last_result.n_iter.max()),
            "lm_not_converged": float(self.last_result.n_not_converged),
            "lm_not_converged_total": float(self.n_not_converged),
        }

    def training_statistics(self) -> dict[str, float]:
        """Sums over the solves made in training mode since the last call (:data:`STATISTICS`):
        the trainer sums them per log window into ``metrics.csv`` / TensorBoard columns, so
        ``lm_iterations / lm_solves`` is the mean iteration count of the window and
        ``lm_residual / lm_solves`` the mean final residual norm."""
        window, self._window = self._window, dict.fromkeys(STATISTICS, 0.0)
        return window

    def _points(self, shape: tuple[int, ...]) -> Tensor:
        """Flat grid indices ``(K, m)`` of the PDE points of each expert.

        Built from Python integers (no data-dependent tensor op, so an export trace holds them
        as constants). Training draws ``m`` points per block from the layer's generator at
        every call; evaluation draws them from ``random.Random(seed)``, the same at every call.
        """
        members = _block_members(shape, tuple(self.experts))
        sizes = [len(r) for r in members]
        if self.n_points is None:
            m = min(sizes)  # unequal blocks: the first m points of each
            return torch.tensor([r[:m] for r in members], dtype=torch.long)
        if self.n_points > min(sizes):
            raise ValueError(
                f"n_points={self.n_points} exceeds the {min(sizes)} grid points of an expert "
                f"block (grid {shape}, experts {self.experts}); use at most {min(sizes)} or "
                f"n_points=None"
            )
        if self.training:
            rows = []
            for r in members:
                pick = torch.randperm(len(r), generator=self._generator)[: self.n_points]
                rows.append(torch.tensor(r)[pick])
            return torch.stack(rows)
        rng = random.Random(self.seed)
        return torch.tensor([rng.sample(r, self.n_points) for r in members], dtype=torch.long)

    def forward(self, output: Output, batch: Mapping[str, Tensor]) -> Output:
        """``output`` = basis ``(B, N, *S)`` → constrained field ``(B, 1, *S)``."""
        exporting = torch.compiler.is_exporting()
        if torch.jit.is_tracing():
            raise NotExportableError(
                "hard_pde cannot be exported to TorchScript: a trace would freeze one input's "
                "Levenberg-Marquardt iteration count; export with torch.export "
                "(`sciml export RUN --format export`), which runs max_iter masked iterations, or "
                "use the run through sciml.load"
            )
        if isinstance(output, GaussianOutput):
            raise TypeError("hard_pde constrains a basis tensor, not a (mean, var) output")
        if output.ndim < 3 or output.shape[1] != self.n_basis:
            raise ValueError(
                f"hard_pde expects the basis network output (B, n_basis={self.n_basis}, *S), got "
                f"{tuple(output.shape)}: set the backbone's out_channels to n_basis"
            )
        basis = output.to(torch.float64)
        shape = tuple(basis.shape[2:])
        coords = self.pde.grid(shape, batch)
        blocks = expert_blocks(shape, self.experts).to(basis.device)
        points = self._points(shape).to(basis.device)  # (K, m)
        basis, offset = self.pde.ansatz(basis, batch, coords)
        if offset is None:
            lhs, rhs = self.pde.condition_rows(basis, batch, coords)
        else:  # the ansatz satisfies the conditions: no rows
            lhs, rhs = (
                basis.new_zeros(basis.shape[0], 0, self.n_basis),
                basis.new_zeros(basis.shape[0], 0),
            )
        n_rows = points.shape[1] + lhs.shape[1]
        if n_rows < self.n_basis:
            raise ValueError(
                f"too few constrained points: {points.shape[1]} PDE points + {lhs.shape[1]} "
                f"initial/boundary rows = {n_rows} rows per expert for n_basis={self.n_basis} "
                f"basis functions; raise n_points or lower n_basis"
            )
        b, k, m = basis.shape[0], *points.shape
        d = self._at_points(basis, coords, points)  # (B·K, m, F, N)
        pointwise = self.pde.pointwise
        if offset is not None:
            q0 = self._at_points(offset.detach(), coords, points)[..., 0]  # (B·K, m, F)
            pointwise = ShiftedPointwise(pointwise, q0)
        rhs = rhs.to(torch.float64)
        if self.interface_weight > 0 and k > 1:
            if offset is not None:
                pointwise = ShiftedPointwise(self.pde.pointwise, q0.reshape(b, k * m, -1))
            system = self._coupled_system(basis, blocks, d, lhs, rhs, pointwise)
        else:
            lhs, rhs = lhs.repeat_interleave(k, dim=0), rhs.repeat_interleave(k, dim=0)
            if self.local_conditions and k > 1:
                keep = self._local_rows(shape, lhs.shape[1]).to(lhs)  # (K, L)
                keep = keep.repeat(b, 1)  # problem order: sample-major, expert-minor
                lhs, rhs = lhs * keep[..., None], rhs * keep
            system = LeastSquaresSystem(
                features=d, pointwise=pointwise, lhs=lhs, rhs=rhs, ridge=self.ridge
            )
        weights, result = solve_least_squares(
            system, mode=self.backward_mode, options=self.options, fixed_iterations=exporting
        )
        if not exporting:  # an export trace carries no statistics (module docstring, Export)
            self._record(result, system)
        w = weights.reshape(b, k, self.n_basis)[:, blocks]  # (B, *S, N)
        u = (basis.movedim(1, -1) * w).sum(-1, keepdim=True).movedim(-1, 1)
        if offset is not None:
            u = u + offset
        return u.to(output.dtype)

    def _local_rows(self, shape: tuple[int, ...], n_rows: int) -> Tensor:
        """``(K, L)`` 1 where condition row ``l`` lies in expert ``k``'s block, else 0 (a zero
        row adds nothing to the residual or the Jacobian: the row is dropped)."""
        where = self.pde.condition_locations(shape)
        if where is None or len(where) != n_rows:
            raise ValueError(
                f"local_conditions: {type(self.pde).__name__} does not give the grid point of its "
                f"{n_rows} initial/boundary rows (condition_locations)"
            )
        members = [set(r) for r in _block_members(shape, tuple(self.experts))]
        return torch.tensor(
            [[1.0 if g in r else 0.0 for g in where] for r in members], dtype=torch.float64
        )

    def _at_points(self, fields: Tensor, coords: tuple[Tensor, ...], points: Tensor) -> Tensor:
        """PDE features of ``fields`` ``(B, C, *S)`` at the experts' points ``(K, m)``:
        ``(B·K, m, F, C)``."""
        feats = self.pde.features(fields, coords).flatten(3)  # (B, F, C, G)
        (b, f, c), (k, m) = feats.shape[:3], points.shape
        d = feats[..., points.flatten()].reshape(b, f, c, k, m)
        return d.permute(0, 3, 4, 1, 2).reshape(b * k, m, f, c)

    def _coupled_system(
        self,
        basis: Tensor,
        blocks: Tensor,
        d: Tensor,
        lhs: Tensor,
        rhs: Tensor,
        pointwise: Pointwise,
    ) -> LeastSquaresSystem:
        """All experts of a sample as one problem in ``K·N`` weights, plus interface rows."""
        b, n, k = basis.shape[0], self.n_basis, self.n_experts
        m, f = d.shape[1], d.shape[2]
        d = d.reshape(b, k, m, f, n)
        joint = d.new_zeros(b, k, m, f, k, n)
        lhs_joint = lhs.new_zeros(b, k, lhs.shape[1], k, n)
        for e in range(k):
            joint[:, e, :, :, e] = d[:, e]
            lhs_joint[:, e, :, e] = lhs
        pairs = []  # (p, q) flat indices of neighbours in different blocks
        flat = torch.arange(blocks.numel(), device=blocks.device).reshape(blocks.shape)
        for axis in range(blocks.ndim):
            here = blocks.narrow(axis, 0, blocks.shape[axis] - 1)
            there = blocks.narrow(axis, 1, blocks.shape[axis] - 1)
            cut = here != there
            pairs.append(
                torch.stack(
                    [
                        flat.narrow(axis, 0, blocks.shape[axis] - 1)[cut],
                        flat.narrow(axis, 1, blocks.shape[axis] - 1)[cut],
                    ]
                )
            )
        p, q = torch.cat(pairs, dim=1)
        values = basis.flatten(2)[:, :, q].transpose(1, 2)  # (B, n_if, N): b(x_q)
        rows = values.new_zeros(b, q.numel(), k, n)
        index = torch.arange(q.numel(), device=q.device)
        rows[:, index, blocks.flatten()[p]] += self.interface_weight * values
        rows[:, index, blocks.flatten()[q]] -= self.interface_weight * values
        interface = rows.reshape(b, q.numel(), k * n)
        return LeastSquaresSystem(
            features=joint.reshape(b, k * m, f, k * n),
            pointwise=pointwise,
            lhs=torch.cat([lhs_joint.reshape(b, -1, k * n), interface], dim=1),
            rhs=torch.cat([rhs.repeat(1, k), rhs.new_zeros(b, q.numel())], dim=1),
            ridge=self.ridge,
        )

    def _record(self, result: LMResult, system: LeastSquaresSystem) -> None:
        self.last_result = result
        self.n_solves += result.converged.numel()
        if self.training:  # validation and evaluation solves are not training statistics
            w = self._window
            w["lm_solves"] += result.converged.numel()
            w["lm_iterations"] += float(result.n_iter.sum())
            w["lm_not_converged"] += result.n_not_converged
            w["lm_residual"] += float((2 * result.cost.detach()).clamp_min(0).sqrt().sum())
        if self.ridge == 0:
            _, jac = system.residual_and_jacobian(result.solution.detach())
            rank = torch.linalg.matrix_rank(jac.detach())
            if (rank < system.n_unknowns).any():
                raise SingularSystemError(
                    f"rank-deficient least-squares system: the constraint rows determine only "
                    f"{int(rank.min())} of {system.n_unknowns} weights (n_basis={self.n_basis}, "
                    f"ridge=0); use "
                    f"ridge > 0, more points or fewer basis functions"
                )
        bad = result.n_not_converged
        if bad:
            self.n_not_converged += bad
            msg = (
                f"hard_pde: Levenberg-Marquardt did not converge in {self.options.max_iter} "
                f"iterations for {bad} of {result.converged.numel()} problems "
                f"({self.n_not_converged} of {self.n_solves} so far); their weights are the last "
                f"iterate"
            )
            if self.on_nonconvergence == "raise":
                raise NotConvergedError(msg)
            log.warning(msg)


class PDEAnsatzConstraint(Constraint):
    r"""A PDE's ansatz (:meth:`~sciml.constraints.hard.pdes.PDEResidual.ansatz`) on a one-channel
    model, without least squares: ``u = offset + f'`` with ``f'`` the transformed model output.

    For a soft-constrained model (PI-SC) with the same output form as the hard constraint, e.g.
    the Navier–Stokes mollifier :math:`\omega = \omega_0 + c\,(t/T)(f - \bar f)`, so that the
    initial condition holds by construction and the PDE residual stays a loss term. Applying the
    ansatz to PI-SC is our choice (the paper does not say how its NS soft model treats the
    initial condition).

    Parameters
    ----------
    pde:
        Name in :data:`~sciml.constraints.hard.pdes.PDES`; it must define an ansatz.
    pde_options:
        Keyword arguments of the PDE class (e.g. ``mollifier``, ``t_end``).
    """

    def __init__(self, pde: str, *, pde_options: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if pde not in PDES:
            raise ValueError(f"pde={pde!r} is not one of {sorted(PDES)}")
        self.pde = PDES[pde](**dict(pde_options or {}))

    def forward(self, output: Output, batch: Mapping[str, Tensor]) -> Output:
        """``output`` ``(B, 1, *S)`` → ``offset + ansatz(output)`` ``(B, 1, *S)``."""
        if isinstance(output, GaussianOutput) or output.ndim < 3 or output.shape[1] != 1:
            raise ValueError(
                f"pde_ansatz expects a one-channel tensor (B, 1, *S), got "
                f"{getattr(output, 'shape', type(output).__name__)}"
            )
        field = output.to(torch.float64)
        coords = self.pde.grid(tuple(field.shape[2:]), batch)
        shaped, offset = self.pde.ansatz(field, batch, coords)
        if offset is None:
            raise ValueError(
                f"pde_ansatz: {type(self.pde).__name__} with these options has no ansatz (set "
                f"e.g. pde_options.mollifier for navier_stokes2d)"
            )
        return (offset + shaped).to(output.dtype)


@CONSTRAINTS.register("pde_ansatz")
def build_pde_ansatz(**options: Any) -> PDEAnsatzConstraint:
    """``constraint: {name: pde_ansatz, pde: navier_stokes2d, pde_options: {mollifier: 1.0}}``."""
    return PDEAnsatzConstraint(**options)


@CONSTRAINTS.register("hard_pde")
def build_hard_pde(**options: Any) -> HardPDEConstraint:
    """``constraint: {name: hard_pde, pde: diffusion_sorption, n_basis: 16, experts: [1, 4]}``."""
    return HardPDEConstraint(**options)
