"""Files: save/open round trip, broken files, unsaved-changes prompts, recent files, autosave and
crash recovery, drag-and-drop of design files, and the ``--screenshot`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage

from engine.graph import Design, Node
from engine.io import dumps, load_design, save_design
from gui.commands import SetParam
from gui.recovery import RecoveryStore
from gui.settings import RecentFiles
from resources import template_path
from tests.helpers import run_python

REPO = Path(__file__).resolve().parents[2]
CNN = template_path("cnn")
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def make_window(main_window):
    """``make_window(design_path=CNN, **keywords)`` → (window, prompts); see tests/gui/conftest.py."""

    def make(design_path: Path | None = CNN, **kwargs):
        return main_window(design_path, **kwargs)

    return make


def _edit(window, node="conv1", name="out_channels", value=24):
    doc = window.document
    doc.push(SetParam(doc, node, name, value))


# -- save / open -------------------------------------------------------------------------------


def test_save_then_open_round_trips(make_window, tmp_path):
    window, prompts = make_window()
    _edit(window)
    assert window.isWindowModified()
    target = tmp_path / "mine.json"
    prompts.save_path = target
    assert window.save()  # a new design asks where
    assert ("save_path", str(Path.home() / "cnn-on-digits.json")) in prompts.asked
    assert not window.isWindowModified()
    assert window.windowTitle().startswith("mine.json")
    saved = target.read_text(encoding="utf-8")
    assert dumps(load_design(target)) == saved == dumps(window.document.design)

    other, other_prompts = make_window(template_path("mlp"))
    other_prompts.open_path = target
    other.open_action.trigger()  # File → Open…
    assert dumps(other.document.design) == saved
    assert other.document.path == target
    assert not other.isWindowModified()
    assert other.recent.paths()[0] == target.resolve()
    other.new_design()
    other.recent_menu.aboutToShow.emit()  # File → Open Recent lists it; choosing it reopens
    entry = next(a for a in other.recent_menu.actions() if a.text().endswith("mine.json"))
    entry.trigger()
    assert other.document.path == target.resolve()
    assert dumps(other.document.design) == saved


def test_opening_a_broken_file_keeps_the_document_and_shows_the_reason(make_window, tmp_path):
    window, prompts = make_window()
    _edit(window)
    before = dumps(window.document.design)
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "deepwire.design", "version": 1, "nodes": [', encoding="utf-8")
    assert not window.open_design(broken)
    assert len(prompts.errors) == 1
    title, message = prompts.errors[0]
    assert "broken.json" in message and "\n" not in message
    assert dumps(window.document.design) == before
    assert window.document.modified and window.document.undo_stack.count() == 1
    assert ("save", "Untitled") not in prompts.asked  # nothing to save for a file never opened
    missing = tmp_path / "missing.json"
    assert not window.open_design(missing)
    assert "no such file" in prompts.errors[-1][1]


def test_unsaved_changes_prompt_on_close_and_open(make_window, tmp_path):
    window, prompts = make_window()
    _edit(window)
    prompts.save_answer = "cancel"
    assert not window.close()
    assert window.isVisible()
    assert prompts.asked[-1] == ("save", "Untitled")

    other = tmp_path / "other.json"
    save_design(load_design(template_path("rnn")), other)
    assert not window.open_design(other)  # cancelled: nothing replaced
    assert window.document.design.name.startswith("CNN")

    prompts.save_answer = "save"
    prompts.save_path = tmp_path / "kept.json"
    assert window.open_design(other)
    assert load_design(tmp_path / "kept.json").node("conv1").params["out_channels"] == 24
    assert window.document.design.name == load_design(other).name

    _edit(window, "rnn", "hidden_size", 12)
    prompts.save_answer = "discard"
    assert window.close()
    assert not window.isVisible()


def test_new_and_new_from_template(make_window):
    window, prompts = make_window()
    window.new_design()
    assert len(window.document.design) == 0
    assert "empty" in window.problems.problems[0].message
    prompts.template = "gan"
    assert window.new_from_template()
    assert set(window.document.design.networks) == {"generator", "discriminator"}
    assert window.document.path is None and not window.document.modified


def test_recent_files_persist_in_the_given_settings(settings, tmp_path):
    recent = RecentFiles(settings)
    for i in range(12):
        recent.add(tmp_path / f"d{i}.json")
    again = RecentFiles(QSettings(settings.fileName(), QSettings.Format.IniFormat))
    assert [p.name for p in again.paths()][:3] == ["d11.json", "d10.json", "d9.json"]
    assert len(again.paths()) == 10


def test_dropping_a_design_file_on_the_window_opens_it(make_window, tmp_path, qtbot):
    window, prompts = make_window()
    path = tmp_path / "dropped.json"
    save_design(load_design(template_path("som")), path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(
        QPoint(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(drop)
    qtbot.waitUntil(lambda: window.document.path == path, timeout=3000)
    assert "som" in {n.type.lower() for n in window.document.design}


# -- autosave and recovery ---------------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


def test_recovery_store_offers_only_files_of_dead_editors(tmp_path):
    design = Design("crashed")
    design.add_node(Node("x", "Input", {"shape": [4]}))
    dead = RecoveryStore(tmp_path, owner=_dead_pid())
    dead.save(design, tmp_path / "orig.json")
    alive = RecoveryStore(tmp_path, owner=os.getppid())  # the parent process is running
    alive.save(design, None)
    mine = RecoveryStore(tmp_path)
    orphans = mine.orphans()
    assert [o.file for o in orphans] == [dead.file]
    assert orphans[0].original_path == tmp_path / "orig.json"
    assert dumps(orphans[0].load()) == dumps(design)
    (tmp_path / "recovery-1234567.json").write_text("{not json", encoding="utf-8")
    assert [o.file for o in mine.orphans()] == [dead.file]
    assert not (tmp_path / "recovery-1234567.json").exists()  # damaged: set aside, not offered
    assert len(list(tmp_path.glob("recovery-1234567.json.corrupt-*"))) == 1


def test_autosave_runs_on_its_timer_and_a_clean_exit_removes_it(make_window, tmp_path, qtbot):
    window, prompts = make_window(autosave_ms=100)
    recovery_file = window.recovery.file
    qtbot.wait(250)
    assert not recovery_file.exists()  # unmodified: nothing to autosave
    _edit(window)
    qtbot.waitUntil(recovery_file.exists, timeout=3000)
    record = json.loads(recovery_file.read_text(encoding="utf-8"))
    assert record["design"]["nodes"][1]["params"]["out_channels"] == 24
    prompts.save_answer = "discard"
    assert window.close()
    assert not recovery_file.exists()


def test_saving_removes_the_autosave(make_window, tmp_path):
    window, prompts = make_window()
    _edit(window)
    assert window.autosave() == window.recovery.file
    prompts.save_path = tmp_path / "saved.json"
    assert window.save()
    assert not window.recovery.file.exists()


CRASHING_EDITOR = textwrap.dedent("""
    import os, sys
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from engine.io import load_design
    from gui.commands import SetParam
    from gui.document import Document
    from gui.mainwindow import MainWindow
    from gui.recovery import RecoveryStore
    from gui.settings import data_dir
    from resources import template_path
    doc = Document()
    doc.reset(load_design(template_path("cnn")), sys.argv[1])
    window = MainWindow(doc, recovery=RecoveryStore(data_dir()))
    doc.push(SetParam(doc, "conv2", "out_channels", 48))
    window.autosave()
    os._exit(3)  # crash: no close, no cleanup
