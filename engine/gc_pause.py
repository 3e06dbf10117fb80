"""Pausing Python's cyclic garbage collector while building many objects at once.

A full shape analysis of a 20,000-node design, loading it, or building its canvas items
allocates tens of thousands of objects; the collector would rescan all of them again and
again (a third of a full analysis pass). None of them is cyclic garbage, so collection waits
until the build is done and then runs normally.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the ``with`` block (nesting is fine)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
