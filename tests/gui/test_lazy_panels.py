"""Panels hidden when the window opens build their plots on first show (gui/widgets/lazy.py):
what reached them while hidden is drawn when they are shown, as if they had been built first."""

from __future__ import annotations

from types import SimpleNamespace

import pyqtgraph as pg

from gui.panels.evaluate.why import WhyBox
from gui.plots.search import SearchPlots


def _trial(number: int, value: float, state: str = "complete") -> SimpleNamespace:
    return SimpleNamespace(number=number, value=value, state=state)


def test_search_trials_arriving_while_the_tab_is_hidden_show_when_it_is_shown(main_window, qtbot):
    window, _prompts = main_window(exposed=True)
    plots = window.search_plots
    assert plots.visibleRegion().isEmpty()  # behind the training plots' tab
    plots.set_trials([_trial(0, 0.9), _trial(1, 0.5), _trial(2, 0.7, "pruned")])
    plots.set_importances({"lr": 0.8, "batch_size": 0.2})
    window.search_plots_dock.show()
    window.search_plots_dock.raise_()
    qtbot.waitUntil(lambda: plots.lazy_view.built and plots.view.isVisible(), timeout=5000)
    assert plots.history_points() == [(0, 0.9), (1, 0.5), (2, 0.7)]
    assert [y for _, y in plots.best_points()] == [0.9, 0.9, 0.5]  # drops at trial 1
    assert not plots.history_note.isVisible() and not plots.importance_note.isVisible()
    assert list(plots.bars.opts["width"]) == [0.2, 0.8]  # the most important on top


def test_an_empty_search_plot_shown_first_says_what_will_appear(qtbot):
    plots = SearchPlots()
    qtbot.addWidget(plots)
    plots.show()
    qtbot.waitExposed(plots)
    assert plots.history_points() == [] and plots.history_note.isVisible()
    plots.set_trials([_trial(0, 1.0)])  # after the first show: drawn at once
    assert plots.history_points() == [(0, 1.0)] and not plots.history_note.isVisible()


def test_why_views_built_on_first_show_are_empty_and_hidden_until_a_sample_is_explained(qtbot):
    box = WhyBox()
    qtbot.addWidget(box)
    box.set_predictor(None)  # what the Evaluate panel does before any evaluation
    box.show()
    qtbot.waitExposed(box)
    assert box.state_label.text() == "Evaluate a checkpoint, then pick a sample to see why"
    assert not any(
        view.isVisible() for view in box.findChildren(pg.GraphicsView)
    )  # no empty frames
    assert box.bar_values == []
