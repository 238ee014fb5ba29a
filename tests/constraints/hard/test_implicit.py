"""IFT backward vs unrolled LM vs finite differences (float64)."""

from __future__ import annotations

import pytest
import torch
from hard_helpers import smooth_basis

from sciml.constraints.hard import (
    HardPDEConstraint,
    LeastSquaresSystem,
    LMOptions,
    SingularSystemError,
    solve_least_squares,
)
from sciml.testing import directional_fd_error

DT = torch.float64
TIGHT = {"rtol": 1e-12, "atol": 1e-14, "max_iter": 200}


def _cubic_system(features: torch.Tensor, noise: float) -> LeastSquaresSystem:
    """r = q0 + 0.3 q1^3 - y with y from a known w (plus noise: a non-zero residual optimum)."""
    gen = torch.Generator().manual_seed(1)
    s, _, _, n = features.shape
    w_true = torch.randn(s, n, generator=gen, dtype=DT)
    q = torch.einsum("spfn,sn->spf", _features(), w_true)  # the data do not move with features
    target = q[..., 0] + 0.3 * q[..., 1] ** 3
    target = target + noise * torch.randn(target.shape, generator=gen, dtype=DT)
    lhs = torch.randn(s, 3, n, generator=gen, dtype=DT)

    def pointwise(q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = q[..., 0] + 0.3 * q[..., 1] ** 3 - target
        return r, torch.stack([torch.ones_like(r), 0.9 * q[..., 1] ** 2], -1)

    return LeastSquaresSystem(features, pointwise, lhs, (lhs @ w_true[..., None])[..., 0], 1e-4)


def _features() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return 0.5 * torch.randn(2, 30, 2, 4, generator=gen, dtype=DT)


def _loss(mode: str, noise: float):
    weights = torch.arange(1.0, 5.0, dtype=DT)

    def fn(features: torch.Tensor) -> torch.Tensor:
        system = _cubic_system(features, noise)
        w, result = solve_least_squares(system, mode=mode, options=LMOptions(init=0.0, **TIGHT))
        assert result.converged.all()
        return (w * weights).sum()

    return fn


def _grad(mode: str, noise: float) -> torch.Tensor:
    features = _features().requires_grad_(True)
    (grad,) = torch.autograd.grad(_loss(mode, noise)(features), features)
    return grad


@pytest.mark.parametrize("mode", ["ift_exact", "unrolled"])
def test_gradient_matches_finite_differences(mode: str) -> None:
    err = directional_fd_error(_loss(mode, 0.05), _features(), eps=1e-5, n_directions=3)
    assert err < 1e-6


def test_exact_ift_equals_the_unrolled_gradient() -> None:
    torch.testing.assert_close(
        _grad("ift_exact", 0.05), _grad("unrolled", 0.05), rtol=1e-7, atol=1e-9
    )


def test_gauss_newton_is_exact_at_a_zero_residual_and_approximate_otherwise() -> None:
    torch.testing.assert_close(_grad("ift_gn", 0.0), _grad("ift_exact", 0.0), rtol=1e-6, atol=1e-8)
    gap = (_grad("ift_gn", 0.05) - _grad("ift_exact", 0.05)).norm()
    assert gap > 1e-4 * _grad("ift_exact", 0.05).norm()


def test_layer_gradient_matches_unrolled_and_fourth_order_differences() -> None:
    """Through the whole layer (features, rows, LM, u = b·w) on diffusion–sorption, 2 experts.

    The map basis → u is strongly nonlinear (central differences need h ~ 1e-6, where the
    solver's round-off shows), so the check uses the fourth-order difference
    (-f(2h) + 8f(h) - 8f(-h) + f(-2h)) / 12h. The initial data stay away from u = 0, where R(u)
    is not smooth.
    """
    gen = torch.Generator().manual_seed(0)
    batch = {"x": 0.6 + 0.1 * torch.rand(2, 16, generator=gen, dtype=DT)}
    layer = HardPDEConstraint(
        n_basis=4, n_points=None, experts=(1, 2), pde_options={"residual_scale": 500.0}, **TIGHT
    )
    probe = torch.randn(2, 1, 6, 16, generator=gen, dtype=DT)
    basis = smooth_basis(2, 6, 16, 4)
    direction = torch.randn(basis.shape, generator=gen, dtype=DT)

    def fn(b: torch.Tensor) -> torch.Tensor:
        return (layer(b, batch) * probe).sum()

    grads = {}
    for mode in ("ift_exact", "unrolled"):
        layer.backward_mode = mode
        b = basis.clone().requires_grad_(True)
        (grads[mode],) = torch.autograd.grad(fn(b), b)
        assert layer.last_result is not None and layer.last_result.converged.all()
    torch.testing.assert_close(grads["ift_exact"], grads["unrolled"], rtol=1e-6, atol=1e-9)
    h = 1e-4
    with torch.no_grad():
        f = [fn(basis + k * h * direction) for k in (2, 1, -1, -2)]
    fd = float((-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h))
    assert abs(float((grads["ift_exact"] * direction).sum()) - fd) <= 1e-6 * abs(fd)


def test_singular_adjoint_system_is_an_error() -> None:
    features = torch.zeros(1, 5, 1, 3, dtype=DT, requires_grad=True)
    system = LeastSquaresSystem(
        features, lambda q: (q[..., 0], torch.ones_like(q)), torch.zeros(1, 0, 3, dtype=DT),
        torch.zeros(1, 0, dtype=DT), 0.0,
    )  # fmt: skip
    w, _ = solve_least_squares(system, mode="ift_gn", options=LMOptions(max_iter=2))
    with pytest.raises(SingularSystemError, match="Gauss-Newton matrix is singular"):
        w.sum().backward()


def test_unknown_backward_mode_is_refused() -> None:
    with pytest.raises(ValueError, match=r"backward_mode='adjoint' is not one of \['ift_exact'"):
        solve_least_squares(_cubic_system(_features(), 0.0), mode="adjoint")
