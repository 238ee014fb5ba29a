r"""ProbConserv: a conservation law as an exact Bayesian update of any Gaussian prediction.

A probabilistic model predicts :math:`u \sim \mathcal N(\mu, \Sigma)` on a grid. The integral
conservation law :math:`\int u(t, x)\,dx = U(t)` becomes, per time slice, the noisy linear
observation :math:`G u = b + \varepsilon`, :math:`\varepsilon \sim \mathcal N(0, \sigma_G^2 I)`,
with :math:`G` the quadrature weights over :math:`x` and :math:`b = U(t)`. Conditioning gives
(Hansen et al., "Learning Physical Models that Can Respect Conservation Laws", ICML 2023,
arXiv 2302.11002, Eq. 4)

.. math::
    \tilde\mu = \mu - \Sigma G^\top (\sigma_G^2 I + G\Sigma G^\top)^{-1}(G\mu - b), \qquad
    \tilde\Sigma = \Sigma - \Sigma G^\top (\sigma_G^2 I + G\Sigma G^\top)^{-1} G\Sigma.

Modes (:data:`MODES`):

* ``"probconserv"`` — the exact limit :math:`\sigma_G = 0`: :math:`G\tilde\mu = b` to round-off;
* ``"soft"`` — finite noise variance :math:`\sigma_G^2 > 0` (precision :math:`1/\sigma_G^2`); with
  one row :math:`g` the residual shrinks by :math:`\sigma_G^2/(\sigma_G^2 + g\Sigma g^\top)`;
* ``"hardc"`` — HardC: :math:`\Sigma = I`, :math:`\sigma_G = 0` for the mean,
  :math:`\mu - G^\top(GG^\top)^{-1}(G\mu - b)` (the Euclidean projection), variance unchanged.

The algebra runs in float64 whatever the input dtype (the :math:`M\times M` system
:math:`\sigma_G^2 I + G\Sigma G^\top` is solved with :func:`torch.linalg.solve`), batched over all
leading axes; results are cast back to the input dtype, so the exact limit holds to float64
round-off only for float64 inputs. Everything is differentiable (gradcheck in the tests).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from sciml.constraints.base import Constraint, Output
from sciml.models.outputs import GaussianOutput, is_gaussian
from sciml.registry import CONSTRAINTS
from sciml.solvers.gpme import PROBLEMS, total_mass

__all__ = [
    "MODES",
    "ProbConserv",
    "conservation_update",
    "periodic_weights",
    "trapezoid_weights",
]

MODES = ("probconserv", "soft", "hardc")
QUADRATURES = ("trapezoid", "periodic")


def _check_sorted(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.ndim < 1 or x.shape[-1] < 2:
        raise ValueError(
            f"{name}: grid x needs at least 2 points on its last axis, got {tuple(x.shape)}"
        )
    dx = x.diff(dim=-1)
    if not bool((dx > 0).all()):
        bad = int((dx <= 0).nonzero()[0, -1])
        raise ValueError(
            f"{name}: grid x must be strictly increasing along its last axis; "
            f"x[{bad}] = {float(x[..., bad].flatten()[0]):g} >= x[{bad + 1}] "
            f"(sort the grid and the field together)"
        )
    return dx


def trapezoid_weights(x: torch.Tensor) -> torch.Tensor:
    r"""Trapezoid quadrature weights on a sorted, possibly non-uniform grid, ``(..., n)``.

    :math:`g_i = (\Delta x_{i-1} + \Delta x_i)/2` with :math:`\Delta x_i = x_{i+1} - x_i` and the
    end weights halved (:math:`g_0 = \Delta x_0/2`, :math:`g_{n-1} = \Delta x_{n-2}/2`), so
    :math:`\sum_i g_i u_i` is the trapezoid rule for :math:`\int_{x_0}^{x_{n-1}} u\,dx`. An
    unsorted grid is an error (its weights would be negative).
    """
    half = 0.5 * _check_sorted(x, "trapezoid_weights")
    zero = torch.zeros_like(x[..., :1])
    return torch.cat([half, zero], dim=-1) + torch.cat([zero, half], dim=-1)


def periodic_weights(x: torch.Tensor, period: float) -> torch.Tensor:
    r"""Quadrature weights of a periodic grid (the endpoint :math:`x_0 + L` not stored), ``(..., n)``.

    :math:`g_i = (x_{i+1} - x_{i-1})/2` with :math:`x_n = x_0 + L`, :math:`x_{-1} = x_{n-1} - L`:
    on a uniform grid every weight is :math:`L/n` (the rectangle rule, exact for trigonometric
    polynomials of degree below :math:`n`).
    """
    _check_sorted(x, "periodic_weights")
    if not float(x[..., -1].max() - x[..., 0].min()) < period:
        raise ValueError(f"periodic_weights: the grid must span less than period={period:g}")
    right = torch.cat([x[..., 1:], x[..., :1] + period], dim=-1)
    left = torch.cat([x[..., -1:] - period, x[..., :-1]], dim=-1)
    return 0.5 * (right - left)


def conservation_update(
    mean: torch.Tensor,
    cov: torch.Tensor,
    weights: torch.Tensor,
    target: torch.Tensor,
    *,
    mode: str = "probconserv",
    noise_var: float = 0.0,
    full_covariance: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Condition :math:`\mathcal N(\mu, \Sigma)` on :math:`Gu = b` (module docstring), batched.

    Parameters
    ----------
    mean:
        :math:`\mu`, ``(..., N)``.
    cov:
        :math:`\Sigma`: its diagonal ``(..., N)`` (independent points, all entries > 0) or the full
        SPD matrix ``(..., N, N)``.
    weights:
        :math:`G`: one row ``(..., N)`` (as many axes as ``mean``) or ``M`` rows ``(..., M, N)``
        (one more), the leading axes broadcasting with those of ``mean``.
    target:
        :math:`b`: ``(...)`` for one row, ``(..., M)`` for ``M`` rows.
    mode:
        ``"probconserv"`` (:math:`\sigma_G = 0`), ``"soft"`` (``noise_var`` :math:`= \sigma_G^2 > 0`)
        or ``"hardc"`` (:math:`\Sigma = I` for the mean, covariance returned unchanged).
    noise_var:
        :math:`\sigma_G^2`; only for ``mode="soft"``.
    full_covariance:
        Return the full :math:`\tilde\Sigma` ``(..., N, N)`` even for a diagonal ``cov`` (the
        update is a rank-``M`` correction, so :math:`\tilde\Sigma` is not diagonal); by default a
        diagonal ``cov`` gives the diagonal of :math:`\tilde\Sigma`.

    Returns
    -------
    mean, cov
        :math:`\tilde\mu` ``(..., N)`` and :math:`\tilde\Sigma` (diagonal ``(..., N)`` or full),
        in the dtype of ``mean``.
    """
    if mode not in MODES:
        raise ValueError(f"conservation_update: mode must be one of {MODES}, got {mode!r}")
    if mode == "soft" and not noise_var > 0:
        raise ValueError(f"conservation_update: mode 'soft' needs noise_var > 0, got {noise_var!r}")
    if mode != "soft" and noise_var != 0:
        raise ValueError(
            f"conservation_update: noise_var={noise_var!r} is only used by mode 'soft' "
            f"(mode {mode!r} has sigma_G = 0)"
        )
    n = mean.shape[-1]
    diagonal = cov.shape == mean.shape
    if not diagonal and cov.shape != (*mean.shape, n):
        raise ValueError(
            f"conservation_update: cov must be the variance {tuple(mean.shape)} or the full "
            f"covariance {(*mean.shape, n)}, got {tuple(cov.shape)}"
        )
    variance = cov if diagonal else cov.diagonal(dim1=-2, dim2=-1)
    # (an export trace cannot branch on values; the eager call before it has checked them)
    if not torch.compiler.is_exporting() and not bool((variance > 0).all()):
        raise ValueError(
            "conservation_update: the variance must be > 0 everywhere, got min "
            f"{float(variance.min()):g} (a model's var output must be positive, e.g. softplus)"
        )
    if weights.ndim not in (mean.ndim, mean.ndim + 1):
        raise ValueError(
            f"conservation_update: weights must be one row (..., N) with the ndim of mean "
            f"({mean.ndim}) or rows (..., M, N) with one more, got {tuple(weights.shape)}"
        )
    one_row = weights.ndim == mean.ndim
    g = (weights.unsqueeze(-2) if one_row else weights).to(torch.float64)
    b = (target.unsqueeze(-1) if one_row else target).to(torch.float64)
    if g.shape[-1] != n:
        raise ValueError(
            f"conservation_update: weights have {g.shape[-1]} columns, mean has {n} points"
        )
    batch = torch.broadcast_shapes(mean.shape[:-1], g.shape[:-2])
    if b.shape != (*batch, g.shape[-2]):
        raise ValueError(
            f"conservation_update: target must have shape {tuple(batch) if one_row else (*batch, g.shape[-2])} "
            f"(one value per conservation row and slice), got {tuple(target.shape)}"
        )
    mu = mean.to(torch.float64)
    sigma = cov.to(torch.float64)
    residual = (g @ mu.unsqueeze(-1)).squeeze(-1) - b  # (..., M)
    if mode == "hardc":
        gram = g @ g.transpose(-1, -2)
        step = torch.linalg.solve(gram, residual.unsqueeze(-1))
        new_mean = mu - (g.transpose(-1, -2) @ step).squeeze(-1)
        return new_mean.to(mean.dtype), cov
    # a = G Σ (..., M, N); s = σ_G² I + G Σ Gᵀ (..., M, M)
    a = g * sigma.unsqueeze(-2) if diagonal else g @ sigma
    s = a @ g.transpose(-1, -2)
    if mode == "soft":
        s = s + noise_var * torch.eye(s.shape[-1], dtype=s.dtype, device=s.device)
    gain = torch.linalg.solve(s, torch.cat([residual.unsqueeze(-1), a], dim=-1))  # S⁻¹ [r, GΣ]
    new_mean = mu - (a.transpose(-1, -2) @ gain[..., :1]).squeeze(-1)
    if diagonal and not full_covariance:
        new_cov = sigma - (a * gain[..., 1:]).sum(dim=-2)
    else:
        full = torch.diag_embed(sigma) if diagonal else sigma
        new_cov = full - a.transpose(-1, -2) @ gain[..., 1:]
    return new_mean.to(mean.dtype), new_cov.to(mean.dtype)


