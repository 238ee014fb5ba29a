"""Input-function samplers: Gaussian random fields and the fields derived from them.

* :func:`gaussian_random_field` — zero-mean GRF on the unit box ``[0, 1]^d`` with the Matérn-like
  covariance operator :math:`C = \\sigma^2(-\\Delta + \\tau^2 I)^{-\\alpha}` of the FNO paper
  (Li et al., ICLR 2021, §5: Burgers, Darcy, Navier–Stokes inputs), drawn by spectral synthesis
  in the eigenbasis of the Laplacian for periodic, Neumann or Dirichlet boundaries.
* :func:`piecewise_constant_field` — thresholded field, the Darcy coefficient of the FNO paper
  (``a = 12`` where the GRF is non-negative, ``3`` elsewhere).
* :func:`rbf_grf_1d` — 1D GRF with the squared-exponential (RBF) kernel, as DeepXDE's
  ``dde.data.GRF(kernel="RBF", length_scale=l)`` (Lu et al., Nat. Mach. Intell. 2021, DeepONet).

All samplers are batched (leading sample axis), seeded through a ``torch.Generator``, and run on
any device in float32 or float64. Random numbers are drawn on the generator's device and then moved
to ``device``, so a CPU generator gives the same fields on every device (and in both dtypes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["gaussian_random_field", "piecewise_constant_field", "rbf_grf_1d"]

BOUNDARIES = ("periodic", "neumann", "dirichlet")


def _check_dtype(dtype: torch.dtype) -> None:
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")


def _normal(
    shape: Sequence[int],
    generator: torch.Generator | None,
    device: torch.device | str | None,
    dtype: torch.dtype,
) -> Tensor:
    """Standard normal noise drawn on the generator's device, returned on ``device`` as ``dtype``.

    Always drawn in float64 so that one seed gives the same field in float32 and float64.
    """
    draw_on = generator.device if generator is not None else device
    z = torch.randn(*shape, generator=generator, device=draw_on, dtype=torch.float64)
    return z.to(device=device if device is not None else z.device, dtype=dtype)


def _eigenvalues(
    wavenumbers: Sequence[Tensor], alpha: float, tau: float, sigma: float, factor: float
) -> Tensor:
    """``sigma^2 (factor^2 |k|^2 + tau^2)^(-alpha)`` on the tensor grid of the given wavenumbers."""
    grids = torch.meshgrid(*wavenumbers, indexing="ij")
    k2 = sum(g**2 for g in grids)
    return sigma**2 * (factor**2 * k2 + tau**2) ** (-alpha)


def gaussian_random_field(
    n_samples: int,
    shape: int | tuple[int, ...],
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float | None = None,
    boundary: str = "periodic",
    remove_mean: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    r"""Samples of a zero-mean Gaussian random field on ``[0, 1]^d`` by spectral synthesis.

    The covariance operator is :math:`C = \sigma^2(-\Delta + \tau^2 I)^{-\alpha}`; with
    eigenpairs :math:`(-\Delta)\phi_k = \mu_k \phi_k` the field is

    .. math:: u(x) = \sum_k \sqrt{\lambda_k}\,\xi_k\,\phi_k(x),\quad
              \lambda_k = \sigma^2(\mu_k + \tau^2)^{-\alpha},\quad \xi_k \sim N(0, 1),

    truncated to the modes the grid resolves, so the grid values have exactly the covariance
    :math:`\mathrm{Cov}(u(x), u(y)) = \sum_k \lambda_k \phi_k(x)\phi_k(y)` of the truncated series.

    ========== ======================================== ============================ ============
    boundary   basis :math:`\phi_k`                     grid per axis (n points)      modes
    ========== ======================================== ============================ ============
    periodic   :math:`e^{2\pi i k\cdot x}`, μ = 4π²|k|²  ``j/n``, right end excluded   ``fftfreq``
    neumann    :math:`\prod_i c_{k_i}\cos(\pi k_i x_i)`  ``j/(n-1)``, both ends        ``0..n-1``
    dirichlet  :math:`\prod_i \sqrt2\sin(\pi k_i x_i)`   ``j/(n-1)``, both ends (u=0)  ``1..n-2``
    ========== ======================================== ============================ ============

    with :math:`c_0 = 1`, :math:`c_k = \sqrt 2` (orthonormal on ``[0, 1]``) and μ = π²|k|² for the
    cosine and sine bases. The Neumann grid is the one of the FNO Darcy generator.

    Parameters
    ----------
    n_samples:
        Number of independent fields ``B``.
    shape:
        Grid size ``(n_1, ..., n_d)``, ``d`` in 1..3 (an int means 1D).
    alpha, tau:
        Smoothness exponent and inverse length scale (FNO's Darcy coefficients: ``alpha=2``,
        ``tau=3``, thresholded at 0).
    sigma:
        Amplitude; default :math:`\tau^{\alpha - d/2}`, the amplitude of FNO's reference
        generators (``GaussianRF``, ``GRF.m``).
    boundary:
        ``"periodic"``, ``"neumann"`` or ``"dirichlet"`` (see the table).
    remove_mean:
        Zero the constant mode (``k = 0``), as FNO's generators do: every periodic or Neumann
        sample then has zero spatial mean. No effect for ``"dirichlet"`` (no constant mode).
    generator:
        Source of randomness (seed it for reproducibility).
    device, dtype:
        Output device and float dtype (``float32`` or ``float64``).

    Returns
    -------
    Tensor
        ``(n_samples, *shape)``, dimensionless.

    References
    ----------
    Li et al., "Fourier Neural Operator for Parametric PDEs", ICLR 2021, §5 and App. A.
    Lord, Powell & Shardlow, "An Introduction to Computational SPDEs", CUP 2014, §7.2 (spectral
    synthesis of random fields).
    """
    _check_dtype(dtype)
    shape = (int(shape),) if isinstance(shape, int) else tuple(int(n) for n in shape)
    d = len(shape)
    if not 1 <= d <= 3:
        raise ValueError(f"shape must have 1 to 3 dimensions, got {shape}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    min_n = 3 if boundary == "dirichlet" else 2
    if any(n < min_n for n in shape):
        raise ValueError(f"every grid size must be >= {min_n} for boundary={boundary!r}: {shape}")
    if int(n_samples) < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if alpha <= 0 or tau <= 0:
        raise ValueError(f"alpha and tau must be positive, got alpha={alpha}, tau={tau}")
    if sigma is None:
        sigma = tau ** (alpha - d / 2)
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")

    if boundary == "periodic":
        return _periodic_grf(
            n_samples, shape, alpha, tau, sigma, remove_mean, generator, device, dtype
        )
    return _basis_grf(
        n_samples, shape, alpha, tau, sigma, boundary, remove_mean, generator, device, dtype
    )


def _periodic_grf(
    n_samples: int,
    shape: tuple[int, ...],
    alpha: float,
    tau: float,
    sigma: float,
    remove_mean: bool,
    generator: torch.Generator | None,
    device: torch.device | str | None,
    dtype: torch.dtype,
) -> Tensor:
    # Filtering real white noise in Fourier space gives the Hermitian symmetry of a real field for
    # free: with an orthonormal forward FFT E|W_k|^2 = 1, and the unnormalised inverse makes
    # u_j = sum_k sqrt(lambda_k) W_k e^{2 pi i k j/n}, so Cov(u_j, u_l) = sum_k lambda_k e^{...}.
    noise = _normal((n_samples, *shape), generator, device, dtype)
    dims = tuple(range(1, len(shape) + 1))
    wavenumbers = [
        torch.fft.fftfreq(n, d=1.0 / n, device=noise.device, dtype=dtype) for n in shape[:-1]
    ]
    wavenumbers.append(
        torch.fft.rfftfreq(shape[-1], d=1.0 / shape[-1], device=noise.device, dtype=dtype)
    )
    sqrt_lam = _eigenvalues(wavenumbers, alpha, tau, sigma, 2 * math.pi).sqrt()
    if remove_mean:
        sqrt_lam.view(-1)[0] = 0.0
    coeff = torch.fft.rfftn(noise, dim=dims, norm="ortho") * sqrt_lam
    return torch.fft.irfftn(coeff, s=shape, dim=dims, norm="forward")


def _basis_1d(
    n: int, boundary: str, device: torch.device, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """Wavenumbers ``(m,)`` and orthonormal basis matrix ``(n, m)`` on the grid ``j/(n-1)``."""
    x = torch.linspace(0.0, 1.0, n, device=device, dtype=dtype)
    if boundary == "neumann":
        k = torch.arange(n, device=device, dtype=dtype)
        phi = torch.cos(math.pi * x[:, None] * k[None, :]) * math.sqrt(2.0)
        phi[:, 0] = 1.0
    else:
        # sin(pi (n-1) x_j) vanishes on the grid, so modes 1..n-2 are the resolvable ones
        k = torch.arange(1, n - 1, device=device, dtype=dtype)
        phi = torch.sin(math.pi * x[:, None] * k[None, :]) * math.sqrt(2.0)
    return k, phi


def _basis_grf(
    n_samples: int,
    shape: tuple[int, ...],
    alpha: float,
    tau: float,
    sigma: float,
    boundary: str,
    remove_mean: bool,
    generator: torch.Generator | None,
    device: torch.device | str | None,
    dtype: torch.dtype,
) -> Tensor:
    # Dense basis matrices per axis (separable synthesis): O(B n^(d+1)) work, exact values at the
    # grid points, and device/dtype agnostic without relying on a DCT/DST implementation.
    n_modes = [n if boundary == "neumann" else n - 2 for n in shape]
    xi = _normal((n_samples, *n_modes), generator, device, dtype)
    bases = [_basis_1d(n, boundary, xi.device, dtype) for n in shape]
    sqrt_lam = _eigenvalues([k for k, _ in bases], alpha, tau, sigma, math.pi).sqrt()
    if remove_mean and boundary == "neumann":
        sqrt_lam.view(-1)[0] = 0.0
    u = xi * sqrt_lam
    for axis, (_, phi) in enumerate(bases, start=1):
        u = torch.movedim(torch.movedim(u, axis, -1) @ phi.T, -1, axis)
    return u


def piecewise_constant_field(
    field: Tensor, *, high: float = 12.0, low: float = 3.0, threshold: float = 0.0
) -> Tensor:
    """Two-valued field: ``high`` where ``field >= threshold``, ``low`` elsewhere.

    With a GRF as ``field`` this is the Darcy-flow permeability of the FNO paper (Li et al. 2021,
    §5.2: ``a = 12`` on ``{u >= 0}``, ``3`` otherwise). Same shape, dtype and device as ``field``.
    """
    if not torch.is_floating_point(field):
        raise ValueError(f"field must be a floating-point tensor, got dtype {field.dtype}")
    return torch.where(
        field >= threshold,
        torch.as_tensor(high, dtype=field.dtype, device=field.device),
        torch.as_tensor(low, dtype=field.dtype, device=field.device),
    )


def rbf_grf_1d(
    n_samples: int,
    points: Tensor,
    *,
    length_scale: float = 0.2,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    r"""Samples of a 1D zero-mean GRF with the RBF kernel, jointly at ``points``.

    Covariance :math:`k(x, y) = \exp(-|x - y|^2 / (2 l^2))` (unit variance), as DeepXDE's
    ``GRF(kernel="RBF", length_scale=l)`` on ``[0, 1]``. DeepXDE samples on 1000 grid points and
    interpolates; here the field is drawn exactly at the requested points from the Cholesky factor
    :math:`L L^T = K + \epsilon I` computed in float64. The RBF Gram matrix is numerically singular
    for dense points, so the jitter :math:`\epsilon` starts at ``1e-12`` (relative to the unit
    variance) and grows tenfold until the factorisation succeeds; its effect on the samples is of
    order :math:`\sqrt{\epsilon}`.

    Parameters
    ----------
    n_samples:
        Number of functions ``B``.
    points:
        ``(m,)`` sample locations (e.g. the ``m = 100`` sensors ``linspace(0, 1, 100)``).
    length_scale:
        ``l`` in the units of ``points``.

    Returns
    -------
    Tensor
        ``(n_samples, m)`` on ``device`` (default: the device of ``points``).

    References
    ----------
    Lu, Jin, Pang, Zhang & Karniadakis, "Learning nonlinear operators via DeepONet", Nat. Mach.
    Intell. 3, 2021 (GRF inputs, §Methods); Rasmussen & Williams, "Gaussian Processes for Machine
    Learning", MIT Press 2006, App. A.2 (sampling with a Cholesky factor).
    """
    _check_dtype(dtype)
    points = torch.as_tensor(points)
    if points.ndim != 1 or points.numel() < 1:
        raise ValueError(
            f"points must be a non-empty 1D tensor (m,), got shape {tuple(points.shape)}"
        )
    if int(n_samples) < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if length_scale <= 0:
        raise ValueError(f"length_scale must be positive, got {length_scale}")
    if not torch.isfinite(points).all():
        raise ValueError("points must be finite")
    if device is None:
        device = points.device
    x = points.detach().to(device=device, dtype=torch.float64)
    gram = torch.exp(-((x[:, None] - x[None, :]) ** 2) / (2.0 * length_scale**2))
    eye = torch.eye(len(x), dtype=torch.float64, device=device)
    jitter = 1e-12
    while True:
        chol, info = torch.linalg.cholesky_ex(gram + jitter * eye)
        if int(info) == 0:
            break
        if jitter >= 1e-4:
            raise ValueError(
                f"RBF Gram matrix of {len(x)} points is not positive definite even with jitter "
                f"{jitter:g}"
            )
        jitter *= 10.0
    z = _normal((n_samples, len(x)), generator, device, torch.float64)
    return (z @ chol.T).to(dtype)
