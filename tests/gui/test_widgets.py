"""gui.widgets and gui.formatting: the pieces panels share."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QScrollArea, QWidget

from gui import formatting
from gui.canvas import theme
from gui.widgets import ERROR_COLOUR, OK_COLOUR, FloatSpinBox, colours, scrolled_body


def test_the_canvas_and_the_panels_share_one_palette():
    assert theme.ERROR_COLOUR == QColor(ERROR_COLOUR)
    assert theme.OK_COLOUR == QColor(OK_COLOUR)
    assert theme.UNKNOWN_CATEGORY_COLOUR == colours.UNKNOWN_CATEGORY_COLOUR
    assert theme.category_colour("no such category") == QColor(colours.UNKNOWN_CATEGORY_COLOUR)


def test_escape_html_makes_markup_literal(qtbot):  # qtbot: a QLabel needs the QApplication
    text = "<b>x</b> & 'y' \"z\""
    escaped = formatting.escape_html(text)
    assert escaped == "&lt;b&gt;x&lt;/b&gt; &amp; 'y' \"z\""
    label = QLabel()
    label.setText(f"<i>{escaped}</i>")
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(label.text())
    assert doc.toPlainText() == text  # a user's name shows as typed, never as markup


def test_metric_names_and_values_read_plainly():
    assert formatting.pretty("val_accuracy") == "val accuracy"
    assert formatting.metric_text("val_accuracy", 0.9234) == "92.3%"
    assert formatting.metric_text("val_loss", 0.123456) == "0.1235"


def test_float_spin_box_shows_small_values(qtbot):
    spin = FloatSpinBox()
    qtbot.addWidget(spin)
    spin.setRange(0.0, 1.0)
    spin.setValue(1e-5)
    assert spin.text() == "1e-05"
    assert spin.value() == 1e-5


def test_scrolled_body_scrolls_vertically_only(qtbot):
    panel = QWidget()
    qtbot.addWidget(panel)
    layout = scrolled_body(panel)
    scroll = panel.findChild(QScrollArea)
    assert scroll is not None and scroll.widget() is layout.parentWidget()
    assert scroll.horizontalScrollBarPolicy().name == "ScrollBarAlwaysOff"


def test_an_output_file_dialog_adds_the_suffix_and_warns_before_replacing(qtbot, tmp_path):
    from PySide6.QtWidgets import QVBoxLayout

    from gui.widgets import OutputFileDialog, growing_form

    class Dialog(OutputFileDialog):
        def __init__(self) -> None:
            super().__init__()
            form = growing_form()
            self._add_output_field(form, "&Save as:")
            QVBoxLayout(self).addLayout(form)

        def output_suffix(self) -> str:
            return ".json"

        def _output_note(self, path):
            return f"The weights go in {path.stem}.pt."

        def _update_controls(self) -> None:
            pass

    dialog = Dialog()
    qtbot.addWidget(dialog)
    assert dialog.output_button.text() == "Browse…"
    dialog.output_edit.setText(str(tmp_path / "model"))
    assert dialog.output_path() == tmp_path / "model.json"  # the suffix added
    assert dialog.output_note.text() == "The weights go in model.pt."
    (tmp_path / "kept.json").write_text("{}")
    dialog.output_edit.textEdited.emit("typed")  # the user typed: no more proposals
    dialog.set_output(tmp_path / "kept.json")
    assert not dialog._auto_output
    assert dialog.output_note.text().startswith("kept.json exists and will be replaced.")
    dialog.output_edit.setText("")
    assert dialog.output_path() is None and dialog.output_note.text() == ""


def test_same_file_sees_through_spellings(tmp_path, monkeypatch):
    from gui.widgets import same_file

    (tmp_path / "sub").mkdir()
    target = tmp_path / "design.json"
    target.write_text("{}")
    (tmp_path / "link.json").symlink_to(target)
    monkeypatch.chdir(tmp_path / "sub")
    assert same_file(target, tmp_path / "sub" / ".." / "design.json")
    assert same_file(target, tmp_path / "link.json")  # a link to it
    assert same_file(Path("../design.json"), target)  # relative to the working folder
    assert not same_file(target, tmp_path / "other.json")
    assert not same_file(target, None)  # no file open
