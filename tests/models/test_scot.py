"""scOT model: parameter count of scOT-T, token grids, presets, state dict, gradients, dtypes, grids
(rectangular, resampled, padded) and the errors for bad configurations and inputs."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from sciml.catalog import read_preset
from sciml.data.transforms import resample
from sciml.models.scot import ScOT
from sciml.models.scot.norm import ConditionalLayerNorm
from sciml.registry import MODELS

TINY = {
    "patch_size": 1,
    "embed_dim": 4,
    "depths": [2, 1],
    "num_heads": [1, 2],
    "skip_connections": [1, 0],
    "window_size": 4,
    "cpb_hidden": 16,
}


def _preset(name: str) -> dict:
    preset = read_preset("models", name)
    assert preset.pop("name") == "scot"
    return preset


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _randomize_norms(model: nn.Module) -> None:
    # the init makes every gamma(t) ~ 0 (blocks start as the identity); O(1) scales make the
    # checks below see every path
    torch.manual_seed(1)
    for m in model.modules():
        if isinstance(m, ConditionalLayerNorm):
            nn.init.normal_(m.weight.bias, 1.0, 0.1)
            nn.init.normal_(m.weight.weight, 0.0, 0.5)
            nn.init.normal_(m.bias.bias, 0.0, 0.1)


def _tiny(**overrides: object) -> ScOT:
    torch.manual_seed(0)
    config = {**TINY, **overrides}
    shape = config.pop("spatial_shape", (6, 6))
    model = MODELS.get("scot")(
        in_channels=2, out_channels=3, n_dims=2, spatial_shape=shape, **config
    )
    _randomize_norms(model)
    return model


def test_scot_t_has_the_published_20_8m_parameters() -> None:
    # Poseidon-T model card: ~20.8M parameters (rho, u, v, p in and out, 128² grid)
    model = MODELS.get("scot")(in_channels=4, out_channels=4, n_dims=2, spatial_shape=(128, 128),
                               **_preset("scot-t"))  # fmt: skip
    assert abs(_n_params(model) - 20.8e6) < 0.05e6
    assert model.token_grids() == [(32, 32), (16, 16), (8, 8), (4, 4)]


def test_scot_mini_is_cpu_sized_and_sees_the_planned_token_grids() -> None:
    model = MODELS.get("scot")(in_channels=3, out_channels=3, n_dims=2, spatial_shape=(64, 64),
                               **_preset("scot-mini"))  # fmt: skip
    assert 0.5e6 < _n_params(model) < 1.5e6
    assert model.token_grids() == [(32, 32), (16, 16), (8, 8)]
    windows = [stage.blocks[1].geometry(g) for stage, g in zip(model.encoder, model.token_grids())]
    assert [(g.window, g.shift, g.n_windows) for g in windows] == [
        ((8, 8), (4, 4), 16),
        ((8, 8), (4, 4), 4),
        ((8, 8), (0, 0), 1),
    ]


@pytest.mark.parametrize(("shape", "grids"), [((16, 16), [(16, 16), (8, 8)]),
                                              ((8, 24), [(8, 24), (4, 12)])])  # fmt: skip
def test_stages_run_on_the_announced_token_grids(shape: tuple, grids: list) -> None:
    model = _tiny(spatial_shape=shape)
    assert model.token_grids() == grids
    seen: list[tuple[int, int]] = []
    for stage in (*model.encoder, *model.decoder):
        stage.register_forward_hook(lambda m, args, out: seen.append(tuple(out.shape[1:3])))
    y = model(torch.randn(2, 2, *shape), torch.rand(2))
    assert y.shape == (2, 3, *shape)
    assert seen == [*grids, *grids[::-1]]


def test_norm_init_poseidon_starts_gamma_near_zero_and_unit_at_one() -> None:
    torch.manual_seed(0)
    build = MODELS.get("scot")
    for init, expected in (("poseidon", 0.0), ("unit", 1.0)):
        model = build(
            in_channels=2, out_channels=3, n_dims=2, spatial_shape=(6, 6), norm_init=init, **TINY
        )
        norms = [m for m in model.modules() if isinstance(m, ConditionalLayerNorm)]
        for t in (0.0, 1.0):
            gamma = torch.cat([n.at(t).weight for n in norms])
            assert (gamma - expected).abs().max() < 0.1  # W_gamma ~ N(0, 0.02^2)
        assert all((n.weight.weight.std() < 0.1) and (n.bias.bias == 0).all() for n in norms)


def test_output_depends_on_the_lead_time_unless_conditioning_is_off() -> None:
    model = _tiny()
    x = torch.randn(2, 2, 6, 6)
    assert model.input_keys == ("x", "t")
    assert not torch.allclose(model(x, torch.zeros(2)), model(x, torch.ones(2)))
    # a scalar lead time is broadcast over the batch
    torch.testing.assert_close(model(x, 0.5), model(x, torch.full((2,), 0.5)))
    steady = _tiny(time_conditioning=False)
    assert steady.input_keys == ("x",)
    assert not any(isinstance(m, ConditionalLayerNorm) for m in steady.modules())
    torch.testing.assert_close(steady(x), steady(x, torch.ones(2)))


def test_state_dict_round_trip_gives_identical_outputs() -> None:
    model = _tiny()
    x, t = torch.randn(2, 2, 6, 6), torch.rand(2)
    expected = model(x, t)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    torch.manual_seed(123)
    fresh = MODELS.get("scot")(
        in_channels=2, out_channels=3, n_dims=2, spatial_shape=(6, 6), **TINY
    )
    assert not torch.allclose(fresh(x, t), expected)
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh(x, t), expected, rtol=0, atol=0)


def test_gradients_match_finite_differences_in_float64() -> None:
    # 6x6 grid, window 4: stage 1 pads to 8x8 with masked tokens, its second block is shifted
    model = _tiny().double()
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    t = torch.rand(1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(model, (x, t), eps=1e-6, atol=1e-6)
    # and with respect to parameters of every kind (attention, position bias, CondLN, skips)
    names = ["encoder.0.blocks.1.attn.logit_scale", "encoder.0.blocks.1.attn.cpb_mlp.0.weight",
             "decoder.0.blocks.0.norm1.weight.weight", "skips.0.0.pwconv1.weight",
             "unmerges.0.expand.weight"]  # fmt: skip
    params = dict(model.named_parameters())
    chosen = tuple(params[n].detach().clone().requires_grad_(True) for n in names)

    def f(*values: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(model, dict(zip(names, values)), (x.detach(), t.detach()))

    assert torch.autograd.gradcheck(f, chosen, eps=1e-6, atol=1e-6, fast_mode=True)


def test_float32_and_float64_agree() -> None:
    model = _tiny(spatial_shape=(8, 8))
    x, t = torch.randn(2, 2, 8, 8), torch.rand(2)
    y32 = model(x, t)
    y64 = model.double()(x.double(), t.double())
    assert y32.dtype == torch.float32 and y64.dtype == torch.float64
    torch.testing.assert_close(y64.float(), y32, rtol=1e-4, atol=1e-5)


def test_a_band_limited_field_gives_the_same_operator_at_twice_the_resolution() -> None:
    # resample="fourier": a 32² input is resampled to the 16² model grid and the output back, so
    # for a field band-limited to 16² the fine output is the trigonometric interpolant of the coarse
    model = _tiny(spatial_shape=(16, 16))
    assert model.resolution_invariant
    s = torch.arange(32) / 32
    xx, yy = torch.meshgrid(s, s, indexing="ij")
    field = torch.stack([torch.sin(2 * torch.pi * xx) * torch.cos(4 * torch.pi * yy),
                         torch.cos(2 * torch.pi * (xx + yy))])[None]  # fmt: skip
    fine = model(field, 0.5)
    coarse = model(field[..., ::2, ::2], 0.5)
    torch.testing.assert_close(fine, resample(coarse, 32), rtol=1e-4, atol=1e-5)


def test_rectangular_and_odd_grids_are_resampled_or_padded() -> None:
    model = _tiny(spatial_shape=(10, 14))  # rounded up to the model grid 10x14 (unit 2)
    assert model.grid == (10, 14)
    model = _tiny(spatial_shape=(9, 13))
    assert model.grid == (10, 14)
    x = torch.randn(2, 2, 9, 13)
    assert model(x, torch.rand(2)).shape == (2, 3, 9, 13)
    linear = _tiny(spatial_shape=(9, 13), resample="linear")
    x_grid = torch.randn(2, 2, 10, 14)  # on the model grid: nothing is resampled in any mode
    torch.testing.assert_close(linear(x_grid, 0.3), model(x_grid, 0.3))
    # off the grid: a bilinear round trip through the model grid (endpoints kept)
    expected = resample(linear(resample(x, (10, 14), periodic=False), 0.3), (9, 13), periodic=False)
    torch.testing.assert_close(linear(x, 0.3), expected)
    padded = _tiny(spatial_shape=(9, 13), resample="pad", pad_mode="replicate")
    assert not padded.resolution_invariant
    assert padded.token_grids((21, 7)) == [(22, 8), (11, 4)]
    assert padded(torch.randn(1, 2, 21, 7), torch.rand(1)).shape == (1, 3, 21, 7)


def test_param_groups_split_all_parameters_as_poseidon_fine_tuning_does() -> None:
    model = _tiny()
    groups = model.param_groups()
    ids = [id(p) for g in groups.values() for p in g]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)].split(".")[0] for p in groups["embedding_recovery"]} == {
        "embed",
        "recovery",
    }
    n_norms = sum(isinstance(m, ConditionalLayerNorm) for m in model.modules())
    assert len(groups["time_conditioning"]) == 4 * n_norms  # W and b of gamma(t) and beta(t)


def test_a_grid_too_small_is_a_one_line_error_naming_the_smallest_valid_size() -> None:
    with pytest.raises(ValueError, match=r"smallest valid grid is 32x32") as err:
        MODELS.get("scot")(in_channels=4, out_channels=4, n_dims=2, spatial_shape=(16, 64),
                           **_preset("scot-t"))  # fmt: skip
    assert "\n" not in str(err.value) and "16x64 is too small" in str(err.value)
    model = _tiny(spatial_shape=(8, 8), resample="pad")
    with pytest.raises(
        ValueError, match=r"input grid 1x8 is too small .* smallest valid grid is 2x2"
    ):
        model(torch.randn(1, 2, 1, 8), torch.rand(1))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"num_heads": [3, 2]}, r"num_heads=\[3, 2\]: stage 0 width 4 .* not divisible by 3 heads"),
        ({"skip_connections": [1, 1]}, r"skip_connections=\[1, 1\]: the deepest level's entry must be 0"),
        ({"depths": [2, 1, 1]}, r"num_heads must be a list of 3 ints"),
        ({"resample": "cubic"}, r"resample='cubic' is not one of \['fourier', 'linear', 'pad'\]"),
        ({"pad_mode": "wrap"}, r"pad_mode='wrap' is not one of \['circular', 'reflect', 'replicate', 'zeros'\]"),
        ({"window_size": 0}, r"window_size must be a positive int or a list of 2 positive ints, got 0"),
        ({"patch_size": [2, 2, 2]}, r"patch_size must be a positive int or a list of 2"),
        ({"mlp_ratio": 0.0}, r"mlp_ratio must be > 0, got 0.0"),
        ({"embed_dim": 4.5}, r"embed_dim must be a positive integer, got 4.5"),
        ({"norm_init": "ones"}, r"norm_init='ones' is not one of \['poseidon', 'unit'\]"),
    ],
)  # fmt: skip
def test_bad_options_name_the_option_the_value_and_the_allowed_values(
    overrides: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _tiny(**overrides)


def test_bad_inputs_and_unknown_options_are_refused() -> None:
    with pytest.raises(
        TypeError, match=r"unknown scot option\(s\) 'window' \(did you mean 'window_size'\?\)"
    ):
        _tiny(window=4)
    with pytest.raises(ValueError, match=r"scot works on 2D grids \(n_dims=2\), got n_dims=3"):
        ScOT(1, 1, 3)
    model = _tiny()
    with pytest.raises(ValueError, match=r"expects x of shape \(B, 2, H, W\), got \(1, 3, 6, 6\)"):
        model(torch.randn(1, 3, 6, 6), torch.rand(1))
    with pytest.raises(ValueError, match=r"lead time t as a scalar, \(B,\) or \(B, 1\) with B=2"):
        model(torch.randn(2, 2, 6, 6), torch.rand(3))
    with pytest.raises(ValueError, match=r"time_conditioning=True needs the lead time t"):
        model(torch.randn(2, 2, 6, 6))


@pytest.mark.slow  # torch.export traces the whole network: ~10 s
def test_torch_export_with_a_lead_time_gives_the_same_outputs() -> None:
    model = _tiny(spatial_shape=(8, 8)).eval()
    x, t = torch.randn(2, 2, 8, 8), torch.rand(2)
    exported = torch.export.export(model, (x, t)).module()
    torch.testing.assert_close(exported(x, t), model(x, t))
    t2 = torch.rand(2)
    torch.testing.assert_close(exported(x, t2), model(x, t2))


def test_a_checkpoint_on_other_channels_loads_all_but_embedding_and_recovery() -> None:
    pretrained = _tiny()  # 2 channels in, 3 out
    state = pretrained.state_dict()
    torch.manual_seed(7)
    same = MODELS.get("scot")(in_channels=2, out_channels=3, n_dims=2, spatial_shape=(6, 6), **TINY)
    assert same.load_pretrained(state) == []
    x, t = torch.randn(1, 2, 6, 6), torch.rand(1)
    torch.testing.assert_close(same(x, t), pretrained(x, t))
    other = MODELS.get("scot")(
        in_channels=1, out_channels=3, n_dims=2, spatial_shape=(6, 6), **TINY
    )
    fresh = {k: v.clone() for k, v in other.state_dict().items()}
    replaced = other.load_pretrained(state)
    assert replaced == sorted(k for k in fresh if k.startswith(("embed.", "recovery.")))
    assert "embed.weight" in replaced and "recovery.1.weight" in replaced
    assert "embed_norm.weight.weight" not in replaced  # width-only norm: loaded
    for key, value in other.state_dict().items():
        torch.testing.assert_close(value, fresh[key] if key in replaced else state[key])


def test_a_checkpoint_of_another_width_is_refused_naming_the_tensor() -> None:
    state = _tiny(embed_dim=8).state_dict()
    with pytest.raises(
        ValueError,
        match=r"checkpoint tensor 'decoder.0.blocks.0.attn.proj.bias' has shape \(8,\), this model needs \(4,\)",
    ):
        _tiny().load_pretrained(state)
    with pytest.raises(
        ValueError, match=r"does not fit this configuration: missing \['decoder.0.blocks.1"
    ):
        _tiny(depths=[2, 1]).load_pretrained(_tiny(depths=[1, 1]).state_dict())


def test_bfloat16_autocast_runs_the_same_code_path_within_its_precision() -> None:
    # the CUDA mixed-precision path: the float32 bias MLP feeds half-precision attention
    model = _tiny(spatial_shape=(8, 8))
    x, t = torch.randn(2, 2, 8, 8), torch.rand(2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x, t)
    assert y.dtype == torch.bfloat16
    reference = model(x, t)
    assert (y.float() - reference).abs().max() < 0.05 * reference.abs().max()
