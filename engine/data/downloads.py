"""Download files of the named datasets once, check them, and keep them in the user cache.

Every file has a published size and SHA-256 (:data:`FILES`). :func:`fetch` returns the cached
path, downloading first when the file is missing: the bytes go to ``<file>.part`` next to the
final name, and only a complete file whose size and SHA-256 match is renamed into place (an
atomic ``os.replace``), so the cache never holds a half-written or wrong file. An interrupted
download keeps its ``.part`` file and resumes it with an HTTP ``Range`` request next time (a
server that ignores the range restarts it from the start). A download whose checksum does not
match is deleted and refused with one line; the cache is left as it was.

The cache folder is ``platformdirs.user_cache_dir("deepwire")/datasets`` or
``$DEEPWIRE_CACHE_DIR/datasets``; ``$DEEPWIRE_DATASET_MIRROR`` (a base URL) replaces the
publishers' locations with ``<mirror>/<dataset>/<file name>`` (used by the tests, and for a
local copy). Only :mod:`urllib` from the standard library touches the network.

Progress goes to the function set with :func:`report_progress` (the window's progress bar), or to
a tqdm bar on stderr (shown on a terminal only) when none is set.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DataError, check_cancel

CACHE_ENV = "DEEPWIRE_CACHE_DIR"
MIRROR_ENV = "DEEPWIRE_DATASET_MIRROR"
CHUNK = 1 << 16
TIMEOUT_S = 30.0

#: ``fn(what, done_bytes, total_bytes)``: called as a download advances.
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RemoteFile:
    """One published file: its name, where it can be downloaded (tried in order), its size in
    bytes and its SHA-256 (hex)."""

    name: str
    urls: tuple[str, ...]
    size: int
    sha256: str


def _files(bases: tuple[str, ...], table: list[tuple[str, int, str]]) -> tuple[RemoteFile, ...]:
    return tuple(
        RemoteFile(name, tuple(base + name for base in bases), size, sha)
        for name, size, sha in table
    )


_MNIST_BASES = (
    "http://yann.lecun.com/exdb/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
_FASHION_BASES = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_KMNIST_BASES = ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",)
_CIFAR_BASES = ("https://www.cs.toronto.edu/~kriz/",)
_SVHN_BASES = ("http://ufldl.stanford.edu/housenumbers/",)

#: Dataset name → its files. Sizes and SHA-256 values are the published ones, copied from
#: TensorFlow Datasets' checksum files (github.com/tensorflow/datasets,
#: ``tensorflow_datasets/url_checksums/<name>.txt``, commit 333639b3 unless noted): this machine
#: could not reach the publishers to measure them. Tests register their own small files.
FILES: dict[str, tuple[RemoteFile, ...]] = {
    # url_checksums/mnist.txt (commit 31f1255e; TFDS fetches the byte-identical cvdf mirror)
    "mnist": _files(
        _MNIST_BASES,
        [
            ("train-images-idx3-ubyte.gz", 9912422,
             "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            ("train-labels-idx1-ubyte.gz", 28881,
             "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
            ("t10k-images-idx3-ubyte.gz", 1648877,
             "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
            ("t10k-labels-idx1-ubyte.gz", 4542,
             "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        ],
    ),
    # url_checksums/fashion_mnist.txt
    "fashion_mnist": _files(
        _FASHION_BASES,
        [
            ("train-images-idx3-ubyte.gz", 26421880,
             "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
            ("train-labels-idx1-ubyte.gz", 29515,
             "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
            ("t10k-images-idx3-ubyte.gz", 4422102,
             "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
            ("t10k-labels-idx1-ubyte.gz", 5148,
             "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        ],
    ),
    # url_checksums/kmnist.txt
    "kmnist": _files(
        _KMNIST_BASES,
        [
            ("train-images-idx3-ubyte.gz", 18165135,
             "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"),
            ("train-labels-idx1-ubyte.gz", 29497,
             "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"),
            ("t10k-images-idx3-ubyte.gz", 3041136,
             "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"),
            ("t10k-labels-idx1-ubyte.gz", 5120,
             "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"),
        ],
    ),
    # url_checksums/cifar10.txt — the binary version (never the pickled "python version")
    "cifar10": _files(
        _CIFAR_BASES,
        [
            ("cifar-10-binary.tar.gz", 170052171,
             "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
        ],
    ),
    # url_checksums/cifar100.txt — the binary version
    "cifar100": _files(
        _CIFAR_BASES,
        [
            ("cifar-100-binary.tar.gz", 168513733,
             "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec"),
        ],
    ),
    # url_checksums/svhn_cropped.txt (the "extra" file is not used)
    "svhn": _files(
        _SVHN_BASES,
        [
            ("train_32x32.mat", 182040794,
             "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8"),
            ("test_32x32.mat", 64275384,
             "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b"),
        ],
    ),
}  # fmt: skip

_reporter: ContextVar[ProgressFn | None] = ContextVar("deepwire_download_progress", default=None)
#: (path, size, mtime) of cached files whose SHA-256 was checked in this process.
_verified: set[tuple[str, int, int]] = set()
#: One lock per cached path: two threads (the Data panel's preview and the data prepared ahead of
#: Train) never write the same ``.part`` file; the second waits, then finds the file cached.
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def cache_root() -> Path:
    """The folder downloads are kept in: ``$DEEPWIRE_CACHE_DIR/datasets`` when that is set,
    else the user cache folder (``platformdirs.user_cache_dir("deepwire")/datasets``)."""
    base = os.environ.get(CACHE_ENV)
    if not base:
        from platformdirs import user_cache_dir

        base = user_cache_dir("deepwire")
    return Path(base) / "datasets"


def cache_path(dataset: str, remote: RemoteFile) -> Path:
    """Where ``remote`` of ``dataset`` is (or will be) cached."""
    return cache_root() / dataset / remote.name


def is_cached(dataset: str) -> bool:
    """True when every file of ``dataset`` is in the cache with its published size (the
    checksum is checked when the data is loaded); touches no network."""
    return all(
        (p := cache_path(dataset, f)).is_file() and p.stat().st_size == f.size
        for f in FILES[dataset]
    )


def not_cached_note(data: object) -> str | None:
    """For ``check``: one line saying a design's named dataset is not downloaded yet (where it
    will go, how large it is), or None (not a named dataset, or cached). Touches no network."""
    name = data.get("name") if isinstance(data, dict) and data.get("source") == "builtin" else None
    if not isinstance(name, str) or name not in FILES or is_cached(name):
        return None
    size = sum(f.size for f in FILES[name]) / 1e6
    return (
        f"data: {name} is not downloaded yet: the first train (or the window) downloads "
        f"{size:.0f} MB into {cache_root() / name}"
    )


def urls_for(dataset: str, remote: RemoteFile) -> tuple[str, ...]:
    """The URLs to try for a file: ``$DEEPWIRE_DATASET_MIRROR/<dataset>/<name>`` when the
    mirror is set, else the publishers' locations."""
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        return (f"{mirror.rstrip('/')}/{dataset}/{remote.name}",)
    return remote.urls


