"""Training losses for fields on grids: relative Lp, mean squared error and relative H1.

Every loss is an ``nn.Module`` called as ``loss(pred, target)`` with two tensors of the same shape
``(B, C, *S)`` (``S`` the spatial grid) and returns a scalar. Relative losses are computed *per
sample* and then averaged (or summed) over the batch, as in the FNO paper and neuraloperator's
``LpLoss``/``H1Loss``, so that samples of small amplitude weigh as much as large ones.

References
----------
Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021
(relative L2 training loss, Sec. 5); Z. Li et al., "Learning dissipative dynamics in chaotic
systems" (Markov neural operator), NeurIPS 2022 (Sobolev-norm losses).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from sciml.models.config import strict_config
from sciml.registry import LOSSES
from sciml.solvers.norms import DERIVATIVES, h1_squared_norm

__all__ = [
    "RelativeLpLoss",
    "ChannelGroupL1Loss",
    "MSELoss",
    "H1Loss",
    "TrajectoryMSELoss",
    "GaussianNLLLoss",
]

_REDUCTIONS = ("mean", "sum")
#: where a loss compares prediction and target: in physical units, or after the model's output
#: normalizer (``encode``), as neuraloperator's ``Trainer`` does (its data processor normalizes
#: the target during training and the model's raw output is never decoded before the loss)
SPACES = ("physical", "normalized")


def _check_pair(name: str, pred: torch.Tensor, target: torch.Tensor, min_ndim: int) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}"
        )
    if pred.ndim < min_ndim:
        raise ValueError(
            f"{name}: expected tensors with at least {min_ndim} dims (B, C, *S), "
            f"got shape {tuple(pred.shape)}"
        )


def _check_reduction(name: str, reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction={reduction!r} is not one of {list(_REDUCTIONS)}")
    return reduction


def _check_space(name: str, space: str) -> str:
    if space not in SPACES:
        raise ValueError(f"{name}: space={space!r} is not one of {list(SPACES)}")
    return space


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    return per_sample.mean() if reduction == "mean" else per_sample.sum()


class RelativeLpLoss(nn.Module):
    r"""Relative :math:`L^p` error per sample, reduced over the batch.

    .. math:: \ell = \operatorname{reduce}_b
        \frac{\lVert \hat u_b - u_b \rVert_p}{\lVert u_b \rVert_p},
        \qquad \lVert v \rVert_p = \Big(\sum_{c, x} |v_{c,x}|^p\Big)^{1/p},

    the norm taken over all non-batch entries. Grid-cell volumes cancel in the ratio, so the value
    is the relative error of the continuous :math:`L^p` norm on a uniform grid (neuraloperator's
    ``LpLoss``; the loss of Li et al. 2021).

    Parameters
    ----------
    p:
        Order of the norm, ``p > 0`` (``p = 2`` default).
    reduction:
        ``"mean"`` (default) or ``"sum"`` over the batch (the FNO reference code sums and divides
        by the dataset size at the end of an epoch).
    space:
        ``"physical"`` (default) or ``"normalized"``: compare ``encode(û)`` with ``encode(u)``,
        ``encode`` the model's fitted output normalizer (applied by
        :class:`~sciml.training.loss_terms.LossTerms`, which the trainer binds to the model).

    Notes
    -----
    Inputs ``(B, ...)``, any trailing shape; output a scalar. A target that is identically zero
    has no relative error and gives ``inf``/``nan``.
    """

    def __init__(self, p: float = 2.0, reduction: str = "mean", space: str = "physical") -> None:
        super().__init__()
        if not p > 0:
            raise ValueError(f"relative_lp: p must be > 0, got {p!r}")
        self.p = float(p)
        self.reduction = _check_reduction("relative_lp", reduction)
        self.space = _check_space("relative_lp", space)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``(B, ...)`` pair → scalar."""
        _check_pair("relative_lp", pred, target, min_ndim=2)
        diff = torch.linalg.vector_norm((pred - target).flatten(1), ord=self.p, dim=1)
        norm = torch.linalg.vector_norm(target.flatten(1), ord=self.p, dim=1)
        return _reduce(diff / norm, self.reduction)


