"""Loading data can be stopped: the CSV and image loaders and every preparation step ask the
caller's ``should_stop`` between chunks, so a Stop click or a closing window is honoured within
one chunk instead of after the whole file; a trainer stopped while loading ends as a stopped
run (summary written), not as a failure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data import importers, prepare_data
from engine.errors import Cancelled, DeepwireError
from engine.io import load_design
from engine.training import Callback, Trainer
from resources import template_path

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py

BIG_ROWS = 300_000


class StopAfter:
    """A ``should_stop`` that answers False ``calls`` times, then True; counts every call."""

    def __init__(self, calls: int | None) -> None:
        self.after = calls
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.after is not None and self.calls > self.after


def write_table(path: Path, rows: int, seed: int = 0) -> Path:
    """``rows`` rows of three numeric features and a 3-class label: a block of up to 1000
    random rows made with numpy, repeated (fast even for 300,000 rows)."""
    rng = np.random.default_rng(seed)
    block = min(rows, 1000)
    data = np.column_stack([rng.random((block, 3)), rng.integers(0, 3, block)])
    lines = "".join(f"{a:.4f},{b:.4f},{c:.4f},{int(y)}\n" for a, b, c, y in data)
    path.write_text("a,b,c,label\n" + lines * (rows // block), encoding="utf-8")
    return path


def csv_spec(path: Path) -> dict:
    return {"source": "csv", "path": path.name, "target": "label", "task": "classification"}


def test_a_big_csv_stops_after_the_first_chunk_instead_of_reading_everything(tmp_path):
    write_table(tmp_path / "big.csv", BIG_ROWS)
    stop = StopAfter(1)  # the caller asks to stop once the first chunk is in
    with pytest.raises(Cancelled, match="stopped on request"):
        prepare_data(csv_spec(tmp_path / "big.csv"), tmp_path, should_stop=stop)
    chunks = BIG_ROWS // importers.CSV_CHUNK_ROWS
    assert chunks >= 50
    assert stop.calls == 2  # the second chunk boundary ended it: 2 of 60 chunks were parsed


def test_the_csv_loader_asks_once_per_chunk_and_once_per_column(tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "CSV_CHUNK_ROWS", 100)
    write_table(tmp_path / "t.csv", 1000)
    never = StopAfter(None)
    raw = importers.load_csv(importers_spec(tmp_path / "t.csv"), tmp_path, never)
    assert len(raw.x) == 1000
    # 1001 records (header included) → 10 chunk boundaries, then one look per feature column
    assert never.calls == 10 + 3


def importers_spec(path: Path) -> dict:
    from engine.data.spec import normalize_spec

    return normalize_spec(csv_spec(path))


def test_every_preparation_step_can_be_the_one_that_stops(tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "CSV_CHUNK_ROWS", 100)
    write_table(tmp_path / "t.csv", 600)
    spec = {**csv_spec(tmp_path / "t.csv"), "split": {"val": 0.2, "test": 0.2}}
    never = StopAfter(None)
    data = prepare_data(spec, tmp_path, should_stop=never)
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 600
    looks = never.calls
    assert looks >= 6 + 3 + 5  # chunks, columns, and the steps after loading
    for k in (0, *range(6 + 3, looks)):  # a chunk, then each step after the columns
        stop = StopAfter(k)
        with pytest.raises(Cancelled):
            prepare_data(spec, tmp_path, should_stop=stop)
        assert stop.calls == k + 1  # it stopped at the first look after the request


def test_an_image_folder_stops_between_images(tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "IMAGE_CHUNK", 4)
    for cls in ("a", "b"):
        (tmp_path / "img" / cls).mkdir(parents=True)
        for i in range(10):
            Image.new("L", (4, 4), 40 * i % 255).save(tmp_path / "img" / cls / f"{i}.png")
    stop = StopAfter(1)
    with pytest.raises(Cancelled):
        prepare_data(
            {"source": "image_folder", "path": "img", "size": [4, 4], "color": "grayscale"},
            tmp_path,
            should_stop=stop,
        )
    assert stop.calls == 2  # 8 of the 20 images were decoded


def test_cancelled_is_a_deepwire_error_with_one_line():
    assert issubclass(Cancelled, DeepwireError)
    with pytest.raises(Cancelled) as info:
        prepare_data({"source": "builtin", "name": "digits"}, should_stop=lambda: True)
    assert "\n" not in str(info.value)


class Record(Callback):
    def __init__(self) -> None:
        self.ended: list[dict] = []
        self.failed: list[BaseException] = []

    def on_train_end(self, summary) -> None:
        self.ended.append(summary)

    def on_exception(self, error) -> None:
        self.failed.append(error)


def test_a_run_stopped_while_its_data_loads_ends_as_stopped_with_its_summary(tmp_path):
    write_table(tmp_path / "t.csv", 300)
    design = load_design(template_path("mlp"))
    design.data = csv_spec(tmp_path / "t.csv")
    design.training.update(epochs=3, device="cpu")
    record = Record()
    trainer = Trainer(design, callbacks=[record], base_dir=tmp_path, out_dir=tmp_path / "run")
    trainer.request_stop()  # Stop clicked before the data was ready
    summary = trainer.fit()
    assert trainer.data is None  # the data was never finished
    assert summary.stopped and summary.error is None
    assert summary.epochs_completed == 0
    assert record.ended == [summary] and not record.failed
    assert (tmp_path / "run" / "summary.json").is_file()
