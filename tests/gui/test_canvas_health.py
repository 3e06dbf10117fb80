"""Health on the canvas: strips and badges on the nodes from a run's statistics, gradient flow on
the wires (View menu), cleared by another design, and a real short run that leaves a strip on
every layer."""

from __future__ import annotations

import threading

import pytest

from engine.insight.health import DEAD_SHARE, EXPLODING_GRAD
from engine.io import load_design
from engine.training.events import BatchEvent, LayerStats, TrainStartEvent
from resources import template_path

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def training_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "deepwire-training" and t.is_alive()]


def start() -> TrainStartEvent:
    return TrainStartEvent("classification", "cpu", 1, 0, 100, 6400, 0, "test", ("loss",))


def batch(step: int, dead: float = 0.1, grad1: float = 0.3) -> BatchEvent:
    """Statistics of the mlp template's layers at ``step`` (relu1 ``dead``, hidden1 ``grad1``)."""
    return BatchEvent(
        epoch=0,
        step=step,
        batch=step,
        batches_per_epoch=100,
        steps=[step],
        losses={"loss": [1.0]},
        lr=1e-3,
        samples_per_s=100.0,
        activation_stats={
            "hidden1": LayerStats(0.0, 1.0, 0.0),
            "relu1": LayerStats(0.3, 0.5, 0.6, dead_fraction=dead),
            "relu2": LayerStats(0.3, 0.5, 0.4, dead_fraction=0.05),
            "logits": LayerStats(0.0, 2.0, 0.0),
        },
        grad_norms={"hidden1": grad1, "hidden2": 0.2, "logits": 0.01},
        weight_changes={"hidden1": 1e-3, "hidden2": 1e-3, "logits": 1e-3},
    )


@pytest.fixture
def mlp_window(main_window):
    def make():
        design = load_design(template_path("mlp"))
        design.training.update(epochs=1, device="cpu")
        win, _prompts = main_window(design, size=(1400, 900))
        return win

    yield make
    assert not training_threads()


def feed(win, events) -> None:
    """The runner's signal, as a run's drained events arrive; then the next canvas refresh."""
    win.training_panel.runner.eventsReady.emit(events)
    win.canvas_health.refresh()  # what its timer does REFRESH_MS later


def test_dead_relus_show_a_badge_on_that_node_with_advice(qtbot, mlp_window):
    win = mlp_window()
    scene = win.canvas.scene()
    assert all(item.health is None for item in scene.nodes.values())  # nothing before a run
    feed(win, [start()] + [batch(10 * i, dead=0.9) for i in range(1, 5)])
    strip = win.canvas_health.strip_of("relu1")
    assert strip is not None and strip.isVisible()
    assert [b.kind for b in strip.health.badges] == ["dead"]
    tip = scene.tooltip_at(strip.mapToScene(strip.boundingRect().center()))
    assert "Dead ReLUs" in tip and "90%" in tip and "LeakyReLU" in tip
    assert "ReLU" in tip.split("<br>")[0]  # the node's own tooltip, with health appended
    for healthy in ("hidden1", "relu2", "hidden2"):
        assert win.canvas_health.strip_of(healthy).health.badges == []
    assert "Dead" not in scene.tooltip_at(scene.nodes["relu2"].sceneBoundingRect().center())
    assert win.canvas_health.strip_of("pixels") is None  # an Input reports nothing
    # below the threshold the badge goes again
    feed(win, [batch(100 + 10 * i, dead=DEAD_SHARE - 0.1) for i in range(4)])
    assert win.canvas_health.strip_of("relu1").health.badges == []


def test_exploding_gradients_badge_the_weighted_layer(qtbot, mlp_window):
    win = mlp_window()
    feed(win, [start()] + [batch(10 * i, grad1=EXPLODING_GRAD * 10) for i in range(1, 5)])
    strip = win.canvas_health.strip_of("hidden1")
    assert [b.kind for b in strip.health.badges] == ["exploding"]
    tip = scene_tip(win, "hidden1")
    assert "Exploding gradients" in tip and "clipping" in tip
    assert len(strip._line) == 4  # one sparkline point per sampled step


def strip_kinds(win, node_id: str) -> list[str]:
    return [b.kind for b in win.canvas_health.strip_of(node_id).health.badges]


def scene_tip(win, node_id: str) -> str:
    scene = win.canvas.scene()
    return scene.tooltip_at(scene.nodes[node_id].sceneBoundingRect().center())


