"""MgNO: shapes on any grid, parameter counts of the paper, V-cycle linearity, boundary conditions
by padding mode, errors, state-dict / load / export round trips and float64 gradients."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import sciml
from sciml.catalog import read_preset
from sciml.cli import main
from sciml.embed import example_input
from sciml.models.mgno import MgNO, Prolongation, VCycle, grid_extension
from sciml.registry import MODELS


def _build(n_dims: int = 2, in_channels: int = 2, out_channels: int = 3, **config) -> MgNO:
    config = {"hidden_channels": 4, "n_layers": 2, "smoothing": [[1, 1], [1, 0], [2, 0]], **config}
    return MODELS.get("mgno")(
        in_channels=in_channels, out_channels=out_channels, n_dims=n_dims, **config
    )


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("n_dims", "shape"), [(1, (40,)), (2, (16, 12))])
def test_output_shape_and_dtype_follow_the_input(n_dims, shape, dtype) -> None:
    model = _build(n_dims).to(dtype)
    y = model(torch.randn(3, 2, *shape, dtype=dtype))
    assert y.shape == (3, 3, *shape) and y.dtype == dtype
    assert model.input_keys == ("x",)


@pytest.mark.parametrize("mode", ["zeros", "reflect"])
@pytest.mark.parametrize("shape", [(5, 5), (17, 33), (30, 23), (63, 64)])
def test_any_grid_size_gives_an_output_on_the_same_grid(shape, mode) -> None:
    model = _build(padding_mode=mode)
    y = model(torch.randn(2, 2, *shape))
    assert y.shape == (2, 3, *shape) and torch.isfinite(y).all()


def test_runs_on_any_grid_but_is_not_declared_resolution_invariant() -> None:
    # its stencils are in grid units (module docstring, "Resolution"): evaluate must not report
    # zero-shot resolutions for it, although forward takes any grid
    # (zero-shot at 2x the training grid: error ~20x, docs/benchmarks.md). The same weights on
    # a smooth field sampled at h and h/2 give different values at the shared nodes.
    torch.manual_seed(0)
    model = _build(in_channels=1, out_channels=1).double()
    assert model.resolution_invariant is False

    def field(n: int) -> torch.Tensor:
        s = torch.linspace(0, 1, n, dtype=torch.float64)
        return (torch.sin(torch.pi * s)[:, None] * torch.sin(torch.pi * s)[None, :])[None, None]

    coarse, fine = model(field(17)), model(field(33))
    assert coarse.shape == (1, 1, 17, 17) and fine.shape == (1, 1, 33, 33)
    assert (fine[..., ::2, ::2] - coarse).norm() > 0.1 * coarse.norm()


def test_extension_is_split_around_the_grid_and_cropped_back() -> None:
    # 30 nodes with 3 levels → 32: one zero node before and one after. Running the model on the
    # explicitly padded 32×32 grid and cropping must give the same result.
    torch.manual_seed(0)
    model = _build().double()
    assert grid_extension((30, 29), 3, "zeros") == [(1, 1), (1, 2)]
    x = torch.randn(2, 2, 30, 29, dtype=torch.float64)
    padded = model(F.pad(x, (1, 2, 1, 1)))
    torch.testing.assert_close(model(x), padded[..., 1:31, 1:30])


def test_parameter_count_of_the_paper_darcy_preset_is_572661() -> None:
    preset = read_preset("models", "mgno-darcy")
    kwargs = {k: v for k, v in preset.items() if k != "name"}
    model = MODELS.get(preset["name"])(in_channels=1, out_channels=1, n_dims=2, **kwargs)
    assert _n_params(model) == 572_661
    assert len(model.smoothing) == 6 and model.padding_mode == "zeros"


@pytest.mark.parametrize(("n_dims", "k", "kt"), [(1, 3, 4), (2, 9, 16)])
def test_parameter_count_matches_the_vcycle_formula(n_dims, k, kt) -> None:
    # first S: k·Cf·Cu; each further step (pre or post): 2k·Cf·Cu; per coarse level: R, Π, P
    c_f, c_u, smoothing = 3, 5, [[2, 1], [0, 2], [1, 1]]
    steps = sum(pre + post for pre, post in smoothing)
    expected = k * c_f * c_u + (steps - 1) * 2 * k * c_f * c_u
    expected += (len(smoothing) - 1) * (k * c_u**2 + k * c_f**2 + kt * c_u**2)
    vcycle = VCycle(c_f, c_u, [tuple(s) for s in smoothing], n_dims, "zeros")
    assert _n_params(vcycle) == expected


def test_default_preset_has_five_levels_and_467964_parameters() -> None:
    preset = read_preset("models", "mgno")
    kwargs = {k: v for k, v in preset.items() if k != "name"}
    model = MODELS.get("mgno")(in_channels=1, out_channels=1, n_dims=2, **kwargs)
    assert _n_params(model) == 467_964 and model.levels == 5


@pytest.mark.parametrize("mode", ["zeros", "circular", "reflect"])
def test_vcycle_is_linear_in_f(mode) -> None:
    torch.manual_seed(0)
    vcycle = VCycle(2, 3, [(1, 1), (1, 1), (2, 0)], 2, mode).double()
    f1, f2 = torch.randn(2, 1, 2, 16, 8, dtype=torch.float64)
    torch.testing.assert_close(vcycle(2.0 * f1 - 3.0 * f2), 2.0 * vcycle(f1) - 3.0 * vcycle(f2))


def test_circular_model_commutes_with_periodic_rolls_by_the_coarsest_spacing() -> None:
    torch.manual_seed(0)
    model = _build(padding_mode="circular").double()  # 3 levels: coarsest spacing 4 nodes
    x = torch.randn(2, 2, 16, 12, dtype=torch.float64)
    for shift in [(4, 0), (0, 8), (12, 4)]:
        torch.testing.assert_close(
            model(torch.roll(x, shift, dims=(2, 3))), torch.roll(model(x), shift, dims=(2, 3))
        )


def test_zero_padding_breaks_roll_equivariance_the_boundary_is_seen() -> None:
    torch.manual_seed(0)
    model = _build(padding_mode="zeros").double()
    x = torch.randn(1, 2, 16, 16, dtype=torch.float64)
    rolled = model(torch.roll(x, 4, dims=2))
    assert (rolled - torch.roll(model(x), 4, dims=2)).abs().max() > 1e-3


@pytest.mark.parametrize("mode", ["zeros", "circular", "reflect"])
def test_every_convolution_carries_the_padding_mode(mode) -> None:
    model = _build(padding_mode=mode)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size[0] > 1]
    assert convs and all(c.padding_mode == mode for c in convs)
    prolongations = [m for m in model.modules() if isinstance(m, Prolongation)]
    pad_mode = {"zeros": "constant"}.get(mode, mode)  # F.pad's name of the mode
    assert prolongations and all(p.mode == pad_mode for p in prolongations)


def test_zero_prolongation_is_the_papers_transposed_convolution() -> None:
    torch.manual_seed(0)
    prolong = Prolongation(3, 2, "zeros").double()
    paper = torch.nn.ConvTranspose2d(3, 3, 4, stride=2, padding=1, bias=False).double()
    paper.weight.data.copy_(prolong.conv.weight.data)
    u = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    torch.testing.assert_close(prolong(u), paper(u))


@pytest.mark.parametrize("n_dims", [1, 2])
def test_circular_prolongation_equals_the_transposed_convolution_of_the_periodic_tiling(n_dims):
    torch.manual_seed(0)
    prolong = Prolongation(2, n_dims, "circular").double()
    paper = (torch.nn.ConvTranspose1d if n_dims == 1 else torch.nn.ConvTranspose2d)(
        2, 2, 4, stride=2, padding=1, bias=False
    ).double()
    paper.weight.data.copy_(prolong.conv.weight.data)
    u = torch.randn(1, 2, *([6] * n_dims), dtype=torch.float64)
    tiled = u.repeat(1, 1, *([3] * n_dims))  # three periods per axis
    middle = (..., *([slice(12, 24)] * n_dims))
    torch.testing.assert_close(prolong(u), paper(tiled)[middle])


def test_reflect_extension_mirrors_the_input_about_the_end_nodes() -> None:
    # reflect mode: extending 30 → 32 nodes mirrors rows 1 and 28 about the end nodes, so the
    # model's output on 30 nodes equals its output on the explicitly mirrored 32-node grid.
    torch.manual_seed(0)
    model = _build(padding_mode="reflect").double()
    x = torch.randn(1, 2, 30, 32, dtype=torch.float64)
    mirrored = torch.cat([x[:, :, 1:2], x, x[:, :, 28:29]], dim=2)
    torch.testing.assert_close(model(x), model(mirrored)[:, :, 1:31])


@pytest.mark.parametrize(
    ("config", "shape", "message"),
    [
        ({"padding_mode": "periodic"}, None, r"padding_mode='periodic': allowed: zeros, circular"),
        ({"padding_mode": "circular"}, (33, 32), r"padding_mode='circular': 33 nodes .* divisible"),
        ({"smoothing": [[1, 0]] * 6}, (32, 40), r"smoothing: 6 levels are too deep for 32 nodes"),
        ({"smoothing": [[0, 1], [1, 0]]}, None, r"smoothing=.*allowed: a non-empty list"),
        ({"smoothing": [[1, -1]]}, None, r"smoothing=.*pre >= 1"),
        ({"smoothing": 3}, None, r"smoothing=3: allowed"),
        ({"activation": "sigmoid"}, None, r"activation='sigmoid': allowed: gelu"),
        ({"hidden_channels": 0}, None, r"hidden_channels=0: allowed values are integers >= 1"),
        ({"n_dims": 3}, None, r"n_dims=3 is not supported; allowed: 1, 2"),
    ],
)
def test_bad_options_and_grids_are_one_line_errors_naming_the_allowed_values(
    config, shape, message
) -> None:
    n_dims = config.pop("n_dims", 2)
    with pytest.raises(ValueError, match=message) as info:
        model = _build(n_dims, **config)
        model(torch.randn(1, 2, *shape))
    assert "\n" not in str(info.value)


def test_levels_error_names_the_deepest_allowed() -> None:
    with pytest.raises(ValueError, match=r"allowed: at most 5 levels for this grid"):
        _build(smoothing=[[1, 0]] * 6)(torch.randn(1, 2, 17, 64))


def test_unknown_option_and_wrong_input_shape_are_named() -> None:
    with pytest.raises(TypeError, match=r"unknown mgno option.*'level'.*valid options: hidden"):
        _build(level=3)
    with pytest.raises(ValueError, match=r"mgno expects x of shape \(B, 2, \*S\)"):
        _build()(torch.randn(1, 3, 16, 16))


def test_state_dict_round_trip_through_a_weights_only_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    a, b = _build(), _build()
    torch.save(a.state_dict(), tmp_path / "w.pt")
    b.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True))
    x = torch.randn(2, 2, 20, 16)
    torch.testing.assert_close(a(x), b(x))


def test_gradcheck_float64_tiny_model_on_an_extended_grid() -> None:
    torch.manual_seed(0)
    model = _build(
        in_channels=1, out_channels=1, hidden_channels=2, n_layers=1, smoothing=[[1, 1], [1, 0]]
    ).double()
    x = torch.randn(1, 1, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(model, (x,))
    params = dict(model.named_parameters())

    def of_params(*values: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(model, dict(zip(params, values)), (x.detach(),))

    assert torch.autograd.gradcheck(
        of_params, tuple(p.detach().requires_grad_() for p in params.values())
    )


def test_torch_export_matches_eager() -> None:
    torch.manual_seed(0)
    model = _build(padding_mode="reflect").eval()
    x = torch.randn(2, 2, 18, 16)
    exported = torch.export.export(model, (x,)).module()
    torch.testing.assert_close(exported(x), model(x))


def test_trains_loads_and_exports_through_the_workflow(
    poisson_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_text = f"""\
