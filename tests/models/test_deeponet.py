"""DeepONet and POD-DeepONet: shapes, variants, faithfulness to DeepXDE, POD exactness, training."""

from __future__ import annotations

import math
import os

import pytest
import torch

from sciml.models.deeponet import DeepONet, PODDeepONet, StackedMLP
from sciml.registry import MODELS

os.environ.setdefault("DDE_BACKEND", "pytorch")


def _deeponet(**config: object) -> DeepONet:
    base = {"in_channels": 1, "out_channels": 1, "n_dims": 1, "n_sensors": 16}
    return MODELS.get("deeponet")(**{**base, **config})


def _coords_1d(batch: int, n: int, dtype=torch.float32) -> torch.Tensor:
    return torch.linspace(0, 1, n, dtype=dtype).expand(batch, 1, n)


def _coords_2d(batch: int, h: int, w: int) -> torch.Tensor:
    gx, gy = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([gx, gy]).expand(batch, 2, h, w)


def test_interface_attributes() -> None:
    model = _deeponet()
    assert model.input_keys == ("x", "coords")
    assert model.resolution_invariant is False
    pod = MODELS.get("pod_deeponet")(
        in_channels=1, out_channels=1, n_dims=1, n_modes=2, n_sensors=4
    )
    assert pod.input_keys == ("x",)
    assert pod.resolution_invariant is False


def test_sensor_count_comes_from_the_data_grid() -> None:
    model = _deeponet(n_dims=2, n_sensors=None, spatial_shape=(6, 5))
    assert model.branches[0].linears[0].in_features == 30
    pod = MODELS.get("pod_deeponet")(
        in_channels=2, out_channels=1, n_dims=1, spatial_shape=[7], n_modes=2
    )
    assert pod.branch.linears[0].in_features == 14
    with pytest.raises(ValueError, match=r"n_sensors=16 but the input grid \(6, 5\) has 30 points"):
        _deeponet(n_dims=2, spatial_shape=(6, 5))


def test_output_shape_1d_grid() -> None:
    model = _deeponet(in_channels=2, n_sensors=16)
    assert model(torch.randn(3, 2, 16), _coords_1d(3, 16)).shape == (3, 1, 16)


def test_output_shape_2d_grid_with_mlp_and_cnn_branches() -> None:
    x, coords = torch.randn(2, 3, 8, 8), _coords_2d(2, 8, 8)
    mlp = _deeponet(in_channels=3, out_channels=2, n_dims=2, n_sensors=64)
    cnn = _deeponet(in_channels=3, out_channels=2, n_dims=2, n_sensors=None, branch="cnn")
    assert mlp(x, coords).shape == (2, 2, 8, 8)
    assert cnn(x, coords).shape == (2, 2, 8, 8)


def test_cnn_branch_accepts_other_input_resolutions() -> None:
    model = _deeponet(n_dims=2, n_sensors=None, branch="cnn", cnn_channels=[4, 8], cnn_pool=2)
    assert model(torch.randn(2, 1, 32, 24), _coords_2d(2, 5, 7)).shape == (2, 1, 5, 7)


def test_queries_at_scattered_points_and_other_resolutions() -> None:
    model = _deeponet(n_dims=2, n_sensors=64)
    x = torch.randn(4, 1, 8, 8)
    scattered = torch.rand(4, 2, 37)  # per-sample points: (B, d, N)
    assert model(x, scattered).shape == (4, 1, 37)
    assert model(x, _coords_2d(4, 20, 20)).shape == (4, 1, 20, 20)


