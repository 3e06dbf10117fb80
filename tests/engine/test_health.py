"""Layer health (engine.insight.health): each badge fires exactly when its condition holds,
on constructed statistics, and the probe's new statistics on a real short training."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from engine.insight import health as H
from engine.training import History, Trainer
from engine.training.events import BatchEvent, LayerStats, TrainStartEvent
from engine.training.stats import DEAD_WINDOW, LayerProbe
from tests.engine.builders import chain

MOONS = {
    "source": "builtin",
    "name": "moons",
    "options": {"n_samples": 240, "noise": 0.1},
    "preprocess": {"scale": "standard"},
}


def event(step, acts=None, grads=None, changes=None) -> BatchEvent:
    return BatchEvent(
        epoch=0,
        step=step,
        batch=step,
        batches_per_epoch=100,
        steps=[step],
        losses={"loss": [0.5]},
        lr=0.01,
        samples_per_s=1.0,
        activation_stats=acts,
        grad_norms=grads,
        weight_changes=changes,
    )


def healthy_events(n=4, override=None):
    """A ReLU layer, a Tanh layer and two weighted layers, all well: then ``override``
    (node id → (field, value)) on every event."""
    out = []
    for i in range(n):
        acts = {
            "relu": LayerStats(0.3, 0.5, 0.4, dead_fraction=0.1),
            "tanh": LayerStats(0.0, 0.6, 0.0, saturated_fraction=0.05),
        }
        grads = {"fc1": 0.2, "fc2": 0.5}
        changes = {"fc1": 1e-3, "fc2": 2e-3} if i else None
        for (node, what), value in (override or {}).items():
            if what == "dead":
                acts[node] = LayerStats(0.0, 0.1, 0.9, dead_fraction=value)
            elif what == "saturated":
                acts[node] = LayerStats(0.9, 0.2, 0.0, saturated_fraction=value)
            elif what == "grad":
                grads[node] = value
            elif what == "change" and changes:
                changes[node] = value
        out.append(event(10 * (i + 1), acts, grads, changes))
    return out


def report(events):
    tracker = H.HealthTracker()
    for e in events:
        tracker.add(e)
    return tracker.report()


def kinds(rep):
    return {nid: [b.kind for b in h.badges] for nid, h in rep.items() if h.badges}


def test_healthy_statistics_raise_no_badge_and_report_the_values():
    rep = report(healthy_events())
    assert kinds(rep) == {}
    assert rep["relu"].dead_fraction == pytest.approx(0.1)
    assert rep["tanh"].saturated_fraction == pytest.approx(0.05)
    assert rep["fc1"].grad_norm == pytest.approx(0.2)
    assert rep["fc1"].weight_change == pytest.approx(1e-4)  # 1e-3 over the 10 steps between
    assert rep["fc2"].sparkline_of == "gradient norm"
    assert rep["fc2"].sparkline == pytest.approx((math.log10(0.5),) * 4)
    assert rep["relu"].sparkline_of == "output std"
    assert "dead units 10%" in rep["relu"].lines()


@pytest.mark.parametrize(
    "node, what, bad, fine, kind",
    [
        ("relu", "dead", H.DEAD_SHARE, H.DEAD_SHARE - 0.01, H.DEAD),
        ("tanh", "saturated", H.SATURATED_SHARE, H.SATURATED_SHARE - 0.01, H.SATURATED),
        ("fc1", "grad", H.EXPLODING_GRAD * 1.01, H.EXPLODING_GRAD * 0.99, H.EXPLODING),
        ("fc1", "grad", float("nan"), 0.3, H.EXPLODING),
        ("fc1", "grad", H.VANISHING_GRAD * 0.9, 1e-3, H.VANISHING),
        ("fc1", "grad", 0.5 * H.VANISHING_RATIO * 0.5, 2 * H.VANISHING_RATIO * 0.5, H.VANISHING),
        ("fc1", "change", H.STALLED_CHANGE * 10 * 0.9, H.STALLED_CHANGE * 10 * 1.1, H.STALLED),
    ],
)
def test_each_badge_fires_exactly_at_its_threshold(node, what, bad, fine, kind):
    assert kinds(report(healthy_events(override={(node, what): bad}))) == {node: [kind]}
    assert kinds(report(healthy_events(override={(node, what): fine}))) == {}
    badge = report(healthy_events(override={(node, what): bad}))[node].badges[0]
    assert badge.message and badge.advice and badge.title in badge.text()


def test_advice_names_what_to_try():
    dead = report(healthy_events(override={("relu", "dead"): 0.9}))["relu"].badges[0]
    assert "LeakyReLU" in dead.advice and "He initialisation" in dead.advice
    assert "90%" in dead.message
    boom = report(healthy_events(override={("fc1", "grad"): 5e3}))["fc1"].badges[0]
    assert "clipping" in boom.advice and "learning rate" in boom.advice


def test_one_outlier_does_not_raise_a_badge_but_a_lasting_problem_does():
    events = healthy_events(6)
    events[2].grad_norms["fc1"] = 1e5  # a single spike in the window's median
    assert kinds(report(events)) == {}
    for e in events[3:]:
        e.grad_norms["fc1"] = 1e5
    assert kinds(report(events)) == {"fc1": [H.EXPLODING]}


def test_a_new_run_starts_over():
    tracker = H.HealthTracker()
    for e in healthy_events(override={("relu", "dead"): 0.9}):
        tracker.add(e)
    assert tracker.report()["relu"].badges
    start = TrainStartEvent("classification", "cpu", 1, 0, 1, 1, 0, "", ("loss",))
    assert tracker.add(start)
    assert tracker.report() == {} and not tracker
    assert not tracker.add(event(5))  # no statistics: nothing new to show


def test_probe_counts_units_never_positive_over_its_window():
    relu, tanh, sig = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    probe = LayerProbe({"relu": relu, "tanh": tanh, "sig": sig, "lin": nn.Linear(2, 2)})
    x = torch.tensor([[1.0, -1.0, -2.0, 3.0], [2.0, -1.0, -2.0, -3.0]])
    probe.attach()
    relu(x), tanh(torch.tensor([5.0, 0.0, -5.0, 0.1])), sig(torch.tensor([9.0, 0.0]))
    stats = probe.collect()
    assert stats["relu"].dead_fraction == pytest.approx(0.5)  # units 2 and 3 never positive
    assert stats["tanh"].saturated_fraction == pytest.approx(0.5)
    assert stats["sig"].saturated_fraction == pytest.approx(0.5)
    assert stats["relu"].saturated_fraction is None and stats["tanh"].dead_fraction is None
    for _ in range(DEAD_WINDOW - 1):  # unit 2 fires once; it stays alive for the window
        probe.attach()
        relu(torch.tensor([[-1.0, -1.0, 5.0, -1.0]]) if _ == 0 else -x)
        dead = probe.collect()["relu"].dead_fraction
    assert dead == pytest.approx(0.0)  # every unit fired at least once in the window
    probe.attach()
    relu(-x.abs())
    assert probe.collect()["relu"].dead_fraction == pytest.approx(0.25)  # the first batch left


def test_probe_measures_the_relative_weight_change_between_sampled_steps():
    lin = nn.Linear(3, 2)
    probe = LayerProbe({"lin": lin})
    lin(torch.ones(1, 3)).sum().backward()
    probe.grad_norms()
    assert probe.take_weight_changes() == {}  # nothing to compare with yet
    before = torch.cat([lin.weight.detach().flatten(), lin.bias.detach()]).clone()
    with torch.no_grad():
        lin.weight.add_(0.1)
    probe.grad_norms()
    after = torch.cat([lin.weight.detach().flatten(), lin.bias.detach()])
    want = float(torch.linalg.vector_norm(after - before) / torch.linalg.vector_norm(before))
    assert probe.take_weight_changes()["lin"] == pytest.approx(want, rel=1e-5)
    assert probe.take_weight_changes() == {}


@pytest.mark.usefixtures("one_torch_thread")
def test_a_real_training_with_a_huge_learning_rate_shows_dead_relus():
    layers = [
        ("x", "Input", {"shape": [2]}),
        ("h", "Linear", {"out_features": 16}),
        ("act", "ReLU", {}),
        ("h2", "Linear", {"out_features": 16}),
        ("act2", "ReLU", {}),
        ("logits", "Linear", {"out_features": 2}),
        ("out", "Output", {}),
    ]
    training = {"epochs": 4, "batch_size": 16, "lr": 10.0, "optimizer": "sgd", "seed": 0}
    design = chain(*layers)
    design.data = MOONS
    design.training = {**training, "sample_every": 2, "log_every": 2}
    history = History()
    Trainer(design, callbacks=[history]).fit()
    rep = report(history.batches)
    assert H.DEAD in [b.kind for b in rep["act2"].badges]
    assert rep["act2"].dead_fraction >= H.DEAD_SHARE
    assert rep["h"].grad_norm is not None and rep["h"].weight_change is not None
    assert any(e.weight_changes for e in history.batches)