name: tiny_mgno
data: {{dataset: poisson2d, path: {poisson_file}, inputs: [f], outputs: [u], n_train: 8,
       n_test: 4, subsample: 2}}
model: {{preset: mgno, hidden_channels: 4, n_layers: 1, smoothing: [[1, 0], [1, 0]],
        padding_mode: circular}}
trainer: {{epochs: 1, batch_size: 4, progress: false}}
evaluation: {{metrics: [relative_l2], resolutions: [16], plots: false}}
"""
    (tmp_path / "spec.yaml").write_text(spec_text)
    run = sciml.train(sciml.load_spec(tmp_path / "spec.yaml"), tmp_path / "run", progress=False)
    report = sciml.evaluate(run.run_dir, out_dir=tmp_path / "eval")
    assert set(report.sections) == {"test", "test@16"}
    assert report.sections["test@16"] == {"skipped": "model is not resolution invariant"}
    assert "- test@16: skipped (model is not resolution invariant)" in (
        report.markdown_path.read_text().splitlines()
    )
    assert main(["evaluate", str(run.run_dir), "--out", str(tmp_path / "eval_cli")]) == 0
    assert "test@16: skipped (model is not resolution invariant)" in capsys.readouterr().out
    surrogate = sciml.load(run.run_dir)
    x = example_input(surrogate, batch=2)
    path = sciml.export(run.run_dir, tmp_path / "m.pt2", batch_size=2)
    torch.testing.assert_close(torch.export.load(path).module()(x), surrogate(x))
