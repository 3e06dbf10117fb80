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
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from engine.errors import DesignFormatError, printable

DEFAULT_TEMPLATE = "mlp"
DEFAULT_SIZE = "1400x900"  # the size the window opens at
#: ``--layout``: the docks as the window opens, or as Train arranges them.
#: --layout values that bring one panel to the front once used (MainWindow.stage_panel_screenshot)
PANEL_LAYOUTS = ("runs", "evaluate", "search")
LAYOUTS = ("default", "training", *PANEL_LAYOUTS)

#: The system libraries Qt's xcb platform plugin (``libqxcb.so`` and ``libQt6XcbQpa``) links
#: against, beyond the X11 basics every desktop has, with the Debian/Ubuntu package of each.
#: Found with ``ldd`` on PySide6's ``Qt/plugins/platforms/libqxcb.so``.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
}


def _can_load(soname: str) -> bool:
    """Whether the dynamic loader finds ``soname`` (loading it is what Qt would do next)."""
    import ctypes

    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def xcb_problem(environ: Mapping[str, str], platform: str) -> str | None:
    """One line naming the apt packages Qt's xcb plugin lacks, or None.

    Checked only where Qt would use xcb: Linux, a ``DISPLAY``, no ``QT_QPA_PLATFORM`` override
    and no Wayland session. Without it Qt aborts with a message that names one library of
    several (``libxcb-cursor0``) and hides the rest.
    """
    if (
        not platform.startswith("linux")
        or environ.get("QT_QPA_PLATFORM")
        or not environ.get("DISPLAY")
        or environ.get("WAYLAND_DISPLAY")
    ):
        return None
    missing = [package for soname, package in XCB_LIBRARIES.items() if not _can_load(soname)]
    if not missing:
        return None
    return (
        "the window cannot open: Qt's xcb platform needs system libraries that are "
        f"missing; install them with: sudo apt install {' '.join(missing)} (or run "
        "headless with QT_QPA_PLATFORM=offscreen)"
    )


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
    sys.stderr.write(f"error: {printable(message)}\n")
    return code


