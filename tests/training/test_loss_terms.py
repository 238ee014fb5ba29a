"""Loss terms from the spec: names, options, weighted lists, batch-aware terms, per-term logs."""

from __future__ import annotations

import csv

import pytest
import torch
from tiny_run import make_trainer
from torch import nn

from sciml.models.outputs import GaussianOutput
from sciml.training.loss_terms import LossTerms, build_loss, loss_term_configs
from sciml.training.losses import H1Loss, MSELoss, RelativeLpLoss


def test_a_name_an_entry_with_options_and_a_weighted_list_all_parse() -> None:
    assert loss_term_configs("mse") == [("mse", 1.0, {})]
    assert loss_term_configs({"name": "h1", "periodic": False}) == [
        ("h1", 1.0, {"periodic": False})
    ]
    assert loss_term_configs(["mse", {"name": "h1", "weight": 0.5, "periodic": False}]) == [
        ("mse", 1.0, {}),
        ("h1", 0.5, {"periodic": False}),
    ]


def test_options_reach_the_loss_constructor() -> None:
    loss = build_loss({"name": "h1", "periodic": False, "domain_length": 2.0})
    (term,) = loss.terms
    assert isinstance(term, H1Loss)
    assert term.periodic is False and term.domain_length == [2.0]


def test_weighted_sum_equals_the_terms_computed_by_hand() -> None:
    torch.manual_seed(0)
    pred, y = torch.randn(4, 1, 16, 16), torch.randn(4, 1, 16, 16)
    loss = build_loss(["relative_lp", {"name": "h1", "weight": 0.25, "periodic": False}])
    expected = RelativeLpLoss()(pred, y) + 0.25 * H1Loss(periodic=False)(pred, y)
    assert loss(pred, {"y": y}) == pytest.approx(float(expected), rel=1e-6)
    assert set(loss.last) == {"loss_relative_lp", "loss_h1"}
    assert loss.log_columns == ("loss_relative_lp", "loss_h1")


def test_channels_a_family_lacks_add_no_error() -> None:
    """A mixed-family batch (``channel_mask``): the loss of a prediction that is wrong in a
    masked channel equals that of one right there; unmasked samples count every channel."""
    torch.manual_seed(0)
    y = torch.rand(2, 3, 4, 4) + 1
    pred = y + 0.1 * torch.randn_like(y)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    wrong = pred.clone()
    wrong[0, 2] += 100.0  # sample 0 lacks channel 2
    loss = LossTerms([("l2", 1.0, RelativeLpLoss()), ("mse", 0.5, MSELoss())])
    batch = {"y": y, "channel_mask": mask}
    right = pred.clone()
    right[0, 2] = y[0, 2]
    torch.testing.assert_close(loss(wrong, batch), loss(right, {"y": y}))
    gaussian = loss(GaussianOutput(wrong, torch.ones_like(y)), batch)
    torch.testing.assert_close(gaussian, loss(right, {"y": y}))
    wrong[1, 2] += 100.0  # sample 1 has channel 2: its error counts
    assert loss(wrong, batch) > 10 * loss(right, {"y": y})


def test_repeated_names_get_distinct_columns_and_a_single_term_none() -> None:
    assert build_loss(["mse", "mse"]).log_columns == ("loss_mse", "loss_mse_2")
    assert build_loss("mse").log_columns == ()


class _InputPenalty(nn.Module):
    """A batch-aware term: reads the input field, as a physics residual would."""

    uses_batch = True

    def forward(self, pred, batch):
        return (pred - batch["x"]).square().mean()


def test_batch_aware_terms_see_the_inputs_and_target_terms_the_mean() -> None:
    pred = GaussianOutput(torch.ones(2, 3), torch.full((2, 3), 0.5))
    batch = {"x": torch.zeros(2, 3), "y": torch.ones(2, 3)}
    seen = {}

    class Spy(nn.Module):
        uses_batch = True

        def forward(self, p, b):
            seen["pair"] = p
            return torch.zeros(())

    loss = LossTerms([("mse", 1.0, MSELoss()), ("spy", 1.0, Spy())])
    assert float(loss(pred, batch)) == 0.0  # the mean equals the target
    assert isinstance(seen["pair"], GaussianOutput)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"periodic": False}, "trainer.loss: 'name' is missing"),
        ([{"name": "mse", "weight": -1}], r"trainer.loss.0.weight: expected a number >= 0"),
        (
            ["mse", {"name": "relative_l2"}],
            r"trainer.loss.1: unknown loss 'relative_l2'. Did you mean",
        ),
        ({"name": "h1", "periodc": False}, r"trainer.loss: unknown h1 option.*'periodic'"),
        ([], "at least one loss term"),
        ([3], r"trainer.loss.0: expected a loss name or a mapping"),
    ],
)
def test_bad_loss_entries_name_the_key_path_and_the_allowed_values(spec, message) -> None:
    with pytest.raises(ValueError, match=message):
        build_loss(spec)


def test_trainer_logs_each_term_as_a_column(tmp_path) -> None:
    loss = LossTerms([("mse", 1.0, MSELoss()), ("penalty", 0.1, _InputPenalty())])
    trainer = make_trainer(tmp_path, loss_fn=loss, epochs=2, log_every=1, eval_every=3)
    trainer.fit()
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert {"loss_mse", "loss_penalty"} <= set(rows[0])
    for row in rows:  # one step per row: train loss = mse + 0.1 · penalty of that step
        total = float(row["loss_mse"]) + 0.1 * float(row["loss_penalty"])
        assert float(row["train_loss"]) == pytest.approx(total, rel=1e-5)
