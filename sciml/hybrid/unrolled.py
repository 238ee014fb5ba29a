r"""Training a stepper through a multi-step rollout (backpropagation through the solver).

The loss of a window :math:`(r_0, \dots, r_m)` of a reference trajectory is the mean relative
squared error of an ``m``-step rollout started from :math:`r_0`,

.. math:: \mathcal L_m(\theta) = \frac1m \sum_{j=1}^{m}
          \frac{\lVert u_j - r_j\rVert_2^2}{\lVert r_j\rVert_2^2},\qquad
          u_j = \Phi_\theta(u_{j-1}),\ u_0 = r_0,

averaged over the batch; its gradient flows through all ``m`` applications of
:math:`\Phi_\theta` — for a :class:`~sciml.hybrid.CorrectedStep` through the solver steps too,
which is what lets the correction learn to undo errors that it sees only after the solver has
propagated them (Um et al., "Solver-in-the-Loop", NeurIPS 2020, §3; List, Chen & Thuerey,
"Learned turbulence modelling with differentiable fluid solvers", JFM 949, 2022).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sciml.hybrid.rollout import rollout

__all__ = ["fit_unrolled", "sample_windows", "unrolled_loss"]


def unrolled_loss(
    step: Callable[[torch.Tensor], torch.Tensor], reference: torch.Tensor
) -> torch.Tensor:
    """Scalar loss :math:`\\mathcal L_m` of a rollout against ``reference`` ``(B, m + 1, C, *N)``.

    The rollout starts from ``reference[:, 0]`` and takes ``m`` steps.
    """
    if not isinstance(reference, torch.Tensor) or reference.ndim < 4 or reference.shape[1] < 2:
        raise ValueError(
            "reference must be a trajectory window (B, m + 1, C, *N) with m >= 1, got "
            f"{tuple(reference.shape) if isinstance(reference, torch.Tensor) else type(reference)}"
        )
    pred = rollout(step, reference[:, 0], reference.shape[1] - 1)[:, 1:]
    target = reference[:, 1:]
    err = (pred - target).flatten(2).square().sum(-1)
    return (err / target.flatten(2).square().sum(-1)).mean()


def sample_windows(
    trajectories: torch.Tensor,
    n_unroll: int,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random windows ``(batch_size, n_unroll + 1, C, *N)`` of ``trajectories`` ``(S, T, C, *N)``.

    Sample and start time are drawn uniformly (with replacement) from the ``S · (T - n_unroll)``
    windows.
    """
    s, t = trajectories.shape[:2]
    if isinstance(n_unroll, bool) or not isinstance(n_unroll, int) or not 1 <= n_unroll < t:
        raise ValueError(
            f"n_unroll must be an integer in [1, {t - 1}] for trajectories of {t} frames, "
            f"got {n_unroll!r}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    sample = torch.randint(s, (batch_size,), generator=generator)
    start = torch.randint(t - n_unroll, (batch_size,), generator=generator)
    index = start[:, None] + torch.arange(n_unroll + 1)
    return trajectories[sample[:, None], index]


def fit_unrolled(
    step: nn.Module,
    trajectories: torch.Tensor,
    *,
    n_unroll: int,
    n_iters: int,
    batch_size: int = 16,
    lr: float = 1e-3,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Train the parameters of ``step`` on :func:`unrolled_loss` over random windows.

    Adam with a cosine-decayed learning rate (``lr`` → 0 over ``n_iters``); gradients are
    clipped to norm 1 (an unrolled loss can have rare large gradients early on).

    Parameters
    ----------
    step:
        The stepper to train (e.g. :class:`~sciml.hybrid.CorrectedStep` or
        :class:`~sciml.hybrid.SurrogateStep`); only its parameters with ``requires_grad`` change.
    trajectories:
        Reference trajectories ``(S, T, C, *N)`` on the stepper's grid, one stepper step apart,
        with the dtype and device of the stepper.
    n_unroll:
        Steps ``m`` per window (the rollout the gradient flows through).
    n_iters, batch_size, lr:
        Optimiser iterations, windows per iteration, initial learning rate.

    Returns
    -------
    list[float]
        The loss of every iteration.
    """
    params = [p for p in step.parameters() if p.requires_grad]
    if not params:
        raise ValueError("fit_unrolled: the stepper has no trainable parameters")
    if isinstance(n_iters, bool) or not isinstance(n_iters, int) or n_iters < 1:
        raise ValueError(f"n_iters must be a positive integer, got {n_iters!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, n_iters)
    history = []
    for _ in range(n_iters):
        window = sample_windows(trajectories, n_unroll, batch_size, generator=generator)
        loss = unrolled_loss(step, window)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        history.append(loss.item())
    return history
