"""The plots' family view is chosen by the sample's view name, never guessed from its fields."""

from __future__ import annotations

import numpy as np

from engine.training.events import EpochEvent
from engine.training.samples import ConfusionSample, GanSample, PredictionSample, SomSample
from gui.plots import TrainingPlots


def epoch(sample) -> EpochEvent:
    return EpochEvent(1, 3, 10, {"train_loss": 1.0, "val_loss": 1.1}, 1e-3, 1.0, True, sample)


def plots_for(qtbot, task: str) -> TrainingPlots:
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots._setup_family(task)
    return plots


def test_a_sample_of_another_view_leaves_the_family_view_waiting(qtbot):
    plots = plots_for(qtbot, "regression")
    plots.add_events([epoch(SomSample(np.ones((2, 3)), np.zeros((2, 3))))])
    plots.flush()
    assert plots.family_items["scatter"].data.size == 0
    assert plots.placeholders["family"].isVisible()  # still says what will appear
    plots.add_events(
        [epoch(PredictionSample(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.5])))]
    )
    plots.flush()
    xs, ys = plots.family_items["scatter"].getData()
    assert list(xs) == [1.0, 2.0, 3.0] and list(ys) == [1.5, 2.0, 2.5]
    assert plots.family_items["diagonal"].getData()[0].tolist() == [1.0, 3.0]
    assert not plots.placeholders["family"].isVisible()


def test_each_view_draws_its_own_sample(qtbot):
    plots = plots_for(qtbot, "som")
    plots.add_events(
        [epoch(SomSample(np.arange(6.0).reshape(2, 3), np.array([[0, 1, 2], [0, 0, 5]])))]
    )
    plots.flush()
    assert plots.family_items["u_matrix"].image.shape == (2, 3)
    assert "3 unused" in plots.family_items["hit_map_plot"].titleLabel.text

    plots = plots_for(qtbot, "gan")
    plots.add_events([epoch(GanSample(np.zeros((4, 5)), grid=None))])  # not pictures: a heat map
    plots.flush()
    assert plots.family_items["image"].image.shape == (4, 5)

    plots = plots_for(qtbot, "classification")
    plots.add_events([epoch(ConfusionSample(np.array([[3, 1], [0, 4]])))])
    plots.flush()
    assert "87.5% correct" in plots.family_items["image_plot"].titleLabel.text
