"""File → Export Trained Model… and File → Import PyTorch Model…: the dialogs, driven the way a
user drives them (fields set programmatically, file dialogs replaced by paths), against the real
engine export and import running in the dialogs' worker threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QTimer

from engine.compile import compile_design
from engine.graph import Edge
from engine.io import load_design
from engine.training.checkpoint import checkpoint_from_modules, save_checkpoint
from gui.panels.import_dialog import scan_module_classes
from resources import template_path

WAIT_MS = 60_000  # an import or ONNX export takes seconds on a 2-core machine

TINY_MODEL = '''
import torch
from torch import nn

MARKER = __file__ + ".ran"
open(MARKER, "w").close()  # proves when the file is executed


class Block(nn.Module):
    def __init__(self, width, depth=2):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return self.fc(x)


class Tiny(nn.Module):
    """A small classifier (the class the dialog should suggest)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Helper:
    pass
'''

CUMSUM_MODEL = """
import torch
from torch import nn


class Running(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return torch.cumsum(self.fc(x), dim=1)
"""


def _checkpoint(design, path: Path, seed: int = 0) -> Path:
    """A checkpoint of ``design`` with freshly initialised weights (what export needs)."""
    torch.manual_seed(seed)
    net = compile_design(design)
    ckpt = checkpoint_from_modules(
        design,
        {next(iter(design.networks)): net},
        epoch=3,
        metrics={"val_loss": 0.25, "val_accuracy": 0.9},
        data_info={"task": "classification", "class_names": [str(i) for i in range(10)]},
    )
    save_checkpoint(path, ckpt)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A runs folder with an older run of the MLP template and a newer run of another design,
    plus a mismatched checkpoint on its own."""
    root = tmp_path_factory.mktemp("runs")
    mlp = load_design(template_path("mlp"))
    good = _checkpoint(mlp, root / "runs" / "mlp-on-digits-20250101-090000" / "best.pt")
    wider = mlp.copy()
    wider.set_param("hidden1", "out_features", 32)
    newer = _checkpoint(wider, root / "runs" / "mlp-on-digits-20250102-090000" / "best.pt")
    other = _checkpoint(wider, root / "other.pt")
    return {"runs": root / "runs", "good": good, "newer_mismatch": newer, "other": other}


@pytest.fixture
def make_window(main_window):
    """``make_window(design=the MLP template)`` → (window, prompts); see tests/gui/conftest.py."""

    def make(design=None):
        return main_window(design if design is not None else load_design(template_path("mlp")))

    return make


def _finish(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)


def _checked(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: dialog.probe is not None and not dialog.probe.running, timeout=WAIT_MS)


def _dialog_checking(make_window, qtbot, checkpoint):
    """(window, export dialog) on the default design with ``checkpoint`` chosen and checked."""
    window, _ = make_window()
    dialog = window.show_export_dialog()
    dialog.set_checkpoint(checkpoint)
    _checked(qtbot, dialog)
    return window, dialog


# -- export ------------------------------------------------------------------------------------


def test_export_picks_the_latest_matching_run_and_writes_safetensors_and_python(
    make_window, qtbot, checkpoints, tmp_path
):
    window, _prompts = make_window()
    window.training_panel.runs_dir = checkpoints["runs"]
    assert window.export_action.shortcut().toString() == "Ctrl+E"
    window.export_action.trigger()
    dialog = window.export_dialog
    assert dialog.isVisible() and dialog.isModal()
    _checked(qtbot, dialog)
    # the newest run was trained on a wider hidden1: the dialog falls back to the older run
    assert Path(dialog.checkpoint_edit.text()) == checkpoints["good"]
    assert "trained on this design" in dialog.checkpoint_info.text()
    assert "epoch 3" in dialog.checkpoint_info.text()

    out = tmp_path / "out"
    out.mkdir()
    dialog.set_format("safetensors")
    assert (
        "weights only" in dialog.format_note.text().lower()
        or "weights" in dialog.format_note.text()
    )
    dialog.set_output(out / "digits.safetensors")
    assert dialog.export()
    _finish(qtbot, dialog)
    assert "Exported" in dialog.result_label.text(), dialog.result_label.text()
    assert sorted(p.name for p in out.iterdir()) == [
        "digits.safetensors",
        "digits.safetensors.json",
    ]
    assert str(out / "digits.safetensors.json") in dialog.result_label.text()
    from safetensors.torch import load_file

    trained = torch.load(checkpoints["good"], weights_only=True)["state_dicts"]["main"]
    weights = load_file(out / "digits.safetensors")
    assert torch.equal(weights["hidden1.weight"], trained["layers.hidden1.weight"])
    assert "wrote" in window.statusBar().currentMessage()

    dialog.set_format("python")  # a typed name keeps its stem; the suffix follows the format
    assert dialog.output_path() == out / "digits.py"
    assert "digits.safetensors (its weights)" in dialog.output_note.text()
    assert dialog.export()
    _finish(qtbot, dialog)
    assert {"digits.py", "digits.py.json"} <= {p.name for p in out.iterdir()}
    run = subprocess.run(
        [sys.executable, "digits.py"], cwd=out, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "sample 0:" in run.stdout


def test_onnx_export_runs_in_the_background_and_loads_in_onnxruntime(
    make_window, qtbot, checkpoints, tmp_path
):
    import onnxruntime

    window, dialog = _dialog_checking(make_window, qtbot, checkpoints["good"])
    dialog.set_format("onnx")
    assert "onnxruntime" in dialog.format_note.text()
    dialog.set_output(tmp_path / "digits.onnx")
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    assert dialog.export()
    assert dialog.busy_bar.isVisible()
    assert not dialog.export_button.isEnabled() and not dialog.close_button.isEnabled()
    dialog.reject()  # closing mid-export is refused, with a reason
    assert dialog.isVisible() and "still running" in dialog.result_label.text()
    _finish(qtbot, dialog)
    timer.stop()
    assert not dialog.busy_bar.isVisible() and dialog.export_button.isEnabled()
    # the GUI thread kept serving its event loop while torch exported
    assert len(ticks) >= 10, f"only {len(ticks)} timer ticks in {dialog.task.seconds:.1f} s"
    assert (tmp_path / "digits.onnx").is_file() and (tmp_path / "digits.onnx.json").is_file()

    net = compile_design(window.document.design)
    trained = torch.load(checkpoints["good"], weights_only=True)["state_dicts"]["main"]
    net.load_state_dict(trained)
    x = np.random.default_rng(0).random((7, 64), dtype=np.float32)
    session = onnxruntime.InferenceSession(str(tmp_path / "digits.onnx"))
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        want = net.eval()(torch.from_numpy(x)).numpy()
    assert np.abs(got - want).max() < 1e-4


def test_mismatched_checkpoint_shows_the_reason_and_writes_nothing(
    make_window, qtbot, checkpoints, tmp_path
):
    window, dialog = _dialog_checking(make_window, qtbot, checkpoints["other"])
    assert "different design" in dialog.checkpoint_info.text()
    out = tmp_path / "out"
    out.mkdir()
    dialog.set_format("safetensors")
    dialog.set_output(out / "model.safetensors")
    assert dialog.export()
    _finish(qtbot, dialog)
    text = dialog.result_label.text()
    assert text.startswith("✖ Export failed:") and "trained on a different design" in text
    assert "hidden1" in text and "\n" not in text
    assert list(out.iterdir()) == []  # not even a temporary file


def test_missing_onnx_packages_are_named(make_window, qtbot, checkpoints, tmp_path, monkeypatch):
    import engine.export.formats as formats

    real = formats._find_spec
    monkeypatch.setattr(
        formats, "_find_spec", lambda name: None if name == "onnxscript" else real(name)
    )
    window, _ = make_window()
    dialog = window.show_export_dialog()
    dialog.set_checkpoint(checkpoints["good"])
    dialog.set_format("onnx")
    dialog.set_output(tmp_path / "m.onnx")
    assert dialog.export()
    _finish(qtbot, dialog)
    assert (
        "needs the onnxscript package, which Deepwire depends on: pip install onnxscript"
        in dialog.result_label.text()
    )
    assert not (tmp_path / "m.onnx").exists()


def test_export_is_disabled_with_the_reason_when_the_design_has_problems(
    make_window, qtbot, checkpoints
):
    design = load_design(template_path("mlp"))
    design.remove_edge(Edge("pixels", "hidden1", 0))
    window, _ = make_window(design)
    dialog = window.show_export_dialog()
    dialog.set_checkpoint(checkpoints["good"])
    assert not dialog.export_button.isEnabled()
    assert dialog.problem_label.isVisible()
    assert "cannot be exported" in dialog.problem_label.text()
    assert "hidden1" in dialog.problem_label.text()
    assert not dialog.export()


def test_gan_offers_generator_and_discriminator_and_names_the_file_after_the_part(
    make_window, qtbot, tmp_path
):
    window, _ = make_window(load_design(template_path("gan")))
    window.settings.setValue("files/last_dir", str(tmp_path))
    dialog = window.show_export_dialog()
    assert dialog.part_combo.count() == 2 and dialog.part_combo.isEnabled()
    assert dialog.output_path() == tmp_path / "gan-on-digits-generator.onnx"
    dialog.set_part("discriminator")
    dialog.set_format("pt2")
    assert dialog.output_path() == tmp_path / "gan-on-digits-discriminator.pt2"
    _checked(qtbot, dialog)
    assert "No trained checkpoint" in dialog.checkpoint_info.text()
    assert dialog.blocked_reason() == "choose a checkpoint"


# -- import ------------------------------------------------------------------------------------


def test_scan_lists_module_classes_without_running_the_file(tmp_path):
    source = tmp_path / "tiny.py"
    source.write_text(TINY_MODEL)
    classes = scan_module_classes(source)
    assert [(c.name, c.needs_arguments) for c in classes] == [("Block", True), ("Tiny", False)]
    assert not Path(str(source) + ".ran").exists()
    aliases = tmp_path / "aliases.py"
    aliases.write_text(
        textwrap.dedent("""
        import torch.nn as tnn
        from torch.nn import Module as Base

        class A(tnn.Sequential):
            pass

        class B(Base):
            def __init__(self, *, size=3):
                super().__init__()

        class C(B):
            pass
    """)
    )
    assert [(c.name, c.needs_arguments) for c in scan_module_classes(aliases)] == [
        ("A", False),
        ("B", False),
        ("C", False),
    ]
    broken = tmp_path / "broken.py"
    broken.write_text("class Net(nn.Module:\n    pass\n")
    with pytest.raises(ValueError, match=r"broken.py is not valid Python: .*line 1"):
        scan_module_classes(broken)


def test_import_runs_only_after_consent_then_opens_the_design(make_window, qtbot, tmp_path):
    window, prompts = make_window()
    from gui.commands import SetParam

    window.document.push(SetParam(window.document, "hidden1", "out_features", 96))
    assert window.document.modified
    prompts.save_answer = "discard"
    source = tmp_path / "tiny.py"
    source.write_text(TINY_MODEL)
    marker = Path(str(source) + ".ran")

    window.import_action.trigger()
    dialog = window.import_dialog
    dialog.set_source(source)
    assert [dialog.class_combo.itemData(i) for i in range(dialog.class_combo.count())] == [
        "Block",
        "Tiny",
    ]
    assert dialog.class_combo.currentData() == "Tiny"
    assert "needs arguments" in dialog.class_combo.itemText(0)
    assert dialog.warning_label.isVisible() and "runs it" in dialog.warning_label.text()
    assert dialog.output_path() == tmp_path / "tiny.json"
    assert dialog.blocked_reason() == "give the input shape"
    dialog.shape_edit.setText("8")
    assert dialog.blocked_reason() == "confirm that the file may run"
    assert not dialog.start_import() and not marker.exists()
    dialog.trust_box.setChecked(True)
    assert dialog.import_button.isEnabled()
    assert dialog.start_import()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    assert dialog.result_label.text().startswith("✔"), dialog.result_label.text()
    qtbot.waitUntil(lambda: window.document.path == tmp_path / "tiny.json", timeout=5000)
    assert marker.exists()
    assert ("save", "Untitled") in prompts.asked
    design = window.document.design
    assert sorted(n.type for n in design) == ["Input", "Linear", "Linear", "Output", "ReLU"]
    assert not window.document.modified
    assert window.windowTitle().startswith("tiny.json")
    assert (tmp_path / "tiny.pt").is_file()

    export = window.show_export_dialog()  # the imported weights are the default checkpoint
    _checked(qtbot, export)
    assert Path(export.checkpoint_edit.text()) == tmp_path / "tiny.pt"
    assert "trained on this design" in export.checkpoint_info.text()


def test_unmappable_operator_is_named_and_the_document_stays(make_window, qtbot, tmp_path):
    window, prompts = make_window()
    before = window.document.design
    source = tmp_path / "running.py"
    source.write_text(CUMSUM_MODEL)
    dialog = window.show_import_dialog()
    dialog.set_source(source)
    dialog.shape_edit.setText("8")
    dialog.trust_box.setChecked(True)
    assert dialog.start_import()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    text = dialog.result_label.text()
    assert "cumsum ×1 at cumsum_1 (running.py:12)" in text and "nothing was written" in text
    assert "nothing was written" in text
    assert dialog.isVisible()  # stays open to try again
    assert window.document.design is before and window.document.path is None
    assert prompts.asked == []
    assert not (tmp_path / "running.json").exists() and not (tmp_path / "running.pt").exists()


def test_pt2_import_needs_no_class_shape_or_consent(make_window, qtbot, tmp_path):
    from torch import nn

    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2)).eval()
    batch = torch.export.Dim("batch", min=1, max=1024)
    program = torch.export.export(model, (torch.rand(2, 6),), dynamic_shapes=({0: batch},))
    torch.export.save(program, tmp_path / "seq.pt2")
    window, prompts = make_window()
    dialog = window.show_import_dialog()
    dialog.set_source(tmp_path / "seq.pt2")
    assert not dialog.warning_label.isVisible()
    assert not dialog.class_combo.isVisible() and not dialog.shape_edit.isVisible()
    assert dialog.blocked_reason() is None
    assert dialog.start_import()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    assert dialog.result_label.text().startswith("✔"), dialog.result_label.text()
    qtbot.waitUntil(lambda: window.document.path == tmp_path / "seq.json", timeout=5000)
    assert sorted(n.type for n in window.document.design) == [
        "Input",
        "Linear",
        "Linear",
        "Output",
        "Tanh",
    ]
    assert prompts.asked == []  # nothing was modified, so nothing to save


class FakeChooser:
    """Answers the dialogs' file pickers with fixed paths; records what was asked."""

    def __init__(self, open_path=None, save_path=None) -> None:
        self.open_path, self.save_path = open_path, save_path
        self.replace = False  # the answer to "Replace the file?"
        self.asked: list[tuple[str, str, str]] = []

    def open_file(self, title, start, filters):
        self.asked.append((title, start, filters))
        return self.open_path

    def save_file(self, title, start, filters):
        self.asked.append((title, start, filters))
        return self.save_path

    def confirm_replace(self, title, text):
        self.asked.append((title, text, ""))
        return self.replace


def test_browse_buttons_fill_the_fields_and_refuse_overwriting_the_design(
    make_window, qtbot, checkpoints, tmp_path
):
    from PySide6.QtCore import Qt

    window, _ = make_window()
    design_path = tmp_path / "mlp.json"
    window.document.save(design_path)
    dialog = window.show_export_dialog()
    dialog.chooser = FakeChooser(open_path=checkpoints["good"], save_path=tmp_path / "digits")
    qtbot.mouseClick(dialog.checkpoint_button, Qt.MouseButton.LeftButton)
    _checked(qtbot, dialog)
    assert Path(dialog.checkpoint_edit.text()) == checkpoints["good"]
    assert "trained on this design" in dialog.checkpoint_info.text()
    dialog.set_format("pt2")
    qtbot.mouseClick(dialog.output_button, Qt.MouseButton.LeftButton)
    assert dialog.output_path() == tmp_path / "digits.pt2"  # the suffix is added
    assert "(*.pt2)" in dialog.chooser.asked[-1][2]
    assert dialog.export_button.isEnabled()
    dialog.set_output(design_path)  # typing the design's own file name
    assert not dialog.export_button.isEnabled()
    assert "mlp.json would replace the design" in dialog.reason_label.text()

    importer = window.show_import_dialog()
    first, second = tmp_path / "first.py", tmp_path / "second.py"
    first.write_text(TINY_MODEL)
    second.write_text(TINY_MODEL)
    importer.chooser = FakeChooser(open_path=first)
    qtbot.mouseClick(importer.source_button, Qt.MouseButton.LeftButton)
    assert importer.source_path() == first and importer.class_combo.currentData() == "Tiny"
    importer.shape_edit.setText("8")
    importer.trust_box.setChecked(True)
    assert importer.import_button.isEnabled()
    importer.chooser.open_path = second
    qtbot.mouseClick(importer.source_button, Qt.MouseButton.LeftButton)
    assert not importer.trust_box.isChecked()  # consent is per file
    assert "confirm that the file may run" in importer.reason_label.text()
    importer.trust_box.setChecked(True)
    importer.set_output(design_path)  # the design open in the window
    assert not importer.import_button.isEnabled()
    assert not Path(str(first) + ".ran").exists() and not Path(str(second) + ".ran").exists()


def test_runs_started_in_the_same_second_are_ordered_newest_first(tmp_path):
    from engine.graph import Design
    from gui.panels.export_dialog import checkpoint_candidates

    runs = tmp_path / "runs"
    for name in (
        "mlp-20261126-120000",
        "mlp-20261126-120000-2",
        "mlp-20261126-120000-10",
        "mlp-20261126-115959",
        "other-20261126-130000",
    ):
        (runs / name).mkdir(parents=True)
        (runs / name / "best.pt").write_bytes(b"")
    found = checkpoint_candidates(Design(), tmp_path / "mlp.json", runs, None)
    folders = list(dict.fromkeys(p.parent.name for p in found if p.parent.parent == runs))
    assert folders == [
        "mlp-20261126-120000-10",
        "mlp-20261126-120000-2",
        "mlp-20261126-120000",
        "mlp-20261126-115959",
    ]


def test_export_refuses_the_checkpoint_and_other_kinds_and_asks_before_replacing(
    make_window, qtbot, checkpoints, tmp_path
):
    """The dialog asks the engine's question (``output_conflict``) that ``main.py export``
    asks, and a typed name of an existing export is replaced only after the user agrees."""
    import os

    window, _ = make_window()
    window.document.save(tmp_path / "mlp.json")
    dialog = window.show_export_dialog()
    dialog.chooser = FakeChooser()
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(checkpoints["good"].read_bytes())
    dialog.set_checkpoint(ckpt)
    _checked(qtbot, dialog)
    dialog.set_format("onnx")
    dialog.set_output(ckpt)  # the checkpoint it reads
    assert not dialog.export_button.isEnabled() and not dialog.export()
    assert "would replace the checkpoint" in dialog.reason_label.text()
    os.link(ckpt, tmp_path / "alias.onnx")  # a hard link to it, under an export's name
    dialog.set_output(tmp_path / "alias.onnx")
    assert "would replace the checkpoint" in dialog.blocked_reason()
    dialog.set_format("safetensors")
    dialog.set_output(tmp_path / "mlp")  # the dialog adds the suffix: mlp.safetensors(.json)
    assert dialog.blocked_reason() is None
    (tmp_path / "notes.json").write_text("{}")
    dialog.set_output(tmp_path / "notes.json")
    assert "exists and is a design or sidecar JSON file" in dialog.blocked_reason()
    assert ckpt.read_bytes() == checkpoints["good"].read_bytes()

    earlier = tmp_path / "model.safetensors"
    earlier.write_bytes(b"an earlier export")
    dialog.set_output(earlier)
    assert dialog.blocked_reason() is None
    assert "exists and will be replaced" in dialog.output_note.text()
    assert not dialog.export()  # the user said Cancel
    assert dialog.chooser.asked[-1][0] == "Replace the file?"
    assert earlier.read_bytes() == b"an earlier export"
    dialog.chooser.replace = True
    assert dialog.export()
    _finish(qtbot, dialog)
    assert "Exported" in dialog.result_label.text(), dialog.result_label.text()
    assert earlier.read_bytes() != b"an earlier export" and earlier.stat().st_size > 100
