"""Downloading a named dataset, against a throwaway HTTP server on 127.0.0.1 (never the
network): success and cache hit, a corrupt download, an interrupted one (resumed), a cancelled
one, and no server at all — each with one clear line and never a half-written file in the cache."""

from __future__ import annotations

import socket

import pytest

from engine.data import datasets, downloads, prepare_data
from engine.errors import Cancelled, DataError
from tests.engine.dataset_files import FileServer, mnist_files, register


@pytest.fixture
def server():
    srv = FileServer()
    yield srv
    srv.close()


@pytest.fixture
def env(tmp_path, monkeypatch, server):
    """Test checksums for small MNIST files, an empty cache, the server as the mirror."""
    files, arrays = mnist_files()
    register(monkeypatch, "mnist", files)
    server.serve("mnist", files)
    monkeypatch.setenv(downloads.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(downloads.MIRROR_ENV, server.url)
    datasets._arrays_cached.cache_clear()
    yield files, tmp_path / "cache" / "datasets" / "mnist"
    datasets._arrays_cached.cache_clear()


def _load():
    return prepare_data({"source": "builtin", "name": "mnist", "split": {"val": 0.25}}, seed=0)


def _cached(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def test_first_load_downloads_and_the_second_uses_the_cache(env, server):
    files, folder = env
    seen = []
    with downloads.report_progress(lambda what, done, total: seen.append((what, done, total))):
        data = _load()
    assert len(data.x_test) == 10
    assert _cached(folder) == files  # complete, checked files only; no .part left
    assert {path for path, _ in server.httpd.requests} == {f"/mnist/{n}" for n in files}
    name, size = "train-images-idx3-ubyte.gz", len(files["train-images-idx3-ubyte.gz"])
    assert (name, size, size) in seen and (name, 0, size) in seen
    requests = len(server.httpd.requests)
    datasets._arrays_cached.cache_clear()
    _load()
    assert len(server.httpd.requests) == requests  # a cache hit downloads nothing


def test_a_corrupt_download_is_refused_and_the_cache_stays_untouched(env, server):
    files, folder = env
    server.httpd.mode = "corrupt"
    with pytest.raises(DataError) as err:
        _load()
    line = str(err.value)
    assert "\n" not in line and "SHA-256" in line and "refused and deleted" in line
    assert str(folder / "train-images-idx3-ubyte.gz") in line  # where the file could go by hand
    assert _cached(folder) == {}


def test_an_interrupted_download_is_a_clean_error_and_the_next_load_resumes(env, server):
    files, folder = env
    server.httpd.mode = "cut"  # the first file breaks off half-way
    with pytest.raises(DataError) as err:
        _load()
    line = str(err.value)
    assert "\n" not in line and "stopped at" in line and "load again to resume" in line
    name = "train-images-idx3-ubyte.gz"
    assert not (folder / name).exists()  # never a half-written file under the real name
    half = (folder / (name + ".part")).stat().st_size
    assert 0 < half < len(files[name])
    _load()
    assert _cached(folder) == files
    assert (f"/mnist/{name}", f"bytes={half}-") in server.httpd.requests  # resumed, not restarted


def test_a_server_that_ignores_the_range_restarts_the_file_cleanly(env, server):
    files, folder = env
    server.httpd.mode, server.httpd.ranges = "cut", False
    with pytest.raises(DataError):
        _load()
    _load()
    assert _cached(folder) == files


def test_a_cancelled_download_leaves_nothing_under_the_real_name(env):
    files, folder = env
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        prepare_data({"source": "builtin", "name": "mnist"}, seed=0, should_stop=stop)
    assert not any(not p.name.endswith(".part") for p in folder.iterdir())


def test_no_server_is_one_line_naming_the_url_and_the_cache_path(env, monkeypatch):
    files, folder = env
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(downloads.MIRROR_ENV, f"http://127.0.0.1:{port}")
    with pytest.raises(DataError) as err:
        _load()
    line = str(err.value)
    assert "\n" not in line
    assert f"http://127.0.0.1:{port}/mnist/train-images-idx3-ubyte.gz" in line
    assert (
        f"put train-images-idx3-ubyte.gz by hand at {folder / 'train-images-idx3-ubyte.gz'}" in line
    )
    assert _cached(folder) == {}


def test_a_missing_file_on_the_server_is_one_line(env, server):
    server.httpd.files.pop("/mnist/t10k-labels-idx1-ubyte.gz")
    with pytest.raises(
        DataError, match=r"t10k-labels-idx1-ubyte\.gz \(HTTP 404\) cannot be reached"
    ):
        _load()


def test_train_cli_without_network_is_one_line_and_check_downloads_nothing(
    env, server, tmp_path, run_main, monkeypatch
):
    from engine.graph import Design, Edge, Node
    from engine.io import save_design

    design = Design("mnist mlp")
    for i, (nid, typ, params) in enumerate(
        [
            ("x", "Input", {"shape": [784]}),
            ("fc", "Linear", {"out_features": 10}),
            ("out", "Output", {}),
        ]
    ):
        design.add_node(Node(nid, typ, params, (i * 200.0, 0.0)))
    design.add_edge(Edge("x", "fc"))
    design.add_edge(Edge("fc", "out"))
    design.data = {"source": "builtin", "name": "mnist", "form": "flat", "split": {"val": 0.25}}
    design.training = {"task": "classification", "epochs": 1, "batch_size": 16}
    path = tmp_path / "mnist.json"
    save_design(design, path)
    code, out, err = run_main(["check", str(path)])
    assert code == 0, err
    assert server.httpd.requests == []  # check validates without the data
    assert "data: mnist is not downloaded yet" in out and str(env[1]) in out
    monkeypatch.setenv(downloads.MIRROR_ENV, "http://127.0.0.1:9")
    code, out, err = run_main(["train", str(path), "--out", str(tmp_path / "run")])
    assert code == 1
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert "put train-images-idx3-ubyte.gz by hand at" in lines[0]
    monkeypatch.setenv(downloads.MIRROR_ENV, server.url)
    code, out, err = run_main(["train", str(path), "--out", str(tmp_path / "run2")])
    assert code == 0, err
    code, out, err = run_main(["check", str(path)])
    assert code == 0 and "not downloaded" not in out


def test_two_threads_loading_at_once_download_each_file_once(env, server):
    import threading

    files, folder = env
    errors: list[BaseException] = []

    def load() -> None:
        try:
            datasets.load_arrays("mnist")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and _cached(folder) == files
    assert sorted(p for p, _ in server.httpd.requests) == sorted(f"/mnist/{n}" for n in files)