def test_gradient_flow_toggle_changes_the_wire_pens(qtbot, mlp_window):
    win = mlp_window()
    action = win.canvas_health.flow_action
    view_menu = [a.text() for a in win.view_menu.actions()]
    assert "Show Gradient Flow on Wires" in view_menu and not action.isChecked()
    scene = win.canvas.scene()
    feed(win, [start()] + [batch(10 * i) for i in range(1, 4)])
    assert all(edge.flow_pen is None for edge in scene.edges.values())
    action.trigger()
    pens = {(e.source, e.target): item.flow_pen for e, item in scene.edges.items()}
    assert pens.pop(("pixels", "hidden1")) is None  # no gradient measured before hidden1
    assert all(pen is not None for pen in pens.values())
    # hidden1 (0.3) has the largest gradient, logits (0.01) the smallest: thick vs thin
    widths = {k: p.widthF() for k, p in pens.items()}
    assert widths[("hidden1", "relu1")] > widths[("hidden2", "relu2")] > widths[("logits", "digit")]
    assert widths[("relu1", "dropout1")] == widths[("hidden1", "relu1")]  # from upstream
    assert pens[("hidden1", "relu1")].color() != pens[("logits", "digit")].color()
    action.trigger()
    assert all(item.flow_pen is None for item in scene.edges.values())


def test_another_design_clears_the_strips_an_edit_keeps_them(qtbot, mlp_window, tmp_path):
    win = mlp_window()
    feed(win, [start()] + [batch(10 * i, dead=0.9) for i in range(1, 4)])
    win.canvas_health.flow_action.trigger()
    assert win.canvas_health.strip_of("relu1").health.badges
    win.canvas.scene().select_nodes(["dropout1"])
    win.canvas.scene().delete_selection()  # an edit: the strips stay until the next stats
    assert win.canvas_health.strip_of("relu1").health.badges
    win.document.undo_stack.setClean()  # no "save changes?" question
    path = tmp_path / "other.json"
    path.write_text(template_path("mlp").read_text())
    assert win.open_design(path)
    scene = win.canvas.scene()
    assert all(item.health is None for item in scene.nodes.values())
    assert all(item.flow_pen is None for item in scene.edges.values())
    assert "Health" not in scene_tip(win, "relu1")
    feed(win, [start()])  # a new run starts with no strips either
    assert all(item.health is None for item in scene.nodes.values())


def test_a_real_short_run_leaves_a_strip_on_every_layer(qtbot, mlp_window):
    win = mlp_window()
    panel = win.training_panel
    win.document.design.training.update(sample_every=5)
    with qtbot.waitSignal(panel.runFinished, timeout=120_000) as finished:
        panel.train_action.trigger()
        assert panel.is_training, panel.error_label.text()
    assert finished.args[0].ok
    layers = [n.id for n in win.document.design if n.type not in ("Input", "Output")]
    health = win.canvas_health
    # the last statistics reach the canvas at its next refresh (REFRESH_MS after they came)
    qtbot.waitUntil(lambda: health.strip_of("logits") is not None, timeout=5_000)
    qtbot.waitUntil(lambda: len(health.strip_of("logits")._line) >= 2, timeout=5_000)
    for node_id in layers:
        strip = win.canvas_health.strip_of(node_id)
        assert strip is not None and strip.health.std is not None, node_id
        assert len(strip._line) >= 2, node_id  # a sparkline of several sampled steps
    # the template trains well (Adam, lr 1e-3): no false alarm on any layer
    assert {n: strip_kinds(win, n) for n in layers} == {n: [] for n in layers}
    assert win.canvas_health.strip_of("relu1").health.dead_fraction is not None
    assert win.canvas_health.strip_of("hidden1").health.weight_change is not None
    assert "gradient norm" in scene_tip(win, "hidden1")


def test_a_long_title_is_cut_short_of_the_strip(qtbot, mlp_window):
    """A header title as long as "Self-organizing map" ran under the health strip; with the
    strip shown it is cut ("…") short of it, and gets the whole header back without one."""
    win = mlp_window()
    item = win.canvas.scene().nodes["hidden1"]
    item.title, item._texts = "Self-organizing map", None  # the SOM type's title
    metrics = win.canvas.scene().theme.title_metrics
    assert item.header_title().text() == "Self-organizing map"  # no strip: it fits
    feed(win, [start()] + [batch(10 * i) for i in range(1, 5)])
    strip = win.canvas_health.strip_of("hidden1")
    shown = item.header_title().text()
    assert shown.endswith("…") and shown.startswith("Self-org")
    assert 8.0 + metrics.horizontalAdvance(shown) < strip.pos().x()
