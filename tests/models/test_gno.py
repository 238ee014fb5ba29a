"""GNO: the kernel-integral formula, discretisation convergence, batching, gradients, bad input."""

from __future__ import annotations

import pytest
import torch

from sciml.models.gno import GNO


def _lattice(n: int) -> torch.Tensor:
    """``(n², 2)`` cell centres of an ``n × n`` lattice on the unit square (float64)."""
    c = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return torch.stack(torch.meshgrid(c, c, indexing="ij"), -1).reshape(-1, 2)


def _field(x: torch.Tensor) -> torch.Tensor:
    """A smooth ``(N, 3)`` input function."""
    return torch.stack(
        [torch.sin(2 * torch.pi * x[:, 0]), torch.cos(3 * x[:, 1]), x[:, 0] * x[:, 1]], -1
    )


@pytest.mark.parametrize("transform", ["linear", "nonlinear"])
def test_output_is_the_mean_kernel_message_over_each_ball(transform: str) -> None:
    torch.manual_seed(0)
    gno = GNO(3, 4, 2, radius=0.3, kernel_hidden=(8,), transform=transform).double()
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(40, 2, generator=gen, dtype=torch.float64)
    y = torch.rand(6, 2, generator=gen, dtype=torch.float64)
    f = torch.randn(40, 3, generator=gen, dtype=torch.float64)
    out = gno(f, x, y)
    for i in range(6):
        near = (x - y[i]).norm(dim=-1) <= 0.3
        rel = (x[near] - y[i]) / 0.3
        if transform == "linear":
            m = gno.kernel(rel) * f[near]
        else:
            m = gno.kernel(torch.cat([rel, f[near]], -1))
        assert torch.allclose(out[i], gno.out(m.mean(0)), atol=1e-12)


def test_refining_the_points_converges_to_the_kernel_integral() -> None:
    # Lattices of 40², 80², 160² points sample the same function; the GNO output at fixed
    # queries converges (to the 320² value) as the points are refined: the mean over a ball is
    # a quadrature of the integral, not a sum that grows with the point count.
    torch.manual_seed(0)
    gno = GNO(3, 2, 2, radius=0.2, transform="linear").double()
    gen = torch.Generator().manual_seed(9)
    y = 0.2 + 0.6 * torch.rand(50, 2, generator=gen, dtype=torch.float64)

    def at(x: torch.Tensor) -> torch.Tensor:
        return gno(_field(x), x, y)

    with torch.no_grad():
        reference = at(_lattice(320))
        errors = [float((at(_lattice(n)) - reference).abs().mean()) for n in (40, 80, 160)]
        # the same function on random (non-lattice) points of the 80² density: a Monte-Carlo
        # quadrature of the same integral
        x = torch.rand(80 * 80, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        random_points = float((at(x) - reference).abs().mean())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.1 * errors[0]
    assert random_points < 0.01 * float(reference.abs().mean())


def test_batched_examples_only_see_their_own_points_and_empty_balls_give_the_bias() -> None:
    torch.manual_seed(0)
    gno = GNO(3, 2, 2, radius=0.25, transform="nonlinear").double()
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(60, 2, generator=gen, dtype=torch.float64)
    f = torch.randn(60, 3, generator=gen, dtype=torch.float64)
    y = torch.rand(10, 2, generator=gen, dtype=torch.float64)
    bx = torch.arange(2).repeat_interleave(30)
    by = torch.arange(2).repeat_interleave(5)
    out = gno(f, x, y, bx, by)
    assert torch.allclose(out[:5], gno(f[:30], x[:30], y[:5]), atol=1e-12)
    assert torch.allclose(out[5:], gno(f[30:], x[30:], y[5:]), atol=1e-12)
    far = gno(f, x, torch.tensor([[5.0, 5.0]], dtype=torch.float64))
    assert torch.allclose(far[0], gno.out.bias)


def test_gradients_in_the_function_and_the_point_positions() -> None:
    torch.manual_seed(0)
    gno = GNO(2, 2, 2, radius=0.5, kernel_hidden=(6,), transform="linear").double()
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(12, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.rand(3, 2, generator=gen, dtype=torch.float64)
    f = torch.randn(12, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    edge_index = gno.neighbourhoods(x, y)  # fixed graph: the map is smooth in f and x
    assert torch.autograd.gradcheck(lambda f, x: gno(f, x, y, edge_index=edge_index), (f, x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes_and_bad_input(dtype: torch.dtype) -> None:
    gno = GNO(3, 2, 3, radius=0.3).to(dtype)
    x = torch.rand(20, 3, dtype=dtype)
    assert gno(torch.randn(20, 3, dtype=dtype), x, x[:4]).dtype == dtype
    with pytest.raises(ValueError, match="gno expects"):
        gno(torch.randn(19, 3, dtype=dtype), x, x[:4])
    with pytest.raises(ValueError, match=r"gno transform='quadratic' is not one of \['linear'"):
        GNO(3, 2, 3, radius=0.3, transform="quadratic")
    with pytest.raises(ValueError, match="gno radius must be positive"):
        GNO(3, 2, 3, radius=0.0)
