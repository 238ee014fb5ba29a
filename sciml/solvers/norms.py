r"""Sobolev norms of fields on uniform grids, shared by the H1 training loss and the H1 metric.

With the volume-normalized norm :math:`\lVert v \rVert_{H^1}^2 = \frac{1}{|\Omega|}\int_\Omega
|v|^2 + |\nabla v|^2\,dx` (summed over channels):

* *periodic* grids use Parseval's identity with the real FFT over the spatial axes,
  :math:`\lVert v \rVert_{H^1}^2 = \frac{1}{N^2}\sum_k (1 + |\kappa_k|^2)|\hat v_k|^2`,
  :math:`\kappa_{k,d} = 2\pi k_d / L_d`, exact for band-limited fields;
* *non-periodic* grids (both end points included) use second-order central differences inside and
  first-order one-sided differences at the boundary (``torch.gradient``);
* or, on periodic grids with ``derivative="finite_difference"``, second-order central differences
  that wrap around, :math:`(v_{i+1} - v_{i-1}) / 2h`, ``h = L/n`` (neuraloperator's ``H1Loss``,
  whose ``FiniteDiff`` is periodic by default).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

DERIVATIVES = ("spectral", "finite_difference")


def h1_squared_norm(
    v: torch.Tensor, lengths: Sequence[float], *, periodic: bool, derivative: str | None = None
) -> torch.Tensor:
    """Per-sample :math:`\\lVert v \\rVert_{H^1}^2` of ``v`` ``(B, C, *S)`` → ``(B,)``.

    ``lengths``: the physical length :math:`L_d` of each spatial axis (spacing ``L/n`` on a
    periodic grid of ``n`` points, ``L/(n − 1)`` on a non-periodic one). ``derivative``:
    ``"spectral"`` (the default on periodic grids) or ``"finite_difference"`` (the only one, and
    the default, on non-periodic grids).
    """
    spatial = v.shape[2:]
    derivative = derivative or ("spectral" if periodic else "finite_difference")
    if derivative not in DERIVATIVES:
        raise ValueError(f"h1: derivative={derivative!r} is not one of {list(DERIVATIVES)}")
    if periodic and derivative == "spectral":
        return _spectral_h1_squared_norm(v, list(lengths))
    if not periodic and derivative == "spectral":
        raise ValueError(
            "h1: derivative='spectral' needs a periodic grid; use derivative='finite_difference' "
            "or periodic=true"
        )
    if periodic:
        dims = range(2, v.ndim)
        total = v.square()
        for dim, length, n in zip(dims, lengths, spatial):
            step = 2 * length / n
            total = total + ((v.roll(-1, dims=dim) - v.roll(1, dims=dim)) / step).square()
        return total.flatten(1).mean(dim=1)
    if min(spatial) < 2:
        raise ValueError(f"h1: finite differences need >= 2 points per axis, got {spatial}")
    spacing = [length / (n - 1) for length, n in zip(lengths, spatial)]
    dims = list(range(2, v.ndim))
    grads = torch.gradient(v, spacing=spacing, dim=dims, edge_order=1)
    total = v.square() + sum(g.square() for g in grads)
    return total.flatten(1).mean(dim=1)


def _spectral_h1_squared_norm(v: torch.Tensor, lengths: list[float]) -> torch.Tensor:
    spatial = v.shape[2:]
    dims = tuple(range(2, v.ndim))
    v_hat = torch.fft.rfftn(v, dim=dims)
    real_dtype = v_hat.real.dtype
    weight = torch.ones((), dtype=real_dtype, device=v.device)
    for axis, (n, length) in enumerate(zip(spatial, lengths)):
        last = axis == len(spatial) - 1
        freq_fn = torch.fft.rfftfreq if last else torch.fft.fftfreq
        freq = freq_fn(n, d=length / n, dtype=real_dtype, device=v.device)
        kappa2 = (2 * math.pi * freq).square()
        shape = [1] * len(spatial)
        shape[axis] = -1
        weight = weight + kappa2.reshape(shape)
    # The real FFT stores only k_last >= 0: the modes strictly between 0 and Nyquist stand
    # for themselves and their conjugates, so they count twice in Parseval's sum.
    n_last = spatial[-1]
    multiplicity = torch.full((n_last // 2 + 1,), 2.0, dtype=real_dtype, device=v.device)
    multiplicity[0] = 1.0
    if n_last % 2 == 0:
        multiplicity[-1] = 1.0
    weight = weight * multiplicity
    n_points = math.prod(spatial)
    return (weight * v_hat.abs().square()).flatten(1).sum(dim=1) / n_points**2
