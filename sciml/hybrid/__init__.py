"""Solvers in the training loop: learned corrections, hybrid rollouts, inverse problems.

* :mod:`.steppers` — one-step maps on a coarse grid: :class:`SolverStep` (differentiable spectral
  solver), :class:`CorrectedStep` (solver + learned correction), :class:`SurrogateStep`;
* :mod:`.networks` — :class:`PeriodicConvNet`, the small periodic CNN used as correction/surrogate;
* :mod:`.rollout` — :func:`rollout` and :func:`hybrid_rollout` (the solver every ``k``-th step);
* :mod:`.unrolled` — the multi-step rollout loss and its training loop (backprop through solver);
* :mod:`.reference` — fine-solver trajectories downsampled to the coarse grid;
  :mod:`.problems` — :class:`CoarseFineProblem`, a coarse/fine pair of one periodic PDE;
* :mod:`.inverse` — a field recovered from sparse noisy observations through the FEM adjoint;
* :mod:`.timing` — medians of repeated wall/CPU timings for equal-cost comparisons;
  :mod:`.report` — markdown tables of the examples.

See ``docs/solver_in_the_loop.md``.
"""

from sciml.hybrid.inverse import (
    DarcyInverseProblem,
    InverseResult,
    minimize_lbfgs,
    smoothness_penalty,
)
from sciml.hybrid.networks import PeriodicConvNet
from sciml.hybrid.problems import CoarseFineProblem
from sciml.hybrid.reference import coarse_reference
from sciml.hybrid.report import markdown_table
from sciml.hybrid.rollout import hybrid_rollout, rollout, solver_steps
from sciml.hybrid.steppers import CorrectedStep, SolverStep, SurrogateStep
from sciml.hybrid.timing import Timing, median_time
from sciml.hybrid.unrolled import fit_unrolled, sample_windows, unrolled_loss

__all__ = [
    "CoarseFineProblem",
    "CorrectedStep",
    "DarcyInverseProblem",
    "InverseResult",
    "PeriodicConvNet",
    "SolverStep",
    "SurrogateStep",
    "Timing",
    "coarse_reference",
    "fit_unrolled",
    "hybrid_rollout",
    "markdown_table",
    "median_time",
    "minimize_lbfgs",
    "rollout",
    "sample_windows",
    "smoothness_penalty",
    "solver_steps",
    "unrolled_loss",
]