@contextlib.contextmanager
def report_progress(fn: ProgressFn | None) -> Iterator[None]:
    """Send download progress of this thread (this context) to ``fn`` while the block runs."""
    token = _reporter.set(fn)
    try:
        yield
    finally:
        _reporter.reset(token)


class _Tqdm:
    """The default progress: one tqdm bar per file on stderr (hidden when not a terminal)."""

    def __init__(self) -> None:
        self.bar = None
        self.what = ""

    def __call__(self, what: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None or what != self.what:
            self.close()
            self.what = what
            self.bar = tqdm(
                total=total, initial=done, unit="B", unit_scale=True, desc=what,
                file=sys.stderr, disable=None, leave=False, mininterval=0.25,
            )  # fmt: skip
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def sha256_of(path: Path, should_stop: Callable[[], bool] | None = None) -> str:
    """SHA-256 (hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            check_cancel(should_stop)
    return digest.hexdigest()


def _check_cached(path: Path, remote: RemoteFile, should_stop: Callable[[], bool] | None) -> None:
    """Refuse a cached file (e.g. one put there by hand) that is not the published one."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _verified:
        return
    got = sha256_of(path, should_stop) if st.st_size == remote.size else None
    if got != remote.sha256:
        what = f"has {st.st_size} bytes" if got is None else f"has SHA-256 {got}"
        raise DataError(
            f"{path}: the file {what}, not the published {remote.size} bytes with SHA-256 "
            f"{remote.sha256}: it is damaged or not the official file; delete it and load again "
            "to download it"
        )
    _verified.add(key)


def fetch(dataset: str, remote: RemoteFile, should_stop: Callable[[], bool] | None = None) -> Path:
    """The cached, checked path of ``remote`` (a file of ``dataset``), downloading it first when
    it is not cached. Raises one :class:`DataError` line (no network, an interrupted download, a
    wrong checksum) or :class:`~engine.errors.Cancelled` when ``should_stop()`` turns True."""
    path = cache_path(dataset, remote)
    with _locks_guard:
        lock = _locks.setdefault(str(path), threading.Lock())
    while not lock.acquire(timeout=0.1):
        check_cancel(should_stop, "the download")
    try:
        return _fetch_locked(dataset, remote, path, should_stop)
    finally:
        lock.release()


def _fetch_locked(
    dataset: str, remote: RemoteFile, path: Path, should_stop: Callable[[], bool] | None
) -> Path:
    if path.is_file():
        _check_cached(path, remote, should_stop)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    report = _reporter.get()
    default = _Tqdm() if report is None else None
    urls = urls_for(dataset, remote)
    unreachable = ""
    try:
        for url in urls:
            try:
                _download(url, part, remote, should_stop, report or default)
            except _Unreachable as exc:
                unreachable = unreachable or f"{url} ({exc})"
                continue
            break
        else:
            raise DataError(
                f"cannot download {dataset}: {unreachable} cannot be reached (no network?): "
                f"put {remote.name} by hand at {path}"
            )
    finally:
        if default is not None:
            default.close()
    got = sha256_of(part, should_stop)
    if part.stat().st_size != remote.size or got != remote.sha256:
        part.unlink(missing_ok=True)
        raise DataError(
            f"{url}: the download has SHA-256 {got}, not the published {remote.sha256}: "
            f"refused and deleted (nothing was cached); load again, or put the official "
            f"{remote.name} by hand at {path}"
        )
    os.replace(part, path)
    st = path.stat()
    _verified.add((str(path), st.st_size, st.st_mtime_ns))
    return path


class _Unreachable(Exception):
    """This URL gave no file (no connection, HTTP error): try the next one."""


def _download(
    url: str,
    part: Path,
    remote: RemoteFile,
    should_stop: Callable[[], bool] | None,
    report: ProgressFn,
) -> None:
    """Write ``url`` into ``part`` (resuming what it holds); raise :class:`_Unreachable` when no
    answer came, :class:`DataError` when the transfer broke off (``part`` is kept to resume)."""
    import http.client  # here: ``check`` imports this module and never downloads
    import urllib.error
    import urllib.request

    have = part.stat().st_size if part.is_file() else 0
    if have > remote.size:
        part.unlink()
        have = 0
    if have == remote.size:
        return  # complete already: only the checksum is left to check
    headers = {"User-Agent": "deepwire"}
    if have:
        headers["Range"] = f"bytes={have}-"
    check_cancel(should_stop, "the download")
    try:
        resp = urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S
        )
    except urllib.error.HTTPError as exc:
        raise _Unreachable(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Unreachable(getattr(exc, "reason", None) or exc) from None
    done = have
    label = f"{remote.name}"
    try:
        with resp:
            if have and resp.status != 206:  # the server ignored the range: start again
                done = 0
            with open(part, "ab" if done else "wb") as f:
                report(label, done, remote.size)
                while chunk := resp.read(CHUNK):
                    f.write(chunk)
                    done += len(chunk)
                    report(label, done, remote.size)
                    check_cancel(should_stop, "the download")
    except (OSError, http.client.HTTPException) as exc:
        raise DataError(
            f"{url}: the download stopped at {done} of {remote.size} bytes "
            f"({type(exc).__name__}): load again to resume it"
        ) from None
    if done < remote.size:
        raise DataError(
            f"{url}: the download stopped at {done} of {remote.size} bytes "
            "(the connection closed): load again to resume it"
        )
