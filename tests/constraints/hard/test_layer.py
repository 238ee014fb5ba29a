"""The hard_pde layer: K = 1 is the global constraint, experts are independent solves, bad input."""

from __future__ import annotations

import logging

import pytest
import torch
from hard_helpers import smooth_basis

from sciml.constraints.hard import (
    HardPDEConstraint,
    LeastSquaresSystem,
    LMOptions,
    NonFiniteResidualError,
    NotConvergedError,
    NotExportableError,
    SingularSystemError,
    expert_blocks,
    solve_least_squares,
)
from sciml.registry import CONSTRAINTS

DT = torch.float64
OPTS = {"rtol": 1e-10, "atol": 1e-12, "max_iter": 100}


def _direct(layer: HardPDEConstraint, basis: torch.Tensor, batch, mask: torch.Tensor):
    """The single least-squares problem over the grid points in ``mask``, solved by hand."""
    pde = layer.pde
    coords = pde.grid(tuple(basis.shape[2:]), batch)
    feats = pde.features(basis, coords).flatten(3)[..., mask.flatten()].permute(0, 3, 1, 2)
    lhs, rhs = pde.condition_rows(basis, batch, coords)
    system = LeastSquaresSystem(feats, pde.pointwise, lhs, rhs, layer.ridge)
    options = LMOptions(**OPTS, init=1.0)
    w, _ = solve_least_squares(system, options=options)
    return torch.einsum("bn...,bn->b...", basis, w).unsqueeze(1)


def test_one_expert_equals_the_global_constraint(ds_batch) -> None:
    basis = smooth_basis(2, 6, 16)
    layer = HardPDEConstraint(n_basis=8, n_points=None, experts=(1, 1), **OPTS)
    expected = _direct(layer, basis, ds_batch, torch.ones(6, 16, dtype=torch.bool))
    torch.testing.assert_close(layer(basis, ds_batch), expected, rtol=1e-8, atol=1e-10)
    assert layer.last_result.converged.all() and layer.last_result.solution.shape == (2, 8)


@pytest.mark.parametrize("experts", [(1, 2), (2, 2)])
def test_each_expert_solves_its_block_with_the_global_conditions(ds_batch, experts) -> None:
    basis = smooth_basis(2, 6, 16)
    layer = HardPDEConstraint(n_basis=8, n_points=None, experts=experts, **OPTS)
    u = layer(basis, ds_batch)
    blocks = expert_blocks((6, 16), experts)
    for k in range(layer.n_experts):
        mask = blocks == k
        expected = _direct(layer, basis, ds_batch, mask)
        torch.testing.assert_close(u[..., mask], expected[..., mask], rtol=1e-7, atol=1e-9)
    assert layer.last_result.solution.shape == (2 * layer.n_experts, 8)


def test_the_constrained_field_satisfies_the_conditions_better_than_the_pde_residual(
    ds_batch,
) -> None:
    """With 8 smooth basis functions the rows cannot all hold; the least squares balances them."""
    layer = HardPDEConstraint(n_basis=8, n_points=None, **OPTS)
    u = layer(smooth_basis(2, 6, 16), ds_batch)
    conditions = layer.pde.condition_residual(u, ds_batch)
    assert conditions.shape == (2, 16 + 2 * 6)
    naive = layer.pde.condition_residual(smooth_basis(2, 6, 16)[:, :1], ds_batch)
    assert conditions.norm() < 0.5 * naive.norm()


def test_expert_blocks_split_each_axis_uniformly() -> None:
    blocks = expert_blocks((4, 10), (2, 2))
    assert blocks.shape == (4, 10)
    assert torch.bincount(blocks.flatten()).tolist() == [10, 10, 10, 10]
    assert blocks[0, 0] == 0 and blocks[0, 9] == 1 and blocks[3, 0] == 2 and blocks[3, 9] == 3
    with pytest.raises(ValueError, match="one entry per grid axis"):
        expert_blocks((4, 10), (2,))
    with pytest.raises(ValueError, match=r"integers in \[1, 4\]"):
        expert_blocks((4, 10), (5, 1))


