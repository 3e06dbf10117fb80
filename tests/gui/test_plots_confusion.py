"""The confusion matrix as a user sees it: each cell's colour is its share of the true class, and
its count is written in it (one image and one text item, however many classes)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from engine.training.events import EpochEvent
from engine.training.samples import ConfusionSample
from gui.plots import TrainingPlots
from gui.plots.common import TRAIN_COLOUR
from tests.gui.conftest import drawn_tick_labels


def epoch(matrix) -> EpochEvent:
    sample = ConfusionSample(np.asarray(matrix))
    return EpochEvent(1, 3, 10, {"train_loss": 1.0, "val_loss": 1.1}, 1e-3, 1.0, True, sample)


def shown_plots(qtbot) -> TrainingPlots:
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(1200, 700)
    plots.show()
    qtbot.waitExposed(plots, timeout=5_000)
    plots._setup_family("classification", ["cat", "dog", "owl"])
    return plots


def cell_pixel(plots: TrainingPlots, row: int, col: int, dx: float = 0.0) -> QColor:
    """The colour on screen inside cell (row, col), ``dx`` cells right of its centre."""
    image_plot = plots.family_items["image_plot"]
    vb = image_plot.getViewBox()
    scene_point = vb.mapViewToScene(pg.Point(col + 0.5 + dx, row + 0.5))
    view_point = plots.view.mapFromScene(scene_point)
    return plots.view.grab().toImage().pixelColor(view_point)


def text_pixels(plots: TrainingPlots, row: int, col: int, cell: QColor) -> list[QColor]:
    """The pixels within 12 px of the centre of cell (row, col) that are not its colour."""
    vb = plots.family_items["image_plot"].getViewBox()
    image = plots.view.grab().toImage()
    centre = plots.view.mapFromScene(vb.mapViewToScene(pg.Point(col + 0.5, row + 0.5)))
    found = []
    for y in range(centre.y() - 12, centre.y() + 13):
        for x in range(centre.x() - 12, centre.x() + 13):
            colour = image.pixelColor(x, y)
            if not close(colour, cell, 40):
                found.append(colour)
    return found


def close(a: QColor, b: QColor, tol: int = 12) -> bool:
    return all(abs(u - v) <= tol for u, v in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


def test_cells_show_their_share_as_colour_and_their_count_as_text(qtbot):
    plots = shown_plots(qtbot)
    matrix = [[5, 0, 0], [0, 0, 4], [1, 1, 2]]  # "dog" is always taken for "owl"
    plots.add_events([epoch(matrix)])
    plots.flush()
    qtbot.wait(50)
    # the colours: a share of 1 is the full colour, 0 the background, ½ in between
    full, empty = QColor(TRAIN_COLOUR), plots.bg
    assert close(cell_pixel(plots, 0, 0, dx=0.4), full)
    assert close(cell_pixel(plots, 0, 1, dx=0.4), empty)
    assert close(cell_pixel(plots, 1, 2, dx=0.4), full)
    half = cell_pixel(plots, 2, 2, dx=0.4)
    assert not close(half, full) and not close(half, empty)
    # the counts: one label per non-zero cell, light text on the dark (full) cells
    counts = plots.family_items["counts"]
    assert counts.labels() == [
        (0, 0, "5", True),
        (1, 2, "4", True),
        (2, 0, "1", False),
        (2, 1, "1", False),
        (2, 2, "2", False),
    ]
    assert counts.drawn == 5  # all of them were painted
    # and the text is really on screen: written pixels in the counted cells, in the
    # background colour on a full cell, none in an empty cell
    written = text_pixels(plots, 0, 0, full)
    assert written and any(close(c, empty, 40) for c in written)
    assert text_pixels(plots, 2, 0, cell_pixel(plots, 2, 0, dx=0.4))
    assert not text_pixels(plots, 0, 1, empty)
    # no text item per cell: the matrix is one image and one text item
    assert not [i for i in plots.family_items["image_plot"].items if isinstance(i, pg.TextItem)]


def test_the_empty_matrix_shows_no_numbers_and_the_first_one_names_the_classes(qtbot):
    """Before the first epoch the matrix's axes carry no tick labels (not -0.8 … 0.8, which
    mean nothing for classes); the first matrix labels both axes with the class names."""
    plots = shown_plots(qtbot)
    plot = plots.family_items["image_plot"]
    axes = [plot.getAxis("bottom"), plot.getAxis("left")]

    assert [drawn_tick_labels(axis) for axis in axes] == [[], []]
    plots.add_events([epoch([[5, 0, 0], [0, 4, 0], [0, 1, 3]])])
    plots.flush()
    assert [drawn_tick_labels(axis) for axis in axes] == [["cat", "dog", "owl"]] * 2


def test_a_new_epoch_updates_the_counts_and_a_new_run_blanks_them(qtbot):
    plots = shown_plots(qtbot)
    plots.add_events([epoch([[5, 0, 0], [0, 0, 4], [1, 1, 2]])])
    plots.flush()
    plots.add_events([epoch([[3, 2, 0], [0, 4, 0], [0, 0, 4]])])
    plots.flush()
    counts = plots.family_items["counts"]
    assert [(r, c, t) for r, c, t, _d in counts.labels()] == [
        (0, 0, "3"),
        (0, 1, "2"),
        (1, 1, "4"),
        (2, 2, "4"),
    ]
    plots._blank_family()
    assert counts.labels() == []


def test_a_new_epoch_retitles_the_matrix_without_laying_the_grid_out_again(qtbot):
    """The title says the epoch and the share correct; a text that fits its box changes
    without a relayout (one resizes and redraws every plot of the grid)."""
    plots = shown_plots(qtbot)
    plots.add_events([epoch([[5, 1, 0], [0, 4, 2], [1, 0, 7]])])
    plots.flush()
    plot = plots.family_items["image_plot"]
    # the first title lays the grid out once (when the event loop gets to it: a busy machine
    # took longer than 50 ms)
    qtbot.waitUntil(
        lambda: plots.view.ci.layout.isActivated() and plot.layout.isActivated(), timeout=5000
    )
    plots.add_events([epoch([[6, 0, 0], [0, 5, 1], [0, 0, 8]])])
    plots.flush()
    assert "epoch 1: 95.0% correct" in plot.titleLabel.text  # the user reads the new title
    assert plots.view.ci.layout.isActivated() and plot.layout.isActivated()


def test_titles_a_digit_wider_do_not_lay_the_grid_out_again(qtbot):
    """ "epoch 9" becoming "epoch 10" and 95.0% becoming 100.0% fit the title's box: its first
    text left room for two more digits."""
    plots = shown_plots(qtbot)
    plot = None
    for n in range(1, 13):
        wrong = 1 if n < 12 else 0  # the last epoch: 100.0% correct
        matrix = [[6, wrong, 0], [0, 6, 0], [0, 0, 8]]
        event = EpochEvent(
            n,
            12,
            10 * n,
            {"train_loss": 1.0, "val_loss": 1.1},
            1e-3,
            1.0,
            True,
            ConfusionSample(np.asarray(matrix)),
        )
        plots.add_events([event])
        plots.flush()
        plot = plots.family_items["image_plot"]
        if n == 1:
            qtbot.waitUntil(
                lambda p=plot: plots.view.ci.layout.isActivated() and p.layout.isActivated(),
                timeout=5000,
            )
            width = plot.titleLabel.geometry().width()
            continue
        assert plots.view.ci.layout.isActivated() and plot.layout.isActivated(), n
    assert "epoch 12: 100.0% correct" in plot.titleLabel.text
    qtbot.wait(50)
    assert plot.titleLabel.geometry().width() == width  # the box never moved
    shown = plot.titleLabel.item.mapRectToParent(plot.titleLabel.item.boundingRect())
    assert shown.width() <= width  # and the widest text is inside it


def test_a_narrow_plots_panel_scrolls_to_the_matrix_instead_of_cutting_it_off(qtbot):
    """A Plots panel narrower than the grid needs (the window after Evaluate widened the right
    dock): the panel scrolls sideways, and the whole matrix with its title is in the grid."""
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(700, 600)
    plots.show()
    qtbot.waitExposed(plots, timeout=5_000)
    plots._setup_family("classification", [str(i) for i in range(10)])
    sample = ConfusionSample(np.eye(10, dtype=int) * 30)
    metrics = {"train_loss": 1.0, "val_loss": 1.1}
    plots.add_events([EpochEvent(30, 30, 300, metrics, 1e-3, 1.0, True, sample)])
    plots.flush()
    plot = plots.family_items["image_plot"]
    assert "epoch 30: 100.0% correct" in plot.titleLabel.text

    def whole() -> bool:
        right = plots.view.mapFromScene(plot.sceneBoundingRect()).boundingRect().right()
        return right <= plots.view.width()

    qtbot.waitUntil(whole, timeout=5000)
    qtbot.wait(50)
    assert whole()
    assert plots.scroll_area.horizontalScrollBar().isVisible()  # the panel scrolls to it


def test_the_whole_matrix_and_its_title_fit_the_plots_panel_in_the_training_layout(
    qtbot, main_window
):
    """At the window's natural size in the layout Train gives, the matrix of ten digits and its
    title lie inside what the Plots panel shows (they were cut off at its right edge)."""
    from tests.gui.test_plots_first_use import mlp

    win, _ = main_window(mlp(), size=(1400, 900), exposed=True)
    win.apply_training_layout()
    plots = win.plots
    plots.prepare_run(win.document.design, "classification")
    names = [str(i) for i in range(10)]
    plots._setup_family("classification", names)
    matrix = np.eye(10, dtype=int) * 36
    matrix[8, 1] = 2
    sample = ConfusionSample(matrix)
    plots.add_events(
        [EpochEvent(30, 30, 10, {"train_loss": 0.1, "val_loss": 0.12}, 1e-3, 1.0, True, sample)]
    )
    plots.flush()
    qtbot.wait(100)
    plot = plots.family_items["image_plot"]
    shown = plots.scroll_area.viewport().width()
    right = plots.view.mapFromScene(plot.sceneBoundingRect().topRight()).x()
    title = plots.view.mapFromScene(plot.titleLabel.sceneBoundingRect().topRight()).x()
    # (one pixel of slack: the item's bounding rect rounds up; the last column's test is below)
    assert right <= shown + 1 and title <= shown + 1, (right, title, shown)
    last_cell = plot.getViewBox().mapViewToScene(pg.Point(9.9, 9.5))
    assert plots.view.mapFromScene(last_cell).x() < shown  # the last column is on screen
