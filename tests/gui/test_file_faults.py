"""Damaged files never stop the editor: unreadable autosaves and settings are set aside and
reported once; every failed save is a dialog that keeps the open design; an autosave or save
that fills the disk part-way leaves the previous file byte-identical and no temporary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from engine.graph import Design
from engine.io import dumps, load_design, save_design
from gui.commands import SetParam
from gui.mainwindow import Prompts
from gui.recovery import RecoveryStore
from gui.settings import SET_ASIDE_PROPERTY, RecentFiles, usable_settings
from resources import template_path
from tests.faults import fill_disk_after, snapshot

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


def _record(design_json: str, saved_at: str = "1700000000.0") -> str:
    return (
        '{"format": "deepwire.recovery", "version": 1, "original_path": null, '
        f'"saved_at": {saved_at}, "design": {design_json}}}'
    )


def _nested_design_json(levels: int) -> str:
    """What an autosave of a design with a parameter nested ``levels`` deep looks like."""
    return (
        '{"format": "deepwire.design", "version": 1, "name": "deep", "nodes": [{"id": "fc", '
        '"type": "Linear", "params": {"out_features": '
        + "[" * levels
        + "]" * levels
        + '}}], "edges": []}'
    )


GOOD = dumps(load_design(template_path("mlp")))
DAMAGED = {
    "saved_at_is_text": _record(GOOD, '"yesterday"').encode(),
    "nested_988_levels": _record(_nested_design_json(988)).encode(),
    "random_bytes": os.urandom(3000),
}


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_an_unreadable_autosave_is_set_aside_and_reported_once(main_window, tmp_path, content):
    data = tmp_path / "data"
    data.mkdir()
    damaged = data / f"recovery-{_dead_pid()}.json"
    damaged.write_bytes(content)
    window, prompts = main_window(template_path("cnn"), recovery_dir=data)

    assert window.offer_recovery() is False  # the start goes on, nothing to restore
    moved = list(data.glob(f"{damaged.name}.corrupt-*"))
    assert not damaged.exists() and len(moved) == 1 and moved[0].read_bytes() == content
    message = window.statusBar().currentMessage()
    assert f"Unreadable autosave {damaged.name} moved to {moved[0].name}" in message
    assert prompts.asked == [] and window.document.design.name.startswith("CNN")

    window.statusBar().clearMessage()
    assert window.offer_recovery() is False  # the next start does not see it again
    assert window.statusBar().currentMessage() == ""


def test_an_autosave_with_an_impossible_time_is_offered_without_one(main_window, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / f"recovery-{_dead_pid()}.json").write_text(_record(GOOD, "1e300"), encoding="utf-8")
    window, prompts = main_window(template_path("cnn"), recovery_dir=data)
    prompts.restore_answer = False
    assert window.offer_recovery() is False
    assert "autosaved at an unknown time" in prompts.asked[0][1]


def test_a_good_autosave_is_still_offered_beside_a_damaged_one(main_window, tmp_path):
    data = tmp_path / "data"
    RecoveryStore(data, owner=_dead_pid()).save(load_design(template_path("rnn")), None)
    (data / f"recovery-{_dead_pid()}.json").write_bytes(DAMAGED["saved_at_is_text"])
    window, prompts = main_window(template_path("mlp"), recovery_dir=data)
    prompts.restore_answer = True
    assert window.offer_recovery() is True
    assert window.document.design.name == load_design(template_path("rnn")).name
    assert len(list(data.glob("*.corrupt-*"))) == 1


def test_autosave_that_fills_the_disk_keeps_the_previous_autosave(
    main_window, tmp_path, monkeypatch
):
    window, _ = main_window(template_path("cnn"))
    doc = window.document
    doc.push(SetParam(doc, "conv1", "out_channels", 24))
    folder = window.autosave().parent
    before = snapshot(folder)
    doc.push(SetParam(doc, "conv1", "out_channels", 32))
    fill_disk_after(monkeypatch, folder, 200)
    assert window.autosave() is None
    monkeypatch.undo()
    assert "Autosave failed" in window.statusBar().currentMessage()
    assert snapshot(folder) == before
    assert (
        json.loads(before[window.recovery.file.name])["design"]["nodes"][1]["params"][
            "out_channels"
        ]
        == 24
    )


def test_a_killed_autosave_leaves_no_temporary_after_the_next_start(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    stale = data / f".recovery-77.json.deepwire-{_dead_pid()}-abcd1234.tmp"
    stale.write_bytes(b'{"format": "deepwire.rec')
    RecoveryStore(data).orphans()
    assert not stale.exists()


# -- saving -------------------------------------------------------------------------------------


def _too_deep_design() -> Design:
    design = load_design(template_path("mlp"))
    value: list = []
    for _ in range(600):  # only code can build this: such a file is refused at load
        value = [value]
    next(iter(design)).params["note"] = value
    return design


def test_a_save_that_cannot_serialize_is_a_dialog_and_keeps_the_design(
    main_window, tmp_path, monkeypatch
):
    window, prompts = main_window(_too_deep_design())
    window.prompts = Prompts(window)  # the real dialogs, with QMessageBox answered here
    shown = []
    monkeypatch.setattr(
        "gui.mainwindow.QMessageBox.warning",
        lambda parent, title, text: shown.append((title, text)),
    )
    window.prompts.choose_save_path = lambda suggested: tmp_path / "deep.json"
    names = [n.id for n in window.document.design]

    assert window.save_as() is False
    assert len(shown) == 1 and shown[0][0] == "Cannot save the design"
    assert "more than 64 levels" in shown[0][1] and "\n" not in shown[0][1]
    assert not (tmp_path / "deep.json").exists() and list(tmp_path.glob(".deep.json*")) == []
    assert [n.id for n in window.document.design] == names and window.document.path is None


def test_a_save_that_fills_the_disk_is_a_dialog_and_keeps_the_old_file(
    main_window, tmp_path, monkeypatch
):
    path = tmp_path / "designs" / "cnn.json"
    path.parent.mkdir()
    save_design(load_design(template_path("cnn")), path)
    window, prompts = main_window(path)
    window.document.reset(window.document.design, path)
    doc = window.document
    doc.push(SetParam(doc, "conv1", "out_channels", 24))
    before = snapshot(path.parent)
    fill_disk_after(monkeypatch, path.parent, 300)
    assert window.save() is False
    monkeypatch.undo()
    assert prompts.errors and "No space left on device" in prompts.errors[0][1]
    assert snapshot(path.parent) == before
    assert doc.modified and doc.design.node("conv1").params["out_channels"] == 24


# -- settings -----------------------------------------------------------------------------------


def test_an_unreadable_settings_file_is_set_aside_and_reported_once(main_window, tmp_path):
    path = tmp_path / "config" / "Deepwire.ini"
    path.parent.mkdir()
    junk = b"\x00\xff" + os.urandom(2000)
    path.write_bytes(junk)
    settings = usable_settings(QSettings(str(path), QSettings.Format.IniFormat))
    moved = list(path.parent.glob("Deepwire.ini.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes() == junk
    assert settings.fileName() == str(path) and settings.allKeys() == []

    window, _ = main_window(template_path("mlp"), settings=settings)
    window.offer_recovery()  # what the start-up does
    assert "Unreadable settings Deepwire.ini moved to" in window.statusBar().currentMessage()
    assert settings.property(SET_ASIDE_PROPERTY) is None  # said once
    window.recent.add(tmp_path / "a.json")
    settings.sync()
    assert (
        path.exists()
        and QSettings(str(path), QSettings.Format.IniFormat).value("recent_files") is not None
    )


def test_a_readable_settings_file_is_kept(tmp_path):
    path = tmp_path / "Deepwire.ini"
    path.write_text("[General]\nrecent_files=/tmp/a.json\n", encoding="utf-8")
    settings = usable_settings(QSettings(str(path), QSettings.Format.IniFormat))
    assert settings.property(SET_ASIDE_PROPERTY) is None and path.exists()
    assert RecentFiles(settings).paths() == [Path("/tmp/a.json")]


@pytest.mark.parametrize("value", [3, 2.5, {"a": 1}, [1, None, "/tmp/b.json"]])
def test_recent_files_of_an_unexpected_kind_are_ignored(settings, value):
    settings.setValue("recent_files", value)
    recent = RecentFiles(settings)
    assert all(isinstance(p, Path) for p in recent.paths())
    assert recent.paths() in ([], [Path("/tmp/b.json")])


def test_an_autosave_that_cannot_serialize_is_reported_not_raised(main_window):
    window, _ = main_window(_too_deep_design())
    doc = window.document
    doc.push(SetParam(doc, "hidden1", "out_features", 24))
    assert window.autosave() is None
    message = window.statusBar().currentMessage()
    assert message.startswith("Autosave failed: ") and "more than 64 levels" in message
    assert not window.recovery.file.exists()
