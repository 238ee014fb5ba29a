"""GNS: shapes, translation invariance, the noise-corrected target, integration and training."""

from __future__ import annotations

import pytest
import torch

from sciml.data.particles import ParticleStats, ParticleWindowDataset
from sciml.models.gns import GNS, InteractionNetwork
from sciml.registry import MODELS
from sciml.training import Trainer, TrainerConfig


def _lattice(k: int = 4, d: int = 2, spacing: float = 0.05) -> torch.Tensor:
    """``(k^d, d)`` lattice around the centre of the unit box."""
    axes = [torch.arange(k, dtype=torch.float64) * spacing for _ in range(d)]
    pts = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)
    return pts - pts.mean(0) + 0.5


def _trajectories(n: int = 2, T: int = 16, k: int = 4, d: int = 2) -> torch.Tensor:
    """``(n, T, P, d)`` lattices oscillating and falling: a smooth, learnable motion."""
    gen = torch.Generator().manual_seed(0)
    x0 = _lattice(k, d)
    amp = 0.004 * torch.randn(n, 1, x0.shape[0], d, generator=gen, dtype=torch.float64)
    t = torch.arange(T, dtype=torch.float64)[None, :, None, None]
    g = torch.zeros(d, dtype=torch.float64)
    g[-1] = -2e-4
    return x0 + amp * torch.sin(0.4 * t) + 0.5 * g * t**2


def _model(d: int = 2, **kwargs) -> GNS:
    torch.manual_seed(0)
    opts = {"history": 3, "radius": 0.08, "latent": 16, "n_message_passing": 2, "n_hidden": 1}
    return GNS(d, **{**opts, **kwargs})


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_output_and_rollout_shapes_and_dtypes(dim: int, dtype: torch.dtype) -> None:
    model = _model(dim).to(dtype).eval()
    x = _trajectories(n=3, T=6, k=3, d=dim).to(dtype)  # (3, 6, 27|9, d)
    windows = x[:, :4].transpose(1, 2)  # (B, P, H+1, d)
    out = model(windows)
    assert out.shape == (3, x.shape[2], dim) and out.dtype == dtype
    assert model(windows[0]).shape == (x.shape[2], dim)
    with torch.no_grad():
        traj = model.rollout(x[:, :4], 5)
        assert traj.shape == (3, 5, x.shape[2], dim) and traj.dtype == dtype
        assert model.rollout(x[0, :4], 2).shape == (2, x.shape[2], dim)
    with pytest.raises(ValueError, match="expected positions"):
        model(x[:, :3].transpose(1, 2))


@pytest.mark.parametrize("dim", [2, 3])
def test_predictions_are_translation_invariant(dim: int) -> None:
    x = _trajectories(n=1, T=4, k=3, d=dim)[0].transpose(0, 1)  # (P, 4, d), around 0.5
    shift = torch.tensor([0.13, -0.21, 0.07][:dim], dtype=torch.float64)
    no_walls = _model(dim, wall_features=False).double().eval()
    assert torch.allclose(no_walls(x + 10 * shift), no_walls(x), atol=1e-10)
    # With wall features, a shift that keeps every particle farther than r from the walls
    # changes no feature (the clipped distances stay at 1).
    walls = _model(dim).double().eval()
    assert torch.allclose(walls(x + shift), walls(x), atol=1e-10)
    near_wall = x - x[..., -1:, :].amin((0, 1)) + 0.01  # moved to within r of the lower walls
    assert not torch.allclose(walls(near_wall), walls(x), atol=1e-6)


