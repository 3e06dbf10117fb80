"""Best-epoch tracking and early stopping, without a training run."""

from __future__ import annotations

import math

import torch

from engine.training.best import BestTracker
from engine.training.config import EarlyStoppingConfig


def net(value: float) -> dict[str, torch.nn.Module]:
    module = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        module.weight.fill_(value)
    return {"main": module}


def test_patience_counts_epochs_without_an_improvement_beyond_min_delta():
    best = BestTracker(EarlyStoppingConfig(patience=2, min_delta=0.1), "val_loss")
    assert best.update(1, {"val_loss": 1.0}, net(1.0))
    assert not best.update(2, {"val_loss": 0.95}, net(2.0))  # better, but by less than min_delta
    assert not best.should_stop
    assert not best.update(3, {"val_loss": 1.2}, net(3.0))
    assert best.should_stop and best.best_epoch == 1 and best.best_value == 1.0


def test_the_best_weights_come_back_unless_the_last_epoch_was_best():
    best = BestTracker(EarlyStoppingConfig(patience=5), "val_loss")
    best.update(1, {"val_loss": 0.5}, net(1.0))
    best.update(2, {"val_loss": 0.7}, net(2.0))
    live = net(2.0)
    assert best.restore_best(live, epochs_done=2) and live["main"].weight.item() == 1.0
    assert not best.restore_best(live, epochs_done=1)


def test_without_early_stopping_nothing_is_kept_and_it_never_stops():
    best = BestTracker(None, "val_loss")
    for epoch, loss in enumerate([1.0, 2.0, 3.0, 4.0], 1):
        best.update(epoch, {"val_loss": loss}, net(1.0))
    assert not best.should_stop and best.best_state is None and best.bad_epochs == 3
    assert not best.restore_best(net(0.0), 4)


def test_without_a_loss_to_watch_every_epoch_is_best():
    best = BestTracker(None, None)
    assert all(best.update(e, {"d_loss": 1.0}, net(1.0)) for e in (1, 2, 3))
    assert best.best_epoch == 3 and math.isinf(best.best_value)


def test_state_round_trips_and_a_best_checkpoint_holds_its_own_weights():
    best = BestTracker(EarlyStoppingConfig(patience=3), "val_loss")
    best.update(1, {"val_loss": 0.4}, net(1.0))
    best.update(2, {"val_loss": 0.9}, net(2.0))
    again = BestTracker(EarlyStoppingConfig(patience=3), "val_loss")
    weights = {"main": net(1.0)["main"].state_dict()}
    again.load_state(best.state(), None, checkpoint_epoch=1, checkpoint_weights=weights)
    assert (again.best_epoch, again.best_value, again.bad_epochs) == (1, 0.4, 1)
    assert again.best_state["main"]["weight"].item() == 1.0
    fresh = BestTracker()
    fresh.load_state({}, None, checkpoint_epoch=3, checkpoint_weights=weights)
    assert fresh.best_epoch == 0 and fresh.best_state is None