""")


def test_recovery_after_a_crash(make_window, tmp_path):
    data = tmp_path / "data"
    original = tmp_path / "cnn.json"
    save_design(load_design(template_path("cnn")), original)
    env = dict(
        os.environ, DEEPWIRE_DATA_DIR=str(data), QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO)
    )
    crashed = run_python(["-c", CRASHING_EDITOR, str(original)], env, timeout=120)
    assert crashed.returncode == 3, crashed.stderr
    assert len(list(data.glob("recovery-*.json"))) == 1

    declined, prompts = make_window(template_path("mlp"), recovery_dir=data)
    prompts.restore_answer = True
    assert declined.offer_recovery()
    doc = declined.document
    assert doc.design.node("conv2").params["out_channels"] == 48
    assert doc.path == original
    assert doc.modified and declined.isWindowModified()
    assert prompts.asked[0][0] == "restore" and "cnn.json" in prompts.asked[0][1]
    # The orphan is gone; this editor's own autosave now holds the work.
    assert [p.name for p in data.glob("recovery-*.json")] == [declined.recovery.file.name]
    assert not declined.offer_recovery()


def test_declining_recovery_deletes_the_autosave(make_window, tmp_path):
    data = tmp_path / "data"
    design = load_design(template_path("rnn"))
    RecoveryStore(data, owner=_dead_pid()).save(design, None)
    window, prompts = make_window(template_path("mlp"), recovery_dir=data)
    prompts.restore_answer = False
    assert not window.offer_recovery()
    assert window.document.design.name.startswith("MLP")
    assert list(data.glob("recovery-*.json")) == []


# -- command line --------------------------------------------------------------------------------


def _run_main(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **(env_extra or {}))
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_screenshot_writes_a_png_of_the_requested_size(tmp_path):
    out = tmp_path / "shot.png"
    result = _run_main("--screenshot", str(out), "--size", "900x640", str(template_path("gan")))
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (900, 640)
    # Not a blank frame: the canvas and panels put many distinct colours on it.
    colours = {image.pixel(x, y) for x in range(0, 900, 15) for y in range(0, 640, 15)}
    assert len(colours) > 20


def test_bad_design_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[]", encoding="utf-8")
    result = _run_main("--screenshot", str(tmp_path / "x.png"), str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.json" in lines[0]
    assert not (tmp_path / "x.png").exists()
    result = _run_main("--screenshot", str(tmp_path / "x.png"), "--size", "big")
    assert result.returncode == 2 and "WIDTHxHEIGHT" in result.stderr
