"""Small files in each named dataset's official format, written by the tests, and a throwaway
HTTP server on 127.0.0.1 that serves them (for the download tests)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import struct
import tarfile
import threading
import time
from pathlib import Path

import numpy as np

from engine.data import downloads

N_TRAIN, N_TEST = 40, 10  # MNIST-style sets: 4 train images per class


def idx_gz(array: np.ndarray) -> bytes:
    """``array`` (uint8, 1-D labels or 3-D images) as a gzip-compressed IDX file."""
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


def mnist_files(
    seed: int = 0, n_train: int = N_TRAIN
) -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
    """The four MNIST-style files (28×28) and the arrays they hold."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_x": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_y": (np.arange(n_train) % 10).astype(np.uint8),
        "test_x": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "test_y": (np.arange(N_TEST)[::-1] % 10).astype(np.uint8),
    }
    files = {
        "train-images-idx3-ubyte.gz": idx_gz(arrays["train_x"]),
        "train-labels-idx1-ubyte.gz": idx_gz(arrays["train_y"]),
        "t10k-images-idx3-ubyte.gz": idx_gz(arrays["test_x"]),
        "t10k-labels-idx1-ubyte.gz": idx_gz(arrays["test_y"]),
    }
    return files, arrays


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def cifar_archive(hundred: bool = False, per_batch: int = 4, seed: int = 0) -> tuple[bytes, dict]:
    """A CIFAR binary ``.tar.gz`` (5 train batches + test for CIFAR-10, train + test for
    CIFAR-100 with coarse and fine labels) and the arrays it holds."""
    rng = np.random.default_rng(seed)
    k = 100 if hundred else 10
    folder = "cifar-100-binary" if hundred else "cifar-10-batches-bin"
    batches = ["train.bin"] if hundred else [f"data_batch_{i}.bin" for i in range(1, 6)]
    n_train = per_batch * len(batches) * (5 if hundred else 1)
    x = rng.integers(0, 256, (n_train + per_batch, 3, 32, 32), dtype=np.uint8)
    y = (np.arange(len(x)) * 7 % k).astype(np.uint8)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        names = [f"fine{i}" for i in range(k)] if hundred else [f"class{i}" for i in range(k)]
        meta = "fine_label_names.txt" if hundred else "batches.meta.txt"
        _add(tar, f"{folder}/{meta}", ("\n".join(names) + "\n\n").encode())
        chunks = np.array_split(np.arange(n_train), len(batches))
        for name, ix in [*zip(batches, chunks), ("test.bin" if hundred else "test_batch.bin",
                                                 np.arange(n_train, len(x)))]:  # fmt: skip
            labels = y[ix, None] if not hundred else np.stack([y[ix] // 5, y[ix]], axis=1)
            rec = np.concatenate([labels, x[ix].reshape(len(ix), -1)], axis=1)
            _add(tar, f"{folder}/{name}", rec.astype(np.uint8).tobytes())
    return buf.getvalue(), {"x": x, "y": y.astype(np.int64), "n_train": n_train, "names": names}


def svhn_mat(n: int, seed: int = 0) -> tuple[bytes, np.ndarray, np.ndarray]:
    """An SVHN-style ``.mat`` (X (32, 32, 3, N) uint8, y (N, 1) in 1..10) and its arrays."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = (np.arange(n) % 10 + 1).reshape(-1, 1).astype(np.uint8)
    buf = io.BytesIO()
    savemat(buf, {"X": x, "y": y})
    return buf.getvalue(), x, y


def register(monkeypatch, dataset: str, files: dict[str, bytes]) -> tuple:
    """Make ``files`` the published files of ``dataset`` for this test (size and SHA-256 of these
    bytes; the real table comes back afterwards)."""
    remote = tuple(
        downloads.RemoteFile(
            name, (f"http://127.0.0.1:9/{name}",), len(data), hashlib.sha256(data).hexdigest()
        )
        for name, data in files.items()
    )
    monkeypatch.setitem(downloads.FILES, dataset, remote)
    return remote


def put_in_cache(cache: Path, dataset: str, files: dict[str, bytes]) -> None:
    """Place ``files`` in the cache by hand, as docs/data.md tells a user without network."""
    folder = cache / "datasets" / dataset
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (``/<dataset>/<name>`` → bytes) with HTTP Range support; can
    corrupt a file or break the connection off half-way, as ``server.mode`` says, and send in
    32 KiB pieces ``server.delay`` seconds apart."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        srv = self.server
        rng = self.headers.get("Range")
        srv.requests.append((self.path, rng))
        data = srv.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = int(rng.split("=")[1].rstrip("-")) if rng and srv.ranges else 0
        body = data[start:]
        if srv.mode == "corrupt":
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.mode == "cut":
            srv.mode = "ok"  # only the first download breaks off
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        step = 32768 if srv.delay else len(body) or 1
        try:
            for a in range(0, len(body), step):  # slowly, when asked: progress can be seen
                self.wfile.write(body[a : a + step])
                self.wfile.flush()
                time.sleep(srv.delay)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client cancelled

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


class FileServer:
    """A throwaway HTTP server on 127.0.0.1 in a daemon thread; :meth:`close` stops it."""

    def __init__(self) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.timeout = 5
        self.httpd.files, self.httpd.requests = {}, []
        self.httpd.mode, self.httpd.ranges, self.httpd.delay = "ok", True, 0.0
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        """The base URL (the mirror)."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def serve(self, dataset: str, files: dict[str, bytes]) -> None:
        """Serve ``files`` as ``/<dataset>/<name>``."""
        for name, data in files.items():
            self.httpd.files[f"/{dataset}/{name}"] = data

    def close(self) -> None:
        """Stop serving and wait (bounded) for the thread."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
