"""Learning-rate schedules (warmup, cosine, step, plateau, compositions), optimizer factory."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.training.optim import LRSchedule, build_optimizer, parameter_groups


def _schedule(name: str, **kw) -> LRSchedule:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    kw.setdefault("total_steps", 100)
    kw.setdefault("steps_per_epoch", 10)
    return LRSchedule(opt, name, **kw)


def _lrs(schedule: LRSchedule, n: int) -> list[float]:
    out = []
    for _ in range(n):
        out.append(schedule.lr)
        schedule.step()
    return out


def test_warmup_rises_linearly_then_holds() -> None:
    lrs = _lrs(_schedule("none", warmup_steps=4), 7)
    assert lrs == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0])


def test_cosine_anneals_from_base_to_zero_over_the_run() -> None:
    lrs = _lrs(_schedule("cosine", total_steps=10), 11)
    assert lrs[0] == 1.0
    assert lrs[5] == pytest.approx(0.5)
    assert lrs[10] == pytest.approx(0.0, abs=1e-15)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_warmup_composes_with_cosine() -> None:
    lrs = _lrs(_schedule("cosine", total_steps=12, warmup_steps=2), 13)
    assert lrs[:3] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert lrs[7] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lrs[12] == pytest.approx(0.0, abs=1e-15)


def test_step_decay_multiplies_by_gamma_every_step_size_epochs() -> None:
    lrs = _lrs(_schedule("step", steps_per_epoch=3, step_size=2, gamma=0.1), 13)
    assert lrs[:6] == [1.0] * 6
    assert lrs[6:12] == pytest.approx([0.1] * 6)
    assert lrs[12] == pytest.approx(0.01)


def test_plateau_decays_after_patience_evaluations_without_improvement() -> None:
    schedule = _schedule("plateau", patience=2, gamma=0.5)
    for loss in (1.0, 0.9, 0.9, 0.95):
        schedule.observe(loss)
    assert schedule.lr == 1.0  # two bad evaluations: still within patience
    schedule.observe(0.91)
    assert schedule.lr == 0.5
    schedule.observe(0.5)  # improvement resets the count
    schedule.observe(0.6)
    schedule.observe(0.6)
    assert schedule.lr == 0.5


def test_warmup_composes_with_plateau() -> None:
    schedule = _schedule("plateau", patience=0, gamma=0.5, warmup_steps=3)
    schedule.observe(1.0)
    schedule.observe(2.0)
    assert schedule.lr == pytest.approx(0.25 * 0.5)
    _lrs(schedule, 3)
    assert schedule.lr == pytest.approx(0.5)


def test_non_plateau_schedules_ignore_validation_losses() -> None:
    schedule = _schedule("cosine")
    for _ in range(20):
        schedule.observe(1.0)
    assert schedule.lr == 1.0


def test_schedule_state_round_trips() -> None:
    a = _schedule("plateau", patience=0, warmup_steps=5)
    _lrs(a, 3)
    a.observe(1.0)
    a.observe(1.0)
    b = _schedule("plateau", patience=0, warmup_steps=5)
    b.load_state_dict(a.state_dict())
    assert _lrs(a, 5) == _lrs(b, 5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "linear"}, "unknown scheduler 'linear'"),
        ({"name": "cosine", "total_steps": 0}, "total_steps and steps_per_epoch must be >= 1"),
        ({"name": "cosine", "interval": "batch"}, "interval 'batch'"),
        ({"name": "cosine", "horizon": 0}, "horizon must be >= 1"),
    ],
)
def test_bad_schedule_is_refused(kwargs: dict, message: str) -> None:
    name = kwargs.pop("name")
    with pytest.raises(ValueError, match=message):
        _schedule(name, **kwargs)


def test_optimizer_factory_builds_adam_and_adamw() -> None:
    params = [torch.nn.Parameter(torch.zeros(2))]
    adam = build_optimizer(params, "adam", lr=0.1, weight_decay=0.01)
    adamw = build_optimizer(params, "adamw", lr=0.1, weight_decay=0.01)
    assert type(adam) is torch.optim.Adam and type(adamw) is torch.optim.AdamW
    assert adamw.param_groups[0]["weight_decay"] == 0.01
    with pytest.raises(ValueError, match=r"unknown optimizer 'sgd'; expected one of"):
        build_optimizer(params, "sgd", lr=0.1)


# --- the same learning rates as torch's own schedulers, stepped the way their users step them


def _torch_lrs(make, n_steps: int, steps_per_epoch: int = 1, adam: bool = False) -> list:
    """Learning rates (and β₁ for Adam) of a torch scheduler stepped once per
    ``steps_per_epoch`` optimizer steps, recorded before every optimizer step."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=1.0) if adam else torch.optim.SGD([param], lr=1.0)
    sched = make(opt)
    out = []
    for s in range(n_steps):
        group = opt.param_groups[0]
        out.append((group["lr"], group["betas"][0]) if adam else group["lr"])
        opt.step()  # no gradients: a no-op, in the order torch expects
        if (s + 1) % steps_per_epoch == 0:
            sched.step()
    return out


