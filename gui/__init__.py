"""Deepwire's Qt front end: a thin view over :mod:`engine`.

``document`` owns the engine design and is its only writer; ``commands`` are the undoable edits;
``canvas`` draws the design and turns gestures into commands.

Importing this package turns off Qt's GUI thread pool (``QT_NO_GUI_THREADPOOL``, read by Qt at
the first paint): Qt's raster engine hands every fill of more than about 96 scanlines (a plot's
grid line, a cached axis pixmap) to pool threads and waits for them. With a training run busy on
the other core of a two-core machine, the hand-off made the window wait for a core: measured with
``bench/bench_window_train.py --paths process``, three runs each way, the GUI timer's p99
lateness was 46–58 ms (MLP) and 36–40 ms (CNN) without the pool against 64–80 and 42–56 ms with
it. Plot-sized fills gain nothing from threads. A value set before Deepwire starts is kept.
"""

import os

os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
