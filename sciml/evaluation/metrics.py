r"""Evaluation metrics for predicted fields, per sample, as in PDEBench (Takamoto et al. 2022).

Every metric takes ``pred`` and ``target`` of the same shape ``(B, C, *S)`` (batch, channels,
spatial grid) and returns one value per sample, ``(B,)``, so the caller chooses how to aggregate
(mean, median, quantiles). ``frmse`` returns a dict of three ``(B,)`` tensors (frequency bands).
Time series ``(B, T, C, *S)`` are handled by :func:`per_time_step` (any metric → ``(B, T)``) and by
:func:`rollout_error`.

Relation to PDEBench (``pdebench/models/metrics.py``, ``metric_func``), which computes per
channel ``c`` and time ``t`` on a batch and then averages over channels and times:

* ``RMSE`` :math:`= \operatorname{mean}_b \sqrt{\operatorname{mean}_x e^2}` and ``nRMSE``
  :math:`= \operatorname{mean}_b \big(\sqrt{\operatorname{mean}_x e^2} /
  \sqrt{\operatorname{mean}_x u^2}\big)` with :math:`e = \hat u - u` — our :func:`rmse` and
  :func:`nrmse` average the same per-channel values over channels, so their batch mean is
  PDEBench's number;
* ``cRMSE`` :math:`= \sqrt{\operatorname{mean}_b (\operatorname{mean}_x e)^2}` (error of the
  spatial mean, the conserved quantity): our :func:`crmse` is the per-sample
  :math:`|\operatorname{mean}_x e|`, so PDEBench's value is the root-mean-square over the batch;
* ``bRMSE``: RMSE over the points of the domain faces (a corner counted once per face): our
  :func:`brmse`, PDEBench's value is its batch mean;
* ``fRMSE``: :func:`frmse` (see there); PDEBench takes the batch mean inside the square root;
* ``Max error``: PDEBench's is the maximum over the batch; ours per sample (take the max).

Reference: M. Takamoto, T. Praditia, R. Leiteritz, D. MacKinlay, F. Alesiani, D. Pflüger,
M. Niepert, "PDEBench: An Extensive Benchmark for Scientific Machine Learning", NeurIPS 2022
Datasets and Benchmarks, Sec. 4 and App. D.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from sciml.constraints.probconserv import trapezoid_weights
from sciml.registry import METRICS
from sciml.solvers.norms import h1_squared_norm

__all__ = [
    "relative_l2",
    "relative_l1",
    "rmse",
    "nrmse",
    "max_error",
    "crmse",
    "brmse",
    "frmse",
    "conservation_error",
    "rollout_error",
    "per_time_step",
    "position_mse",
    "mass_error",
    "gaussian_log_likelihood",
    "coverage",
    "calibration_error",
    "gaussian_samples",
    "shock_position",
]


def _check(name: str, pred: torch.Tensor, target: torch.Tensor, min_ndim: int = 3) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}"
        )
    if pred.ndim < min_ndim:
        layout = "(B, T, C, *S)" if min_ndim == 4 else "(B, C, *S)"
        raise ValueError(
            f"{name}: expected tensors of shape {layout} with at least one spatial dim, "
            f"got {tuple(pred.shape)}"
        )


def _spatial_rms(v: torch.Tensor) -> torch.Tensor:
    """``(B, C, *S)`` → ``(B, C)``: root mean square over the grid."""
    return v.flatten(2).square().mean(dim=2).sqrt()


@METRICS.register("relative_l2")
def relative_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Relative :math:`L^2` error :math:`\lVert \hat u - u\rVert_2 / \lVert u \rVert_2` over all
    channels and grid points of each sample (the FNO paper's test metric). ``(B, C, *S)`` →
    ``(B,)``.
    """
    _check("relative_l2", pred, target)
    return (pred - target).flatten(1).norm(dim=1) / target.flatten(1).norm(dim=1)


@METRICS.register("relative_l1")
def relative_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Relative :math:`L^1` error :math:`\lVert \hat u - u\rVert_1 / \lVert u \rVert_1` over all
    channels and grid points of each sample. ``(B, C, *S)`` → ``(B,)``. Poseidon (Herde et al.
    2024) reports its median over the test samples in percent, per channel group, averaged over
    the groups (``examples/scot/poseidon_miniature.py``).
    """
    _check("relative_l1", pred, target)
    return (pred - target).flatten(1).abs().sum(dim=1) / target.flatten(1).abs().sum(dim=1)


@METRICS.register("relative_h1")
def relative_h1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Relative :math:`H^1` error :math:`\lVert \hat u - u\rVert_{H^1} / \lVert u\rVert_{H^1}`
    per sample on a non-periodic grid of unit side (finite differences, both end points on the
    grid; :func:`sciml.solvers.norms.h1_squared_norm`), MgNO's metric on Darcy flow.
    ``(B, C, *S)`` → ``(B,)``.
    """
    _check("relative_h1", pred, target)
    lengths = [1.0] * (pred.ndim - 2)
    error = h1_squared_norm(pred - target, lengths, periodic=False)
    return (error / h1_squared_norm(target, lengths, periodic=False)).sqrt()


