"""Closing the editor takes the window away at once in every state — warming up, a run loading a
big CSV, training, paused, a data preview loading — and loses nothing: the workers stop by
themselves (a run stopped while its data loads ends within one chunk of the file) and a stopped
run keeps its checkpoint, metrics and summary. ``python main.py`` exits within seconds of the
close even while the warm-up is still importing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engine.io import load_design
from resources import template_path

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

ROOT = Path(__file__).resolve().parents[2]
CLOSE_GUARD_S = 0.5  # the GUI thread's time in close(): a responsiveness guard with headroom
BIG_ROWS = 300_000


def threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


def timed_close(win) -> float:
    """Close ``win`` (nothing to save) and return the seconds close() held the GUI thread."""
    win.document.undo_stack.setClean()
    t0 = time.perf_counter()
    assert win.close()
    seconds = time.perf_counter() - t0
    assert not win.isVisible()
    return seconds


def write_big_csv(path: Path) -> Path:
    """300,000 rows of 3 features and a 3-class label (a block of random rows, repeated)."""
    rng = np.random.default_rng(0)
    block = np.column_stack([rng.random((1000, 3)), rng.integers(0, 3, 1000)])
    lines = "".join(f"{a:.4f},{b:.4f},{c:.4f},{int(y)}\n" for a, b, c, y in block)
    path.write_text("a,b,c,label\n" + lines * (BIG_ROWS // 1000), encoding="utf-8")
    return path


def mlp(epochs: int, **training):
    design = load_design(template_path("mlp"))
    design.training.update(epochs=epochs, device="cpu", **training)
    return design


def csv_mlp(path: Path):
    """The MLP template reading ``path`` (3 features) instead of the digits."""
    design = mlp(2)
    design.data = {"source": "csv", "path": str(path), "target": "label", "task": "classification"}
    design.node("pixels").params["shape"] = [3]
    return design


@pytest.fixture
def closing(main_window, tmp_path):
    """Factory: a shown main window whose runs write to ``runs/``; after the test every worker
    has ended by itself (they were only asked to stop) and is joined."""
    made = []

    def make(design):
        win, _prompts = main_window(design)
        win.training_panel.runs_dir = tmp_path / "runs"
        made.append(win)
        return win

    yield make
    for win in made:
        assert win.training_panel.shutdown(30.0) and win.data_panel.shutdown(30.0)
        assert win.training_panel.runner.wait_warm_up(120.0)
    assert not threads("deepwire-training") and not threads("deepwire-data-preview")


def run_dir(tmp_path: Path) -> Path:
    (folder,) = (tmp_path / "runs").iterdir()
    return folder


def test_closing_while_warming_up_does_not_wait_for_the_imports(closing, monkeypatch):
    import gui.runner

    release = threading.Event()  # an import of torch/scikit-learn cannot be interrupted
    monkeypatch.setattr(gui.runner, "_warm_up", lambda: release.wait(60))
    win = closing(None)
    win.training_panel.runner.warm_up()
    try:
        assert timed_close(win) < CLOSE_GUARD_S
        (warm,) = threads("deepwire-warm-up")
        assert warm.daemon  # so it cannot hold the process either
    finally:
        release.set()


def test_closing_while_a_run_loads_a_big_csv_stops_the_loading(closing, qtbot, tmp_path):
    win = closing(csv_mlp(write_big_csv(tmp_path / "big.csv")))
    win.data_panel.set_on_screen(False)  # only the run reads the file
    panel = win.training_panel
    assert panel.train()
    trainer = panel.runner._run.trainer
    assert timed_close(win) < CLOSE_GUARD_S
    qtbot.waitUntil(lambda: not threads("deepwire-training"), timeout=30_000)
    assert trainer.data is None  # the loading was cut short, not finished
    summary = json.loads((run_dir(tmp_path) / "summary.json").read_text(encoding="utf-8"))
    assert summary["stopped"] and summary["error"] is None and summary["epochs_completed"] == 0


def test_stop_while_a_run_loads_a_big_csv_ends_it_as_stopped(closing, qtbot, tmp_path):
    win = closing(csv_mlp(write_big_csv(tmp_path / "big.csv")))
    win.data_panel.set_on_screen(False)
    panel = win.training_panel
    assert panel.train()
    trainer = panel.runner._run.trainer
    with qtbot.waitSignal(panel.runFinished, timeout=30_000) as finished:
        panel.runner.stop()
    result = finished.args[0]
    assert result.stopped and result.error is None
    assert trainer.data is None  # it did not wait for the whole file
    assert panel.train_action.isEnabled()  # ready for the next run


def test_closing_while_a_preview_loads_a_big_csv_stops_the_preview(closing, qtbot, tmp_path):
    win = closing(csv_mlp(write_big_csv(tmp_path / "big.csv")))
    data_panel = win.data_panel
    data_panel.set_on_screen(True)  # its dock tab is the current one
    data_panel.update_preview()
    assert threads("deepwire-data-preview")
    assert timed_close(win) < CLOSE_GUARD_S
    qtbot.waitUntil(lambda: not threads("deepwire-data-preview"), timeout=30_000)
    assert data_panel.preview is None and data_panel.preview_error is None  # stopped, no error


@pytest.mark.parametrize("paused", [False, True], ids=["training", "paused"])
def test_closing_during_training_keeps_the_runs_files(closing, qtbot, tmp_path, paused):
    win = closing(mlp(5_000))
    panel = win.training_panel
    assert panel.train()
    qtbot.waitUntil(lambda: panel.epoch_done >= 1, timeout=60_000)
    if paused:
        panel.runner.pause()
        qtbot.waitUntil(lambda: panel.runner.state == "paused", timeout=5_000)
    assert timed_close(win) < CLOSE_GUARD_S
    qtbot.waitUntil(lambda: not threads("deepwire-training"), timeout=30_000)
    folder = run_dir(tmp_path)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["stopped"] and summary["error"] is None
    assert summary["epochs_completed"] >= 1
    assert (folder / "last.pt").is_file()
    lines = (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == summary["epochs_completed"]


DRIVER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])

    def close():
        window = next((w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow"), None)
        if window is None or window.training_panel.runner._warm is None:
            QTimer.singleShot(10, close)  # the warm-up starts once the window has painted
            return
        window.document.undo_stack.setClean()
        print("warming", window.training_panel.runner._warm.alive, flush=True)
        window.close()
        print("closed", time.time(), flush=True)

    QTimer.singleShot({delay_ms}, close)
    import main
    sys.exit(main.main([]))
""")


def test_the_process_exits_soon_after_closing_while_warming_up(tmp_path):
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "DEEPWIRE_DATA_DIR": str(tmp_path / "d"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOME": str(tmp_path),
    }
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(root=str(ROOT), delay_ms=100), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    gone = time.time()
    assert proc.returncode == 0, err
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    closed = float(lines["closed"])
    assert gone - closed < 5.0  # was 10-20 s: the exit joined the warm-up and torch's teardown
    assert list((tmp_path / "config").rglob("*.ini"))  # the window's settings were written