class ChannelGroupL1Loss(nn.Module):
    r"""Poseidon's channel-group-normalised L1 loss (Herde et al., NeurIPS 2024, §3; ``scOT``'s
    ``channel_slice_list_normalized_loss``),

    .. math:: \ell = \frac{1}{G} \sum_{g=1}^{G}
        \frac{\operatorname{mean}_{b, c \in g, x} |\hat u_{b,c,x} - u_{b,c,x}|}
             {\operatorname{mean}_{b, c \in g, x} |u_{b,c,x}| + \varepsilon},

    the means taken over the **whole batch** (as ``torch.nn.functional.l1_loss`` in the original),
    not per sample as :class:`RelativeLpLoss`: each group of channels (e.g. ``[u, v]`` and a
    tracer ``[c]``) weighs the same whatever its magnitude, and within a group large samples weigh
    more than small ones. With one group it is the batch's relative L1 error.

    Parameters
    ----------
    groups:
        Channel indices of each group, e.g. ``[[0, 1], [2]]`` (disjoint; channels in no group are
        ignored). Default: one group of all channels.
    eps:
        :math:`\varepsilon` (Poseidon: ``1e-10``).
    space:
        ``"physical"`` (default) or ``"normalized"`` (compare after the model's output normalizer,
        as Poseidon does with its normalised data; see :class:`RelativeLpLoss`).

    Notes
    -----
    Inputs ``(B, C, *S)``; output a scalar.
    """

    def __init__(
        self,
        groups: Sequence[Sequence[int]] | None = None,
        eps: float = 1e-10,
        space: str = "physical",
    ) -> None:
        super().__init__()
        if groups is not None:
            flat = [c for g in groups for c in (g if isinstance(g, (list, tuple)) else [None])]
            if (
                not groups
                or any(not isinstance(g, (list, tuple)) or not g for g in groups)
                or any(not isinstance(c, int) or isinstance(c, bool) or c < 0 for c in flat)
                or len(set(flat)) != len(flat)
            ):
                raise ValueError(
                    f"channel_group_l1: groups={groups!r} must be a non-empty list of non-empty, "
                    "disjoint lists of channel indices >= 0, e.g. [[0, 1], [2]]"
                )
        if not eps >= 0:
            raise ValueError(f"channel_group_l1: eps must be >= 0, got {eps!r}")
        self.groups = None if groups is None else [[int(c) for c in g] for g in groups]
        self.eps = float(eps)
        self.space = _check_space("channel_group_l1", space)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``(B, C, *S)`` pair → scalar."""
        _check_pair("channel_group_l1", pred, target, min_ndim=2)
        groups = self.groups or [list(range(target.shape[1]))]
        top = max(c for g in groups for c in g)
        if top >= target.shape[1]:
            raise ValueError(
                f"channel_group_l1: groups={self.groups} name channel {top}, but the fields have "
                f"{target.shape[1]} channels"
            )
        ratios = []
        for g in groups:
            index = torch.tensor(g, device=target.device)
            p, t = pred.index_select(1, index), target.index_select(1, index)
            ratios.append((p - t).abs().mean() / (t.abs().mean() + self.eps))
        return torch.stack(ratios).mean()


class MSELoss(nn.Module):
    r"""Mean squared error :math:`\operatorname{reduce}_b \operatorname{mean}_{c,x}
    (\hat u_{b,c,x} - u_{b,c,x})^2`.

    With ``reduction="mean"`` this is the mean over all entries (as ``torch.nn.MSELoss``).

    Parameters
    ----------
    reduction:
        ``"mean"`` (default) or ``"sum"`` of the per-sample means over the batch.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction("mse", reduction)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``(B, ...)`` pair → scalar."""
        _check_pair("mse", pred, target, min_ndim=2)
        return _reduce((pred - target).square().flatten(1).mean(dim=1), self.reduction)


class H1Loss(nn.Module):
    r"""Relative :math:`H^1` error per sample, reduced over the batch.

    With the volume-normalized norm
    :math:`\lVert v \rVert_{H^1}^2 = \frac{1}{|\Omega|}\int_\Omega |v|^2 + |\nabla v|^2\,dx`
    (summed over channels), the loss is
    :math:`\operatorname{reduce}_b \lVert \hat u_b - u_b\rVert_{H^1} / \lVert u_b\rVert_{H^1}`.

    *Periodic* grids (default) use Parseval's identity with the real FFT over the spatial axes:

    .. math:: \lVert v \rVert_{H^1}^2 = \frac{1}{N^2} \sum_k \big(1 + |\kappa_k|^2\big)
        |\hat v_k|^2, \qquad \kappa_{k,d} = 2\pi k_d / L_d,

    which differentiates band-limited fields exactly. *Non-periodic* grids (``periodic=False``)
    use second-order central differences inside and first-order one-sided differences at the
    boundary (``torch.gradient``) on a grid that includes both end points.

    Parameters
    ----------
    periodic:
        Periodic grid (``True``: spacing ``L/n``) or one with both end points (``False``).
    derivative:
        ``"spectral"`` (default on periodic grids) or ``"finite_difference"`` (non-periodic
        grids: ``torch.gradient``; periodic grids: central differences that wrap around, as
        neuraloperator's ``H1Loss``); see :func:`sciml.solvers.norms.h1_squared_norm`.
    domain_length:
        Physical length :math:`L_d` of the domain along each spatial axis (one float for all
        axes, or one per axis). It sets the balance between the value and gradient terms. On a
        periodic grid of ``n`` points the spacing is ``L/n``, on a non-periodic one ``L/(n-1)``.
    reduction:
        ``"mean"`` (default) or ``"sum"`` over the batch.
    space:
        ``"physical"`` (default) or ``"normalized"`` (the norms of ``encode(û) - encode(u)`` and
        ``encode(u)``, ``encode`` the model's output normalizer, as neuraloperator's ``H1Loss``
        inside its ``Trainer``; see :class:`RelativeLpLoss`).

    Notes
    -----
    Inputs ``(B, C, *S)`` with at least one spatial axis; output a scalar.
    """

    def __init__(
        self,
        periodic: bool = True,
        domain_length: float | Sequence[float] = 1.0,
        reduction: str = "mean",
        space: str = "physical",
        derivative: str | None = None,
    ) -> None:
        super().__init__()
        lengths = (
            [domain_length] if isinstance(domain_length, (int, float)) else list(domain_length)
        )
        if not lengths or any(not length > 0 for length in lengths):
            raise ValueError(f"h1: domain_length must be positive, got {domain_length!r}")
        self.periodic = bool(periodic)
        self.domain_length = [float(length) for length in lengths]
        self.reduction = _check_reduction("h1", reduction)
        self.space = _check_space("h1", space)
        if derivative is not None and derivative not in DERIVATIVES:
            raise ValueError(f"h1: derivative={derivative!r} is not one of {list(DERIVATIVES)}")
        if derivative == "spectral" and not periodic:
            raise ValueError("h1: derivative='spectral' needs periodic=true")
        self.derivative = derivative

    def _lengths(self, n_spatial: int) -> list[float]:
        if len(self.domain_length) == 1:
            return self.domain_length * n_spatial
        if len(self.domain_length) != n_spatial:
            raise ValueError(
                f"h1: domain_length has {len(self.domain_length)} entries but the fields have "
                f"{n_spatial} spatial dims"
            )
        return self.domain_length

    def squared_norm(self, v: torch.Tensor) -> torch.Tensor:
        """Per-sample :math:`\\lVert v \\rVert_{H^1}^2` of ``v`` ``(B, C, *S)`` → ``(B,)``
        (:func:`sciml.solvers.norms.h1_squared_norm`)."""
        return h1_squared_norm(
            v, self._lengths(v.ndim - 2), periodic=self.periodic, derivative=self.derivative
        )

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``(B, C, *S)`` pair → scalar."""
        _check_pair("h1", pred, target, min_ndim=3)
        ratio = self.squared_norm(pred - target) / self.squared_norm(target)
        return _reduce(ratio.sqrt(), self.reduction)


class TrajectoryMSELoss(nn.Module):
    r"""NCLaw's trajectory loss: scaled position MSE summed over frames,
    :math:`\operatorname{reduce}_b\; s \sum_t \operatorname{mean}_{p,i}
    (\hat x_{b,t,p,i} - x_{b,t,p,i})^2` for ``(B, T, P, d)`` positions (m).

    The sum over frames and the scale ``s = 10⁴`` are NCLaw's (``experiments/train.py``): per-frame
    position errors of a good law are ~10⁻⁸ m², and with a plain mean the gradients fall below
    Adam's ``ε = 10⁻⁸``, so its steps shrink to nothing instead of being ``≈ lr``.

    Parameters
    ----------
    scale:
        The factor ``s``.
    reduction:
        ``"mean"`` (default) or ``"sum"`` over the batch.
    """

    def __init__(self, scale: float = 1e4, reduction: str = "mean") -> None:
        super().__init__()
        if not scale > 0:
            raise ValueError(f"trajectory_mse: scale must be positive, got {scale}")
        self.scale = scale
        self.reduction = _check_reduction("trajectory_mse", reduction)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``(B, T, P, d)`` pair → scalar."""
        _check_pair("trajectory_mse", pred, target, min_ndim=4)
        per_frame = (pred - target).square().flatten(2).mean(dim=2)  # (B, T)
        return _reduce(self.scale * per_frame.sum(dim=1), self.reduction)


class GaussianNLLLoss(nn.Module):
    r"""Negative Gaussian log-likelihood of the target under a ``(mean, var)`` prediction,

    .. math:: \ell = \operatorname{reduce}_b \operatorname{mean}_{c,x} \tfrac12\Big(
        \frac{(u - \mu)^2}{\sigma^2} + \log \sigma^2 + \log 2\pi\Big),

    the training loss of probabilistic models (deep ensembles, Lakshminarayanan et al. 2017;
    ProbConserv's ANP, Hansen et al. 2023). A batch-aware term (it needs the variance).

    Parameters
    ----------
    min_var:
        Floor on the variance (units²) against a collapse to zero; ``0`` to disable.
    reduction:
        ``"mean"`` (default) or ``"sum"`` over the batch.
    """

    uses_batch = True

    def __init__(self, min_var: float = 1e-12, reduction: str = "mean") -> None:
        super().__init__()
        if min_var < 0:
            raise ValueError(f"gaussian_nll: min_var must be >= 0, got {min_var}")
        self.min_var = float(min_var)
        self.reduction = _check_reduction("gaussian_nll", reduction)

    def forward(self, pred: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``pred``: ``(mean, var)`` ``(B, ...)``; ``batch["y"]`` the target → scalar."""
        if not (isinstance(pred, tuple) and len(pred) == 2):
            raise ValueError(
                "gaussian_nll needs a probabilistic model's (mean, var) output; this model "
                "returns one tensor (use a gaussian_ensemble model, or another loss)"
            )
        mean, var = pred
        target = batch["y"]
        _check_pair("gaussian_nll", mean, target, min_ndim=2)
        var = var.clamp_min(self.min_var)
        nll = 0.5 * ((target - mean).square() / var + var.log() + math.log(2 * math.pi))
        return _reduce(nll.flatten(1).mean(dim=1), self.reduction)


class PDEResidualLoss(nn.Module):
    r"""Mean squared residual of a PDE at the grid points, or of its initial/boundary conditions:
    the physics term of a soft-constrained model (PI-SC, Chalapathi et al. 2024; PINO-style),

    .. math:: \ell = \operatorname{mean}_{b, x}\, \rho(\hat u)(b, x)^2
       \quad\text{or}\quad \ell = \operatorname{mean}_b \lVert \rho(\hat u)(b, \cdot) \rVert_2
       \ (\texttt{per\_sample: norm}),

    with the residual :math:`\rho` of a registered PDE (:data:`sciml.constraints.hard.pdes.PDES`:
    ``diffusion_sorption``, ``navier_stokes2d``) evaluated on the prediction ``(B, 1, *S)`` and the
    batch (initial condition, coordinates). A batch-aware term:
    ``trainer.loss: [{name: pde_residual, pde: diffusion_sorption}, {name: pde_conditions,
    pde: diffusion_sorption}]``.

    Parameters
    ----------
    pde:
        The PDE's registered name.
    part:
        ``"interior"`` (the PDE at every grid point) or ``"conditions"`` (the initial/boundary rows).
    scale:
        Factor on the residual before squaring (e.g. to express time in units of the horizon).
    per_sample:
        ``"mean_square"`` (default): the mean square over each sample's points; ``"norm"``: the L2
        norm over each sample's points (a sum, not a mean: it grows with the grid as
        :math:`\sqrt{n}`), the form of the PI-HC-MoE paper's code (Chalapathi et al., ICLR 2024,
        ``neptune/losses/pde_loss.py``). Either is then averaged over the batch.
    **pde_options:
        Passed to the PDE (its constants).
    """

    uses_batch = True

    def __init__(
        self,
        pde: str,
        part: str = "interior",
        scale: float = 1.0,
        per_sample: str = "mean_square",
        **pde_options: Any,
    ) -> None:
        super().__init__()
        # imported here: the PDE residuals pull in the spectral operators, which a run without a
        # PDE loss does not need at `import sciml.training`
        from sciml.constraints.hard.pdes import PDES

        if pde not in PDES:
            raise ValueError(f"pde {pde!r} is not one of {sorted(PDES)}")
        if part not in ("interior", "conditions"):
            raise ValueError(f"part={part!r} is not one of ['interior', 'conditions']")
        if per_sample not in ("mean_square", "norm"):
            raise ValueError(f"per_sample={per_sample!r} is not one of ['mean_square', 'norm']")
        self.pde = PDES[pde](**pde_options)
        self.part = part
        self.scale = float(scale)
        self.per_sample = per_sample

    def forward(self, pred: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``pred`` ``(B, 1, *S)`` and the batch → scalar."""
        if self.part == "interior":
            residual = self.pde.grid_residual(pred, batch)
        else:
            residual = self.pde.condition_residual(pred, batch)
        residual = self.scale * residual
        if self.per_sample == "norm":
            return residual.flatten(1).norm(dim=1).mean()
        return residual.square().mean()


def _pde_conditions(pde: str, scale: float = 1.0, **pde_options: Any) -> PDEResidualLoss:
    """The initial/boundary-condition part of :class:`PDEResidualLoss`."""
    return PDEResidualLoss(pde, part="conditions", scale=scale, **pde_options)


LOSSES.register("relative_lp")(strict_config("relative_lp")(RelativeLpLoss))
LOSSES.register("channel_group_l1")(strict_config("channel_group_l1")(ChannelGroupL1Loss))
LOSSES.register("trajectory_mse")(strict_config("trajectory_mse")(TrajectoryMSELoss))
LOSSES.register("mse")(strict_config("mse")(MSELoss))
LOSSES.register("h1")(strict_config("h1")(H1Loss))
LOSSES.register("gaussian_nll")(strict_config("gaussian_nll")(GaussianNLLLoss))
LOSSES.register("pde_residual")(PDEResidualLoss)
LOSSES.register("pde_conditions")(_pde_conditions)