@METRICS.register("rmse")
def rmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Root-mean-square error per channel, averaged over channels:
    :math:`\operatorname{mean}_c \sqrt{\operatorname{mean}_x (\hat u_c - u_c)^2}`, in the units of
    the field. ``(B, C, *S)`` → ``(B,)``.
    """
    _check("rmse", pred, target)
    return _spatial_rms(pred - target).mean(dim=1)


@METRICS.register("nrmse")
def nrmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""PDEBench's normalized RMSE: per channel
    :math:`\lVert \hat u_c - u_c\rVert_2 / \lVert u_c\rVert_2`, averaged over channels.

    Unlike :func:`relative_l2`, each channel is normalized by its own norm, so a channel of small
    magnitude (e.g. a velocity next to a density) counts as much as a large one.
    ``(B, C, *S)`` → ``(B,)``.
    """
    _check("nrmse", pred, target)
    return (_spatial_rms(pred - target) / _spatial_rms(target)).mean(dim=1)


@METRICS.register("max_error")
def max_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Largest pointwise error :math:`\max_{c,x} |\hat u_{c,x} - u_{c,x}|`. ``(B, C, *S)`` →
    ``(B,)``.
    """
    _check("max_error", pred, target)
    return (pred - target).flatten(1).abs().amax(dim=1)


@METRICS.register("crmse")
def crmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Error of the spatial mean (the conserved quantity of a conservation law on a periodic or
    closed domain): :math:`\operatorname{mean}_c |\operatorname{mean}_x (\hat u_c - u_c)|`.
    PDEBench's cRMSE is :math:`\sqrt{\operatorname{mean}_b \mathrm{crmse}_b^2}` for one channel.
    ``(B, C, *S)`` → ``(B,)``.
    """
    _check("crmse", pred, target)
    return (pred - target).flatten(2).mean(dim=2).abs().mean(dim=1)


