"""Heat equation between walls: exact in time for every ETDRK scheme, mean conservation
(Neumann), parameter gradients and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers.spectral import BoundedDiffusion, BoundedGrid, SpectralSolver


@pytest.mark.parametrize("scheme", ["etdrk1", "etdrk2", "etdrk4"])
@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
def test_series_solution_is_exact_at_any_step(scheme: str, boundary: str) -> None:
    # u = Σ A_m φ_m(x) φ_n(y) e^{-ν(k_m² + k_n²) t} on [0, 2]², φ = sin or cos
    grid = BoundedGrid((16, 12), 2.0, boundary=boundary)
    x, y = grid.coordinates()
    wave = torch.sin if boundary == "dirichlet" else torch.cos
    terms = [(1, 2, 1.0), (3, 1, -0.5), (5, 4, 0.25)]
    nu = 0.3

    def exact(t: float) -> torch.Tensor:
        return sum(
            a
            * wave(math.pi * m * x / 2)
            * wave(math.pi * n * y / 2)
            * math.exp(-nu * (math.pi / 2) ** 2 * (m * m + n * n) * t)
            for m, n, a in terms
        )

    solver = SpectralSolver(BoundedDiffusion(grid, nu=nu), dt=0.25, scheme=scheme)
    u = solver.rollout(exact(0.0).expand(1, 1, 17, 13), 4, save_every=4)[:, -1]
    assert torch.allclose(u, exact(1.0), atol=1e-14)


def test_neumann_conserves_the_mean_dirichlet_keeps_zero_walls() -> None:
    for boundary in ("dirichlet", "neumann"):
        grid = BoundedGrid(32, 1.0, boundary=boundary)
        u0 = torch.rand(3, 1, 33, dtype=torch.float64)
        if boundary == "dirichlet":
            u0[..., [0, -1]] = 0
        u = SpectralSolver(BoundedDiffusion(grid, nu=0.1), dt=0.1).rollout(u0, 5)[:, -1]
        if boundary == "neumann":  # the mean is the cosine coefficient a_0
            assert torch.allclose(grid.transform(u)[..., 0], grid.transform(u0)[..., 0])
        else:
            assert float(u[..., [0, -1]].abs().max()) == 0.0


def test_gradient_in_diffusivity_matches_the_exact_decay_rate() -> None:
    # u = sin(πx) e^{-νπ²t}: du/dν = -π² t u
    grid = BoundedGrid(8, 1.0)
    (x,) = grid.coordinates()
    nu = torch.tensor([0.2], dtype=torch.float64, requires_grad=True)
    u = SpectralSolver(BoundedDiffusion(grid, nu=nu), dt=0.5).rollout(torch.sin(math.pi * x), 1)
    (grad,) = torch.autograd.grad(u[:, -1, 0, 4].sum(), nu)
    expected = -(math.pi**2) * 0.5 * math.exp(-0.2 * math.pi**2 * 0.5)
    assert float(grad) == pytest.approx(expected, rel=1e-12)


def test_negative_diffusivity_is_refused() -> None:
    with pytest.raises(ValueError, match="diffusivity nu must be >= 0, got -0.1"):
        BoundedDiffusion(BoundedGrid(8), nu=-0.1)
