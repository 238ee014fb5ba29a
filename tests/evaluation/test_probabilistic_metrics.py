"""ProbConserv metrics: CE(t), Gaussian log-likelihood, coverage/calibration, correlated samples, shocks."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.constraints.probconserv import conservation_update, trapezoid_weights
from sciml.evaluation.metrics import (
    calibration_error,
    coverage,
    gaussian_log_likelihood,
    gaussian_samples,
    mass_error,
    shock_position,
)
from sciml.models.outputs import GaussianOutput
from sciml.registry import METRICS

F64 = torch.float64


def test_mass_error_is_exact_for_linear_profiles_on_non_uniform_grids() -> None:
    x = torch.tensor([0.0, 0.1, 0.15, 0.6, 1.0], dtype=F64)
    u = torch.stack([2 + 3 * x, -x])  # integrals 3.5 and -0.5
    ce = mass_error(u, x, torch.tensor([3.5, -0.4], dtype=F64))
    torch.testing.assert_close(ce, torch.tensor([0.0, -0.1], dtype=F64), rtol=0, atol=1e-14)


def test_log_likelihood_is_the_mean_normal_log_density() -> None:
    gen = torch.Generator().manual_seed(0)
    mean, var, y = (torch.rand(3, 1, 17, generator=gen, dtype=F64) + 0.1 for _ in range(3))
    ref = torch.distributions.Normal(mean, var.sqrt()).log_prob(y).flatten(1).mean(1)
    torch.testing.assert_close(gaussian_log_likelihood(GaussianOutput(mean, var), y), ref)
    assert "gaussian_log_likelihood" in METRICS and "calibration_error" in METRICS


def test_a_calibrated_model_covers_each_level_and_an_overconfident_one_does_not() -> None:
    gen = torch.Generator().manual_seed(1)
    mean = torch.randn(2, 20000, generator=gen, dtype=F64)
    std = torch.rand(2, 20000, generator=gen, dtype=F64) + 0.2
    y = mean + std * torch.randn(2, 20000, generator=gen, dtype=F64)
    good = GaussianOutput(mean, std.square())
    levels = [0.5, 0.9]
    torch.testing.assert_close(
        coverage(good, y, levels), torch.tensor([levels] * 2, dtype=F64), atol=0.01, rtol=0
    )
    assert calibration_error(good, y).max() < 0.01
    narrow = GaussianOutput(mean, std.square() / 4)
    assert (coverage(narrow, y, [0.9]) < 0.65).all() and calibration_error(narrow, y).min() > 0.1


def test_samples_have_the_covariance_and_keep_the_exact_limit_mass() -> None:
    gen = torch.Generator().manual_seed(2)
    n = 6
    a = torch.randn(n, n, generator=gen, dtype=F64)
    cov = a @ a.T + 0.1 * torch.eye(n, dtype=F64)
    mean = torch.randn(n, generator=gen, dtype=F64)
    samples, jitter = gaussian_samples(mean, cov, 40000, generator=gen)
    assert jitter == 0.0 and samples.shape == (40000, n)
    torch.testing.assert_close(samples.T.cov(), cov, atol=0.05 * float(cov.abs().max()), rtol=0)
    # the exact-limit posterior is singular along Σgᵀ: every sample keeps the conserved mass
    x = torch.linspace(0, 1, 41, dtype=F64)
    g = trapezoid_weights(x)
    var = torch.rand(41, generator=gen, dtype=F64) * 1e-2 + 1e-4
    new_mean, new_cov = conservation_update(
        torch.randn(41, generator=gen, dtype=F64),
        var,
        g,
        torch.tensor(0.3, dtype=F64),
        full_covariance=True,
    )
    samples, jitter = gaussian_samples(new_mean, new_cov, 500, generator=gen)
    assert jitter <= 1e-6
    assert ((samples * g).sum(-1) - 0.3).abs().max() < 10 * math.sqrt(
        jitter * float(g.square().sum())
    ) + 1e-6


def test_shock_position_is_the_first_point_at_or_below_the_threshold() -> None:
    x = torch.linspace(0, 1, 11, dtype=F64)
    u = torch.stack([(x < 0.35).to(F64) * 0.6, torch.full_like(x, 0.6), 0.6 - x])
    torch.testing.assert_close(shock_position(u, x), torch.tensor([0.4, 1.0, 0.6], dtype=F64))


def test_bad_inputs_are_clear_errors() -> None:
    y = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="variance must be > 0, got min -1"):
        gaussian_log_likelihood(GaussianOutput(y, -torch.ones(2, 4)), y)
    with pytest.raises(ValueError, match="must have the same shape"):
        calibration_error(GaussianOutput(y, torch.ones(2, 4)), torch.zeros(2, 5))
    with pytest.raises(
        ValueError, match=r"levels must be a non-empty list in \(0, 1\), got \[1.5\]"
    ):
        coverage(GaussianOutput(y, torch.ones(2, 4)), y, [1.5])
    with pytest.raises(ValueError, match=r"mass must have shape \(2,\), got \(3,\)"):
        mass_error(y, torch.linspace(0, 1, 4), torch.zeros(3))
    with pytest.raises(ValueError, match="not positive definite"):
        gaussian_samples(torch.zeros(2), -torch.eye(2), 3)