def test_per_sample_points_agree_with_shared_points() -> None:
    # the shared-trunk fast path and the per-sample path compute the same thing
    torch.manual_seed(0)
    model = _deeponet(n_dims=1)
    x, pts = torch.randn(3, 1, 16), torch.rand(1, 1, 10)
    shared = model(x, pts.expand(3, 1, 10))
    per_sample = torch.cat([model(x[i : i + 1], pts) for i in range(3)])
    torch.testing.assert_close(shared, per_sample)
    pts_b = torch.rand(3, 1, 10)
    separate = torch.cat([model(x[i : i + 1], pts_b[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(model(x, pts_b), separate)


@pytest.mark.parametrize(
    ("strategy", "branch_layers", "trunk_layers"),
    [
        ("independent", [20, 12], [20, 12]),
        ("split_both", [20, 12], [20, 12]),
        ("split_branch", [20, 12], [20, 4]),
        ("split_trunk", [20, 4], [20, 12]),
    ],
)
@pytest.mark.parametrize("stacked", [False, True])
def test_multi_output_strategies_shapes(strategy, branch_layers, trunk_layers, stacked) -> None:
    model = _deeponet(
        out_channels=3,
        multi_output_strategy=strategy,
        branch_layers=branch_layers,
        trunk_layers=trunk_layers,
        stacked=stacked,
    )
    out = model(torch.randn(5, 1, 16), _coords_1d(5, 9))
    assert out.shape == (5, 3, 9)


def test_output_bias_shifts_each_channel() -> None:
    model = _deeponet(
        out_channels=2,
        multi_output_strategy="split_both",
        branch_layers=[8, 8],
        trunk_layers=[8, 8],
    )
    x, coords = torch.randn(2, 1, 16), _coords_1d(2, 5)
    before = model(x, coords)
    with torch.no_grad():
        model.bias.copy_(torch.tensor([1.0, -2.0]))
    torch.testing.assert_close(
        model(x, coords) - before, torch.tensor([1.0, -2.0])[:, None].expand(2, 2, 5)
    )
    assert _deeponet(output_bias=False).bias is None


def test_stacked_branch_is_p_independent_scalar_nets() -> None:
    # changing sub-net k's weights changes only coefficient k
    torch.manual_seed(0)
    net = StackedMLP(5, [6, 7], torch.tanh)
    x = torch.randn(4, 6)
    before = net(x)
    with torch.no_grad():
        net.weights[0][2].add_(1.0)
    changed = (net(x) - before).abs().amax(dim=0) > 0
    assert changed.tolist() == [False, False, True, False, False]
    assert net(x).shape == (4, 5)


def test_trunk_fourier_features_are_periodic_in_the_domain_length() -> None:
    # the cos/sin features repeat with period L; the raw coordinate (column 0) does not
    model = _deeponet(trunk_fourier_features=3, domain_length=0.5)
    y = torch.tensor([[0.1], [0.35]])
    feats = model.features(y)
    assert feats.shape == (2, 7)
    torch.testing.assert_close(feats[:, 1:], model.features(y + 0.5)[:, 1:], atol=1e-5, rtol=0)
    assert model.trunks[0].linears[0].in_features == 7


def _copy_linears(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    for a, b in zip(src.linears, dst.linears, strict=True):
        b.weight.data.copy_(a.weight.data)
        b.bias.data.copy_(a.bias.data)


def test_matches_deepxde_deeponet_cartesian_prod() -> None:
    import deepxde

    torch.manual_seed(0)
    m, batch, n_points = 100, 7, 33
    ref = deepxde.nn.DeepONetCartesianProd([m, 40, 40], [1, 40, 40], "relu", "Glorot normal")
    ours = _deeponet(n_sensors=m, branch_layers=[40, 40], trunk_layers=[40, 40])
    _copy_linears(ref.branch, ours.branches[0])
    _copy_linears(ref.trunk, ours.trunks[0])
    with torch.no_grad():
        ref.b[0].fill_(0.37)  # non-zero so the bias mapping is checked too
        ours.bias.fill_(0.37)
    u = torch.randn(batch, m)
    y = torch.rand(n_points, 1)
    expected = ref((u, y))  # (B, N)
    got = ours(u[:, None, :], y.T.expand(batch, 1, n_points))  # (B, 1, N)
    torch.testing.assert_close(got[:, 0], expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("strategy", "branch", "trunk"),
    [
        ("independent", [24, 16], [24, 16]),
        ("split_both", [24, 16], [24, 16]),
        ("split_branch", [24, 16], [24, 8]),
        ("split_trunk", [24, 8], [24, 16]),
    ],
)
def test_multi_output_strategies_match_deepxde(strategy: str, branch, trunk) -> None:
    import deepxde

    torch.manual_seed(1)
    m, n_dims, c_out = 12, 2, 2
    ref = deepxde.nn.DeepONetCartesianProd(
        [m, *branch],
        [n_dims, *trunk],
        "tanh",
        "Glorot normal",
        num_outputs=c_out,
        multi_output_strategy=strategy,
    )
    ours = _deeponet(
        n_dims=n_dims,
        out_channels=c_out,
        n_sensors=m,
        branch_layers=branch,
        trunk_layers=trunk,
        activation="tanh",
        multi_output_strategy=strategy,
    )
    ref_branches = ref.branch if strategy == "independent" else [ref.branch]
    ref_trunks = ref.trunk if strategy == "independent" else [ref.trunk]
    for a, b in zip(ref_branches, ours.branches, strict=True):
        _copy_linears(a, b)
    for a, b in zip(ref_trunks, ours.trunks, strict=True):
        _copy_linears(a, b)
    with torch.no_grad():
        for i in range(c_out):
            ref.b[i].fill_(0.1 * (i + 1))
            ours.bias[i] = 0.1 * (i + 1)
    u, y = torch.randn(5, m), torch.rand(11, n_dims)
    expected = ref((u, y))  # (B, N, C)
    got = ours(u[:, None, :], y.T.expand(5, n_dims, 11))  # (B, C, N)
    torch.testing.assert_close(got.transpose(1, 2), expected, rtol=1e-6, atol=1e-6)


def test_glorot_normal_initialization_as_deepxde() -> None:
    torch.manual_seed(0)
    model = _deeponet(n_sensors=400, branch_layers=[200, 40])
    first = model.branches[0].linears[0]
    assert first.weight.std().item() == pytest.approx(math.sqrt(2 / 600), rel=0.05)
    assert torch.count_nonzero(first.bias) == 0


@pytest.mark.parametrize("branch", ["mlp", "cnn"])
def test_float64(branch: str) -> None:
    model = _deeponet(n_dims=2, n_sensors=36, branch=branch, trunk_fourier_features=2).double()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    gx, gy = torch.meshgrid(*(torch.linspace(0, 1, 6, dtype=torch.float64),) * 2, indexing="ij")
    out = model(x, torch.stack([gx, gy]).expand(2, 2, 6, 6))
    assert out.dtype == torch.float64 and out.shape == (2, 1, 6, 6)


def _low_rank_fields(n: int, grid: int, dtype=torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    s = torch.linspace(0, 1, grid, dtype=dtype)
    basis = torch.stack([torch.sin(math.pi * s), s**2, torch.cos(3 * s)])  # 3 functions
    coeffs = torch.randn(n, 2, 3, generator=gen, dtype=dtype)  # 2 channels
    return torch.einsum("ncr,rx->ncx", coeffs, basis) + 0.5  # non-zero mean


def test_pod_reconstructs_a_low_rank_target_exactly() -> None:
    y = _low_rank_fields(40, 50)
    pod = MODELS.get("pod_deeponet")(
        in_channels=1, out_channels=2, n_dims=1, n_modes=6, n_sensors=8
    ).double()
    energy = pod.fit_pod(y)
    # the centred data has rank 6 (2 channels x 3 functions): 6 modes hold all the variance
    assert energy.sum().item() == pytest.approx(1.0, rel=1e-12)
    torch.testing.assert_close(pod.reconstruct(pod.project(y)), y, rtol=0, atol=1e-10)
    too_few = MODELS.get("pod_deeponet")(
        in_channels=1, out_channels=2, n_dims=1, n_modes=5, n_sensors=8
    ).double()
    too_few.fit_pod(y)
    assert (too_few.reconstruct(too_few.project(y)) - y).abs().max() > 1e-3


def test_pod_forward_is_mean_plus_branch_times_modes() -> None:
    y = _low_rank_fields(20, 10)
    pod = PODDeepONet(1, 2, 1, n_modes=4, n_sensors=5, branch_layers=[16]).double()
    pod.fit_pod(y, n_modes=4)
    x = torch.randn(3, 1, 5, dtype=torch.float64)
    expected = pod.branch(x.flatten(1)) @ pod.pod_modes + pod.pod_mean
    out = pod(x)
    assert out.shape == (3, 2, 10)
    torch.testing.assert_close(out.flatten(1), expected)


def test_pod_state_dict_loads_into_a_fresh_model() -> None:
    y = _low_rank_fields(20, 10, dtype=torch.float32)
    a = PODDeepONet(1, 2, 1, n_modes=3, n_sensors=5)
    a.fit_pod(y)
    b = PODDeepONet(1, 2, 1, n_modes=3, n_sensors=5)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 1, 5)
    torch.testing.assert_close(b(x), a(x))


def test_pod_errors() -> None:
    pod = PODDeepONet(1, 1, 1, n_modes=3, n_sensors=5)
    with pytest.raises(RuntimeError, match=r"call model.fit_pod\(y_train\)"):
        pod(torch.randn(2, 1, 5))
    with pytest.raises(ValueError, match="built with n_modes=3.*got n_modes=4"):
        pod.fit_pod(torch.randn(10, 1, 8), n_modes=4)
    with pytest.raises(ValueError, match="n_modes=3 exceeds the rank available from 3 samples"):
        pod.fit_pod(torch.randn(3, 1, 8))
    with pytest.raises(ValueError, match=r"expects y_train of shape \(N, 1, \*S\)"):
        pod.fit_pod(torch.randn(10, 2, 8))


@pytest.fixture
def one_thread():
    # tiny matmuls: a second BLAS thread only adds contention (40x slower on a loaded 2-core box)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_training_decreases_the_loss_on_an_antiderivative_toy(one_thread) -> None:
    # u = a cos(2 pi k s) + c, G(u)(s) = a sin(2 pi k s) / (2 pi k) + c s
    torch.manual_seed(0)
    m, n, batch = 32, 32, 64
    s = torch.linspace(0, 1, m)
    a, c = torch.randn(batch, 1), torch.randn(batch, 1)
    k = torch.randint(1, 3, (batch, 1)).float()
    u = (a * torch.cos(2 * math.pi * k * s) + c)[:, None]
    target = (a * torch.sin(2 * math.pi * k * s) / (2 * math.pi * k) + c * s)[:, None]
    coords = s.expand(batch, 1, n)
    model = _deeponet(n_sensors=m)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)

    def rel_l2() -> torch.Tensor:
        pred = model(u, coords)
        return ((pred - target).flatten(1).norm(dim=1) / target.flatten(1).norm(dim=1)).mean()

    initial = rel_l2().item()
    for _ in range(300):
        opt.zero_grad()
        loss = rel_l2()
        loss.backward()
        opt.step()
    final = rel_l2().item()
    assert final < 0.2 * initial, (initial, final)


@pytest.mark.parametrize(
    ("config", "error", "message"),
    [
        ({"n_sensor": 5}, TypeError, r"unknown deeponet option.*did you mean 'n_sensors'"),
        ({"n_sensors": None}, ValueError, "branch='mlp' needs n_sensors"),
        ({"activation": "elu"}, ValueError, r"activation='elu' is not one of \['relu'"),
        ({"branch": "gnn"}, ValueError, r"branch='gnn' is not one of \['mlp', 'cnn'\]"),
        ({"branch_layers": [40, 30]}, ValueError, r"last branch width \(30\) must equal"),
        ({"trunk_layers": []}, ValueError, "trunk_layers must be a non-empty list"),
        ({"branch_layers": [40, -1]}, ValueError, "branch_layers must hold positive integers"),
        ({"multi_output_strategy": "split"}, ValueError, "multi_output_strategy='split' is not"),
        ({"trunk_fourier_features": -1}, ValueError, "trunk_fourier_features must be a non-neg"),
        ({"branch": "cnn", "n_dims": 4}, ValueError, "cnn branch supports n_dims 1, 2 or 3"),
        ({"branch": "cnn", "stacked": True}, ValueError, "stacked=True needs branch='mlp'"),
        (
            {"trunk_fourier_features": 2, "domain_length": [1.0, 2.0]},
            ValueError,
            "domain_length must be one positive float or 1",
        ),
        (
            {"out_channels": 3, "multi_output_strategy": "split_both"},
            ValueError,
            "split_both needs equal last branch/trunk widths divisible by out_channels=3",
        ),
        (
            {"out_channels": 2, "multi_output_strategy": "split_branch"},
            ValueError,
            "split_branch needs last branch width = out_channels",
        ),
        (
            {"out_channels": 2, "multi_output_strategy": "split_trunk"},
            ValueError,
            "split_trunk needs last trunk width = out_channels",
        ),
    ],
)
def test_invalid_config_is_named(config: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        _deeponet(**config)


def test_bad_inputs_are_named() -> None:
    model = _deeponet(n_sensors=16)
    with pytest.raises(ValueError, match="built for n_sensors=16 input points.*32 points"):
        model(torch.randn(2, 1, 32), _coords_1d(2, 32))
    with pytest.raises(ValueError, match=r"expects x of shape \(B, 1, \*S\)"):
        model(torch.randn(2, 3, 16), _coords_1d(2, 16))
    with pytest.raises(ValueError, match=r"expects coords of shape \(B=2, d=1, \*S\)"):
        model(torch.randn(2, 1, 16), torch.rand(2, 2, 16))
    cnn = _deeponet(n_dims=2, n_sensors=None, branch="cnn")
    with pytest.raises(ValueError, match="cnn branch expects x with 2 spatial dims"):
        cnn(torch.randn(2, 1, 16), _coords_2d(2, 4, 4))


def test_torch_export_matches_eager() -> None:
    # the shared-points test depends on data; under export the per-sample path is traced
    torch.manual_seed(0)
    model = _deeponet(out_channels=2, multi_output_strategy="split_both").eval()
    x, coords = torch.randn(3, 1, 16), _coords_1d(3, 10)
    exported = torch.export.export(model, (x, coords)).module()
    torch.testing.assert_close(exported(x, coords), model(x, coords))
