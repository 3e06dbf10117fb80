"""The data panel's file editors as a user meets them: CSV feature / one-hot columns and the
delimiter from the header row, the ``.npz`` array keys, the outlier threshold, builtin options
bounded like the engine bounds them, and unreadable files refused with the reason."""

from __future__ import annotations

import copy
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.data import prepare_data
from engine.data.builtin import BUILTIN_DATASETS, option_ranges
from engine.data.spec import DEFAULT_OUTLIER_THRESHOLD
from engine.io import load_design
from gui.document import Document
from resources import template_path

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

ROWS = ["age;colour;size;kind"] + [
    f"{20 + i % 9};{'rgb'[i % 3]};{i % 4};{'xy'[i % 2]}" for i in range(30)
]


@pytest.fixture
def panel(qtbot, tmp_path):
    """A data panel on the MLP template saved as ``design.json`` in the test's folder (no
    previews are prepared: the panel counts as hidden); its preview thread joined after."""
    from gui.panels.data import DataPanel

    doc = Document(load_design(template_path("mlp")))
    doc.save(tmp_path / "design.json")
    made = DataPanel(doc)
    made.set_on_screen(False)
    qtbot.addWidget(made)
    made.resize(420, 900)
    yield made
    assert made.shutdown()
    doc.undo_stack.setClean()
    assert not [
        t for t in threading.enumerate() if t.name == "deepwire-data-preview" and t.is_alive()
    ]


def choose(panel, source: str, path) -> bool:
    """Pick ``source`` in the combo (or press Choose… when it is the current one), answering
    the file dialog with ``path``."""
    panel.choose_path = lambda _source, _folder: str(path)
    combo = panel.source_combo
    if combo.currentData() == source:
        panel.path_button.click()
    else:
        combo.setCurrentIndex(combo.findData(source))
        combo.activated.emit(combo.currentIndex())
    return panel.document.design.data.get("path") == path.name


def column_items(panel) -> dict[str, object]:
    tree = panel.columns_tree
    return {
        tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
    }


