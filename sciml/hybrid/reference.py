r"""Reference trajectories on a coarse grid: a fine solver's rollout, spectrally downsampled.

The fine solver takes ``substeps`` steps of :math:`\Delta t_f` per coarse step
:math:`\Delta t_c = \text{substeps}\cdot\Delta t_f`; every saved frame is restricted to the
coarse grid by Fourier truncation (:func:`sciml.data.transforms.resample`, exact for fields
band-limited to the coarse grid). This is the target of correction learning
(Um et al., NeurIPS 2020, §4) and of the surrogate baselines.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sciml.data.transforms import resample
from sciml.solvers.spectral import SpectralSolver

__all__ = ["coarse_reference"]


@torch.no_grad()
def coarse_reference(
    fine_solver: SpectralSolver,
    u0: torch.Tensor,
    n_steps: int,
    substeps: int,
    coarse_shape: int | Sequence[int],
) -> torch.Tensor:
    """Fine-solver trajectory ``(B, n_steps + 1, C, *M)`` on the coarse grid ``M``.

    Parameters
    ----------
    fine_solver:
        Solver on the fine grid ``N`` with step :math:`\\Delta t_f` = ``fine_solver.dt``.
    u0:
        Initial states ``(B, C, *N)`` on the fine grid.
    n_steps:
        Number of coarse steps; the fine solver takes ``n_steps * substeps`` steps.
    substeps:
        Fine steps per coarse step (``Δt_c / Δt_f``, a positive integer).
    coarse_shape:
        Coarse grid size ``M`` (one int per spatial axis, or one int for all).

    Returns
    -------
    Tensor
        ``(B, n_steps + 1, C, *M)``, frame ``j`` at time ``j · Δt_c``, no autograd graph.
    """
    if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
        raise ValueError(f"substeps must be a positive integer, got {substeps!r}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    fine = fine_solver.rollout(u0, n_steps * substeps, save_every=substeps)
    b, t = fine.shape[:2]
    coarse = resample(fine.flatten(0, 1), coarse_shape)
    return coarse.reshape(b, t, *coarse.shape[1:])
