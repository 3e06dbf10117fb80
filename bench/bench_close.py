"""Closing the editor: how long ``close()`` holds the GUI thread and how soon the process is gone.

Each sample launches ``python main.py`` offscreen as a user would (a throwaway data and settings
folder), brings the editor into one state, closes the main window and measures

* ``close``: seconds ``MainWindow.close()`` spent on the GUI thread (the window is gone after it);
* ``exit``: seconds from the end of that call to the end of the process, as the parent sees it.

States: ``idle`` (the warm-up has finished), ``warming`` (closed as soon as the warm-up has
started after the window's first paint, while it and the PyTorch loader import), ``training`` (the MLP template on digits, after
its first epoch), ``paused`` (the same, paused), ``preview`` (the data panel preparing a
300,000-row CSV), ``run-csv`` (a run loading that CSV) and ``job`` (a dialog's background job
that takes 30 s, standing in for an export, which cannot be interrupted). For the run states the
parent checks the run's folder afterwards: ``files`` says whether ``summary.json`` says stopped
(and, after an epoch, ``last.pt`` and ``metrics.jsonl`` exist).

Figures are medians over ``--repeats`` launches per state (default 3)::

    python bench/bench_close.py [--repeats 3] [--states idle,warming,...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATES = ("idle", "warming", "training", "paused", "preview", "run-csv", "job")
CSV_ROWS = 300_000

DRIVER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    STATE = {state!r}
    app = QApplication(sys.argv[:1])
    win = None

    def window():
        return next(w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow")

    def close():
        win.document.undo_stack.setClean()
        t0 = time.perf_counter()
        win.close()
        print("close", time.perf_counter() - t0, flush=True)
        print("closed", time.time(), flush=True)

    def when(ready, then, every=50):
        timer = QTimer(app)
        def tick():
            if ready():
                timer.stop()
                then()
        timer.timeout.connect(tick)
        timer.start(every)

    def begin():
        global win
        win = window()
        runner = win.training_panel.runner
        from gui.torch_loader import torch_loader
        loaded = torch_loader().is_ready  # PyTorch loads after the first paint; Train waits
        if STATE == "warming":  # the warm-up (and the PyTorch loader) start after the first paint
            when(lambda: runner._warm is not None, close, every=5)
        elif STATE == "idle":
            when(lambda: loaded() and runner._warm is not None and not runner._warm.alive, close)
        elif STATE in ("training", "paused"):
            def after_epoch():
                if STATE == "paused":
                    runner.pause()
                QTimer.singleShot(100, close)
            def train():
                win.training_panel.train()
                when(lambda: win.training_panel.epoch_done >= 1, after_epoch)
            when(loaded, train)
        elif STATE == "preview":
            win.data_panel.set_on_screen(True)
            win.data_panel.update_preview()
            QTimer.singleShot(300, close)
        elif STATE == "run-csv":
            win.data_panel.set_on_screen(False)
            def train():
                win.training_panel.train()
                QTimer.singleShot(300, close)
            when(loaded, train)
        elif STATE == "job":
            from gui.workers import BackgroundCall, join_on_quit
            job = BackgroundCall(time.sleep, 30.0, parent=win)
            join_on_quit(job)
            job.start()
            QTimer.singleShot(300, close)

    QTimer.singleShot(0, begin)
    import main
    sys.exit(main.main({argv!r}))
""")


def write_csv_design(folder: Path) -> Path:
    """A design reading a 300,000-row CSV (3 features, 3 classes) next to it."""
    import numpy as np

    from engine.io import load_design, save_design
    from resources import template_path

    rng = np.random.default_rng(0)
    block = np.column_stack([rng.random((1000, 3)), rng.integers(0, 3, 1000)])
    lines = "".join(f"{a:.4f},{b:.4f},{c:.4f},{int(y)}\n" for a, b, c, y in block)
    (folder / "big.csv").write_text("a,b,c,label\n" + lines * (CSV_ROWS // 1000), encoding="utf-8")
    design = load_design(template_path("mlp"))
    design.data = {"source": "csv", "path": "big.csv", "target": "label", "task": "classification"}
    design.node("pixels").params["shape"] = [3]
    design.training["epochs"] = 2
    save_design(design, folder / "csv.json")
    return folder / "csv.json"


def run_files(data_dir: Path) -> str:
    """What a closed run left: ``ok`` when its summary says stopped (and an epoch's files)."""
    folders = sorted((data_dir / "runs").glob("*")) if (data_dir / "runs").is_dir() else []
    if not folders:
        return "no run"
    summary_path = folders[-1] / "summary.json"
    if not summary_path.is_file():
        return "no summary"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    if not summary.get("stopped"):
        return "not stopped"
    if summary.get("epochs_completed", 0) and not (
        (folders[-1] / "last.pt").is_file() and (folders[-1] / "metrics.jsonl").is_file()
    ):
        return "missing files"
    return f"ok ({summary['epochs_completed']} epochs)"


def sample(state: str, csv_design: Path) -> tuple[float, float, str]:
    """One launch: (close seconds, exit seconds, files)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "DEEPWIRE_DATA_DIR": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        }
        argv = [str(csv_design)] if state in ("preview", "run-csv") else []
        script = tmp_path / "driver.py"
        script.write_text(DRIVER.format(root=str(ROOT), state=state, argv=argv), encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, str(script)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        gone = time.time()
        if proc.returncode != 0:
            raise SystemExit(f"{state}: exit code {proc.returncode}: {proc.stderr.strip()[-400:]}")
        values = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
        files = run_files(tmp_path / "data") if state in ("training", "paused", "run-csv") else "-"
        return float(values["close"]), gone - float(values["closed"]), files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--states", default=",".join(STATES))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    states = [s for s in args.states.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        csv_design = write_csv_design(Path(tmp))
        print(f"{'state':<10} {'close ms':>9} {'exit s':>7}  files (median of {args.repeats})")
        for state in states:
            samples = [sample(state, csv_design) for _ in range(args.repeats)]
            close = statistics.median(s[0] for s in samples) * 1000
            gone = statistics.median(s[1] for s in samples)
            files = ", ".join(sorted({s[2] for s in samples}))
            print(f"{state:<10} {close:9.1f} {gone:7.2f}  {files}", flush=True)


if __name__ == "__main__":
    main()