def test_cosine_per_epoch_with_its_own_horizon_matches_cosine_annealing_lr() -> None:
    # neuraloperator's Darcy example: CosineAnnealingLR(T_max=30) stepped per epoch, 15 epochs
    ours = _lrs(_schedule("cosine", interval="epoch", horizon=30, steps_per_epoch=4), 60)
    ref = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=30), 60, steps_per_epoch=4
    )
    assert ours == pytest.approx(ref, rel=1e-12, abs=1e-15)
    assert ours[-1] == pytest.approx(0.5 * (1 + math.cos(math.pi * 14 / 30)))  # half-way


def test_exponential_matches_exponential_lr_per_epoch() -> None:
    ours = _lrs(_schedule("exponential", gamma=0.9, steps_per_epoch=3), 30)
    ref = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9), 30, steps_per_epoch=3
    )
    assert ours == pytest.approx(ref, rel=1e-12)


def test_step_per_step_interval_matches_step_lr_stepped_every_step() -> None:
    ours = _lrs(_schedule("step", interval="step", step_size=7, gamma=0.5), 40)
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5), 40)
    assert ours == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("total", [10, 97])
def test_onecycle_matches_one_cycle_lr_with_momentum(total: int) -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=1.0)
    ours = LRSchedule(opt, "onecycle", total_steps=total, steps_per_epoch=5, pct_start=0.25)
    got = []
    for _ in range(total):
        got.append((opt.param_groups[0]["lr"], opt.param_groups[0]["betas"][0]))
        ours.step()
    ref = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=1.0, total_steps=total, pct_start=0.25
        ),
        total,
        adam=True,
    )
    assert [g[0] for g in got] == pytest.approx([r[0] for r in ref], rel=1e-10, abs=1e-15)
    assert [g[1] for g in got] == pytest.approx([r[1] for r in ref], rel=1e-12)


def test_onecycle_state_survives_a_resume() -> None:
    a = _schedule("onecycle", total_steps=50)
    _lrs(a, 17)
    b = _schedule("onecycle", total_steps=50)
    b.load_state_dict(a.state_dict())
    assert _lrs(a, 20) == _lrs(b, 20)


def test_parameter_groups_split_by_name_with_their_own_rate_and_decay() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.LayerNorm(3), torch.nn.Linear(3, 1))
    groups = parameter_groups(
        model,
        [{"match": r"^1\.", "weight_decay": 0.0}, {"match": "bias", "lr_scale": 0.1}],
        lr=1e-3,
        weight_decay=1e-2,
    )
    assert [len(g["params"]) for g in groups] == [2, 2, 2]  # norm; the biases; the weights
    assert [g["weight_decay"] for g in groups] == [0.0, 1e-2, 1e-2]
    assert [g["lr"] for g in groups] == pytest.approx([1e-3, 1e-4, 1e-3])
    opt = build_optimizer(groups, "adamw", lr=1e-3, weight_decay=1e-2, eps=1e-6)
    assert [g["eps"] for g in opt.param_groups] == [1e-6] * 3


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([{"match": "decoder"}], "matches no parameter"),
        ([{"match": "("}], "invalid regex"),
    ],
)
def test_parameter_groups_refuse_a_pattern_that_selects_nothing(groups, message) -> None:
    with pytest.raises(ValueError, match=message):
        parameter_groups(torch.nn.Linear(2, 2), groups, lr=1.0, weight_decay=0.0)