@METRICS.register("brmse")
def brmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""RMSE on the boundary of the grid, per channel, averaged over channels.

    The boundary points are the ``2 d`` faces (first and last index along each spatial axis);
    as in PDEBench a point on several faces (a corner) is counted once per face, so in 2D the
    mean runs over :math:`2 n_x + 2 n_y` values. ``(B, C, *S)`` → ``(B,)``.
    """
    _check("brmse", pred, target)
    err2 = (pred - target).square()
    total = err2.new_zeros(err2.shape[:2])
    count = 0
    for axis in range(2, err2.ndim):
        for index in (0, -1):
            face = err2.select(axis, index)
            # reshape, not flatten(2): in 1D a face is a single point, shape (B, C)
            total = total + face.reshape(*face.shape[:2], -1).sum(dim=2)
            count += math.prod(face.shape[2:])
    return (total / count).sqrt().mean(dim=1)


def _radial_spectrum(err: torch.Tensor, lengths: Sequence[float]) -> torch.Tensor:
    """PDEBench's per-wavenumber error spectrum ``(B, C, K)`` of ``err`` ``(B, C, *S)``."""
    spatial = err.shape[2:]
    scale = math.prod(lengths) / math.prod(spatial)
    if len(spatial) == 1:
        # 1D: every non-negative frequency of the real FFT, Nyquist included.
        return torch.fft.rfft(err, dim=2).abs() * scale
    # nD: |k| = floor of the Euclidean norm of the non-negative index vector (the positive
    # orthant only, as PDEBench), shells up to min(n_d // 2).
    power = torch.fft.fftn(err, dim=tuple(range(2, err.ndim))).abs().square()
    power = power[(slice(None), slice(None), *(slice(0, n // 2) for n in spatial))]
    n_bins = min(n // 2 for n in spatial)
    axes = [torch.arange(n // 2, device=err.device, dtype=torch.float64) for n in spatial]
    radius = torch.stack(torch.meshgrid(*axes, indexing="ij")).square().sum(dim=0).sqrt()
    shell = radius.floor().long().flatten()
    keep = shell < n_bins
    spectrum = power.new_zeros(*power.shape[:2], n_bins)
    spectrum.index_add_(2, shell[keep], power.flatten(2)[..., keep])
    return spectrum.sqrt() * scale


@METRICS.register("frmse")
def frmse(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    low: int = 4,
    high: int = 12,
    lengths: float | Sequence[float] = 1.0,
) -> dict[str, torch.Tensor]:
    r"""Error in low / mid / high Fourier bands (PDEBench's fRMSE).

    With :math:`\hat e = \mathrm{FFT}(\hat u - u)` over the grid (unnormalized), the error at
    wavenumber :math:`k` is :math:`E_k = \sqrt{\sum_{\lfloor|\mathbf i|\rfloor = k}
    |\hat e_{\mathbf i}|^2}\; \prod_d L_d / \prod_d n_d`, summing over the non-negative index
    vectors :math:`\mathbf i` (in 1D all :math:`n/2 + 1` real-FFT frequencies; in :math:`d \ge 2`
    the positive orthant, shells :math:`k < \min_d n_d/2`). For a mode
    :math:`A\sin(2\pi k x/L)` in 1D, :math:`E_k = A L / 2`. The bands are the means of
    :math:`E_k` over :math:`k < \text{low}`, :math:`\text{low} \le k < \text{high}` and
    :math:`k \ge \text{high}`, averaged over channels (PDEBench: ``iLow = 4``, ``iHigh = 12``).

    Parameters
    ----------
    pred, target:
        ``(B, C, *S)``.
    low, high:
        Band limits in wavenumbers, ``0 < low < high`` and fewer than the number of shells.
    lengths:
        Domain length per spatial axis (one float for all).

    Returns
    -------
    dict
        ``{"low": (B,), "mid": (B,), "high": (B,)}``.
    """
    _check("frmse", pred, target)
    spatial = pred.shape[2:]
    lengths = [float(lengths)] * len(spatial) if isinstance(lengths, (int, float)) else lengths
    if len(lengths) != len(spatial):
        raise ValueError(f"frmse: {len(lengths)} lengths for {len(spatial)} spatial dims")
    spectrum = _radial_spectrum(pred - target, lengths)
    n_bins = spectrum.shape[-1]
    if not 0 < low < high < n_bins:
        raise ValueError(
            f"frmse: need 0 < low < high < number of wavenumber shells ({n_bins} for grid "
            f"{tuple(spatial)}), got low={low}, high={high}; lower the band limits for coarse grids"
        )
    bands = {"low": (0, low), "mid": (low, high), "high": (high, n_bins)}
    return {name: spectrum[..., a:b].mean(dim=-1).mean(dim=1) for name, (a, b) in bands.items()}


@METRICS.register("conservation_error")
def conservation_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Relative error of the spatial integral, per channel, averaged over channels:

    .. math:: \frac{|\int \hat u_c - \int u_c|}{\int |u_c|}.

    For a non-negative conserved field (mass, density) this is the relative change of the total.
    Normalizing by :math:`\int |u_c|` instead of :math:`|\int u_c|` keeps zero-mean fields
    (e.g. a periodic Poisson solution) finite. Cell volumes cancel on a uniform grid.
    ``(B, C, *S)`` → ``(B,)``.
    """
    _check("conservation_error", pred, target)
    diff = (pred - target).flatten(2).sum(dim=2).abs()
    return (diff / target.flatten(2).abs().sum(dim=2)).mean(dim=1)


@METRICS.register("rollout_error")
def rollout_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Relative :math:`L^2` error at every step of a rollout.

    ``pred``, ``target``: ``(B, T, C, *S)`` → ``(B, T)``, entry ``t`` being
    :math:`\lVert \hat u(t) - u(t)\rVert_2 / \lVert u(t)\rVert_2` over channels and grid.
    """
    _check("rollout_error", pred, target, min_ndim=4)
    return (pred - target).flatten(2).norm(dim=2) / target.flatten(2).norm(dim=2)


def per_time_step(
    metric: Callable[..., Any], pred: torch.Tensor, target: torch.Tensor, **options: Any
) -> torch.Tensor | dict[str, torch.Tensor]:
    """Apply a ``(B, C, *S)`` metric to every time step of ``(B, T, C, *S)`` series.

    Returns ``(B, T)`` (or a dict of them for :func:`frmse`); PDEBench's time-averaged numbers are
    the mean over ``T``.
    """
    _check("per_time_step", pred, target, min_ndim=4)
    b, t = pred.shape[:2]
    value = metric(pred.flatten(0, 1), target.flatten(0, 1), **options)
    if isinstance(value, dict):
        return {k: v.reshape(b, t) for k, v in value.items()}
    return value.reshape(b, t)


@METRICS.register("position_mse")
def position_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Particle position MSE per frame, NCLaw's rollout metric (``diff_mse``, before its average
    over frames): :math:`\operatorname{mean}_{p,i} (\hat x_{p,i} - x_{p,i})^2` in m².
    ``(B, T, P, d)`` → ``(B, T)``.
    """
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(
            "position_mse: expected matching (B, T, P, d) particle positions, got "
            f"{tuple(pred.shape)} and {tuple(target.shape)}"
        )
    return (pred - target).square().mean(dim=(2, 3))


# ------------------------------------------------------------------------------------------------
# Probabilistic fields and integral conservation (ProbConserv, Hansen et al., ICML 2023,
# arXiv 2302.11002, Sec. 4 and its analysis code): CE(t), Gaussian log-likelihood, calibration,
# correlated posterior samples and the shock position read from them.


def _check_gaussian(
    name: str, output: Any, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    mean, var = output
    if mean.shape != target.shape or var.shape != target.shape:
        raise ValueError(
            f"{name}: mean {tuple(mean.shape)}, var {tuple(var.shape)} and target "
            f"{tuple(target.shape)} must have the same shape"
        )
    if not bool((var > 0).all()):
        raise ValueError(f"{name}: the variance must be > 0, got min {float(var.min()):g}")
    return mean, var


def mass_error(mean: torch.Tensor, x: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
    r"""ProbConserv's conservation error :math:`\mathrm{CE}(t) = \int\hat u(t, x)\,dx - U(t)`.

    Trapezoid rule over the last axis on the sorted grid ``x`` (broadcasting against ``mean``,
    e.g. ``(n_x,)``); ``mean`` ``(..., n_x)``, ``mass`` :math:`U` ``(...)`` → signed ``(...)``.
    """
    if mass.shape != mean.shape[:-1]:
        raise ValueError(
            f"mass_error: mass must have shape {tuple(mean.shape[:-1])}, got {tuple(mass.shape)}"
        )
    return (trapezoid_weights(x) * mean).sum(dim=-1) - mass


@METRICS.register("gaussian_log_likelihood")
def gaussian_log_likelihood(output: Any, target: torch.Tensor) -> torch.Tensor:
    r"""Mean pointwise Gaussian log-density :math:`\operatorname{mean}_x \log\mathcal N(u\mid\mu,
    \sigma^2)` of the target under a ``(mean, var)`` prediction (ProbConserv's LL; higher is
    better). ``(B, ...)`` → ``(B,)``.
    """
    mean, var = _check_gaussian("gaussian_log_likelihood", output, target)
    log_density = -0.5 * ((target - mean).square() / var + var.log() + math.log(2 * math.pi))
    return log_density.flatten(1).mean(dim=1)


def coverage(output: Any, target: torch.Tensor, levels: Sequence[float]) -> torch.Tensor:
    r"""Fraction of points inside the central interval of probability ``p``,
    :math:`|u - \mu| \le z_p\,\sigma`, :math:`z_p = \sqrt2\,\mathrm{erf}^{-1}(p)`, for each level.
    ``(B, ...)`` → ``(B, L)``; a calibrated model gives ``p``.
    """
    mean, var = _check_gaussian("coverage", output, target)
    p = torch.as_tensor(list(levels), dtype=torch.float64)
    if p.numel() == 0 or not bool(((p > 0) & (p < 1)).all()):
        raise ValueError(f"coverage: levels must be a non-empty list in (0, 1), got {list(levels)}")
    z = (math.sqrt(2) * torch.erfinv(p)).to(mean)
    score = ((target - mean).abs() / var.sqrt()).flatten(1)  # (B, N)
    return (score[:, None, :] <= z[None, :, None]).to(mean.dtype).mean(dim=2)


@METRICS.register("calibration_error")
def calibration_error(
    output: Any,
    target: torch.Tensor,
    *,
    levels: Sequence[float] = tuple(i / 10 for i in range(1, 10)),
) -> torch.Tensor:
    r"""Mean absolute miscalibration :math:`\operatorname{mean}_p |\mathrm{coverage}(p) - p|` over
    the central intervals of :func:`coverage` (levels 0.1 … 0.9). ``(B, ...)`` → ``(B,)``.
    """
    cov = coverage(output, target, levels)
    return (
        (cov - torch.as_tensor(list(levels), dtype=cov.dtype, device=cov.device)).abs().mean(dim=1)
    )


def gaussian_samples(
    mean: torch.Tensor,
    cov: torch.Tensor,
    n_samples: int,
    *,
    generator: torch.Generator | None = None,
    jitters: Sequence[float] = (0.0, 1e-8, 1e-7, 1e-6, 1e-5),
) -> tuple[torch.Tensor, float]:
    r"""Samples :math:`\mu + L\varepsilon` with :math:`LL^\top = \Sigma + jI` (Cholesky, float64).

    ``mean`` ``(..., N)``, ``cov`` ``(..., N, N)`` → samples ``(n_samples, ..., N)`` and the jitter
    :math:`j` used: the first of ``jitters`` for which every Cholesky factorization succeeds
    (ProbConserv's analysis adds 1e-8 when it fails; its exact-limit :math:`\tilde\Sigma` is
    singular along :math:`\Sigma g^\top`). Report a non-zero jitter with the result.
    """
    cov64 = cov.to(torch.float64)
    eye = torch.eye(cov.shape[-1], dtype=torch.float64, device=cov.device)
    for jitter in jitters:
        chol, info = torch.linalg.cholesky_ex(cov64 + jitter * eye)
        if not bool(info.any()):
            break
    else:
        raise ValueError(
            f"gaussian_samples: covariance not positive definite even with jitter {jitters[-1]:g}"
        )
    eps = torch.randn(
        n_samples, *mean.shape, generator=generator, dtype=torch.float64, device=mean.device
    )
    samples = mean.to(torch.float64) + (chol @ eps.unsqueeze(-1)).squeeze(-1)
    return samples.to(mean.dtype), float(jitter)


def shock_position(
    samples: torch.Tensor, x: torch.Tensor, *, threshold: float = 0.0
) -> torch.Tensor:
    r"""Front position of each sampled profile: the first ``x`` where :math:`u \le` ``threshold``.

    ``samples`` ``(..., N)`` on the sorted grid ``x`` ``(N,)`` → ``(...)``; a profile that never
    falls below the threshold gets ``x[-1]``. ProbConserv reports ``index * x_max / n_x``; we
    return the grid point itself, ``x[index]``.
    """
    if x.ndim != 1 or samples.shape[-1] != x.shape[0]:
        raise ValueError(
            f"shock_position: x must be (N,) with N = {samples.shape[-1]}, got {tuple(x.shape)}"
        )
    below = samples <= threshold
    index = torch.where(below.any(dim=-1), below.to(torch.int8).argmax(dim=-1), x.shape[0] - 1)
    return x[index]


@METRICS.register("chamfer_distance")
def chamfer_distance(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Symmetric Chamfer distance between point clouds per frame (GIOROM v3's dense metric).

    .. math:: \operatorname{CD}(\hat X, X) = \operatorname{mean}_{p}\min_{q}
        \|\hat x_p - x_q\|^2 + \operatorname{mean}_{q}\min_{p} \|x_q - \hat x_p\|^2 \quad (m^2),

    the mean of squared nearest-neighbour distances both ways (GIOROM's exact variant is not
    stated). It ignores which particle is which, unlike :func:`position_mse`.
    ``pred`` ``(B, T, P, d)``, ``target`` ``(B, T, Q, d)`` → ``(B, T)``; the nearest neighbours
    come from :func:`sciml.models.graph_ops.knn` (memory-bounded).
    """
    from sciml.models.graph_ops import knn

    if pred.ndim != 4 or target.ndim != 4 or pred.shape[:2] != target.shape[:2]:
        raise ValueError(
            "chamfer_distance: expected (B, T, P, d) and (B, T, Q, d) point clouds, got "
            f"{tuple(pred.shape)} and {tuple(target.shape)}"
        )
    b, t, p, d = pred.shape
    q = target.shape[2]
    a, c = pred.reshape(b * t * p, d), target.reshape(b * t * q, d)
    batch_a = torch.arange(b * t, device=a.device).repeat_interleave(p)
    batch_c = torch.arange(b * t, device=a.device).repeat_interleave(q)

    def one_way(
        x: torch.Tensor, y: torch.Tensor, bx: torch.Tensor, by: torch.Tensor, n: int
    ) -> torch.Tensor:
        i, j = knn(y, x, 1, by, bx)  # nearest y_j of every x_i
        return (x[i] - y[j]).square().sum(-1).reshape(b, t, n).mean(-1)

    return one_way(a, c, batch_a, batch_c, p) + one_way(c, a, batch_c, batch_a, q)
