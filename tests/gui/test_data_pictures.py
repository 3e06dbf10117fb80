"""The data panel's pictures as a user meets them: digits as a grid of images a row per class,
iris as a table with a histogram per column, moons as a two-colour scatter, sequences as
lines, the class balance per split; a changed source redraws them (computed in the background)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.data.summary import PER_CLASS
from engine.io import load_design
from gui.document import Document
from gui.panels.data.pictures import bar_heights
from resources import template_path

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def shown(qtbot, tmp_path):
    """Factory: a data panel on a template (its data section replaced by ``data`` when given),
    on screen, once its pictures are drawn; its preview thread joined after."""
    from gui.panels.data import DataPanel

    made: list[DataPanel] = []

    def make(stem: str, data: dict | None = None) -> DataPanel:
        design = load_design(template_path(stem))
        if data is not None:
            design.data = data
        doc = Document(design)
        doc.save(tmp_path / "design.json")
        panel = DataPanel(doc)
        qtbot.addWidget(panel)
        panel.resize(460, 900)
        made.append(panel)
        qtbot.waitUntil(lambda: panel.pictures.summary is not None, timeout=30_000)
        return panel

    yield make
    for panel in made:
        assert panel.shutdown()
        panel.document.undo_stack.setClean()
    assert not [
        t for t in threading.enumerate() if t.name == "deepwire-data-preview" and t.is_alive()
    ]


def test_digits_images_show_as_one_grid_image_a_row_per_class(shown):
    panel = shown("cnn")
    pictures = panel.pictures
    assert pictures.summary.kind == "images"
    assert len(pictures.grid_images) == 1  # one image for the whole grid, not an item a cell
    image = pictures.grid_images[0].image
    assert image.shape == (10 * 9 - 1, PER_CLASS * 9 - 1)  # 10 rows of 8×8 digits, 1 px apart
    ticks = pictures.grid_view.ci.getItem(0, 0).getAxis("left")._tickLevels[0]
    assert [name for _, name in ticks] == [str(d) for d in range(10)]  # rows named by class
    assert not pictures.grid_view.isHidden() and pictures.table.isHidden()
    assert "a row per class" in pictures.grid_caption.text()


def test_a_second_grid_after_augmentation_sits_beside_the_first(shown):
    panel = shown("cnn")
    summary = panel.pictures.summary
    summary.grid.set_after(summary.grid.samples[:, :, :, ::-1])  # a horizontal flip
    panel.pictures.show_summary(summary)
    first, second = panel.pictures.grid_images
    assert np.array_equal(second.image[:8, :8], first.image[:8, :8][:, ::-1])
    assert panel.pictures.grid_titles == ["samples", "after augmentation"]
    assert second.pos().x() > first.width() and second.pos().y() == first.pos().y()  # beside


def test_the_designs_augmentation_is_drawn_beside_the_samples(shown):
    from resources import template_path as path_of

    data = load_design(path_of("cnn")).data
    panel = shown("cnn", {**data, "augment": {"steps": [{"op": "flip", "p": 1.0}]}})
    first, second = panel.pictures.grid_images
    assert panel.pictures.grid_titles == ["samples", "after augmentation"]
    assert np.array_equal(second.image[:8, :8], first.image[:8, :8][:, ::-1])  # all flipped


def test_iris_shows_its_first_rows_and_a_histogram_per_column(shown):
    panel = shown("mlp", {"source": "builtin", "name": "iris"})
    pictures = panel.pictures
    assert pictures.summary.kind == "table"
    assert pictures.table.columnCount() == 4 and pictures.table.rowCount() == 8
    assert pictures.table.item(0, 0).text() == "5.1"  # as loaded, not scaled
    assert pictures.table.horizontalHeaderItem(0).text() == "sepal length (cm)"
    assert len(pictures.histograms) == 4
    assert all(sum(bar_heights(bars)) == 150 for bars in pictures.histograms)
    title = pictures.columns_view.ci.getItem(0, 0).titleLabel.text
    assert "sepal length" in title and "none missing" in title


def test_moons_is_a_scatter_in_two_colours(shown):
    panel = shown("mlp", {"source": "builtin", "name": "moons", "options": {"n_samples": 200}})
    items = panel.pictures.scatter_items
    assert len(items) == 2
    brushes = {item.opts["symbolBrush"] for item in items}
    assert len(brushes) == 2
    assert sum(len(item.getData()[0]) for item in items) == 200


def test_sequences_show_as_line_plots_coloured_by_class(shown):
    panel = shown("lstm")
    pictures = panel.pictures
    assert pictures.summary.kind == "sequences"
    assert len(pictures.line_curves) == 10  # one per digit
    assert all(len(curve.getData()[1]) == 8 for curve in pictures.line_curves)  # 8 steps
    pens = {curve.opts["pen"].color().name() for curve in pictures.line_curves}
    assert len(pens) == 10
    assert not pictures.lines_view.isHidden()


def test_class_balance_bars_equal_the_split_counts(shown):
    panel = shown("mlp", {"source": "builtin", "name": "iris", "split": {"val": 0.2, "test": 0.2}})
    data, bars = panel.preview, panel.pictures.balance_bars
    assert set(bars) == {"train", "validation", "test"}
    for split, y in (("train", data.y_train), ("validation", data.y_val), ("test", data.y_test)):
        assert bar_heights(bars[split]) == np.bincount(y, minlength=3).tolist()


def test_changing_the_source_redraws_the_pictures(shown, qtbot):
    panel = shown("cnn")
    assert panel.pictures.summary.kind == "images"
    panel.replace({"source": "builtin", "name": "moons"}, "Use moons")
    qtbot.waitUntil(
        lambda: panel.pictures.summary is not None and panel.pictures.summary.kind == "points",
        timeout=30_000,
    )
    assert not panel.pictures.points_view.isHidden() and panel.pictures.grid_view.isHidden()
    panel.document.undo_stack.undo()
    qtbot.waitUntil(
        lambda: panel.pictures.summary is not None and panel.pictures.summary.kind == "images",
        timeout=30_000,
    )


def test_a_picture_that_fails_says_why_in_one_line(shown, qtbot, monkeypatch):
    import gui.panels.data.preview as preview_module

    def broken(data, raw, seed, should_stop=None):
        raise ValueError("no picture for this\n  (a traceback line)")

    panel = shown("mlp", {"source": "builtin", "name": "iris"})
    monkeypatch.setattr(preview_module, "summarize", broken)
    panel.replace({"source": "builtin", "name": "wine"}, "Use wine")
    qtbot.waitUntil(lambda: not panel.pictures.message.isHidden(), timeout=30_000)
    assert "No pictures: ValueError: no picture for this" in panel.pictures.message.text()
    assert "traceback" not in panel.pictures.message.text()
    assert panel.preview is not None and "wine: 142 train" in panel.preview_label.text()
    assert not panel.pictures.histograms  # the old pictures are gone


def test_a_colour_image_folder_shows_as_a_colour_grid(shown, tmp_path):
    from PIL import Image

    for k, (name, rgb) in enumerate((("red", (220, 20, 20)), ("blue", (20, 20, 220)))):
        folder = tmp_path / "imgs" / name
        folder.mkdir(parents=True)
        for i in range(8):
            shade = tuple(max(0, c - 20 * i) for c in rgb)
            Image.new("RGB", (6, 6), shade).save(folder / f"{k}-{i}.png")
    panel = shown("mlp", {"source": "image_folder", "path": "imgs", "size": [6, 6], "color": "rgb"})
    image = panel.pictures.grid_images[0].image
    assert image.shape == (2 * 7 - 1, PER_CLASS * 7 - 1, 3)  # a row per class, in colour
    assert panel.pictures.summary.grid.row_labels == ["blue", "red"]  # the sorted folder names
    blue_cell, red_cell = image[0:6, 0:6], image[7:13, 0:6]
    assert red_cell[..., 0].mean() > red_cell[..., 2].mean()
    assert blue_cell[..., 2].mean() > blue_cell[..., 0].mean()
    assert not panel.pictures.grid_view.grab().isNull()  # it draws
