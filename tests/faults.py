"""Fault injection for file writes: a disk that fills up part-way through a write."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest


def fill_disk_after(monkeypatch: pytest.MonkeyPatch, folder: Path, nbytes: int) -> None:
    """Make every ``os.write`` to a file under ``folder`` fail with ENOSPC once ``nbytes`` bytes
    (all files together) have been written; writes elsewhere are untouched."""
    if not sys.platform.startswith("linux"):
        pytest.skip("finds a descriptor's file through /proc/self/fd (Linux)")
    real_write = os.write
    root = str(Path(folder).resolve())
    budget = {"left": nbytes}

    def write(fd: int, data) -> int:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return real_write(fd, data)
        if not target.startswith(root + os.sep):
            return real_write(fd, data)
        if budget["left"] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        done = real_write(fd, bytes(memoryview(data)[: budget["left"]]))
        budget["left"] -= done
        return done

    monkeypatch.setattr(os, "write", write)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` (name → bytes), hidden temporaries included."""
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}
