"""Dense reconstruction: exact cases of the interpolants, equivariance, batching, training."""

from __future__ import annotations

import pytest
import torch

from sciml.models.dense_reconstruction import (
    KernelReconstruction,
    ReconstructionPairs,
    knn_interpolate,
)
from sciml.models.giorom import sparse_indices


def _body(n: int = 20, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``(n², 2)`` lattice of a square body of side 0.2 at the centre of the box."""
    c = 0.4 + 0.2 * (torch.arange(n, dtype=dtype) + 0.5) / n
    return torch.stack(torch.meshgrid(c, c, indexing="ij"), -1).reshape(-1, 2)


def _deform(X: torch.Tensor, amount: float) -> torch.Tensor:
    """A smooth bending of the body, plus a translation."""
    u = torch.stack([amount * torch.sin(6 * X[:, 1]), -amount * (X[:, 0] - 0.5) ** 2 * 8], -1)
    return X + u + torch.tensor([0.05, -0.1], dtype=X.dtype)


def _sparse(X: torch.Tensor, ratio: float = 0.1) -> torch.Tensor:
    return sparse_indices(X, ratio)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_untrained_kernel_model_reproduces_a_rigid_translation_exactly(dtype) -> None:
    torch.manual_seed(0)
    model = KernelReconstruction(2, k=6, bandwidth=0.02).to(dtype)
    X = _body(dtype=dtype)
    idx = _sparse(X)
    shift = torch.tensor([0.13, -0.07], dtype=dtype)
    out = model(X[idx], X[idx] + shift, X)
    assert out.dtype == dtype and out.shape == X.shape
    assert torch.allclose(out, X + shift, atol=1e-6 if dtype == torch.float32 else 1e-12)


def test_knn_interpolation_is_exact_at_sampled_particles_and_for_translations() -> None:
    X = _body()
    idx = _sparse(X)
    x = _deform(X, 0.02)
    out = knn_interpolate(X[idx][None], x[idx][None], X[None], k=3)[0]
    assert torch.allclose(out[idx], x[idx], atol=1e-10)
    shift = torch.tensor([0.2, 0.3], dtype=torch.float64)
    moved = knn_interpolate(X[idx][None], (X[idx] + shift)[None], X[None], k=4)[0]
    assert torch.allclose(moved, X + shift, atol=1e-12)
    err = (out - x).norm(dim=-1).max()
    assert 0 < float(err) < 0.2 * 0.02  # a fraction of the deformation amplitude


def test_permuting_queries_or_sampled_particles() -> None:
    torch.manual_seed(0)
    model = KernelReconstruction(2, k=5).double()
    for p in model.correction.parameters():  # a non-trivial correction
        torch.nn.init.normal_(p, std=0.3)
    gen = torch.Generator().manual_seed(1)
    X = _body(12) + 0.002 * torch.rand(144, 2, generator=gen, dtype=torch.float64)  # no kNN ties
    idx = _sparse(X, 0.2)
    x = _deform(X, 0.03)
    pq = torch.randperm(X.shape[0], generator=gen)
    ps = torch.randperm(idx.numel(), generator=gen)
    out = model(X[idx], x[idx], X)
    assert torch.allclose(model(X[idx], x[idx], X[pq]), out[pq], atol=1e-12)
    assert torch.allclose(model(X[idx][ps], x[idx][ps], X), out, atol=1e-12)


def test_batched_examples_are_independent_and_rollout_maps_every_frame() -> None:
    torch.manual_seed(0)
    model = KernelReconstruction(2, k=4).double()
    X = _body(10)
    idx = _sparse(X, 0.2)
    X2 = X + 0.1
    ref = torch.stack([X[idx], X2[idx]])
    dense_ref = torch.stack([X, X2])
    traj = torch.stack([_deform(X, a)[idx] for a in (0.0, 0.01, 0.02)])  # (T, M, 2)
    sparse_traj = torch.stack([traj, traj + 0.1])  # (2, 3, M, 2)
    dense = model.rollout(ref, sparse_traj, dense_ref, chunk=2)
    assert dense.shape == (2, 3, 100, 2)
    for t in range(3):
        assert torch.allclose(dense[0, t], model(X[idx], traj[t], X), atol=1e-12)
        assert torch.allclose(dense[1, t], model(X2[idx], traj[t] + 0.1, X2), atol=1e-12)
    with pytest.raises(ValueError, match="expected sparse_ref"):
        model(ref, ref[:, :3], dense_ref)


def test_training_on_sparse_dense_pairs_beats_knn_interpolation() -> None:
    torch.manual_seed(0)
    X = _body(12)
    positions = torch.stack([_deform(X, a) for a in torch.linspace(0, 0.04, 5)])[None]
    idx = sparse_indices(positions[:, 0], 0.1)
    pairs = ReconstructionPairs(positions, idx)
    assert len(pairs) == 5 and pairs[3]["y"].shape == (144, 2)
    batch = {k: torch.stack([pairs[i][k] for i in range(len(pairs))]) for k in pairs[0]}
    model = KernelReconstruction(2, k=6, bandwidth=0.03, displacement_scale=0.05).double()
    inputs = [batch[k] for k in KernelReconstruction.input_keys]

    def loss() -> torch.Tensor:
        return (model(*inputs) - batch["y"]).square().mean()

    baseline = float((knn_interpolate(*inputs, k=3) - batch["y"]).square().mean())
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(80):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    with torch.no_grad():
        assert float(loss()) < 0.5 * baseline


def test_rollouts_search_neighbours_once_and_equal_frame_by_frame(monkeypatch) -> None:
    """The cached neighbours/weights of a rollout give the per-frame results exactly."""
    import sciml.models.dense_reconstruction as dr

    torch.manual_seed(0)
    model = KernelReconstruction(2, k=5, bandwidth=0.03).double()
    for p in model.correction.parameters():  # a non-trivial correction
        torch.nn.init.normal_(p, std=0.3)
    gen = torch.Generator().manual_seed(2)
    X = _body(12) + 0.002 * torch.rand(144, 2, generator=gen, dtype=torch.float64)
    idx = _sparse(X, 0.2)
    dense_ref = torch.stack([X, X + 0.05])
    ref = dense_ref[:, idx]
    amounts = torch.linspace(0.0, 0.04, 7)
    traj = torch.stack(  # (2, 7, M, 2)
        [torch.stack([_deform(body, float(a))[idx] for a in amounts]) for body in dense_ref]
    )
    expected = torch.stack(
        [torch.stack([model(ref[b], traj[b, t], dense_ref[b]) for t in range(7)]) for b in (0, 1)]
    )
    expected_knn = torch.stack(
        [
            torch.stack(
                [
                    knn_interpolate(ref[b, None], traj[b, t, None], dense_ref[b, None])[0]
                    for t in range(7)
                ]
            )
            for b in (0, 1)
        ]
    )
    calls = []
    search = dr._neighbours
    monkeypatch.setattr(dr, "_neighbours", lambda *a: calls.append(1) or search(*a))
    dense = model.rollout(ref, traj, dense_ref, chunk=3)
    assert len(calls) == 1  # one search for 2 trajectories x 7 frames in 3 chunks
    torch.testing.assert_close(dense, expected, rtol=0, atol=1e-13)
    knn = knn_interpolate(ref, traj.transpose(0, 1), dense_ref, chunk=3).transpose(0, 1)
    assert len(calls) == 2
    torch.testing.assert_close(knn, expected_knn, rtol=0, atol=1e-13)
