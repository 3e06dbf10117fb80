"""Pausing Python's cyclic garbage collector while building many objects at once.

A full shape analysis of a 20,000-node design, loading it, or building its canvas items
allocates tens of thousands of objects; the collector would rescan all of them again and
again (a third of a full analysis pass). None of them is cyclic garbage, so collection waits
until the build is done and then runs normally.

A build whose objects stay (an opened design, its canvas) can also say so with ``keep=True``:
when the outermost such pause ends, everything allocated since the last collection moves
straight to the oldest generation (``gc.freeze`` + ``gc.unfreeze``: two list splices), so the
next young collections do not walk the hundreds of thousands of objects just built, only to
find them alive (measured: 25–80 ms per young collection after a 20,000-node open, and a
gen-1 pass of 80 ms). Garbage among them is found by the next full collection.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0  # gc_paused blocks open now (nested)


@contextmanager
def gc_paused(keep: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector for the ``with`` block (nesting is fine); ``keep``:
    the objects built are long-lived, promote them to the oldest generation at the end."""
    global _depth
    was_enabled = gc.isenabled()
    gc.disable()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if keep and _depth == 0:
            promote_young()
        if was_enabled:
            gc.enable()


def promote_young() -> None:
    """Move every object of the young generations to the oldest one without scanning them.

    While a ``gc.freeze`` is in force (a training run freezes what was alive when it started,
    gui/gc_guard.py) they join the frozen objects instead, to be given back by its unfreeze.
    """
    if gc.get_freeze_count():
        gc.freeze()
    else:
        gc.freeze()
        gc.unfreeze()
