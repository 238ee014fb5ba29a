"""Batched Levenberg–Marquardt: known minimisers, per-problem status, bad input."""

from __future__ import annotations

import pytest
import torch

from sciml.constraints.hard.lm import NonFiniteResidualError, levenberg_marquardt

DT = torch.float64


def _rosenbrock(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rosenbrock as least squares: r = (10 (w2 - w1^2), 1 - w1), minimiser (1, 1), cost 0."""
    w1, w2 = w[:, 0], w[:, 1]
    r = torch.stack([10 * (w2 - w1**2), 1 - w1], dim=-1)
    one, zero = torch.ones_like(w1), torch.zeros_like(w1)
    jac = torch.stack([torch.stack([-20 * w1, 10 * one], -1), torch.stack([-one, zero], -1)], 1)
    return r, jac


def test_rosenbrock_minimiser_is_found_from_several_starts_in_one_batch() -> None:
    w0 = torch.tensor([[-1.2, 1.0], [0.0, 0.0], [2.0, -1.0], [1.0, 1.0]], dtype=DT)
    res = levenberg_marquardt(_rosenbrock, w0, max_iter=200, rtol=1e-12, atol=1e-14)
    assert res.converged.all()
    torch.testing.assert_close(res.solution, torch.ones_like(w0), atol=1e-6, rtol=0)
    assert res.cost.max() < 1e-12
    # the start at the minimiser stops at once (zero gradient); the classic start needs many steps
    assert res.n_iter[3] == 0 and res.n_iter[0] > 5


def test_linear_problem_gives_the_normal_equations_solution() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(3, 20, 4, generator=gen, dtype=DT)
    b = torch.randn(3, 20, generator=gen, dtype=DT)
    res = levenberg_marquardt(
        lambda w: ((a @ w.unsqueeze(-1)).squeeze(-1) - b, a),
        torch.zeros(3, 4, dtype=DT),
        max_iter=100,
        rtol=1e-10,
        atol=1e-12,
    )
    expected = torch.linalg.lstsq(a, b.unsqueeze(-1)).solution.squeeze(-1)
    assert res.converged.all()
    torch.testing.assert_close(res.solution, expected, atol=1e-9, rtol=0)


def test_exponential_fit_recovers_the_parameters() -> None:
    """r_i = a exp(k t_i) - y_i with y from (a, k) = (2, -1.5): the minimiser is (2, -1.5)."""
    t = torch.linspace(0, 2, 30, dtype=DT)
    truth = torch.tensor([[2.0, -1.5], [0.5, 0.7]], dtype=DT)
    y = truth[:, :1] * torch.exp(truth[:, 1:] * t)

    def fun(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e = torch.exp(w[:, 1:] * t)
        return w[:, :1] * e - y, torch.stack([e, w[:, :1] * t * e], -1)

    res = levenberg_marquardt(fun, torch.ones(2, 2, dtype=DT), rtol=1e-10, atol=1e-14)
    assert res.converged.all()
    torch.testing.assert_close(res.solution, truth, atol=1e-7, rtol=0)


def test_a_problem_that_cannot_converge_in_time_is_flagged_not_hidden() -> None:
    w0 = torch.tensor([[-1.2, 1.0], [1.0, 1.0]], dtype=DT)
    res = levenberg_marquardt(_rosenbrock, w0, max_iter=3)
    assert res.converged.tolist() == [False, True]
    assert res.n_not_converged == 1 and res.n_iter.tolist() == [3, 0]


def test_nan_residual_at_the_start_is_an_error_naming_the_problem() -> None:
    def fun(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r, jac = _rosenbrock(w)
        return torch.where(w[:, :1] < 0, torch.nan, r), jac

    w0 = torch.tensor([[1.0, 2.0], [-1.0, 1.0]], dtype=DT)
    with pytest.raises(NonFiniteResidualError, match=r"problem\(s\) \[1\] of 2"):
        levenberg_marquardt(fun, w0)


def test_nan_at_a_trial_point_rejects_the_step_and_the_solve_goes_on() -> None:
    """r = w - 3 with NaN for w > 3.5: the first full step is taken, overshoots are rejected."""

    def fun(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = torch.where(w > 3.5, torch.nan, (w - 3) * (1 + (w - 3) ** 2))
        return r, (1 + 3 * (w - 3) ** 2).unsqueeze(-1)

    res = levenberg_marquardt(fun, torch.zeros(1, 1, dtype=DT), max_iter=100, rtol=1e-10)
    assert res.converged.all()
    torch.testing.assert_close(res.solution, torch.full((1, 1), 3.0, dtype=DT), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("max_iter", 0, "max_iter must be a positive integer, got 0"),
        ("rtol", -1.0, "rtol must be >= 0, got -1.0"),
        ("damping", 0.0, "damping must be > 0, got 0.0"),
    ],
)
def test_bad_options_are_refused(option: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        levenberg_marquardt(_rosenbrock, torch.zeros(1, 2, dtype=DT), **{option: value})


def test_fixed_iterations_mode_gives_the_early_stopping_result() -> None:
    starts = torch.tensor([[-1.2, 1.0], [0.0, 0.0], [2.0, 3.0], [1.0, 1.0]], dtype=DT)
    early = levenberg_marquardt(_rosenbrock, starts, max_iter=60, rtol=1e-10, atol=1e-12)
    fixed = levenberg_marquardt(
        _rosenbrock, starts, max_iter=60, rtol=1e-10, atol=1e-12, fixed_iterations=True
    )
    assert early.converged.all() and len(set(early.n_iter.tolist())) > 1
    torch.testing.assert_close(fixed.solution, early.solution, rtol=0, atol=0)
    assert torch.equal(fixed.n_iter, early.n_iter) and torch.equal(fixed.converged, early.converged)


def test_fixed_iterations_mode_lets_a_nan_start_propagate_instead_of_raising() -> None:
    start = torch.tensor([[float("nan"), 1.0], [0.5, 0.5]], dtype=DT)
    out = levenberg_marquardt(_rosenbrock, start, max_iter=20, fixed_iterations=True)
    assert out.solution[0].isnan().any() and not out.converged[0]
    assert torch.isfinite(out.solution[1]).all()