def _screenshot_options(args: argparse.Namespace) -> tuple[str | None, float, str, tuple[int, int]]:
    """``(screenshot, train_for, layout, size)`` from the command line; ValueError (one line)
    for an option that needs ``--screenshot`` without it, or a bad ``--layout``/``--size``."""
    screenshot = getattr(args, "screenshot", None)
    train_for = float(getattr(args, "train_for", 0.0) or 0.0)
    if train_for and not screenshot:
        raise ValueError("--train-for only works together with --screenshot")
    layout = getattr(args, "layout", None) or "default"
    if layout not in LAYOUTS:
        raise ValueError(f"--layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    if layout != "default" and not screenshot:
        raise ValueError("--layout only works together with --screenshot")
    size = parse_size(DEFAULT_SIZE)
    if screenshot:
        size = parse_size(getattr(args, "size", None) or DEFAULT_SIZE)
    return screenshot, train_for, layout, size


def _application():
    """The one QApplication (created here when there is none yet), named Deepwire."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        _quiet_offscreen_notices()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Deepwire")
    app.setOrganizationName("Deepwire")
    app.setApplicationDisplayName("Deepwire")
    return app


def run_app(args: argparse.Namespace) -> int:
    """Open the editor (or render it with ``--screenshot``); returns the exit code, except that
    the editor itself ends the process when its window closes (:func:`exit_process`)."""
    try:
        screenshot, train_for, layout, size = _screenshot_options(args)
    except ValueError as exc:
        return _error(str(exc), 2)
    if screenshot:
        # Render without a screen; an explicit QT_QPA_PLATFORM still wins.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from engine.io import load_design
    from resources import template_path

    design_arg = getattr(args, "design", None)
    try:
        design = load_design(design_arg or template_path(DEFAULT_TEMPLATE))
    except DesignFormatError as exc:
        return _error(str(exc), 2)

    problem = xcb_problem(os.environ, sys.platform)  # before Qt aborts with half the story
    if problem is not None:
        return _error(problem, 2)

    app = _application()

    from gui.document import Document
    from gui.mainwindow import MainWindow

    document = Document()
    document.reset(design, Path(design_arg) if design_arg else None)
    if not screenshot:
        return _run_editor(app, document, design_arg)
    if train_for and getattr(MainWindow, "train_for_screenshot", None) is None:
        return _error(
            "--train-for needs the training panel, which this build of the "
            "editor does not include yet",
            2,
        )
    window = MainWindow(document)
    if layout in PANEL_LAYOUTS:  # these panels show the design's runs: read the run store
        from engine.runs import runs_root

        window.training_panel.runs_dir = runs_root()
        window.search_panel.runs_dir = runs_root()
    return _screenshot(app, window, Path(screenshot), size, train_for, layout)


def _run_editor(app, document, design_arg: str | None):
    """Show the editor on ``document`` and run it until its window closes; ends the process."""
    from engine.runs import runs_root
    from gui.mainwindow import MainWindow
    from gui.recovery import RecoveryStore
    from gui.settings import data_dir, user_settings

    window = MainWindow(document, settings=user_settings(), recovery=RecoveryStore(data_dir()))
    window.training_panel.runs_dir = runs_root()  # the run store (engine/runs.py)
    window.search_panel.runs_dir = runs_root()  # every trial is a run in the store
    # first-run imports while the user looks around, once the window is on screen
    window.firstPainted.connect(window.training_panel.runner.warm_up)
    if design_arg:
        window.recent.add(Path(design_arg))
    if os.environ.get(FIRST_PAINT_ENV):
        window.firstPainted.connect(lambda: _report_first_paint(app))
    window.show()
    window.canvas.fit()
    window.offer_recovery()
    _close_on_interrupt(window)
    code = app.exec()
    leave(window)
    exit_process(code)


#: Set (to anything) to make the editor print ``first_paint_wall=<time.time()> torch_loaded=…``
#: on stdout once its window has painted, and quit (bench/bench_startup.py times start-up).
FIRST_PAINT_ENV = "DEEPWIRE_EXIT_AFTER_FIRST_PAINT"


def _report_first_paint(app) -> None:
    print(f"first_paint_wall={time.time():.6f} torch_loaded={'torch' in sys.modules}", flush=True)
    app.exit(0)


def leave(window, wait: float = EXIT_WAIT_S) -> bool:
    """After the window has closed: wait at most ``wait`` s in all for the training run, the
    data preview and the dialogs' jobs to end, and sync the settings; True when all ended."""
    from gui.workers import wait_for_tasks

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


def stage_window(
    window, size: tuple[int, int], layout: str = "default", train_for: float = 0.0
) -> None:
    """Show ``window`` at ``size`` with its docks as it opens, the design framed; ``layout``
    ``"training"`` applies the layout Train gives (the same function); ``train_for`` trains
    live that many seconds first (pressing Train applies the training layout too)."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()

    def settle() -> None:
        for _ in range(3):
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    window.resize(*size)
    window.show()
    settle()
    window.resize(*size)
    if layout == "training":
        window.apply_training_layout()
        settle()
    window.prepare_screenshot()
    if train_for:
        window.train_for_screenshot(train_for)
    if layout in PANEL_LAYOUTS:
        window.stage_panel_screenshot(layout)
    settle()


def _screenshot(
    app, window, path: Path, size: tuple[int, int], train_for: float, layout: str = "default"
) -> int:
    """Render ``window`` at ``size`` to ``path`` (PNG); 0 on success."""
    stage_window(window, size, layout, train_for)
    image = window.grab().toImage()
    if image.size().width() != size[0] or image.size().height() != size[1]:
        from PySide6.QtCore import QSize, Qt

        image = image.scaled(
            QSize(*size),
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    if path.parent and not path.parent.is_dir():
        window.close()
        return _error(f"{path}: the folder {path.parent} does not exist", 2)
    ok = image.save(str(path), "PNG")
    window.document.undo_stack.setClean()  # nothing to ask on close
    window.close()
    if not ok:
        return _error(f"{path}: cannot write the PNG (check the folder and permissions)", 1)
    return 0
