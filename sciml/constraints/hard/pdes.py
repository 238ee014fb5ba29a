r"""PDE residuals in the form the hard-constraint layer needs: linear features + a pointwise law.

A :class:`PDEResidual` describes a PDE on a space-time grid as ``F`` linear features of the field
(the field itself, finite-difference derivatives, ...) and a pointwise residual
:math:`\rho(q_1, \dots, q_F)`, plus linear initial/boundary rows. The same object gives the
full-grid residual of any field (the soft-constraint loss of PI-SC and an evaluation metric) and
the per-basis-function features of the hard constraint (:mod:`sciml.constraints.hard.layer`).

Fields are ``(B, C, T, X)`` (1D) or ``(B, C, T, X, Y)`` (2D): time first, then space.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from sciml.solvers.fv import SorptionParameters
from sciml.solvers.spectral import Grid
from sciml.solvers.spectral.navier_stokes2d import NavierStokes2D

__all__ = ["PDEResidual", "DiffusionSorptionResidual", "NavierStokesVorticityResidual", "PDES"]


class PDEResidual(ABC):
    """A PDE as linear features + pointwise residual + linear condition rows."""

    #: number of linear features ``F``
    n_features: int
    #: blocks per grid axis of a "broken" grid residual (:meth:`grid_residual`), or ``None``
    broken_experts: tuple[int, ...] | None = None

    @abstractmethod
    def grid(self, shape: tuple[int, ...], batch: Mapping[str, Tensor]) -> tuple[Tensor, ...]:
        """Coordinates of each grid axis (``(T,)``, ``(X,)``), float64."""

    @abstractmethod
    def features(self, fields: Tensor, coords: tuple[Tensor, ...]) -> Tensor:
        """Linear features of each channel: ``(B, C, *S)`` → ``(B, F, C, *S)``."""

    @abstractmethod
    def pointwise(self, q: Tensor) -> tuple[Tensor, Tensor]:
        """``q`` ``(..., F)`` → residual ``(...)`` and ``∂ρ/∂q`` ``(..., F)``."""

    @abstractmethod
    def condition_rows(
        self, fields: Tensor, batch: Mapping[str, Tensor], coords: tuple[Tensor, ...]
    ) -> tuple[Tensor, Tensor]:
        """Initial/boundary rows ``(A, c)``: ``A`` ``(B, L, C)`` (the channels' values), ``c``
        ``(B, L)``; a field ``u = Σ_c w_c fields_c`` satisfies them when ``A w = c``."""

    def condition_locations(self, shape: tuple[int, ...]) -> list[int] | None:
        """Flat grid index (C order over ``shape``) of the grid point each row of
        :meth:`condition_rows` belongs to, or ``None`` where the PDE does not say (then the
        layer's ``local_conditions`` option is refused)."""
        return None

    def ansatz(
        self, basis: Tensor, batch: Mapping[str, Tensor], coords: tuple[Tensor, ...]
    ) -> tuple[Tensor, Tensor | None]:
        """Transform of a basis ``(B, N, *S)`` and a fixed offset field ``(B, 1, *S)`` such that
        every ``u = offset + Σ_n w_n basis'_n`` satisfies :meth:`condition_rows` by
        construction; ``(basis, None)`` (the default) where the conditions are least-squares
        rows instead."""
        return basis, None

    def grid_residual(self, u: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """PDE residual of a field ``u`` ``(B, 1, *S)`` at every grid point, ``(B, *S)``.

        With :attr:`broken_experts` (the uniform blocks of a mixture of experts, as
        :func:`~sciml.constraints.hard.layer.expert_blocks`) the derivatives are taken inside each
        block only (one-sided at its edges), so a field that jumps between blocks is not
        differentiated across the jumps (our extension; the paper differentiates the assembled
        field).
        """
        coords = self.grid(tuple(u.shape[2:]), batch)
        if self.broken_experts is None:
            return self._residual(u, coords)
        out = u.new_empty(u.shape[:1] + u.shape[2:])
        ranges = []
        for n, e in zip(u.shape[2:], self.broken_experts):
            starts = [-(-p * n // e) for p in range(e)] + [n]  # first i with i * e // n == p
            ranges.append([slice(a, b) for a, b in zip(starts[:-1], starts[1:])])
        for block in itertools.product(*ranges):
            sub = tuple(c[s] for c, s in zip(coords, block))
            out[(slice(None), *block)] = self._residual(u[(slice(None), slice(None), *block)], sub)
        return out

    def _residual(self, u: Tensor, coords: tuple[Tensor, ...]) -> Tensor:
        q = self.features(u, coords)[:, :, 0].movedim(1, -1)
        return self.pointwise(q)[0]

    def condition_residual(self, u: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """Initial/boundary residual of ``u`` ``(B, 1, *S)``, ``(B, L)``."""
        coords = self.grid(tuple(u.shape[2:]), batch)
        lhs, rhs = self.condition_rows(u, batch, coords)
        return lhs[..., 0] - rhs


def _extrapolation(x: Tensor, end: str) -> tuple[int, int, Tensor]:
    """Linear extrapolation to the domain end ``"left"`` (0) or ``"right"`` (1) from the two grid
    points of an ascending grid ``x`` nearest to it: ``(i, j, θ)`` with
    ``u(end) ≈ (1 - θ) u_i + θ u_j``. ``θ`` is a 0-d tensor (no data-dependent Python value, so
    the rows can be traced for export)."""
    i, j, at = (0, 1, 0.0) if end == "left" else (-1, -2, 1.0)
    return i, j, (at - x[i]) / (x[j] - x[i])


class DiffusionSorptionResidual(PDEResidual):
    r"""Diffusion–sorption :math:`u_t - D/R(u)\,u_{xx} = 0` on ``(0, 1) × (0, t_end]``.

    Features ``[u, u_t, u_xx]`` by finite differences on the grid (``torch.gradient``: central
    inside, one-sided at the ends, :math:`u_{xx}` as the difference of :math:`u_x`, as in the
    PI-HC-MoE code, Chalapathi et al. ICLR 2024, App. C.1). Residual
    :math:`\rho = s\,(u_t - D u_{xx}/R(u))` with a row scale ``s`` (``residual_scale``; 1 in the
    paper). Rows: the initial condition :math:`u(x_j, 0) = u_0(x_j)` at every grid point, and at
    every time :math:`u(0, t) = 1` and :math:`u(1, t) + D u_x(1, t) = 0` (values at the domain ends
    by linear extrapolation from the two nearest grid points; the outflow sign of
    :mod:`sciml.solvers.fv.diffusion_sorption`). The paper's code uses relative initial rows
    :math:`(\hat u_0 - u_0)/u_0`, undefined where :math:`u_0 = 0`; ours are absolute.

    Parameters
    ----------
    params:
        Physical constants (PDEBench by default).
    t_end:
        Final time (500 s) of the default grid ``linspace(0, t_end, T)``.
    residual_scale:
        Factor on the PDE rows (1: the paper; ``t_end`` makes them the residual in the time
        ``t/t_end``, comparable in size to the condition rows).
    ic_key:
        Batch key of the initial condition: ``(B, X)``, or a field whose channel 0 at time index 0
        is :math:`u_0` (``"x"``: the basis network's input, the IC broadcast over ``t``).
    smoothing:
        Width :math:`\delta` of a smooth :math:`u^+` in the retardation, 0 (default) for the
        physics' :math:`\max(u, 0)`: :math:`R_\delta(u) = 1 + c\,(\delta\,\mathrm{softplus}
        (u/\delta) + \varepsilon)^{n_f-1}`. :math:`R` is singular at :math:`u = 0`
        (:math:`R' \propto u^{n_f-2}`, :math:`n_f < 1`) and has a kink there, so the least squares
        of a basis whose field crosses 0 is not smooth in the basis: its minimiser jumps under
        a perturbation of 1e-8 of the network and the implicit-function gradient does not
        describe the loss (measured: ``examples/hcmoe/diagnose_ds.py``). With
        :math:`\delta > 0` the law is smooth; it equals the physics' up to a relative
        :math:`O(e^{-u/\delta})` for :math:`u \gg \delta` (our extension, not in the paper).
    broken_experts:
        ``(T, X)`` blocks of a mixture of experts: :meth:`grid_residual` differentiates inside
        each block only (our extension; ``None``: the whole grid, as the paper).
    """

    n_features = 3

    def __init__(
        self,
        params: SorptionParameters | None = None,
        *,
        t_end: float = 500.0,
        residual_scale: float = 1.0,
        ic_key: str = "x",
        smoothing: float = 0.0,
        broken_experts: Sequence[int] | None = None,
    ) -> None:
        self.params = params or SorptionParameters()
        if broken_experts is not None:
            if len(broken_experts) != 2 or not all(
                isinstance(e, int) and e >= 1 for e in broken_experts
            ):
                raise ValueError(
                    f"broken_experts must be two positive integers (T, X blocks), got "
                    f"{broken_experts!r}"
                )
            self.broken_experts = tuple(broken_experts)
        if not t_end > 0:
            raise ValueError(f"t_end must be > 0, got {t_end!r}")
        if not residual_scale > 0:
            raise ValueError(f"residual_scale must be > 0, got {residual_scale!r}")
        if not smoothing >= 0:
            raise ValueError(f"smoothing must be >= 0, got {smoothing!r}")
        self.t_end = float(t_end)
        self.scale = float(residual_scale)
        self.ic_key = ic_key
        self.smoothing = float(smoothing)

    def retardation(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """:math:`R(u)` and :math:`R'(u)`, the physics' or smoothed (``smoothing``)."""
        p, delta = self.params, self.smoothing
        if delta == 0:
            return p.retardation(u), p.retardation_derivative(u)
        base = delta * torch.nn.functional.softplus(u / delta) + p.eps
        power = base ** (p.n_f - 1)
        slope = p.sorption * (p.n_f - 1) * power / base * torch.sigmoid(u / delta)
        return 1 + p.sorption * power, slope

    def grid(self, shape: tuple[int, ...], batch: Mapping[str, Tensor]) -> tuple[Tensor, ...]:
        if len(shape) != 2:
            raise ValueError(f"diffusion_sorption fields are (B, C, T, X), got spatial {shape}")
        n_t, n_x = shape
        if n_t < 2 or n_x < 3:
            raise ValueError(f"diffusion_sorption needs T >= 2 and X >= 3 grid points, got {shape}")
        coords = batch.get("coords")
        if coords is not None:  # (2, T, X) or (B, 2, T, X): (t, x)
            c = coords if coords.ndim == 3 else coords[0]
            return c[0, :, 0].double(), c[1, 0, :].double()
        t = torch.linspace(0.0, self.t_end, n_t, dtype=torch.float64)
        x = (torch.arange(n_x, dtype=torch.float64) + 0.5) / n_x
        return t, x

    def features(self, fields: Tensor, coords: tuple[Tensor, ...]) -> Tensor:
        t, x = (c.to(device=fields.device, dtype=fields.dtype) for c in coords)
        (u_t,) = torch.gradient(fields, spacing=(t,), dim=-2)
        (u_x,) = torch.gradient(fields, spacing=(x,), dim=-1)
        (u_xx,) = torch.gradient(u_x, spacing=(x,), dim=-1)
        return torch.stack([fields, u_t, u_xx], dim=1)

    def pointwise(self, q: Tensor) -> tuple[Tensor, Tensor]:
        u, u_t, u_xx = q.unbind(-1)
        p, s = self.params, self.scale
        retardation, slope = self.retardation(u)
        r_inv = 1 / retardation
        residual = s * (u_t - p.diffusion * u_xx * r_inv)
        d_u = s * p.diffusion * u_xx * slope * r_inv**2
        return residual, torch.stack([d_u, torch.full_like(u, s), -s * p.diffusion * r_inv], -1)

    def initial_condition(self, batch: Mapping[str, Tensor]) -> Tensor:
        """:math:`u_0` ``(B, X)`` from ``batch[ic_key]``."""
        if self.ic_key not in batch:
            raise KeyError(
                f"diffusion_sorption: the batch has no {self.ic_key!r} (the initial condition); "
                f"keys: {sorted(batch)}"
            )
        v = batch[self.ic_key]
        return v if v.ndim == 2 else v[:, 0, 0]

    def condition_rows(
        self, fields: Tensor, batch: Mapping[str, Tensor], coords: tuple[Tensor, ...]
    ) -> tuple[Tensor, Tensor]:
        _, x = coords
        u0 = self.initial_condition(batch).to(fields.dtype)
        ic = fields[:, :, 0, :].transpose(1, 2)  # (B, X, C)
        x = x.to(fields)
        i, j, th = _extrapolation(x, "left")
        left = ((1 - th) * fields[..., i] + th * fields[..., j]).transpose(1, 2)  # (B, T, C)
        i, j, th = _extrapolation(x, "right")
        end = (1 - th) * fields[..., i] + th * fields[..., j]
        slope = (fields[..., i] - fields[..., j]) / (x[i] - x[j])
        right = (end + self.params.diffusion * slope).transpose(1, 2)
        lhs = torch.cat([ic, left, right], dim=1)
        n_b, n_t = fields.shape[0], fields.shape[2]
        ones = torch.ones(n_b, n_t, dtype=fields.dtype, device=fields.device)
        rhs = torch.cat([u0, ones, torch.zeros_like(ones)], dim=1)
        return lhs, rhs

    def condition_locations(self, shape: tuple[int, ...]) -> list[int]:
        """Rows of :meth:`condition_rows`: the initial row of ``x_j`` at ``(0, j)``, the left
        and right boundary rows of ``t_i`` at ``(i, 0)`` and ``(i, X - 1)``."""
        n_t, n_x = shape
        return (
            list(range(n_x))
            + [i * n_x for i in range(n_t)]
            + [i * n_x + n_x - 1 for i in range(n_t)]
        )


class NavierStokesVorticityResidual(PDEResidual):
    r"""2D incompressible Navier–Stokes in vorticity form on the periodic box ``[0, L)²``.

    .. math:: \rho = s\,(\omega_t + u\,\omega_x + v\,\omega_y - \nu\Delta\omega),\qquad
              (u, v) = (\partial_y\psi, -\partial_x\psi),\ -\Delta\psi = \omega,

    unforced (PI-HC-MoE eq. 4, ``ν = 1e-4``, ``t ∈ [0, 5]``, ``L = 1``). Features
    ``[ω, ω_t, u, v, ω_x, ω_y, Δω]``: ``ω_t`` by finite differences in time (``torch.gradient``),
    the others spectrally with :class:`~sciml.solvers.spectral.navier_stokes2d.NavierStokes2D`'s
    velocity operator and :class:`~sciml.solvers.spectral.grid.Grid`'s wavenumbers (odd
    derivatives without the Nyquist mode). The residual is quadratic in the weights. Rows: the
    initial vorticity at every grid point; periodicity needs no boundary rows.

    **Mollifier** (``mollifier = c``, the paper's NS setup, App. C.2 and its code: ``c = 0.005``):
    :meth:`ansatz` gives :math:`\omega = \omega_0 + c\,(t/T)\,(b - \bar b)\cdot w` with
    :math:`\bar b` the spatial mean of each basis function, so the initial vorticity holds
    exactly and the correction keeps the (conserved) mean; the hard constraint then has no
    initial rows. ``None`` (default): no ansatz, the initial rows are least squares.

    Parameters
    ----------
    nu:
        Viscosity.
    t_end, length:
        Default time span of the grid ``linspace(0, t_end, T)`` and box size.
    residual_scale:
        Factor on the PDE rows.
    ic_key:
        Batch key of :math:`\omega_0`: ``(B, X, Y)`` or a field whose channel 0 at time index 0
        is :math:`\omega_0`.
    mollifier:
        Factor ``c`` of the ansatz above, or ``None``.
    """

    n_features = 7

    def __init__(
        self,
        *,
        nu: float = 1e-4,
        t_end: float = 5.0,
        length: float = 1.0,
        residual_scale: float = 1.0,
        ic_key: str = "x",
        mollifier: float | None = None,
    ) -> None:
        for name, value in (("nu", nu), ("t_end", t_end), ("length", length)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if not residual_scale > 0:
            raise ValueError(f"residual_scale must be > 0, got {residual_scale!r}")
        if mollifier is not None and not mollifier > 0:
            raise ValueError(f"mollifier must be > 0 or None, got {mollifier!r}")
        self.nu, self.t_end, self.length = float(nu), float(t_end), float(length)
        self.scale = float(residual_scale)
        self.ic_key = ic_key
        self.mollifier = None if mollifier is None else float(mollifier)

    def grid(self, shape: tuple[int, ...], batch: Mapping[str, Tensor]) -> tuple[Tensor, ...]:
        if len(shape) != 3 or shape[0] < 2:
            raise ValueError(
                f"navier_stokes2d fields are (B, C, T, X, Y) with T >= 2, got spatial {shape}"
            )
        n_t, n_x, n_y = shape
        t = torch.linspace(0.0, self.t_end, n_t, dtype=torch.float64)
        x = torch.arange(n_x, dtype=torch.float64) * self.length / n_x
        y = torch.arange(n_y, dtype=torch.float64) * self.length / n_y
        return t, x, y

    def features(self, fields: Tensor, coords: tuple[Tensor, ...]) -> Tensor:
        t = coords[0].to(device=fields.device, dtype=fields.dtype)
        (w_t,) = torch.gradient(fields, spacing=(t,), dim=2)
        grid = Grid(tuple(fields.shape[-2:]), self.length, dtype=fields.dtype, device=fields.device)
        w_hat = grid.rfft(fields)
        u_hat, v_hat = NavierStokes2D(grid, nu=self.nu).velocity_hat(w_hat)
        ikx = 1j * grid.wavenumber(0, odd=True)
        iky = 1j * grid.wavenumber(1, odd=True)
        spectra = [u_hat, v_hat, ikx * w_hat, iky * w_hat, grid.laplacian_symbol() * w_hat]
        return torch.stack([fields, w_t, *(grid.irfft(s) for s in spectra)], dim=1)

    def pointwise(self, q: Tensor) -> tuple[Tensor, Tensor]:
        _, w_t, u, v, w_x, w_y, lap = q.unbind(-1)
        s = self.scale
        residual = s * (w_t + u * w_x + v * w_y - self.nu * lap)
        grads = [torch.zeros_like(w_t), torch.ones_like(w_t), w_x, w_y, u, v]
        grads.append(torch.full_like(w_t, -self.nu))
        return residual, s * torch.stack(grads, -1)

    def initial_vorticity(self, batch: Mapping[str, Tensor]) -> Tensor:
        r""":math:`\omega_0` ``(B, X, Y)`` from ``batch[ic_key]``."""
        if self.ic_key not in batch:
            raise KeyError(
                f"navier_stokes2d: the batch has no {self.ic_key!r} (the initial vorticity); "
                f"keys: {sorted(batch)}"
            )
        w0 = batch[self.ic_key]
        return w0 if w0.ndim == 3 else w0[:, 0, 0]

    def condition_rows(
        self, fields: Tensor, batch: Mapping[str, Tensor], coords: tuple[Tensor, ...]
    ) -> tuple[Tensor, Tensor]:
        w0 = self.initial_vorticity(batch)
        lhs = fields[:, :, 0].flatten(2).transpose(1, 2)  # (B, X·Y, C)
        return lhs, w0.flatten(1).to(fields.dtype)

    def condition_locations(self, shape: tuple[int, ...]) -> list[int]:
        """The initial row of ``(x_i, y_j)`` sits at the grid point ``(0, i, j)``."""
        return list(range(shape[1] * shape[2]))

    def ansatz(
        self, basis: Tensor, batch: Mapping[str, Tensor], coords: tuple[Tensor, ...]
    ) -> tuple[Tensor, Tensor | None]:
        if self.mollifier is None:
            return basis, None
        t = coords[0].to(device=basis.device, dtype=basis.dtype)
        ramp = (self.mollifier / self.t_end * t)[:, None, None]  # (T, 1, 1)
        shaped = ramp * (basis - basis.mean(dim=(-2, -1), keepdim=True))
        w0 = self.initial_vorticity(batch).to(basis)
        return shaped, w0[:, None, None].expand(-1, 1, *basis.shape[2:])


#: PDE name → residual class (the ``pde:`` option of the hard constraint)
PDES: dict[str, type[PDEResidual]] = {
    "diffusion_sorption": DiffusionSorptionResidual,
    "navier_stokes2d": NavierStokesVorticityResidual,
}
