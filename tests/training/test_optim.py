"""Learning-rate schedules (warmup, cosine, step, plateau, compositions), optimizer factory."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.training.optim import LRSchedule, build_optimizer


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
        ({"name": "exponential"}, "unknown scheduler 'exponential'"),
        ({"name": "cosine", "total_steps": 0}, "total_steps and steps_per_epoch must be >= 1"),
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
