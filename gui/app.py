"""GUI entry point: ``python main.py [DESIGN.json]`` and ``--screenshot PNG``.

``run_app`` creates the QApplication, opens the design (with no file: the MLP template, ready to
train), and either runs the editor or renders the real main window offscreen to a PNG and exits.

Closing the editor: the window hides at once and asks its workers to stop (a training run, a
data preview); once the event loop has ended, :func:`leave` gives them :data:`EXIT_WAIT_S` in all
to finish writing, flushes what is left and ends the process with :func:`exit_process`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import NoReturn

from engine.errors import DesignFormatError

DEFAULT_TEMPLATE = "mlp"
#: Seconds, in all, the closed editor waits for its workers before the process ends: a stopped
#: run needs a batch and its summary, a data preview one chunk of its file (milliseconds here).
EXIT_WAIT_S = 1.0


def parse_size(text: str) -> tuple[int, int]:
    """``"1600x1000"`` → ``(1600, 1000)``; ValueError with the reason otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text or "")
    if not match:
        raise ValueError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1600x1000")
    width, height = int(match.group(1)), int(match.group(2))
    if not (320 <= width <= 8192 and 240 <= height <= 8192):
        raise ValueError(f"--size {text!r}: width 320–8192 and height 240–8192 pixels")
    return width, height


def _error(message: str, code: int) -> int:
    sys.stderr.write(f"error: {message}\n")
    return code


def run_app(args: argparse.Namespace) -> int:
    """Open the editor (or render it with ``--screenshot``); returns the exit code, except that
    the editor itself ends the process when its window closes (:func:`exit_process`)."""
    screenshot = getattr(args, "screenshot", None)
    train_for = float(getattr(args, "train_for", 0.0) or 0.0)
    if train_for and not screenshot:
        return _error("--train-for only works together with --screenshot", 2)
    size = (1600, 1000)
    if screenshot:
        try:
            size = parse_size(getattr(args, "size", "1600x1000"))
        except ValueError as exc:
            return _error(str(exc), 2)
        # Render without a screen; an explicit QT_QPA_PLATFORM still wins.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from engine.io import load_design
    from resources import template_path

    design_arg = getattr(args, "design", None)
    try:
        design = load_design(design_arg or template_path(DEFAULT_TEMPLATE))
    except DesignFormatError as exc:
        return _error(str(exc), 2)

    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        _quiet_offscreen_notices()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Deepwire")
    app.setOrganizationName("Deepwire")
    app.setApplicationDisplayName("Deepwire")

    from gui.document import Document
    from gui.mainwindow import MainWindow
    from gui.recovery import RecoveryStore
    from gui.settings import data_dir, user_settings

    document = Document()
    document.reset(design, Path(design_arg) if design_arg else None)
    if screenshot:
        if train_for:
            hook = getattr(MainWindow, "train_for_screenshot", None)
            if hook is None:
                return _error("--train-for needs the training panel, which this build of the "
                              "editor does not include yet", 2)
        window = MainWindow(document)
        return _screenshot(app, window, Path(screenshot), size, train_for)

    window = MainWindow(document, settings=user_settings(), recovery=RecoveryStore(data_dir()))
    window.training_panel.runs_dir = data_dir() / "runs"  # checkpoints of editor runs
    window.training_panel.runner.warm_up()  # first-run imports, while the user looks around
    if design_arg:
        window.recent.add(Path(design_arg))
    window.show()
    window.canvas.fit()
    window.offer_recovery()
    _close_on_interrupt(window)
    code = app.exec()
    leave(window)
    exit_process(code)


def leave(window, wait: float = EXIT_WAIT_S) -> bool:
    """After the window has closed: wait at most ``wait`` s in all for the training run, the
    data preview and the dialogs' jobs to end, and sync the settings; True when all ended."""
    from gui.panels.background import wait_for_tasks

    deadline = time.monotonic() + wait

    def left() -> float:
        return max(0.0, deadline - time.monotonic())

    done = window.training_panel.shutdown(left())
    done = window.data_panel.shutdown(left()) and done
    done = wait_for_tasks(left()) and done
    if window.settings is not None:
        window.settings.sync()
    return done


def exit_process(code: int) -> NoReturn:
    """End the process now with ``code``, skipping the interpreter's teardown (``os._exit``).

    Why: tearing down torch, scikit-learn and Qt takes 1–3 s on a small machine (see
    docs/benchmarks.md, bench/bench_close.py), and a daemon thread still inside an import (the
    warm-up) could hold the exit up further. Everything the editor keeps is written before this
    is called: the design (saved or discarded when the user closed it), the settings (synced by
    :func:`leave`), a stopped run's summary and metrics and its checkpoints (written atomically,
    so a job cut short never leaves a half-written file in their place). Only stdout and stderr
    are left, and they are flushed here.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # closed, or None without a console
            pass
    os._exit(code)


# Notices of the offscreen platform plugin that say nothing about Deepwire.
OFFSCREEN_NOTICES = ("This plugin does not support propagateSizeHints",)


def _quiet_offscreen_notices() -> None:
    """Drop the offscreen plugin's notices so ``--screenshot`` keeps stderr for real errors."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, message: str) -> None:
        if not message.startswith(OFFSCREEN_NOTICES):
            sys.stderr.write(message + "\n")

    qInstallMessageHandler(handler)


def _close_on_interrupt(window) -> None:
    """Ctrl+C in the terminal closes the window the normal way (asking to save changes)."""
    import signal

    from PySide6.QtCore import QTimer

    signal.signal(signal.SIGINT, lambda *_args: window.close())
    # Qt's event loop runs no Python code while idle; a light timer lets the handler run.
    ticker = QTimer(window)
    ticker.timeout.connect(_idle)
    ticker.start(250)


def _idle() -> None:
    """Nothing: waking the interpreter is the point."""


def _screenshot(app, window, path: Path, size: tuple[int, int], train_for: float) -> int:
    """Render ``window`` at ``size`` to ``path`` (PNG); 0 on success."""
    from PySide6.QtCore import QEventLoop

    window.resize(*size)
    window.show()
    for _ in range(3):
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    window.resize(*size)
    window.prepare_screenshot()
    if train_for:
        window.train_for_screenshot(train_for)
    for _ in range(3):
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    image = window.grab().toImage()
    if image.size().width() != size[0] or image.size().height() != size[1]:
        from PySide6.QtCore import QSize, Qt

        image = image.scaled(QSize(*size), Qt.AspectRatioMode.IgnoreAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    if path.parent and not path.parent.is_dir():
        window.close()
        return _error(f"{path}: the folder {path.parent} does not exist", 2)
    ok = image.save(str(path), "PNG")
    window.document.undo_stack.setClean()  # nothing to ask on close
    window.close()
    if not ok:
        return _error(f"{path}: cannot write the PNG (check the folder and permissions)", 1)
    return 0
