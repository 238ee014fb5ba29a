"""FNO wrapper: shapes in 1D/2D/3D, zero-shot resolution change, float64, config validation."""

from __future__ import annotations

import pytest
import torch

from sciml.models.fno import FNO
from sciml.registry import MODELS


def _build(n_dims: int, **config: object) -> torch.nn.Module:
    config = {"n_modes": 4, "hidden_channels": 8, "n_layers": 2, **config}
    return MODELS.get("fno")(in_channels=2, out_channels=3, n_dims=n_dims, **config)


@pytest.mark.parametrize(("n_dims", "size"), [(1, 32), (2, 16), (3, 8)])
def test_output_shape_matches_grid_in_1d_2d_3d(n_dims: int, size: int) -> None:
    model = _build(n_dims)
    x = torch.randn(2, 2, *([size] * n_dims))
    assert model(x).shape == (2, 3, *([size] * n_dims))


def test_interface_attributes() -> None:
    model = _build(1)
    assert isinstance(model, FNO)
    assert model.input_keys == ("x",)
    assert model.resolution_invariant is True


def test_evaluates_at_twice_the_training_resolution() -> None:
    torch.manual_seed(0)
    model = _build(2, n_modes=[4, 6])
    coarse = model(torch.randn(1, 2, 16, 16))
    fine = model(torch.randn(1, 2, 32, 32))
    assert coarse.shape[-2:] == (16, 16)
    assert fine.shape[-2:] == (32, 32)
    assert torch.isfinite(fine).all()


def test_smooth_input_gives_consistent_output_across_resolutions() -> None:
    # A band-limited input sampled at 32 and 64 points: the spectral layers see the same modes,
    # so the outputs agree at the shared grid points (up to the pointwise nonlinearity aliasing).
    torch.manual_seed(0)
    model = _build(1, n_modes=4, positional_embedding="grid").double()

    def field(n: int) -> torch.Tensor:
        s = torch.arange(n, dtype=torch.float64) / n
        u = torch.stack([torch.sin(2 * torch.pi * s), torch.cos(4 * torch.pi * s)])
        return u.unsqueeze(0)

    coarse, fine = model(field(32)), model(field(64))
    diff = (fine[..., ::2] - coarse).norm() / coarse.norm()
    assert diff < 0.05


def test_float64_casts_spectral_weights_to_complex128() -> None:
    torch.manual_seed(0)
    model = _build(2)
    x = torch.randn(2, 2, 16, 16)
    ref = model(x)
    model.to(torch.float64)
    dtypes = {p.dtype for p in model.parameters()}
    assert dtypes == {torch.float64, torch.complex128}
    out = model(x.double())
    assert out.dtype == torch.float64
    # the weights survive the cast (Module.to would otherwise drop their imaginary parts)
    torch.testing.assert_close(out.float(), ref, rtol=1e-5, atol=1e-5)


def test_double_then_float_round_trip_preserves_outputs() -> None:
    model = _build(1)
    x = torch.randn(2, 2, 32)
    ref = model(x)
    model.double().float()
    assert {p.dtype for p in model.parameters()} == {torch.float32, torch.complex64}
    torch.testing.assert_close(model(x), ref)


def test_state_dict_round_trip() -> None:
    torch.manual_seed(0)
    a, b = _build(2), _build(2)
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 2, 16, 16)
    torch.testing.assert_close(a(x), b(x))


def test_width_is_an_alias_of_hidden_channels() -> None:
    model = _build(1, hidden_channels=None, width=12)
    assert model.net.hidden_channels == 12
    with pytest.raises(ValueError, match="either 'width' or 'hidden_channels'"):
        _build(1, width=12)


def test_unknown_option_lists_valid_options() -> None:
    with pytest.raises(TypeError, match=r"unknown fno option.*'n_mode'.*did you mean 'n_modes'"):
        _build(1, n_mode=4)
    with pytest.raises(TypeError, match="valid options: n_modes, hidden_channels"):
        _build(1, depth=3)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"n_modes": [4, 4]}, "n_modes=.*list of n_dims=1"),
        ({"n_modes": 0}, "n_modes must be a positive integer"),
        ({"n_layers": 1.5}, "n_layers must be a positive integer"),
        ({"non_linearity": "swish"}, r"non_linearity='swish' is not one of \['gelu'"),
        ({"fno_skip": "dense"}, "fno_skip='dense' is not one of"),
        ({"factorization": "svd"}, "factorization='svd' is not one of"),
    ],
)
def test_invalid_option_values_are_named(config: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _build(1, **config)


def test_unsupported_dimension_and_wrong_input_shape() -> None:
    with pytest.raises(ValueError, match="n_dims 1, 2 or 3"):
        MODELS.get("fno")(in_channels=1, out_channels=1, n_dims=4)
    model = _build(2)
    with pytest.raises(ValueError, match=r"expects x of shape \(B, 2, \*S\) with 2 spatial"):
        model(torch.randn(2, 2, 16))
    with pytest.raises(ValueError, match=r"got \(2, 5, 16, 16\)"):
        model(torch.randn(2, 5, 16, 16))


def test_gradients_reach_every_parameter() -> None:
    model = _build(2)
    model(torch.randn(2, 2, 16, 16)).square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_checkpoint_holds_only_tensors_and_loads_weights_only(tmp_path) -> None:
    torch.manual_seed(0)
    wrapper = torch.nn.Sequential(_build(1))  # nested, as inside a normalizing wrapper
    state = wrapper.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    torch.save(state, tmp_path / "w.pt")
    loaded = torch.load(tmp_path / "w.pt", weights_only=True)
    other = torch.nn.Sequential(_build(1))
    other.load_state_dict(loaded)
    x = torch.randn(1, 2, 32)
    torch.testing.assert_close(other(x), wrapper(x))


def test_torch_export_matches_eager() -> None:
    model = _build(2).eval()
    x = torch.randn(2, 2, 16, 16)
    exported = torch.export.export(model, (x,)).module()
    torch.testing.assert_close(exported(x), model(x))
