"""How Deepwire reads and writes its own files: bounded reads, one atomic writer, stale temps.

Every file Deepwire writes (designs, exports, checkpoints, recovery autosaves, run summaries)
goes through :func:`atomic_write_files`: the bytes go to a temporary file in the target's folder,
are flushed to disk (fsync), and replace the target in one ``os.replace``. A failure part-way
(disk full, permission, kill) leaves the previous file byte-identical; the temporary is removed on
any failure, and one left by a killed process is removed by the next save into that folder.
Files get the permissions a plain ``open(..., "w")`` would give (the umask's), or keep those of
the file they replace. Several files of one call given the very same ``bytes`` object (a run's
``best.pt`` and ``last.pt`` of the same epoch) are written and flushed once: the other names are
hard links to that temporary (one fsync instead of several; written out where links fail). A later
save replaces a name with a new file, so the names never change each other.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
import time
from pathlib import Path

from engine.errors import DeepwireError

#: Temporary files are named ``.<target name>.deepwire-<pid>-<random>.tmp``; only such files
#: are ever removed as stale.
TEMP_RE = re.compile(r"^\..+\.deepwire-(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp$")
#: A temporary of a live process older than this (seconds) is stale too (its pid was reused).
STALE_AFTER_S = 60.0
_CHUNK = 1 << 20

# Read once at import: os.umask can only be read by setting it, which would race with other
# threads creating files (the editor autosaves from a timer while training runs in a thread).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write_files`)."""
    atomic_write_files({Path(path): data})


def atomic_write_files(files: dict[Path, bytes]) -> None:
    """Write every file to a temporary sibling, then move them all into place (first file last).

    Raises :class:`OSError` on failure; then no target was touched and no temporary is left.
    """
    temps: list[tuple[str, Path]] = []
    target = Path(next(iter(files), "."))
    flushed: list[tuple[bytes, Path, str]] = []  # (data, folder, temporary) already on disk
    try:
        for target, data in files.items():
            target = Path(target)
            folder = target.parent if str(target.parent) else Path(".")
            remove_stale_temps(folder)
            same = next((t for d, f, t in flushed if d is data and f == folder), None)
            if same is not None and _link_temp(same, target, folder, temps):
                continue  # the same bytes: one more name for a file already flushed
            fd, tmp = tempfile.mkstemp(
                prefix=f".{target.name}.deepwire-{os.getpid()}-", suffix=".tmp", dir=folder
            )
            temps.append((tmp, target))
            try:
                try:  # keep the old file's permissions; a new file gets the umask's
                    mode = target.stat().st_mode & 0o777
                except OSError:
                    mode = 0o666 & ~_UMASK
                os.chmod(tmp, mode)
                view = memoryview(data)
                while view:
                    written = os.write(fd, view[:_CHUNK])
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            flushed.append((data, folder, tmp))
        for tmp, target in reversed(temps):
            os.replace(tmp, target)
    except BaseException as exc:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError) and (
            exc.filename is None or TEMP_RE.match(Path(exc.filename).name)
        ):
            exc.filename = str(target)  # name the user's file, not our temporary
        raise


def _link_temp(source: str, target: Path, folder: Path, temps: list[tuple[str, Path]]) -> bool:
    """A temporary for ``target`` that is a hard link to the flushed temporary ``source`` (the
    same bytes, written and fsynced once); False where the file system has no hard links."""
    tmp = str(folder / f".{target.name}.deepwire-{os.getpid()}-{os.urandom(6).hex()}.tmp")
    try:
        os.link(source, tmp)
    except OSError:
        return False
    temps.append((tmp, target))
    return True


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete temporaries of our naming (see :data:`TEMP_RE`) whose writer died or that are
    older than :data:`STALE_AFTER_S`; returns what was removed. Other files are never touched."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = TEMP_RE.match(entry.name)
        if match is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue
            if process_alive(int(match["pid"])) and now - st.st_mtime < STALE_AFTER_S:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


class FileReadError(DeepwireError):
    """A file cannot be read: missing, a folder or device, too large, or unreadable."""


def read_regular_file(
    path: str | os.PathLike[str],
    limit: int,
    what: str = "file",
    error: type[DeepwireError] = FileReadError,
) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Checks the kind and size *before* opening, so a FIFO, ``/dev/zero`` or a huge file is refused
    instead of read without end. Raises ``error`` (one line naming the file).
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error(f"{p}: no such file; check the path") from None
    except OSError as exc:
        raise error(f"{p}: cannot read the file ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{p}: is a folder, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise error(
            f"{p}: is not a regular file (a device, pipe or socket); give the path of a {what}"
        )
    if st.st_size > limit:
        raise error(
            f"{p}: {st.st_size:,} bytes is larger than the {limit >> 20} MiB "
            f"a {what} may have; is this the right file?"
        )
    try:
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"{p}: cannot read the file ({exc.strerror})") from None
    if len(data) > limit:  # grew while we looked
        raise error(
            f"{p}: larger than the {limit >> 20} MiB a {what} may have; is this the right file?"
        )
    return data


def process_alive(pid: int) -> bool:
    """Whether a process with this id is running (on doubt: yes, so nothing is stolen)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's process
        return True
    return True


def set_aside(path: str | os.PathLike[str]) -> Path | None:
    """Rename an unreadable file to ``<name>.corrupt-<YYYYmmdd-HHMMSS>`` so it is kept for
    inspection but never read again; returns the new path (None if it could not be moved)."""
    p = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = p.with_name(f"{p.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = p.with_name(f"{p.name}.corrupt-{stamp}-{n}")
    try:
        os.replace(p, target)
    except OSError:
        try:
            p.unlink()
        except OSError:
            return None
        return None
    return target
