"""The training loop: logs, checkpoints, seeding, accumulation, clipping, failures and bad input."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import pytest
import torch
from tiny_run import SyntheticDataset, TinyMLP, make_trainer
from torch import nn

import sciml.training.trainer as trainer_module
from sciml.training import (
    NonFiniteLossError,
    Trainer,
    TrainerConfig,
    TrainerSetupError,
    fingerprint,
    load_checkpoint,
)


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_run_writes_csv_tensorboard_and_checkpoints(tmp_path: Path) -> None:
    result = make_trainer(tmp_path, log_every=2, eval_every=5, checkpoint_every=4).fit()
    assert result.steps == 12 and not result.interrupted

    with open(tmp_path / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["step", "epoch", "train_loss", "val_loss", "lr", "time"]
    # Rows at log_every, at each validation (5, 10) and at the final step.
    assert [int(r["step"]) for r in rows] == [2, 4, 5, 6, 8, 10, 12]
    assert [int(r["step"]) for r in rows if r["val_loss"]] == [5, 10, 12]
    assert float(rows[-1]["epoch"]) == 4.0
    assert all(float(r["train_loss"]) > 0 and float(r["lr"]) > 0 for r in rows)

    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["best.pt", "last.pt", "step_12.pt", "step_4.pt", "step_8.pt"]
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["step"] == 12


def test_best_checkpoint_holds_the_lowest_validation_loss(tmp_path: Path) -> None:
    result = make_trainer(tmp_path, eval_every=2, lr=0.05).fit()
    val = {r["step"]: r["val_loss"] for r in result.history if r["val_loss"] is not None}
    best_step = min(val, key=val.get)
    best = load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    assert best["step"] == best_step == result.best_step
    assert best["val_loss"] == val[best_step] == result.best_val_loss
    assert result.final_val_loss == val[12]


def test_training_reduces_the_loss(tmp_path: Path) -> None:
    result = make_trainer(tmp_path, epochs=30, lr=1e-2, scheduler="none", dropout=0.0).fit()
    val = [r["val_loss"] for r in result.history if r["val_loss"] is not None]
    assert val[-1] < 0.5 * val[0]


def test_same_seed_gives_bit_identical_weights(tmp_path: Path) -> None:
    first = make_trainer(tmp_path / "a", seed=3)
    first.fit()
    second = make_trainer(tmp_path / "b", seed=3)
    second.fit()
    other = make_trainer(tmp_path / "c", seed=4)
    other.fit()
    a, b, c = _weights(first), _weights(second), _weights(other)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_gradient_accumulation_equals_a_larger_batch(tmp_path: Path) -> None:
    common = {"dropout": 0.0, "grad_clip": None, "epochs": 2}
    accumulated = make_trainer(tmp_path / "acc", batch_size=4, grad_accum_steps=3, **common)
    large = make_trainer(tmp_path / "big", batch_size=12, grad_accum_steps=1, **common)
    acc_result, big_result = accumulated.fit(), large.fit()
    assert acc_result.steps == big_result.steps == 8
    a, b = _weights(accumulated), _weights(large)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-12, atol=1e-12)
    acc_losses = [r["train_loss"] for r in acc_result.history]
    big_losses = [r["train_loss"] for r in big_result.history]
    assert acc_losses == pytest.approx(big_losses, rel=1e-12)


def test_grad_clip_bounds_the_gradient_norm(tmp_path: Path) -> None:
    # After one Adam step the first moment is (1 - beta1) * g, so its norm reveals ||g||.
    def first_gradient_norm(run_dir: Path, clip: float | None) -> float:
        trainer = make_trainer(
            run_dir, max_steps=1, grad_clip=clip, optimizer="adam", weight_decay=0.0
        )
        trainer.fit()
        moments = [s["exp_avg"] for s in trainer.optimizer.state.values()]
        return torch.linalg.vector_norm(torch.stack([m.norm() for m in moments])).item() / 0.1

    clip = 1e-3
    assert first_gradient_norm(tmp_path / "free", None) > 10 * clip
    # clip_grad_norm_ divides by (norm + 1e-6), hence the relative tolerance.
    assert first_gradient_norm(tmp_path / "clipped", clip) == pytest.approx(clip, rel=1e-5)


def test_adam_and_adamw_differ_with_weight_decay(tmp_path: Path) -> None:
    adam = make_trainer(tmp_path / "adam", optimizer="adam", weight_decay=0.1, max_steps=3)
    adamw = make_trainer(tmp_path / "adamw", optimizer="adamw", weight_decay=0.1, max_steps=3)
    adam.fit()
    adamw.fit()
    assert isinstance(adam.optimizer, torch.optim.Adam)
    assert isinstance(adamw.optimizer, torch.optim.AdamW)
    a, w = _weights(adam), _weights(adamw)
    assert not all(torch.equal(a[k], w[k]) for k in a)


def test_max_steps_stops_the_run_early(tmp_path: Path) -> None:
    result = make_trainer(tmp_path, max_steps=5).fit()
    assert result.steps == 5
    assert result.history[-1]["step"] == 5


class NaNAfter(nn.MSELoss):
    """MSE that returns NaN from training-loss call ``bad_call`` on."""

    def __init__(self, bad_call: int) -> None:
        super().__init__()
        self.calls = 0
        self.bad_call = bad_call

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = super().forward(pred, target)
        if torch.is_grad_enabled():
            self.calls += 1
            if self.calls >= self.bad_call:
                return loss * math.nan
        return loss


def test_non_finite_loss_stops_naming_the_step_and_keeps_last_good_checkpoint(
    tmp_path: Path,
) -> None:
    # Two micro-batches per step: call 11 is in step 6; the last checkpoint is step 4.
    trainer = make_trainer(tmp_path, loss_fn=NaNAfter(11), checkpoint_every=2)
    match = r"non-finite training loss \(nan\) at step 6.*last good checkpoint is kept.*\(step 4\)"
    with pytest.raises(NonFiniteLossError, match=match):
        trainer.fit()
    last = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert last["step"] == 4
    assert all(torch.isfinite(t).all() for t in last["model"].values())
    assert not (tmp_path / "checkpoints" / "step_6.pt").exists()
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_non_finite_loss_before_any_checkpoint_says_so(tmp_path: Path) -> None:
    with pytest.raises(NonFiniteLossError, match="at step 1.*No checkpoint had been written yet"):
        make_trainer(tmp_path, loss_fn=NaNAfter(1)).fit()
    assert not (tmp_path / "checkpoints" / "last.pt").exists()


def test_unwritable_run_dir_fails_before_training(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(TrainerSetupError, match="not writable"):
        make_trainer(blocker / "run")


def test_resume_with_a_different_fingerprint_is_refused(tmp_path: Path) -> None:
    make_trainer(tmp_path, max_steps=2, fingerprint="spec-A").fit()
    with pytest.raises(TrainerSetupError, match="different spec.*spec-A.*spec-B"):
        make_trainer(tmp_path, max_steps=4, fingerprint="spec-B").fit(resume=True)


def test_resume_with_changed_trainer_settings_is_refused(tmp_path: Path) -> None:
    make_trainer(tmp_path, max_steps=2).fit()
    with pytest.raises(TrainerSetupError, match=r"lr: saved 0\.01, now 0\.02"):
        make_trainer(tmp_path, max_steps=2, lr=0.02).fit(resume=True)


def test_resume_without_a_checkpoint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrainerSetupError, match="nothing to resume"):
        make_trainer(tmp_path).fit(resume=True)


def test_fresh_run_into_an_existing_run_is_refused(tmp_path: Path) -> None:
    make_trainer(tmp_path, max_steps=1).fit()
    with pytest.raises(TrainerSetupError, match="already holds a run"):
        make_trainer(tmp_path, max_steps=1).fit()


def test_resume_of_a_finished_run_trains_no_further(tmp_path: Path) -> None:
    first = make_trainer(tmp_path, max_steps=3)
    first.fit()
    again = make_trainer(tmp_path, max_steps=3)
    result = again.fit(resume=True)
    assert result.steps == 3
    assert all(
        torch.equal(a, b) for a, b in zip(_weights(first).values(), _weights(again).values())
    )


def test_amp_is_refused_on_cpu(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="amp='bf16' needs a CUDA device"):
        make_trainer(tmp_path, amp="bf16", dtype="float32")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", 0, "epochs must be an integer >= 1"),
        ("batch_size", 2.5, "batch_size must be an integer >= 1"),
        ("max_steps", 0, "max_steps must be None or an integer >= 1"),
        ("lr", -1.0, "lr must be a number > 0"),
        ("gamma", 1.5, r"gamma must be a number in \(0, 1\]"),
        ("grad_clip", 0.0, "grad_clip must be None or a number > 0"),
        ("optimizer", "sgd", r"optimizer must be one of \['adam', 'adamw', 'adamw_complex'\]"),
        ("scheduler", "linear", "scheduler must be one of"),
        ("amp", "fp8", "amp must be one of"),
        ("dtype", "float16", "dtype must be one of"),
        ("warmup_steps", -1, "warmup_steps must be an integer >= 0"),
    ],
)
def test_config_rejects_bad_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainerConfig(**{field: value})


def test_model_without_input_keys_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="input_keys"):
        Trainer(
            nn.Linear(3, 1),
            nn.MSELoss(),
            SyntheticDataset(8),
            SyntheticDataset(8),
            TrainerConfig(),
            tmp_path,
        )


def test_batch_missing_a_model_input_is_reported(tmp_path: Path) -> None:
    class NeedsCoords(TinyMLP):
        input_keys = ("x", "coords")

    trainer = Trainer(
        NeedsCoords(),
        nn.MSELoss(),
        SyntheticDataset(8),
        SyntheticDataset(8),
        TrainerConfig(batch_size=4, progress=False),
        tmp_path,
    )
    with pytest.raises(KeyError, match=r"batch lacks \['coords'\]"):
        trainer.fit()


def test_empty_dataset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="train_dataset is empty"):
        Trainer(
            TinyMLP(),
            nn.MSELoss(),
            SyntheticDataset(0),
            SyntheticDataset(4),
            TrainerConfig(),
            tmp_path,
        )


def test_progress_bar_is_drawn_when_enabled(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_trainer(tmp_path / "on", max_steps=2, progress=True).fit()
    assert "train: 100%" in capsys.readouterr().err
    make_trainer(tmp_path / "off", max_steps=2, progress=False).fit()
    assert "train:" not in capsys.readouterr().err


def test_float32_training_keeps_float32(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, dtype="float32", max_steps=2)
    result = trainer.fit()
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert math.isfinite(result.final_val_loss)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_trains_on_cuda(tmp_path: Path, amp: str) -> None:
    trainer = make_trainer(tmp_path, amp=amp, dtype="float32", device="cuda", max_steps=4)
    result = trainer.fit()
    assert math.isfinite(result.final_val_loss)
    assert all(p.dtype == torch.float32 and p.is_cuda for p in trainer.model.parameters())
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert bool(state["scaler"]) == (amp == "fp16")


@pytest.mark.parametrize(
    ("device", "amp", "dtype", "message"),
    [
        ("gpu", "none", "float32", "device='gpu' is not a torch device name"),
        ("cpu", "fp16", "float32", "amp='fp16' needs a CUDA device, but device is 'cpu'"),
        ("cuda:64", "none", "float32", "device='cuda:64' but"),
    ],
)
def test_check_device_names_the_problem(device: str, amp: str, dtype: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        trainer_module.check_device(device, amp, dtype)


def test_check_device_accepts_the_cpu_and_refuses_amp_from_float64(amp_on_cpu: None) -> None:
    assert trainer_module.check_device("cpu") == torch.device("cpu")
    with pytest.raises(
        ValueError, match="amp='bf16' mixes precision from float32; dtype is 'float64'"
    ):
        trainer_module.check_device("cpu", "bf16", "float64")


@pytest.fixture
def amp_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accept ``amp`` on CPU, so that the trainer's mixed-precision path (autocast, loss
    scaling, unscaling before clipping, scaler checkpoints) runs here as it does on CUDA."""
    monkeypatch.setattr(trainer_module, "AMP_DEVICE_TYPES", ("cuda", "cpu"))


