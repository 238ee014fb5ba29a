"""The differentiable sparse solve: dense agreement, adjoint gradients on the pattern, errors."""

from __future__ import annotations

import pytest
import torch

from sciml.solvers.fem import (
    Assembler,
    ConvergenceError,
    FunctionSpace,
    SingularSystemError,
    SparsePattern,
    SparseSolver,
    unit_square,
)
from sciml.solvers.fem.boundary import DirichletCondensation


def spd_system(batch: int = 2, n: int = 5):
    """Reduced P1 stiffness + mass systems on a small mesh (SPD, sparse)."""
    mesh = unit_square(n)
    asm = Assembler(FunctionSpace(mesh, 1))
    gen = torch.Generator().manual_seed(0)
    values = asm.stiffness(1 + torch.rand(batch, mesh.n_points, generator=gen)) + asm.mass(1.0)
    cond = DirichletCondensation(asm.pattern, mesh.boundary_nodes())
    vals, _ = cond.reduce(values, torch.zeros(1, asm.pattern.n))
    rhs = torch.rand(batch, cond.reduced.n, generator=gen)
    return cond.reduced, vals, rhs


def test_condensed_pattern_keeps_the_transpose_map_of_the_full_one() -> None:
    pattern, _, _ = spd_system()
    assert pattern.transpose is not None  # handed down by DirichletCondensation
    plain = SparsePattern(pattern.rows, pattern.cols, pattern.n)
    assert torch.equal(pattern.transpose_positions, plain.transpose_positions)


@pytest.mark.parametrize("method", ["direct", "cg", "amg", "cholesky"])
def test_solution_matches_dense_solve(method: str) -> None:
    pattern, vals, rhs = spd_system()
    solver = SparseSolver(method, tol=1e-13)
    x = solver(pattern, vals, rhs)
    dense = torch.linalg.solve(pattern.to_dense(vals), rhs)
    assert torch.allclose(x, dense, atol=1e-12)
    info = solver.last_info
    assert info.method == method and bool((info.residual <= 1e-12).all())
    if method in ("cg", "amg"):
        assert 1 <= info.iterations <= pattern.n


@pytest.mark.parametrize("method", ["direct", "cg", "amg", "cholesky"])
def test_adjoint_gradients_match_dense_autograd_and_stay_on_the_pattern(method: str) -> None:
    pattern, vals, rhs = spd_system()
    w = torch.rand(rhs.shape, generator=torch.Generator().manual_seed(1))
    v1, r1 = vals.clone().requires_grad_(), rhs.clone().requires_grad_()
    (SparseSolver(method, tol=1e-14)(pattern, v1, r1) * w).sum().backward()
    dense = pattern.to_dense(vals).requires_grad_()
    r2 = rhs.clone().requires_grad_()
    (torch.linalg.solve(dense, r2) * w).sum().backward()
    assert torch.allclose(r1.grad, r2.grad, atol=1e-11)
    on_pattern = dense.grad[:, pattern.rows, pattern.cols]
    assert torch.allclose(v1.grad, on_pattern, atol=1e-11)
    assert v1.grad.shape == vals.shape  # one entry per stored nonzero, never dense


def test_gradcheck_on_a_small_system() -> None:
    pattern, vals, rhs = spd_system(batch=1, n=3)
    solver = SparseSolver("direct")
    assert torch.autograd.gradcheck(
        lambda v, r: solver(pattern, v, r), (vals.requires_grad_(), rhs.requires_grad_())
    )


def test_factorization_is_reused_for_many_right_hand_sides() -> None:
    pattern, vals, rhs = spd_system()
    solver = SparseSolver("direct")
    fac = solver.factorize(pattern, vals)
    for k in range(3):
        x = solver(pattern, vals, rhs * (k + 1), factorization=fac)
        assert torch.allclose(pattern.matvec(vals, x), rhs * (k + 1), atol=1e-12)


def test_cg_non_convergence_reports_the_residual() -> None:
    pattern, vals, rhs = spd_system()
    with pytest.raises(ConvergenceError, match=r"CG did not converge in 3 iterations: relative"):
        SparseSolver("cg", tol=1e-12, maxiter=3)(pattern, vals, rhs)


def test_singular_matrix_is_a_clear_error() -> None:
    mesh = unit_square(3)
    asm = Assembler(FunctionSpace(mesh, 1))
    values = asm.stiffness(1.0)  # pure Neumann: constants are in the kernel
    values[:, asm.pattern.rows == 0] = 0.0
    values[:, asm.pattern.cols == 0] = 0.0  # an empty row/column: exactly singular
    rhs = torch.ones(1, asm.pattern.n)
    with pytest.raises(SingularSystemError, match="singular"):
        SparseSolver("direct")(asm.pattern, values, rhs)
    with pytest.raises(SingularSystemError, match="positive definite"):
        SparseSolver("cg")(asm.pattern, values, rhs)