def test_training_noise_is_a_random_walk_with_the_target_corrected() -> None:
    stats = ParticleStats(*(torch.full((2,), v, dtype=torch.float64) for v in (0, 1e-3, 0, 5e-4)))
    model = _model(noise_std=3e-4, stats=stats).double().train()
    x = _trajectories(n=2, T=4)[:, :4].transpose(1, 2)  # (B, P, H+1, d)
    torch.manual_seed(5)
    out = model(x)
    # The same draws, made explicit: velocity noise ε of std noise_std/√H, n_0 = 0.
    torch.manual_seed(5)
    eps = torch.randn_like(x[:, :, 1:]) * 3e-4 / 3**0.5
    noise = torch.cat([torch.zeros_like(x[:, :, :1]), eps.cumsum(2)], 2)
    noisy_pred = model.normalized_acceleration(x + noise)
    # Target of the noisy input: reach the true next position shifted by the last noise sample.
    nxt = 2 * x[:, :, -1] - x[:, :, -2]  # any next position: y is linear in it
    y_clean = (nxt - 2 * x[:, :, -1] + x[:, :, -2]) / 5e-4
    noisy = x + noise
    y_noisy = ((nxt + noise[:, :, -1]) - 2 * noisy[:, :, -1] + noisy[:, :, -2]) / 5e-4
    assert torch.allclose(out - y_clean, noisy_pred - y_noisy, atol=1e-9)
    model.eval()
    assert torch.equal(model(x), model(x))  # no noise outside training


def test_rollout_integrates_the_mean_acceleration_exactly_when_the_network_outputs_zero() -> None:
    x = _trajectories(n=1, T=10)[0]  # (T, P, d)
    g = torch.tensor([0.0, -2e-4], dtype=torch.float64)
    stats = ParticleStats(torch.zeros(2), torch.ones(2), g, torch.ones(2))
    model = _model(stats=stats).double().eval()
    last = model.decoder[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    ballistic = x[0] + torch.arange(10, dtype=torch.float64)[:, None, None] * 0.01
    ballistic = ballistic + 0.5 * g * torch.arange(10, dtype=torch.float64)[:, None, None] ** 2
    with torch.no_grad():
        pred = model.rollout(ballistic[:4], 6)
    assert torch.allclose(pred, ballistic[4:], atol=1e-12)


def test_a_few_trainer_steps_reduce_the_loss(tmp_path) -> None:
    train = ParticleWindowDataset(_trajectories(n=2, T=16), history=3, noise_std=1e-5)
    model = MODELS.get("gns")(
        dim=2,
        history=3,
        radius=0.08,
        latent=16,
        n_message_passing=2,
        n_hidden=1,
        noise_std=1e-5,
        stats=train.stats,
    )

    def mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (pred - y).square().mean()

    def loss() -> float:
        model.eval()
        with torch.no_grad():
            batch = train.__getitems__(range(len(train)))
            return float(mse(model(batch["x"].float()), batch["y"].float()))

    before = loss()
    config = TrainerConfig(
        epochs=100, max_steps=40, batch_size=8, lr=3e-3, eval_every=40, progress=False
    )
    Trainer(model, mse, train, train, config, tmp_path / "run").fit()
    assert loss() < 0.5 * before
    assert model.acceleration_std.dtype == torch.float32  # stats are buffers: moved with .to()
    assert torch.allclose(model.acceleration_std.double(), train.stats.acceleration_std)


def test_interaction_network_is_the_residual_mlp_update_of_the_concatenation() -> None:
    torch.manual_seed(0)
    layer = InteractionNetwork(latent=8, hidden=12, n_hidden=2).double()
    h = torch.randn(6, 8, dtype=torch.float64)
    edge_index = torch.tensor([[1, 2, 0, 5, 4], [0, 0, 3, 3, 3]])  # sources → targets
    e = torch.randn(5, 8, dtype=torch.float64)
    h_new, e_new = layer(h, edge_index, e)
    src, dst = edge_index
    update = layer.edge_mlp(torch.cat([e, h[dst], h[src]], dim=-1))
    aggregated = torch.zeros_like(h).index_add_(0, dst, update)
    assert torch.allclose(e_new, e + update, atol=1e-12)
    assert torch.allclose(h_new, h + layer.node_mlp(torch.cat([h, aggregated], -1)), atol=1e-12)


def test_gns_is_listed_without_importing_torch_geometric() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from sciml.registry import MODELS; names = MODELS.names(); "
        "assert 'gns' in names and 'torch_geometric' not in sys.modules, names; "
        "MODELS.get('gns'); assert 'torch_geometric' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