def _fp16_scaler(init_scale: float, growth_interval: int = 2000) -> torch.amp.GradScaler:
    return torch.amp.GradScaler("cpu", init_scale=init_scale, growth_interval=growth_interval)


@pytest.mark.parametrize("amp, low", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_mixed_precision_runs_the_forward_in_low_precision_and_keeps_float32_weights(
    tmp_path: Path, amp_on_cpu: None, amp: str, low: torch.dtype
) -> None:
    settings = {"dtype": "float32", "max_steps": 12, "dropout": 0.0}
    reference = make_trainer(tmp_path / "float32", **settings).fit()
    trainer = make_trainer(tmp_path / amp, amp=amp, **settings)
    seen: set[torch.dtype] = set()
    trainer.model.net[0].register_forward_hook(lambda m, i, out: seen.add(out.dtype))
    result = trainer.fit()
    assert seen == {low}
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    # It trains like the float32 run, to the low precision's rounding (bf16: 8 mantissa bits).
    curve = [row["train_loss"] for row in result.history]
    assert curve == pytest.approx([row["train_loss"] for row in reference.history], rel=5e-3)
    assert result.final_val_loss == pytest.approx(reference.final_val_loss, rel=1e-2)
    state = load_checkpoint(tmp_path / amp / "checkpoints" / "last.pt")
    # fp16 scales the loss; a healthy run never overflows, so the scale is still torch's 2^16.
    assert state["scaler"] == ({} if amp == "bf16" else {**state["scaler"], "scale": 2.0**16})
    skipped = [row.get("amp_skipped_steps") for row in result.history]
    assert skipped == ([None] * len(skipped) if amp == "bf16" else [0.0] * len(skipped))


def test_fp16_step_with_overflowing_gradients_is_skipped_and_the_loss_scale_halves(
    tmp_path: Path, amp_on_cpu: None
) -> None:
    trainer = make_trainer(tmp_path, amp="fp16", dtype="float32", max_steps=1)
    # Loss × 2^100 is finite in float32, but its gradient overflows the float16 activations.
    trainer.scaler = _fp16_scaler(2.0**100)
    before = _weights(trainer)
    result = trainer.fit()
    assert math.isfinite(result.history[-1]["train_loss"])
    assert all(torch.equal(before[k], v) for k, v in _weights(trainer).items())
    assert trainer.scaler.get_scale() == 2.0**99
    assert result.history[-1]["amp_skipped_steps"] == 1.0  # and the log says so


def test_fp16_run_resumed_from_a_checkpoint_ends_bit_identical(
    tmp_path: Path, amp_on_cpu: None
) -> None:
    """The loss scale and its growth tracker travel with the checkpoint: from a large initial
    scale that halves on overflow and doubles every 2 good steps, which steps are skipped
    depends on them, and so do the final weights."""
    settings = {"amp": "fp16", "dtype": "float32", "max_steps": 10, "checkpoint_every": 4}
    full = make_trainer(tmp_path / "full", **settings)
    full.scaler = _fp16_scaler(2.0**24, growth_interval=2)
    full.fit()
    step4 = load_checkpoint(tmp_path / "full" / "checkpoints" / "step_4.pt")
    assert step4["scaler"]["scale"] != full.scaler.get_scale()  # the scale moved after step 4

    resumed_dir = tmp_path / "resumed" / "checkpoints"
    resumed_dir.mkdir(parents=True)
    shutil.copy(tmp_path / "full" / "checkpoints" / "step_4.pt", resumed_dir / "last.pt")
    resumed = make_trainer(tmp_path / "resumed", **settings)
    resumed.fit(resume=True)
    assert resumed.scaler.state_dict() == full.scaler.state_dict()
    assert all(torch.equal(_weights(full)[k], v) for k, v in _weights(resumed).items())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_cuda_device_without_cuda_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CUDA is not available"):
        make_trainer(tmp_path, device="cuda")


class BatchedDataset(SyntheticDataset):
    """Same samples, but fetched a whole batch at a time through ``__getitems__``."""

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        return {"x": self.x[indices], "y": self.y[indices]}


def test_batched_getitems_dataset_trains_like_per_sample_indexing(tmp_path: Path) -> None:
    per_sample = make_trainer(tmp_path / "a", max_steps=4)
    per_sample.fit()
    torch.manual_seed(0)
    batched = Trainer(
        TinyMLP(),
        nn.MSELoss(),
        BatchedDataset(48, seed=1),
        BatchedDataset(16, seed=2),
        per_sample.config,
        tmp_path / "b",
        fingerprint="tiny",
    )
    batched.fit()
    a, b = _weights(per_sample), _weights(batched)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_dataloader_workers_do_not_change_the_result(tmp_path: Path) -> None:
    in_process = make_trainer(tmp_path / "w0", max_steps=3, num_workers=0)
    in_process.fit()
    workers = make_trainer(tmp_path / "w2", max_steps=3, num_workers=2)
    workers.fit()
    a, b = _weights(in_process), _weights(workers)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fingerprint_ignores_key_order_but_not_values() -> None:
    spec = {"model": {"name": "fno", "width": 32}, "trainer": {"lr": 1e-3}}
    reordered = {"trainer": {"lr": 1e-3}, "model": {"width": 32, "name": "fno"}}
    changed = {"model": {"name": "fno", "width": 64}, "trainer": {"lr": 1e-3}}
    assert fingerprint(spec) == fingerprint(reordered)
    assert fingerprint(spec) != fingerprint(changed)


class _CurriculumMLP(TinyMLP):
    """TinyMLP with the two optional model hooks: a curriculum and per-group learning rates."""

    def __init__(self) -> None:
        super().__init__(dropout=0.0)
        self.progress: list[float] = []

    def set_training_progress(self, fraction: float) -> None:
        self.progress.append(fraction)

    def parameter_groups(self, lr: float) -> list[dict]:
        return [
            {"params": list(self.net[0].parameters()), "lr": lr},
            {"params": list(self.net[3].parameters()), "lr": 0.1 * lr},
        ]


def test_model_hooks_see_training_progress_and_set_group_learning_rates(tmp_path: Path) -> None:
    model = _CurriculumMLP()
    config = TrainerConfig(epochs=2, batch_size=16, lr=0.5, scheduler="cosine", progress=False)
    trainer = Trainer(
        model, nn.MSELoss(), SyntheticDataset(32), SyntheticDataset(8, seed=2), config, tmp_path
    )
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [0.5, 0.05]
    trainer.fit()
    assert model.progress == [0.0, 0.25, 0.5, 0.75]  # before each of the 4 steps
    # the schedule scales every group alike: cosine after 4 of 4 steps is 0
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [0.0, 0.0]


class _CountingMLP(TinyMLP):
    """TinyMLP reporting how many forward passes it ran since it was last asked."""

    def __init__(self) -> None:
        super().__init__(dropout=0.0)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return super().forward(x)

    def training_statistics(self) -> dict[str, float]:
        stats = {"forward_calls": float(self.calls)}
        self.calls = 0
        return stats


def test_model_statistics_are_summed_per_log_window_into_metrics_csv(tmp_path: Path) -> None:
    config = TrainerConfig(
        epochs=3, batch_size=8, lr=1e-3, log_every=2, eval_every=100, progress=False
    )
    trainer = Trainer(
        _CountingMLP(),
        nn.MSELoss(),
        SyntheticDataset(16),
        SyntheticDataset(8, seed=2),
        config,
        tmp_path,
    )
    trainer.fit()
    with open(tmp_path / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[-1] == "forward_calls"
    # one training forward per step (2 batches × 3 epochs), rows every 2 steps; the validation
    # at the last step runs after that step's statistics were read
    assert [(int(r["step"]), float(r["forward_calls"])) for r in rows] == [
        (2, 2.0),
        (4, 2.0),
        (6, 2.0),
    ]


def test_nan_loss_without_an_autograd_graph_is_a_non_finite_loss(tmp_path: Path) -> None:
    class NaNConstant(nn.Module):
        def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return torch.tensor(math.nan)

    with pytest.raises(NonFiniteLossError, match="at step 1"):
        make_trainer(tmp_path, loss_fn=NaNConstant()).fit()


def test_loss_independent_of_the_parameters_is_refused(tmp_path: Path) -> None:
    class Constant(nn.Module):
        def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return target.square().mean()

    with pytest.raises(TrainerSetupError, match="does not depend on any trainable parameter"):
        make_trainer(tmp_path, loss_fn=Constant()).fit()


class _FieldData(torch.utils.data.Dataset):
    """8 random (1, 16, 16) → (1, 16, 16) pairs."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(8, 1, 16, 16, generator=g)

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": 2 * self.x[i]}


def _fno() -> nn.Module:
    from sciml.models.fno import FNO

    return FNO(1, 1, 2, n_modes=4, hidden_channels=8, n_layers=1)


def test_bf16_trains_an_fno_whose_ffts_run_in_float32(amp_on_cpu: None, tmp_path: Path) -> None:
    data = _FieldData()
    config = TrainerConfig(epochs=2, batch_size=4, amp="bf16", progress=False)
    result = Trainer(_fno(), nn.MSELoss(), data, data, config, tmp_path).fit()
    assert math.isfinite(result.final_val_loss)


def test_fp16_is_refused_for_complex_parameters_with_the_way_out(
    amp_on_cpu: None, tmp_path: Path
) -> None:
    data = _FieldData()
    config = TrainerConfig(epochs=1, batch_size=4, amp="fp16", progress=False)
    with pytest.raises(TrainerSetupError, match=r"cannot unscale the complex parameters .*bf16"):
        Trainer(_fno(), nn.MSELoss(), data, data, config, tmp_path)