def test_bad_arguments_are_refused() -> None:
    pattern, vals, rhs = spd_system()
    with pytest.raises(ValueError, match="method must be one of .*'amg', 'cholesky'"):
        SparseSolver("lu")
    with pytest.raises(ValueError, match="rhs has 3 entries per system"):
        SparseSolver()(pattern, vals, rhs[:, :3])
    with pytest.raises(ValueError, match="values have 4 entries"):
        SparseSolver()(pattern, vals[:, :4], rhs)


def test_float32_cg_solve() -> None:
    pattern, vals, rhs = spd_system()
    x = SparseSolver("cg", tol=1e-5)(pattern, vals.float(), rhs.float())
    assert x.dtype == torch.float32
    assert torch.allclose(x.double(), torch.linalg.solve(pattern.to_dense(vals), rhs), atol=1e-5)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_auto_picks_cholesky_for_small_spd_systems_on_any_device(device: str) -> None:
    pattern, vals, rhs = spd_system()
    dev = torch.device(device)
    p = type(pattern)(pattern.rows.to(dev), pattern.cols.to(dev), pattern.n)
    solver = SparseSolver(tol=1e-12)
    x = solver(p, vals.to(dev), rhs.to(dev))
    assert x.device.type == device
    assert solver.last_info.method == "cholesky"
    assert torch.allclose(x.cpu(), torch.linalg.solve(pattern.to_dense(vals), rhs), atol=1e-10)


def test_auto_picks_amg_for_large_single_solves_and_cholesky_when_factorized(monkeypatch) -> None:
    pattern, vals, rhs = spd_system()
    solver = SparseSolver(tol=1e-11)
    monkeypatch.setattr(solver, "amg_min_rows", 10)  # the test system stands for a large one
    solver(pattern, vals, rhs)
    assert solver.last_info.method == "amg"
    assert bool((solver.last_info.residual <= 1e-11).all())
    assert solver.factorize(pattern, vals).method == "cholesky"  # repeated solves


def test_auto_picks_superlu_for_a_non_symmetric_matrix() -> None:
    pattern, vals, rhs = spd_system(batch=1)
    upper = pattern.rows < pattern.cols
    skew = vals.clone()
    skew[:, upper] *= 1.5  # convection-like: A != Aᵀ
    solver = SparseSolver(tol=1e-12)
    x = solver(pattern, skew, rhs)
    assert solver.last_info.method == "direct"
    assert torch.allclose(pattern.matvec(skew, x), rhs, atol=1e-12)
    with pytest.raises(ValueError, match="method 'amg' needs a symmetric"):
        SparseSolver("amg")(pattern, skew, rhs)


def test_cholesky_of_an_indefinite_matrix_falls_back_to_superlu() -> None:
    pattern, vals, rhs = spd_system(batch=1)
    shifted = vals.clone()
    diag = pattern.rows == pattern.cols
    shifted[:, diag] -= 0.9 * float(pattern.to_dense(vals)[0].diagonal().max())  # indefinite
    solver = SparseSolver("cholesky", tol=1e-12)
    fac = solver.factorize(pattern, shifted)
    assert fac.method == "direct"
    x = solver(pattern, shifted, rhs, factorization=fac)
    assert torch.allclose(pattern.matvec(shifted, x), rhs, atol=1e-10)


@pytest.mark.parametrize("method", ["amg", "cholesky"])
def test_backward_reuses_the_forward_preconditioner_or_factor(method: str, monkeypatch) -> None:
    import sciml.solvers.fem.linear_solve as ls

    calls = []
    real = ls.pyamg.ruge_stuben_solver if method == "amg" else SparseSolver._cholesky

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    if method == "amg":
        monkeypatch.setattr(ls.pyamg, "ruge_stuben_solver", counted)
    else:
        monkeypatch.setattr(SparseSolver, "_cholesky", staticmethod(counted))
    pattern, vals, rhs = spd_system()
    v = vals.clone().requires_grad_()
    SparseSolver(method, tol=1e-12)(pattern, v, rhs).sum().backward()
    assert len(calls) == 1 and v.grad is not None


def test_tolerance_is_validated_and_the_achieved_residual_reported() -> None:
    with pytest.raises(ValueError, match=r"tol must be in \(0, 1\), got 0"):
        SparseSolver("amg", tol=0)
    pattern, vals, rhs = spd_system(batch=1, n=48)  # 2209 rows: a multigrid hierarchy
    loose, tight = SparseSolver("amg", tol=1e-4), SparseSolver("amg", tol=1e-12)
    loose(pattern, vals, rhs)
    tight(pattern, vals, rhs)
    assert bool((loose.last_info.residual <= 1e-4).all())
    assert bool((tight.last_info.residual <= 1e-12).all())
    assert tight.last_info.iterations > loose.last_info.iterations


def test_float32_cholesky_solve() -> None:
    pattern, vals, rhs = spd_system()
    x = SparseSolver("cholesky", tol=1e-5)(pattern, vals.float(), rhs.float())
    assert x.dtype == torch.float32
    assert torch.allclose(x.double(), torch.linalg.solve(pattern.to_dense(vals), rhs), atol=1e-5)
