"""ProbConserv update: dense reference, exact-limit conservation, HardC, soft limit, gradients, errors."""

from __future__ import annotations

import functools

import pytest
import torch

from sciml.constraints.probconserv import (
    ProbConserv,
    conservation_update,
    periodic_weights,
    trapezoid_weights,
)
from sciml.evaluation.metrics import gaussian_log_likelihood
from sciml.models.anp import ANP
from sciml.models.outputs import GaussianOutput
from sciml.registry import CONSTRAINTS
from sciml.solvers.gpme import total_mass

F64 = torch.float64


def _spd(n: int, gen: torch.Generator) -> torch.Tensor:
    a = torch.randn(n, n, generator=gen, dtype=F64)
    return a @ a.T + 0.1 * torch.eye(n, dtype=F64)


def _dense_reference(mu, sigma, g, b, noise_var):
    """μ − ΣGᵀ(σ²I + GΣGᵀ)⁻¹(Gμ − b), Σ − ΣGᵀ(σ²I + GΣGᵀ)⁻¹GΣ with an explicit inverse."""
    s_inv = torch.linalg.inv(noise_var * torch.eye(g.shape[0], dtype=F64) + g @ sigma @ g.T)
    k = sigma @ g.T @ s_inv
    return mu - k @ (g @ mu - b), sigma - k @ g @ sigma


def _sorted_grid(n: int, gen: torch.Generator, *lead: int) -> torch.Tensor:
    """Random sorted non-uniform grids on [0, 1] with both ends, ``(*lead, n)``."""
    inner = torch.rand(*lead, n - 2, generator=gen, dtype=F64).sort(dim=-1).values
    zeros, ones = torch.zeros(*lead, 1, dtype=F64), torch.ones(*lead, 1, dtype=F64)
    return torch.cat([zeros, inner, ones], dim=-1)