@CONSTRAINTS.register("probconserv")
class ProbConserv(Constraint):
    r"""The ProbConserv update as a constraint layer on a model's physical-units output.

    The conserved integral runs over the **last axis** of the output (``x``); every other axis
    (batch, channel, time) indexes independent slices, each with one conservation row
    :math:`g = ` quadrature weights of ``x`` and target :math:`b = U(t)`. A ``(B, n_t, n_x)``
    field or a ``(B, C, n_t, n_x)`` / ``(B, C, n_x)`` grid output all work.

    Parameters
    ----------
    mode:
        ``"probconserv"`` (exact limit), ``"soft"`` or ``"hardc"`` (see :data:`MODES`). A plain
        tensor output (a deterministic model) accepts only ``"hardc"``.
    noise_var:
        :math:`\sigma_G^2` for ``mode="soft"``.
    quadrature:
        ``"trapezoid"`` (sorted, possibly non-uniform grid with both ends) or ``"periodic"``
        (endpoint not stored; needs ``period``).
    period:
        Domain length :math:`L` for ``quadrature="periodic"``.
    coords_key, coord_index:
        ``batch[coords_key]`` holds ``x``: any shape that broadcasts against the output with the
        grid on its last axis (``(n_x,)``, ``(B, 1, n_x)``, ``(B, n_t, n_x)`` for per-time grids).
        With ``coord_index`` set it is read in the datasets' ``(B, d, *S)`` layout and component
        ``coord_index`` is used.
    problem:
        A GPME problem (``heat``, ``pme``, ``stefan``; :data:`sciml.solvers.gpme.PROBLEMS`): the
        target is its exact mass ``U(t)`` from ``batch[t_key]`` (broadcasting against the output's
        slices, e.g. ``(B, n_t)``) and ``batch[parameter_key]`` ``(B,)``. ``None``: the target is
        ``batch[mass_key]`` with shape ``output.shape[:-1]``.
    coords:
        The data's grid ``(d, *S)`` (a spec-built constraint gets the training grid from the task,
        e.g. ``(t, x)`` of a ``space_time`` dataset): used when the batch has no
        ``batch[coords_key]`` (a model called on its inputs alone, as ``sciml.load`` and export
        do). Its component ``coord_index`` (default the last) is ``x``; the quadrature weights
        are computed once, here.
    time_index:
        Component of ``coords`` holding ``t`` (constant along ``x``), for ``problem`` targets
        when the batch has no ``batch[t_key]``.
    parameter_channel:
        Input channel of ``batch["x"]`` holding the problem's parameter as a constant field (a
        per-trajectory scalar input of a ``space_time`` dataset), for ``problem`` targets when
        the batch has no ``batch[parameter_key]``: the target is then a function of the model's
        inputs, so it holds in training, evaluation, ``sciml.load`` and export alike.

    ``forward(output, batch)`` returns the constrained :class:`GaussianOutput` (the diagonal of
    :math:`\tilde\Sigma`) or tensor; :meth:`posterior` returns the mean and the full
    :math:`\tilde\Sigma` ``(*slices, n_x, n_x)`` for correlated posterior samples.
    """

    def __init__(
        self,
        mode: str = "probconserv",
        *,
        noise_var: float = 0.0,
        quadrature: str = "trapezoid",
        period: float | None = None,
        coords_key: str = "coords",
        coord_index: int | None = None,
        problem: str | None = None,
        t_key: str = "t",
        parameter_key: str = "param",
        mass_key: str = "mass",
        coords: list | torch.Tensor | None = None,
        time_index: int | None = None,
        parameter_channel: int | None = None,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"probconserv: mode must be one of {MODES}, got {mode!r}")
        if quadrature not in QUADRATURES:
            raise ValueError(
                f"probconserv: quadrature must be one of {QUADRATURES}, got {quadrature!r}"
            )
        if (quadrature == "periodic") != (period is not None):
            raise ValueError(
                f"probconserv: period is required by quadrature 'periodic' and only by it "
                f"(got quadrature={quadrature!r}, period={period!r})"
            )
        if period is not None and not period > 0:
            raise ValueError(f"probconserv: period must be > 0, got {period!r}")
        if problem is not None and problem not in PROBLEMS:
            raise ValueError(
                f"probconserv: problem must be one of {sorted(PROBLEMS)} or None, got {problem!r}"
            )
        # the same checks as the functional form, at construction time
        if mode == "soft" and not noise_var > 0:
            raise ValueError(f"probconserv: mode 'soft' needs noise_var > 0, got {noise_var!r}")
        if mode != "soft" and noise_var != 0:
            raise ValueError(
                f"probconserv: noise_var is only used by mode 'soft', got {noise_var!r}"
            )
        self.mode, self.noise_var = mode, float(noise_var)
        self.quadrature, self.period = quadrature, period
        self.coords_key, self.coord_index = coords_key, coord_index
        self.problem, self.t_key, self.parameter_key, self.mass_key = (
            problem,
            t_key,
            parameter_key,
            mass_key,
        )
        self.parameter_channel = parameter_channel
        grid = None if coords is None else torch.as_tensor(coords, dtype=torch.float64)
        self._has_grid = grid is not None
        if grid is not None:
            if grid.ndim < 2:
                raise ValueError(
                    f"probconserv: coords must be the grid (d, *S), got shape {tuple(grid.shape)}"
                )
            x = grid[-1 if coord_index is None else coord_index]
            g = trapezoid_weights(x) if period is None else periodic_weights(x, period)
            self.register_buffer("grid_weights", g, persistent=False)
            if time_index is not None:
                if not 0 <= time_index < grid.shape[0]:
                    raise ValueError(
                        f"probconserv: time_index={time_index} is not a component of coords "
                        f"with {grid.shape[0]} components"
                    )
                self.register_buffer("grid_time", grid[time_index][..., 0], persistent=False)
        if (time_index is not None or parameter_channel is not None) and problem is None:
            raise ValueError(
                "probconserv: time_index and parameter_channel give the target of a problem; "
                f"set problem= (one of {sorted(PROBLEMS)})"
            )
        if time_index is not None and grid is None:
            raise ValueError("probconserv: time_index needs coords (the data's grid)")

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, noise_var={self.noise_var:g}, quadrature={self.quadrature!r}"

    def weights(self, batch: Mapping[str, torch.Tensor], mean: torch.Tensor) -> torch.Tensor:
        """Quadrature row(s) ``g`` broadcasting against ``mean``, from ``batch[coords_key]``
        (or, without it, from the data's grid given at construction)."""
        if self.coords_key not in batch and self._has_grid:
            g = self.grid_weights
            if tuple(g.shape) != tuple(mean.shape[-g.ndim :]):
                raise ValueError(
                    f"probconserv: the data's grid {tuple(g.shape)} does not match the output's "
                    f"last axes {tuple(mean.shape)}"
                )
            return g.expand(mean.shape)
        if self.coords_key not in batch:
            raise KeyError(
                f"probconserv: the batch has no {self.coords_key!r} (grid x); keys: {sorted(batch)}"
            )
        x = batch[self.coords_key]
        if self.coord_index is not None:
            x = x[:, self.coord_index].unsqueeze(1)
        if x.shape[-1] != mean.shape[-1]:
            raise ValueError(
                f"probconserv: grid {self.coords_key!r} has {x.shape[-1]} points on its last axis, "
                f"the output {mean.shape[-1]}"
            )
        x = x.to(torch.float64)
        g = trapezoid_weights(x) if self.period is None else periodic_weights(x, self.period)
        try:
            return g.expand(mean.shape)
        except RuntimeError:
            raise ValueError(
                f"probconserv: grid shape {tuple(x.shape)} does not broadcast against the output "
                f"{tuple(mean.shape)}"
            ) from None

    def target(self, batch: Mapping[str, torch.Tensor], mean: torch.Tensor) -> torch.Tensor:
        """The conserved value ``b`` per slice, shape ``mean.shape[:-1]``."""
        slices = mean.shape[:-1]
        if self.problem is None:
            if self.mass_key not in batch:
                raise KeyError(
                    f"probconserv: the batch has no {self.mass_key!r} (the conserved mass per slice); "
                    f"keys: {sorted(batch)}; or set problem= to compute it"
                )
            b = batch[self.mass_key]
        else:
            t, param = self._time(batch), self._parameter(batch)
            param = param.reshape(param.shape[0], *([1] * (len(slices) - 1)))
            b = total_mass(self.problem, t, param)
            if b.ndim <= len(slices) and all(
                i in (1, j) for i, j in zip(b.shape[::-1], slices[::-1])
            ):
                b = b.expand(slices)
        if b.shape != slices:
            raise ValueError(
                f"probconserv: the conservation target must have shape {tuple(slices)} (one value "
                f"per slice of the output {tuple(mean.shape)}), got {tuple(b.shape)}"
            )
        return b

    def _time(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``t`` of the slices: ``batch[t_key]``, else the data's time axis."""
        if self.t_key in batch:
            return batch[self.t_key].to(torch.float64)
        if hasattr(self, "grid_time"):
            return self.grid_time
        raise KeyError(
            f"probconserv: problem {self.problem!r} needs batch[{self.t_key!r}] or time_index "
            f"(the time component of the data's coords); keys: {sorted(batch)}"
        )

    def _parameter(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The problem parameter ``(B,)``: ``batch[parameter_key]``, else the constant input
        channel ``parameter_channel`` of ``batch["x"]``."""
        if self.parameter_key in batch:
            return batch[self.parameter_key].to(torch.float64)
        if self.parameter_channel is not None and "x" in batch:
            x = batch["x"]
            if not 0 <= self.parameter_channel < x.shape[1]:
                raise ValueError(
                    f"probconserv: parameter_channel={self.parameter_channel} is not a channel "
                    f"of the input with {x.shape[1]}"
                )
            return x[:, self.parameter_channel].flatten(1)[:, 0].to(torch.float64)
        raise KeyError(
            f"probconserv: problem {self.problem!r} needs batch[{self.parameter_key!r}] or "
            f"parameter_channel (the input channel holding it); keys: {sorted(batch)}"
        )

    def forward(self, output: Output, batch: Mapping[str, torch.Tensor]) -> Output:
        """Constrained output: ``GaussianOutput`` (diagonal variance) or, for ``hardc``, a tensor."""
        if not is_gaussian(output):
            if self.mode != "hardc":
                raise ValueError(
                    f"probconserv: mode {self.mode!r} needs a (mean, var) output; a deterministic "
                    "model gives one tensor: use mode 'hardc'"
                )
            mean = output
            cov = torch.ones_like(mean)
        else:
            mean, cov = output
        new_mean, new_var = conservation_update(
            mean,
            cov,
            self.weights(batch, mean),
            self.target(batch, mean),
            mode=self.mode,
            noise_var=self.noise_var,
        )
        return GaussianOutput(new_mean, new_var) if is_gaussian(output) else new_mean

    def defect(self, output: Output, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        r"""The conservation error :math:`G\mu - b` per slice, ``mean.shape[:-1]`` (float64)."""
        mean = (output[0] if is_gaussian(output) else output).to(torch.float64)
        return (self.weights(batch, mean) * mean).sum(-1) - self.target(batch, mean)

    def posterior(
        self, output: GaussianOutput, batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Mean ``(*slices, n_x)`` and full covariance :math:`\tilde\Sigma` ``(*slices, n_x, n_x)``.

        For ``hardc`` the covariance is the model's (diagonal, embedded as a matrix).
        """
        mean, var = output
        new_mean, cov = conservation_update(
            mean,
            var,
            self.weights(batch, mean),
            self.target(batch, mean),
            mode=self.mode,
            noise_var=self.noise_var,
            full_covariance=True,
        )
        return new_mean, torch.diag_embed(cov) if cov.shape == mean.shape else cov
