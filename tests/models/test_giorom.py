"""GIOROM stepper: shapes, permutation equivariance, state-dict round trip, the operator block,
training, sparse sampling and its bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from sciml.data.format import DataFileError, DatasetLayout, FieldLayout, write_dataset
from sciml.data.particles import ParticleWindowDataset
from sciml.models.giorom import GIOROM, SparseTrajectories, sparse_indices, sparse_positions
from sciml.models.graph_ops import fps
from sciml.registry import MODELS

_SMALL = {
    "history": 3,
    "radius": 0.1,
    "latent": 16,
    "n_hidden": 1,
    "grid_size": 8,
    "fno_modes": 4,
    "fno_width": 8,
    "fno_layers": 1,
    "gno_kernel_hidden": [16],
}


def _model(dim: int = 2, **kwargs) -> GIOROM:
    torch.manual_seed(0)
    return GIOROM(dim, **{**_SMALL, **kwargs})


def _windows(b: int = 2, m: int = 40, dim: int = 2, seed: int = 0) -> torch.Tensor:
    """``(B, M, H+1, d)`` particles in the middle of the box drifting slowly."""
    gen = torch.Generator().manual_seed(seed)
    x0 = 0.3 + 0.4 * torch.rand(b, m, 1, dim, generator=gen, dtype=torch.float64)
    v = 0.002 * torch.randn(b, m, 1, dim, generator=gen, dtype=torch.float64)
    return x0 + v * torch.arange(4, dtype=torch.float64)[:, None]


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_output_and_rollout_shapes_and_dtypes(dim: int, dtype: torch.dtype) -> None:
    model = _model(dim).to(dtype).eval()
    x = _windows(dim=dim).to(dtype)
    out = model(x)
    assert out.shape == (2, 40, dim) and out.dtype == dtype and torch.isfinite(out).all()
    assert model(x[0]).shape == (40, dim)
    with torch.no_grad():
        traj = model.rollout(x.transpose(1, 2), 3)
    assert traj.shape == (2, 3, 40, dim) and traj.dtype == dtype


def test_stepper_is_permutation_equivariant() -> None:
    model = _model().double().eval()
    x = _windows(b=1, m=60)
    perm = torch.randperm(60, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(x)
        out_perm = model(x[:, perm])
        roll = model.rollout(x.transpose(1, 2), 3)
        roll_perm = model.rollout(x[:, perm].transpose(1, 2), 3)
    assert torch.allclose(out_perm, out[:, perm], atol=1e-10)
    assert torch.allclose(roll_perm, roll[:, :, perm], atol=1e-10)


def test_examples_of_a_batch_do_not_interact() -> None:
    model = _model().double().eval()
    x = _windows(b=2)
    with torch.no_grad():
        assert torch.allclose(model(x)[1], model(x[1:])[0], atol=1e-10)


def test_operator_block_sits_between_the_interaction_networks_and_acts() -> None:
    model = _model(n_encoder_layers=2, n_decoder_layers=1).double().eval()
    assert [type(m).__name__ for m in model.processor] == [
        "InteractionNetwork",
        "InteractionNetwork",
        "LatentGridOperator",
        "InteractionNetwork",
    ]
    x = _windows()
    with torch.no_grad():
        before = model(x)
        model.operator.gno_out.out.weight.mul_(3.0)  # a different latent-grid contribution
        assert not torch.allclose(model(x), before, atol=1e-6)
    with pytest.raises(RuntimeError, match="bind"):  # positions are bound only inside a call
        model.operator(torch.zeros(4, 16), torch.zeros(2, 0, dtype=torch.long), None)


def test_state_dict_round_trip_through_bytes() -> None:
    model = _model().double().eval()
    model.acceleration_std.fill_(2e-4)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    clone = GIOROM(2, **_SMALL).double().eval()  # another initialization
    clone.load_state_dict(state)
    x = _windows()
    with torch.no_grad():
        assert torch.equal(clone(x), model(x))
        assert torch.equal(clone.rollout(x.transpose(1, 2), 2), model.rollout(x.transpose(1, 2), 2))


def test_registered_by_name_with_checked_options() -> None:
    model = MODELS.get("giorom")(dim=2, **_SMALL)
    assert isinstance(model, GIOROM)
    with pytest.raises(TypeError, match="did you mean 'grid_size'"):
        MODELS.get("giorom")(dim=2, grid_sizes=8)


def test_a_few_adam_steps_on_sparse_windows_reduce_the_loss() -> None:
    gen = torch.Generator().manual_seed(0)
    x0 = 0.4 + 0.2 * torch.rand(1, 1, 30, 2, generator=gen, dtype=torch.float64)
    t = torch.arange(14, dtype=torch.float64)[None, :, None, None]
    phase = 0.5 * t[..., 0] + 9 * x0[..., 1]  # (1, 14, 30)
    swirl = torch.stack([torch.sin(phase), torch.cos(phase)], -1)
    traj = SparseTrajectories.from_positions(x0 + 0.003 * swirl, 0.5, radius=0.2)
    data = ParticleWindowDataset(traj.sparse, history=3, noise_std=1e-5)
    model = _model(noise_std=1e-5, stats=data.stats, radius=0.2)
    batch = data.__getitems__(range(len(data)))
    x, y = batch["x"].float(), batch["y"].float()

    def loss() -> torch.Tensor:
        return (model(x) - y).square().mean()

    with torch.no_grad():
        before = float(loss())
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(40):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    with torch.no_grad():
        assert float(loss()) < 0.5 * before


def test_sparse_sampling_is_fps_on_the_reference_frame_per_trajectory() -> None:
    gen = torch.Generator().manual_seed(2)
    positions = torch.rand(3, 5, 100, 2, generator=gen, dtype=torch.float64)
    traj = SparseTrajectories.from_positions(positions, 0.1)
    assert traj.indices.shape == (3, 10)
    for n in range(3):
        assert torch.equal(traj.indices[n], fps(positions[n, 0], ratio=0.1))
        assert torch.equal(traj.sparse[n], positions[n][:, traj.indices[n]])
    assert torch.equal(sparse_indices(positions[0, 0], 0.1), traj.indices[0])
    rand = sparse_indices(positions[:, 0], 0.3, method="random", seed=4)
    assert rand.shape == (3, 30) and all(row.unique().numel() == 30 for row in rand)


@pytest.mark.parametrize("ratio", [0.0, 1.2, -0.5])
def test_sampling_ratio_outside_the_unit_interval_is_an_error(ratio: float) -> None:
    with pytest.raises(ValueError, match=rf"sampling ratio must be in \(0, 1\], got {ratio}"):
        sparse_indices(torch.rand(50, 2), ratio)


def test_a_radius_that_isolates_sampled_particles_is_an_error() -> None:
    x = torch.cat([torch.rand(99, 2) * 0.1, torch.tensor([[0.9, 0.9]])])  # one far particle
    with pytest.raises(ValueError, match=r"radius 0.2 leaves 1 of 50 sampled particles"):
        sparse_indices(x, 0.5, radius=0.2)
    assert sparse_indices(x, 0.5, radius=1.2).shape == (50,)
    with pytest.raises(ValueError, match=r"sampling method='grid' is not one of"):
        sparse_indices(x, 0.5, method="grid")
    with pytest.raises(ValueError, match="gno_radius=0.01 leaves particles without a latent"):
        GIOROM(2, **{**_SMALL, "gno_radius": 0.01})
    with pytest.raises(ValueError, match="indices must be"):
        sparse_positions(torch.rand(2, 3, 10, 2), torch.zeros(3, 4, dtype=torch.long))


def test_a_particle_file_without_positions_is_an_error(tmp_path) -> None:
    layout = DatasetLayout(
        dataset_name="mpm2d",
        n_trajectories=1,
        time=np.arange(4) * 0.01,
        coords={"points": np.zeros((6, 2))},
        fields=[FieldLayout("velocity", order=1)],
    )
    path = write_dataset(tmp_path / "v.h5", layout, {"velocity": np.zeros((1, 4, 6, 2))})
    with pytest.raises(DataFileError, match="no field 'position'"):
        SparseTrajectories.from_file(path, 0.5)
