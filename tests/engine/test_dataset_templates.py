"""The templates on the named datasets: valid, round-trip byte for byte, compile, and are
checked without downloading anything; CNN on MNIST trains on MNIST-format files served locally."""

from __future__ import annotations

import json

import pytest
import torch

from engine.compile import compile_design
from engine.data import datasets, downloads
from engine.data.builtin import DOWNLOADED, check_builtin
from engine.data.spec import normalize_spec
from engine.io import dumps, load_design
from engine.shapes import analyze
from resources import DATASET_TEMPLATES, TEMPLATES, template_path
from tests.engine.dataset_files import FileServer, mnist_files, register


@pytest.fixture(params=sorted(DATASET_TEMPLATES))
def template(request):
    return request.param, load_design(template_path(request.param))


def test_dataset_templates_are_not_in_the_family_list():
    # the family templates are trained and exported by many tests: they must never download
    assert not set(DATASET_TEMPLATES) & set(TEMPLATES)
    assert set(DATASET_TEMPLATES) == {"cnn_mnist", "cnn_cifar10", "mlp_fashion_mnist"}


def test_dataset_template_is_valid_round_trips_and_compiles(template):
    stem, design = template
    assert template_path(stem).read_text(encoding="utf-8") == dumps(design)
    analysis = analyze(design)
    assert analysis.valid, [str(p) for p in analysis.problems]
    spec = normalize_spec(design.data)
    assert spec["name"] in DOWNLOADED and spec["split"]["test"] == 0
    check_builtin(spec)
    module = compile_design(design)
    module.eval()
    with torch.no_grad():
        out = module(*module.example_inputs(2))
    assert tuple(out.shape) == (2, 10)


def test_check_of_a_dataset_template_downloads_nothing(template, run_main, monkeypatch, tmp_path):
    stem, _ = template
    server = FileServer()
    try:
        monkeypatch.setenv(downloads.CACHE_ENV, str(tmp_path / "cache"))
        monkeypatch.setenv(downloads.MIRROR_ENV, server.url)
        code, out, err = run_main(["check", str(template_path(stem)), "--json"])
        assert code == 0, err
        assert json.loads(out)["valid"] is True
        assert server.httpd.requests == [] and not (tmp_path / "cache").exists()
    finally:
        server.close()


def test_cnn_on_mnist_trains_on_mnist_format_files(run_main, monkeypatch, tmp_path):
    files, _ = mnist_files(n_train=100)
    register(monkeypatch, "mnist", files)
    server = FileServer()
    server.serve("mnist", files)
    datasets._arrays_cached.cache_clear()
    try:
        monkeypatch.setenv(downloads.CACHE_ENV, str(tmp_path / "cache"))
        monkeypatch.setenv(downloads.MIRROR_ENV, server.url)
        argv = ["train", str(template_path("cnn_mnist")), "--epochs", "1", "--device", "cpu"]
        code, out, err = run_main([*argv, "--out", str(tmp_path / "run")])
        assert code == 0, err
        summary = json.loads((tmp_path / "run" / "summary.json").read_text())
        assert "val_accuracy" in json.dumps(summary)
        assert len(server.httpd.requests) == 4
    finally:
        server.close()
        datasets._arrays_cached.cache_clear()