@pytest.mark.parametrize(("mode", "noise_var"), [("probconserv", 0.0), ("soft", 0.3)])
def test_update_matches_dense_reference_on_random_spd_covariance(
    mode: str, noise_var: float
) -> None:
    gen = torch.Generator().manual_seed(0)
    n, m = 9, 2
    for _ in range(3):
        sigma, mu = _spd(n, gen), torch.randn(n, generator=gen, dtype=F64)
        g, b = torch.randn(m, n, generator=gen, dtype=F64), torch.randn(m, generator=gen, dtype=F64)
        ref_mean, ref_cov = _dense_reference(mu, sigma, g, b, noise_var)
        mean, cov = conservation_update(mu, sigma, g, b, mode=mode, noise_var=noise_var)
        torch.testing.assert_close(mean, ref_mean, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(cov, ref_cov, rtol=1e-10, atol=1e-10)


def test_diagonal_path_equals_full_path_and_batches_over_leading_axes() -> None:
    gen = torch.Generator().manual_seed(1)
    mu = torch.randn(3, 4, 11, generator=gen, dtype=F64)
    var = torch.rand(3, 4, 11, generator=gen, dtype=F64) + 0.05
    g = trapezoid_weights(_sorted_grid(11, gen, 3, 4))
    b = torch.randn(3, 4, generator=gen, dtype=F64)
    mean_d, var_d = conservation_update(mu, var, g, b)
    mean_f, cov_f = conservation_update(mu, torch.diag_embed(var), g, b)
    _, cov_d = conservation_update(mu, var, g, b, full_covariance=True)
    torch.testing.assert_close(mean_d, mean_f)
    torch.testing.assert_close(var_d, cov_f.diagonal(dim1=-2, dim2=-1))
    torch.testing.assert_close(cov_d, cov_f)
    ref_mean, ref_cov = _dense_reference(
        mu[2, 1], torch.diag(var[2, 1]), g[2, 1:2, :][0:1], b[2, 1:2], 0.0
    )
    torch.testing.assert_close(mean_d[2, 1], ref_mean)
    torch.testing.assert_close(cov_f[2, 1], ref_cov)


def test_exact_limit_conserves_to_round_off_on_non_uniform_grids() -> None:
    gen = torch.Generator().manual_seed(2)
    x = _sorted_grid(201, gen, 5, 7)  # a different non-uniform grid per (function, time)
    mu = torch.randn(5, 7, 201, generator=gen, dtype=F64)
    var = torch.rand(5, 7, 201, generator=gen, dtype=F64).pow(3) * 1e-2 + 1e-8  # heteroscedastic
    b = torch.rand(5, 7, generator=gen, dtype=F64)
    mean, new_var = conservation_update(mu, var, trapezoid_weights(x), b)
    ce = torch.trapezoid(mean, x, dim=-1) - b
    assert ce.abs().max() <= 1e-12
    assert (new_var > 0).all() and (new_var <= var).all()


def test_soft_residual_shrinks_by_the_limiting_factor() -> None:
    # one row g: G μ̃ − b = σ²/(σ² + gΣgᵀ) · (G μ − b)
    gen = torch.Generator().manual_seed(3)
    x = torch.linspace(0, 1, 51, dtype=F64)
    g = trapezoid_weights(x).expand(4, 51)
    mu, var = (
        torch.randn(4, 51, generator=gen, dtype=F64),
        torch.rand(4, 51, generator=gen, dtype=F64),
    )
    b = torch.zeros(4, dtype=F64)
    before = (g * mu).sum(-1) - b
    gsg = (g * g * var).sum(-1)
    for noise_var in (1e-6, 1e-3, 1.0):
        mean, _ = conservation_update(mu, var, g, b, mode="soft", noise_var=noise_var)
        after = (g * mean).sum(-1) - b
        torch.testing.assert_close(
            after, noise_var / (noise_var + gsg) * before, rtol=1e-10, atol=0
        )


def test_hardc_is_the_identity_covariance_projection_and_keeps_the_variance() -> None:
    gen = torch.Generator().manual_seed(4)
    x = _sorted_grid(31, gen, 2)
    g = trapezoid_weights(x)
    mu, var = (
        torch.randn(2, 31, generator=gen, dtype=F64),
        torch.rand(2, 31, generator=gen, dtype=F64) + 0.1,
    )
    b = torch.tensor([0.2, -0.4], dtype=F64)
    mean, new_var = conservation_update(mu, var, g, b, mode="hardc")
    assert torch.equal(new_var, var)
    projected, _ = conservation_update(mu, torch.ones_like(var), g, b, mode="probconserv")
    torch.testing.assert_close(mean, projected)
    assert (torch.trapezoid(mean, x, dim=-1) - b).abs().max() <= 1e-13


@pytest.mark.parametrize("diagonal", [True, False])
def test_gradients_through_the_update_pass_gradcheck(diagonal: bool) -> None:
    gen = torch.Generator().manual_seed(5)
    n = 6
    g = trapezoid_weights(_sorted_grid(n, gen, 2))
    mu = torch.randn(2, n, generator=gen, dtype=F64, requires_grad=True)
    b = torch.randn(2, generator=gen, dtype=F64, requires_grad=True)
    if diagonal:
        cov = (torch.rand(2, n, generator=gen, dtype=F64) + 0.1).requires_grad_()
    else:
        cov = torch.stack([_spd(n, gen), _spd(n, gen)]).requires_grad_()

    def update(mu, cov, b, mode, noise_var):
        cov = 0.5 * (cov + cov.transpose(-1, -2)) if not diagonal else cov
        return conservation_update(mu, cov, g, b, mode=mode, noise_var=noise_var)

    for mode, noise_var in (("probconserv", 0.0), ("soft", 0.1), ("hardc", 0.0)):
        assert torch.autograd.gradcheck(
            functools.partial(update, mode=mode, noise_var=noise_var), (mu, cov, b)
        )


def test_periodic_weights_are_the_rectangle_rule_on_a_uniform_grid() -> None:
    x = torch.arange(16, dtype=F64) * (2 * torch.pi / 16)
    w = periodic_weights(x, 2 * torch.pi)
    torch.testing.assert_close(w, torch.full_like(x, 2 * torch.pi / 16))
    assert abs(float((w * (1 + torch.cos(3 * x))).sum()) - 2 * torch.pi) < 1e-12


def test_constraint_is_registered_and_uses_the_exact_stefan_mass() -> None:
    gen = torch.Generator().manual_seed(6)
    t = torch.linspace(0.01, 0.1, 5, dtype=F64).expand(3, 5)
    x = torch.linspace(0, 1, 41, dtype=F64)
    u_star = torch.tensor([0.55, 0.6, 0.7], dtype=F64)
    layer = CONSTRAINTS.get("probconserv")(problem="stefan", parameter_key="u_star")
    out = GaussianOutput(
        torch.rand(3, 5, 41, generator=gen, dtype=F64),
        torch.rand(3, 5, 41, generator=gen, dtype=F64) + 1e-3,
    )
    new = layer(out, {"coords": x, "t": t, "u_star": u_star})
    assert isinstance(new, GaussianOutput)
    ce = torch.trapezoid(new.mean, x, dim=-1) - total_mass("stefan", t, u_star[:, None])
    assert ce.abs().max() <= 1e-13
    mean, cov = layer.posterior(out, {"coords": x, "t": t, "u_star": u_star})
    torch.testing.assert_close(mean, new.mean)
    torch.testing.assert_close(cov.diagonal(dim1=-2, dim2=-1), new.var)


def test_constraint_keeps_float32_and_uses_the_dataset_coordinate_layout() -> None:
    # (B, C, n_x) grid output with coords (B, d=1, n_x) and a per-(sample, channel) mass
    x = torch.linspace(0, 2, 33).expand(2, 1, 33)
    out = GaussianOutput(torch.randn(2, 1, 33), torch.rand(2, 1, 33) + 0.1)
    mass = torch.tensor([[1.0], [-1.0]])
    new = ProbConserv(coord_index=0)(out, {"coords": x, "mass": mass})
    assert new.mean.dtype == torch.float32 and new.var.dtype == torch.float32
    assert (torch.trapezoid(new.mean, x[:, :1], dim=-1) - mass).abs().max() < 1e-5
    hard = ProbConserv("hardc", coord_index=0)(out.mean, {"coords": x, "mass": mass})
    assert isinstance(hard, torch.Tensor) and hard.shape == out.mean.shape


def test_non_positive_variance_is_one_clear_error() -> None:
    x = torch.linspace(0, 1, 5, dtype=F64)
    var = torch.tensor([1.0, 0.5, 0.0, 1.0, 1.0], dtype=F64)
    with pytest.raises(ValueError, match=r"variance must be > 0.*min 0"):
        conservation_update(
            torch.zeros(5, dtype=F64), var, trapezoid_weights(x), torch.tensor(0.0, dtype=F64)
        )


def test_unsorted_grid_is_one_clear_error() -> None:
    x = torch.tensor([0.0, 0.3, 0.2, 1.0])
    with pytest.raises(ValueError, match=r"strictly increasing.*x\[1\]"):
        trapezoid_weights(x)
    layer = ProbConserv()
    out = GaussianOutput(torch.zeros(1, 4), torch.ones(1, 4))
    with pytest.raises(ValueError, match="strictly increasing"):
        layer(out, {"coords": x, "mass": torch.zeros(1)})


def test_target_of_wrong_shape_is_one_clear_error() -> None:
    x = torch.linspace(0, 1, 8)
    out = GaussianOutput(torch.zeros(2, 3, 8), torch.ones(2, 3, 8))
    with pytest.raises(ValueError, match=r"target must have shape \(2, 3\).*got \(2, 4\)"):
        ProbConserv()(out, {"coords": x, "mass": torch.zeros(2, 4)})
    with pytest.raises(ValueError, match=r"target must have shape \(2, 3\)"):
        conservation_update(out.mean, out.var, trapezoid_weights(x).expand(2, 3, 8), torch.zeros(3))


def test_bad_options_name_the_allowed_values() -> None:
    with pytest.raises(
        ValueError, match=r"mode must be one of \('probconserv', 'soft', 'hardc'\), got 'exact'"
    ):
        ProbConserv("exact")
    with pytest.raises(ValueError, match="'soft' needs noise_var > 0"):
        ProbConserv("soft")
    with pytest.raises(ValueError, match="only used by mode 'soft'"):
        ProbConserv("probconserv", noise_var=1e-3)
    with pytest.raises(ValueError, match=r"problem must be one of \['heat', 'pme', 'stefan'\]"):
        ProbConserv(problem="burgers")
    with pytest.raises(ValueError, match="needs a \\(mean, var\\) output"):
        ProbConserv()(
            torch.zeros(1, 4), {"coords": torch.linspace(0, 1, 4), "mass": torch.zeros(1)}
        )


def test_training_through_the_constraint_reaches_the_model_parameters() -> None:
    # the constrained Gaussian NLL back-propagates into a probabilistic model (trained variant)
    torch.manual_seed(0)
    model = ANP(hidden=8, latent=8, n_heads=2, dropout=0.0)
    t = torch.full((2, 1), 0.05)
    x = torch.linspace(0, 1, 12)
    grid = torch.stack([t.expand(2, 12), x.expand(2, 12)], dim=-1)
    ctx_x, ctx_y = torch.rand(2, 5, 2), torch.rand(2, 5, 1)
    out = model(ctx_x, ctx_y, grid)
    out = GaussianOutput(out.mean.reshape(2, 1, 12), out.var.reshape(2, 1, 12))
    layer = ProbConserv(problem="stefan", parameter_key="u_star")
    batch = {"coords": x, "t": t, "u_star": torch.tensor([0.6, 0.65])}
    constrained = layer(out, batch)
    target = torch.rand(2, 1, 12)
    loss = -gaussian_log_likelihood(constrained, target).mean()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