def test_sampled_points_are_redrawn_in_training_and_fixed_in_evaluation(ds_batch) -> None:
    basis = smooth_basis(2, 6, 16)
    layer = HardPDEConstraint(n_basis=8, n_points=40, experts=(1, 2))
    a, b = layer(basis, ds_batch), layer(basis, ds_batch)
    assert not torch.allclose(a, b)
    layer.eval()
    torch.testing.assert_close(layer(basis, ds_batch), layer(basis, ds_batch))


def test_is_registered_and_float32_output_keeps_its_dtype(ds_batch) -> None:
    layer = CONSTRAINTS.get("hard_pde")(n_basis=8, n_points=None, experts=[1, 2])
    u = layer(smooth_basis(2, 6, 16).float(), ds_batch)
    assert u.dtype == torch.float32 and u.shape == (2, 1, 6, 16)


def test_too_few_constrained_points_is_an_error(ds_batch) -> None:
    layer = HardPDEConstraint(n_basis=10, n_points=1, experts=(1, 1))
    short = {"x": ds_batch["x"][:, :3]}
    with pytest.raises(ValueError, match="too few constrained points: 1 PDE points . 7 initial"):
        layer(smooth_basis(2, 2, 3, 10), short)


def test_more_points_than_a_block_holds_is_an_error(ds_batch) -> None:
    layer = HardPDEConstraint(n_basis=8, n_points=50, experts=(1, 2))
    with pytest.raises(ValueError, match="n_points=50 exceeds the 48 grid points of an expert"):
        layer(smooth_basis(2, 6, 16), ds_batch)


def test_rank_deficient_system_without_ridge_is_an_error(ds_batch) -> None:
    basis = smooth_basis(2, 6, 16)
    basis = torch.cat([basis[:, :4], basis[:, :4]], dim=1)  # each function twice
    layer = HardPDEConstraint(n_basis=8, n_points=None, ridge=0.0)
    with pytest.raises(SingularSystemError, match=r"determine only 4 of 8 weights \(n_basis=8"):
        layer(basis, ds_batch)
    # with the ridge the duplicated weights are split evenly and the solve is well posed
    ridged = HardPDEConstraint(n_basis=8, n_points=None, **OPTS)
    ridged(basis, ds_batch)
    w = ridged.last_result.solution
    torch.testing.assert_close(w[:, :4], w[:, 4:], rtol=1e-6, atol=1e-8)


def test_nan_in_the_basis_is_an_error(ds_batch) -> None:
    basis = smooth_basis(2, 6, 16)
    basis[1, 3, 2, 5] = torch.nan
    with pytest.raises(NonFiniteResidualError, match=r"problem\(s\) \[1\] of 2"):
        HardPDEConstraint(n_basis=8, n_points=None)(basis, ds_batch)