def activate(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_text_columns_are_marked_in_the_columns_list(panel, tmp_path):
    """A user sees which feature columns hold text (one-hot encoded whatever the box says)."""
    (tmp_path / "people.csv").write_text("\n".join(ROWS) + "\n", encoding="utf-8")
    assert choose(panel, "csv", tmp_path / "people.csv")
    items = column_items(panel)
    assert {name: item.text(1) for name, item in items.items()} == {
        "age": "",
        "colour": "text",
        "size": "",
        "kind  (target)": "",
    }
    assert "one-hot encoded" in items["colour"].toolTip(1)
    assert items["colour"].checkState(1) == Qt.CheckState.Unchecked  # the spec is unchanged
    assert (
        "categorical" not in panel.document.design.data
        or not panel.document.design.data["categorical"]
    )


def test_csv_columns_and_delimiter_are_undoable_edits(panel, tmp_path):
    doc = panel.document
    (tmp_path / "people.csv").write_text("\n".join(ROWS) + "\n", encoding="utf-8")
    assert choose(panel, "csv", tmp_path / "people.csv")
    data = doc.design.data
    assert data["delimiter"] == ";"  # detected from the header row
    assert data["target"] == "kind" and "features" not in data
    items = column_items(panel)
    assert list(items) == ["age", "colour", "size", "kind  (target)"]
    assert not items["kind  (target)"].flags() & Qt.ItemFlag.ItemIsUserCheckable
    assert [panel.target_combo.itemText(i) for i in range(1, panel.target_combo.count())] == [
        "age",
        "colour",
        "size",
        "kind",
    ]

    # leave "size" out, one-hot encode "age": one undo step each
    before = copy.deepcopy(doc.design.data)
    count = doc.undo_stack.count()
    items["size"].setCheckState(0, Qt.CheckState.Unchecked)
    assert doc.design.data["features"] == ["age", "colour"]
    assert doc.undo_stack.count() == count + 1
    column_items(panel)["age"].setCheckState(1, Qt.CheckState.Checked)
    assert doc.design.data["features"] == ["age", "colour"]
    assert doc.design.data["categorical"] == ["age"]
    assert doc.undo_stack.count() == count + 2
    prepared = prepare_data(doc.design.data, tmp_path, 0)
    assert prepared.input_shape == (9 + 3,)  # 9 ages one-hot + 3 colours one-hot
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.design.data == before
    assert column_items(panel)["size"].checkState(0) == Qt.CheckState.Checked  # shown again

    # a new target leaves the feature list; unchecking every feature is refused
    items = column_items(panel)
    items["size"].setCheckState(0, Qt.CheckState.Unchecked)
    activate(panel.target_combo, "age")
    assert doc.design.data["target"] == "age" and doc.design.data["features"] == ["colour"]
    count = doc.undo_stack.count()
    column_items(panel)["colour"].setCheckState(0, Qt.CheckState.Unchecked)
    assert doc.undo_stack.count() == count and doc.design.data["features"] == ["colour"]
    assert "no feature columns" in panel.error_label.text()
    assert column_items(panel)["colour"].checkState(0) == Qt.CheckState.Checked

    # the delimiter: a comma splits nothing here, so the whole line is one column …
    before = copy.deepcopy(doc.design.data)
    activate(panel.delimiter_combo, ",")
    assert doc.design.data["delimiter"] == ","
    assert doc.design.data["target"] == ROWS[0]  # the only column there is
    assert "features" not in doc.design.data
    doc.undo_stack.undo()
    assert doc.design.data == before
    assert panel.delimiter_combo.currentData() == ";"
    assert "colour" in column_items(panel)


def test_a_tab_separated_file_is_detected_and_offered(panel, tmp_path):
    rows = [r.replace(";", "\t") for r in ROWS]
    (tmp_path / "tabs.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert choose(panel, "csv", tmp_path / "tabs.tsv")
    assert panel.document.design.data["delimiter"] == "\t"
    assert panel.delimiter_combo.currentText() == "tab"
    assert prepare_data(panel.document.design.data, tmp_path, 0).feature_names[:1] == ["age"]


def test_an_unreadable_csv_shows_the_reason_and_changes_nothing(panel, tmp_path):
    doc = panel.document
    before, count = copy.deepcopy(doc.design.data), doc.undo_stack.count()
    (tmp_path / "empty.csv").write_text("\n\n", encoding="utf-8")
    assert not choose(panel, "csv", tmp_path / "empty.csv")
    assert doc.design.data == before and doc.undo_stack.count() == count
    assert panel.error_label.isVisibleTo(panel)
    assert "empty.csv is empty" in panel.error_label.text()
    assert panel.source_combo.currentData() == "builtin"  # back to what the design has
    (tmp_path / "latin.csv").write_bytes("größe,kind\n1,a\n".encode("latin-1"))
    assert not choose(panel, "csv", tmp_path / "latin.csv")
    assert "not UTF-8" in panel.error_label.text() and doc.design.data == before
    (tmp_path / "twice.csv").write_text("a,a,b\n1,2,3\n", encoding="utf-8")
    assert not choose(panel, "csv", tmp_path / "twice.csv")
    assert "appears twice" in panel.error_label.text() and doc.design.data == before
    assert doc.undo_stack.count() == count


def test_a_csv_that_went_missing_says_so_beside_the_file(panel, tmp_path):
    (tmp_path / "gone.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    assert choose(panel, "csv", tmp_path / "gone.csv")
    (tmp_path / "gone.csv").unlink()
    panel.refresh()
    assert panel.file_error_label.isVisibleTo(panel)
    assert "gone.csv cannot be read" in panel.file_error_label.text()
    assert panel.columns_tree.topLevelItemCount() == 0


def test_npz_keys_are_listed_and_chosen(panel, tmp_path):
    doc = panel.document
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "arrays.npz",
        features=rng.normal(size=(40, 3)),
        labels=np.arange(40) % 2,
        extra=np.zeros(40),
    )
    assert choose(panel, "npz", tmp_path / "arrays.npz")
    assert doc.design.data["x_key"] == "features"  # no "x": the first array
    assert doc.design.data["y_key"] == "labels"
    keys = [panel.x_key_combo.itemText(i) for i in range(panel.x_key_combo.count())]
    assert keys == ["features", "labels", "extra"]
    assert panel.y_key_combo.itemText(0) == "none (no targets)"
    before = copy.deepcopy(doc.design.data)
    activate(panel.y_key_combo, "extra")
    assert doc.design.data["y_key"] == "extra"
    activate(panel.y_key_combo, None)
    assert doc.design.data["y_key"] is None
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.design.data == before and panel.y_key_combo.currentData() == "labels"
    # a file that is no archive: the reason, nothing changed
    (tmp_path / "broken.npz").write_bytes(b"not a zip at all")
    count = doc.undo_stack.count()
    assert not choose(panel, "npz", tmp_path / "broken.npz")
    assert "broken.npz is not a NumPy archive" in panel.error_label.text()
    assert doc.design.data == before and doc.undo_stack.count() == count


def test_outlier_threshold_is_saved_and_follows_the_method(panel):
    doc = panel.document
    assert not panel.threshold_spin.isEnabled()  # outliers: none
    before = copy.deepcopy(doc.design.data)
    panel.outliers_combo.setCurrentText("zscore")
    panel.outliers_combo.activated.emit(panel.outliers_combo.currentIndex())
    assert panel.threshold_spin.isEnabled()
    assert panel.threshold_spin.value() == DEFAULT_OUTLIER_THRESHOLD["zscore"]
    panel.threshold_spin.setValue(2.5)
    assert doc.design.data["preprocess"]["outlier_threshold"] == 2.5
    doc.undo_stack.undo()
    assert "outlier_threshold" not in doc.design.data["preprocess"]
    assert panel.threshold_spin.value() == 3.0
    # an untouched threshold moves to the new method's default; a chosen one stays
    panel.outliers_combo.setCurrentText("iqr")
    panel.outliers_combo.activated.emit(panel.outliers_combo.currentIndex())
    assert panel.threshold_spin.value() == DEFAULT_OUTLIER_THRESHOLD["iqr"]
    panel.threshold_spin.setValue(2.0)
    panel.outliers_combo.setCurrentText("zscore")
    panel.outliers_combo.activated.emit(panel.outliers_combo.currentIndex())
    assert doc.design.data["preprocess"]["outlier_threshold"] == 2.0
    assert panel.threshold_spin.maximum() == 100.0 and panel.threshold_spin.minimum() == 0.1
    for _ in range(4):
        doc.undo_stack.undo()
    assert doc.design.data == before and not panel.threshold_spin.isEnabled()


@pytest.mark.parametrize("name", [n for n in BUILTIN_DATASETS if option_ranges(n)])
def test_builtin_option_editors_use_the_engine_ranges(panel, name):
    activate(panel.dataset_combo, name)
    ranges = option_ranges(name)
    assert set(panel._option_editors) == set(ranges)
    for key, (kind, low, high) in ranges.items():
        editor = panel._option_editors[key]
        assert (editor.minimum(), editor.maximum()) == (low, high), key
        assert isinstance(editor.value(), kind), key
        editor.setValue(high * 10 + 1)  # an out-of-range value cannot be entered
        assert editor.value() == high
        assert panel.document.design.data["options"][key] == high
    # and the engine takes every bound the editors allow
    opts = {key: (kind(low) if kind is int else low) for key, (kind, low, high) in ranges.items()}
    if "window" in opts:
        opts.update(n_steps=20, window=1, horizon=1)
    prepare_data({"source": "builtin", "name": name, "options": opts}, None, 0)


def test_a_newer_change_stops_the_running_preview_and_the_newer_one_follows(
    panel, qtbot, monkeypatch
):
    import gui.panels.data.preview as preview_module
    from engine.errors import Cancelled

    started, stopped = threading.Event(), threading.Event()
    calls: list[dict] = []

    def loading(spec, base, seed, should_stop, on_raw=None):
        calls.append(spec)
        if len(calls) > 1:  # the newer preview: the real data
            return prepare_data(spec, base, seed, should_stop=should_stop, on_raw=on_raw)
        started.set()
        while not should_stop():  # a big file, read chunk by chunk
            threading.Event().wait(0.005)
        stopped.set()
        raise Cancelled("loading the data was stopped")

    monkeypatch.setattr(preview_module, "prepare_data", loading)
    panel._preview_timer.stop()  # the one the panel scheduled when it was made
    panel._on_screen = True  # shown, without scheduling a preview of its own
    panel.update_preview()
    assert started.wait(10)
    panel.document.design.data["split"]["val"] = 0.5  # the data section changed meanwhile
    panel.update_preview()
    qtbot.waitUntil(lambda: panel.preview is not None, timeout=30_000)
    assert stopped.is_set() and len(calls) == 2  # the old one was stopped, not finished
    assert "<b>899</b> validation" in panel.preview_label.text()  # of the newer section
    assert panel.preview_error is None


def test_a_preview_that_fails_says_why_in_one_line(panel, qtbot, monkeypatch):
    import gui.panels.data.preview as preview_module

    def broken(spec, base, seed, should_stop, on_raw=None):
        raise ValueError("the file ends in the middle of a row\n  (a traceback line)")

    monkeypatch.setattr(preview_module, "prepare_data", broken)
    panel._preview_timer.stop()
    panel._on_screen = True
    panel.update_preview()
    qtbot.waitUntil(lambda: panel.preview_error is not None, timeout=10_000)
    assert panel.preview_error == "ValueError: the file ends in the middle of a row"
    assert panel.preview is None
    assert "Cannot load the data: ValueError: the file ends" in panel.preview_label.text()
    assert "traceback" not in panel.preview_label.text()