def test_non_convergence_is_logged_and_counted_or_raises(ds_batch, caplog) -> None:
    basis = smooth_basis(2, 6, 16)
    layer = HardPDEConstraint(n_basis=8, n_points=None, max_iter=1, rtol=0.0, atol=0.0)
    with caplog.at_level(logging.WARNING):
        layer(basis, ds_batch)
        layer(basis, ds_batch)
    assert layer.n_not_converged == 4 and layer.n_solves == 4
    assert "did not converge in 1 iterations for 2 of 2 problems (4 of 4 so far)" in caplog.text
    strict = HardPDEConstraint(
        n_basis=8, n_points=None, max_iter=1, rtol=0.0, atol=0.0, on_nonconvergence="raise"
    )
    with pytest.raises(NotConvergedError, match="for 2 of 2 problems"):
        strict(basis, ds_batch)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pde": "burgers"}, r"pde=.burgers. is not one of \[.diffusion_sorption., .navier"),
        ({"backward_mode": "adjoint"}, r"backward_mode='adjoint' is not one of \['ift_exact'"),
        ({"on_nonconvergence": "ignore"}, r"on_nonconvergence='ignore' is not one of"),
        ({"n_points": 0}, "n_points must be a positive integer or None"),
        ({"ridge": -1.0}, "ridge must be >= 0"),
        ({"local_conditions": "yes"}, "local_conditions must be true or false"),
        (
            {"local_conditions": True, "interface_weight": 1.0},
            "local_conditions and interface_weight > 0 cannot be combined",
        ),
    ],
)
def test_bad_options_are_refused(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HardPDEConstraint(n_basis=8, **options)


def test_wrong_number_of_basis_channels_is_refused(ds_batch) -> None:
    with pytest.raises(ValueError, match=r"n_basis=4.*got \(2, 8, 6, 16\).*out_channels"):
        HardPDEConstraint(n_basis=4)(smooth_basis(2, 6, 16), ds_batch)


def test_metrics_report_the_last_solve_and_the_backbone_needs_n_basis_channels(ds_batch) -> None:
    layer = HardPDEConstraint(n_basis=8, n_points=None, experts=(1, 2))
    assert layer.metrics() == {} and layer.model_out_channels(1) == 8
    layer(smooth_basis(2, 6, 16), ds_batch)
    m = layer.metrics()
    assert m["lm_iters_mean"] == float(layer.last_result.n_iter.double().mean()) > 0
    assert m["lm_not_converged"] == 0 and m["lm_not_converged_total"] == 0


def test_interface_rows_extension_reduces_the_jump_between_experts(ds_batch) -> None:
    """Our extension (not in the paper): continuity rows couple the experts of a sample."""
    basis = smooth_basis(2, 6, 16)
    plain = HardPDEConstraint(n_basis=8, n_points=None, experts=(1, 2), **OPTS)
    coupled = HardPDEConstraint(
        n_basis=8, n_points=None, experts=(1, 2), interface_weight=10.0, **OPTS
    )

    def jump(layer: HardPDEConstraint) -> torch.Tensor:
        w = layer.last_result.solution.reshape(2, 2, 8)
        # both experts' fields on the first column of the right block (x index 8)
        return torch.einsum("bnt,bkn->bkt", basis[..., 8], w).diff(dim=1).abs().max()

    plain(basis, ds_batch)
    u = coupled(basis, ds_batch)
    assert coupled.last_result.converged.all()
    assert coupled.last_result.solution.shape == (2, 16)  # one problem of K·N weights per sample
    assert jump(coupled) < 0.1 * jump(plain)
    assert torch.isfinite(u).all()
    with pytest.raises(ValueError, match="interface_weight must be >= 0"):
        HardPDEConstraint(n_basis=8, interface_weight=-1.0)


def test_interface_rows_are_not_used_with_one_expert(ds_batch) -> None:
    basis = smooth_basis(2, 6, 16)
    a = HardPDEConstraint(n_basis=8, n_points=None, **OPTS)(basis, ds_batch)
    b = HardPDEConstraint(n_basis=8, n_points=None, interface_weight=5.0, **OPTS)(basis, ds_batch)
    torch.testing.assert_close(a, b)


class _BasisNet(torch.nn.Module):
    """A pointwise map of the input to ``N`` basis channels, then the hard constraint."""

    def __init__(self, layer: HardPDEConstraint) -> None:
        super().__init__()
        self.lift = torch.nn.Conv2d(1, layer.n_basis, 1, dtype=DT)
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.linspace(0, 1, x.shape[2], dtype=x.dtype)[:, None]
        return self.layer(torch.tanh(self.lift(x) + t), {"x": x})


@pytest.mark.slow
def test_torch_export_runs_masked_iterations_and_matches_eager_on_other_inputs() -> None:
    torch.manual_seed(0)
    layer = HardPDEConstraint(
        n_basis=4, n_points=30, experts=(1, 2), max_iter=10, rtol=1e-2, atol=1e-2
    )
    net = _BasisNet(layer).eval()
    gen = torch.Generator().manual_seed(1)
    x1, x2 = (0.2 * torch.rand(2, 1, 5, 12, generator=gen, dtype=DT) for _ in range(2))
    x1 = x1[:, :, :1].expand(-1, -1, 5, -1).contiguous()
    x2 = x2[:, :, :1].expand(-1, -1, 5, -1).contiguous()
    program = torch.export.export(net, (x1,))
    with torch.no_grad():
        eager = net(x2)
    iterations = layer.last_result.n_iter
    assert len(set(iterations.tolist())) > 1  # early stopping differs between problems
    torch.testing.assert_close(program.module()(x2), eager, rtol=1e-12, atol=1e-12)


def test_torchscript_tracing_is_refused_with_the_reason(ds_batch) -> None:
    net = _BasisNet(HardPDEConstraint(n_basis=4, n_points=None, experts=(1, 2))).eval()
    x = ds_batch["x"][:, None, None].expand(-1, 1, 5, -1).contiguous()
    with pytest.raises(NotExportableError, match="TorchScript.*torch.export"):
        torch.jit.trace(net, (x,), check_trace=False)


def test_condition_locations_name_the_grid_point_of_each_row(ds_batch) -> None:
    """Each diffusion–sorption row only involves the basis at its grid point and the neighbour
    its boundary extrapolation uses: the row is unchanged by zeroing the basis elsewhere."""
    layer = HardPDEConstraint(n_basis=8, n_points=None)
    shape = (6, 16)
    where = layer.pde.condition_locations(shape)
    basis = smooth_basis(2, *shape)
    coords = layer.pde.grid(shape, ds_batch)
    lhs, _ = layer.pde.condition_rows(basis, ds_batch, coords)
    assert len(where) == lhs.shape[1] == 16 + 2 * 6
    for row, g in enumerate(where):
        t, x = divmod(g, shape[1])
        keep = torch.zeros(shape, dtype=torch.bool)
        keep[t, max(x - 1, 0) : x + 2] = True  # the point and its neighbours (extrapolation, slope)
        masked = basis * keep
        lhs_m, _ = layer.pde.condition_rows(masked, ds_batch, coords)
        torch.testing.assert_close(lhs_m[:, row], lhs[:, row])


@pytest.mark.parametrize("experts", [(1, 2), (2, 2)])
def test_local_conditions_extension_keeps_only_each_blocks_own_rows(ds_batch, experts) -> None:
    """Our extension: expert k solves its block with the rows at its own grid points only,
    i.e. the global problem restricted to the block's PDE points and condition rows."""
    basis = smooth_basis(2, 6, 16)
    layer = HardPDEConstraint(
        n_basis=8, n_points=None, experts=experts, local_conditions=True, **OPTS
    )
    u = layer(basis, ds_batch)
    pde = layer.pde
    coords = pde.grid((6, 16), ds_batch)
    lhs, rhs = pde.condition_rows(basis, ds_batch, coords)
    where = torch.tensor(pde.condition_locations((6, 16)))
    blocks = expert_blocks((6, 16), experts)
    for k in range(layer.n_experts):
        mask = blocks == k
        rows = blocks.flatten()[where] == k
        feats = pde.features(basis, coords).flatten(3)[..., mask.flatten()].permute(0, 3, 1, 2)
        system = LeastSquaresSystem(feats, pde.pointwise, lhs[:, rows], rhs[:, rows], layer.ridge)
        w, _ = solve_least_squares(system, options=LMOptions(**OPTS, init=1.0))
        expected = torch.einsum("bn...,bn->b...", basis, w)
        torch.testing.assert_close(u[:, 0][..., mask], expected[..., mask], rtol=1e-7, atol=1e-9)
    plain = HardPDEConstraint(n_basis=8, n_points=None, experts=experts, **OPTS)
    assert (plain(basis, ds_batch) - u).abs().max() > 1e-6  # the option changes the solve


def test_local_conditions_with_one_expert_is_the_global_constraint(ds_batch) -> None:
    basis = smooth_basis(2, 6, 16)
    local = HardPDEConstraint(n_basis=8, n_points=None, local_conditions=True, **OPTS)
    plain = HardPDEConstraint(n_basis=8, n_points=None, **OPTS)
    torch.testing.assert_close(local(basis, ds_batch), plain(basis, ds_batch), rtol=0, atol=0)
