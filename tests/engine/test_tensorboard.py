"""TensorBoard event files beside metrics.jsonl, read back with TensorBoard's own reader."""

from __future__ import annotations

import json
import sys

import pytest

from engine.errors import TrainingError
from engine.io import save_design
from engine.training.config import TrainConfig
from engine.training.events import History
from engine.training.tensorboard import attach_tensorboard
from engine.training.trainer import Trainer
from tests.engine.test_runs import iris_design

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py
pytest.importorskip("tensorboard")


class LossesOnly(History):
    wants_layer_stats = False


def read_events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_scalars_histograms_and_graph_read_back(tmp_path):
    design = iris_design()
    design.training = {**design.training, "tensorboard": True, "histogram_every": 2}
    config = TrainConfig.from_design(design, {"epochs": 3})
    batches = LossesOnly()
    trainer = Trainer(design, config, callbacks=[batches], out_dir=tmp_path / "run")
    logger = attach_tensorboard(trainer, note=lambda line: None)
    assert logger is not None
    trainer.fit()
    # nothing here reads layer statistics: no step was sampled for them
    assert batches.batches and not any(b.activation_stats for b in batches.batches)
    acc = read_events(tmp_path / "run")
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    tags = acc.Tags()
    for key in ("train_loss", "val_loss", "val_accuracy", "lr"):
        events = acc.Scalars(key)
        assert [e.step for e in events] == [1, 2, 3]
        assert [e.value for e in events] == pytest.approx([m[key] for m in metrics], rel=1e-6)
    name = "main/layers.h.weight"  # <network>/<parameter>
    assert {name, "main/layers.logits.bias"} <= set(tags["histograms"]), tags["histograms"]
    steps = [h.step for h in acc.Histograms(name)]
    assert steps == [2, 3]  # every 2nd epoch, and the weights the run ended with
    assert acc.Histograms(name)[-1].histogram_value.num == 8 * 4  # Linear(4 → 8) weights
    assert tags["graph"] and logger.notes == []


def test_a_network_that_cannot_be_traced_is_a_note_not_a_failure(tmp_path):
    import torch

    design = iris_design()
    trainer = Trainer(design, TrainConfig.from_design(design, {"epochs": 1}), out_dir=tmp_path)
    notes: list[str] = []
    logger = attach_tensorboard(trainer, force=True, note=notes.append)
    logger.example_input = lambda: torch.zeros(1, 7)  # the wrong width: tracing fails
    summary = trainer.fit()
    assert summary.state == "done" and summary.epochs_completed == 1
    assert len(notes) == 1 and notes[0].startswith("TensorBoard: no graph, add_graph could not")
    acc = read_events(tmp_path)
    assert not acc.Tags()["graph"] and len(acc.Scalars("train_loss")) == 1


def test_off_by_default_and_settings_are_checked(tmp_path):
    design = iris_design()
    trainer = Trainer(design, TrainConfig.from_design(design), out_dir=tmp_path)
    assert attach_tensorboard(trainer) is None
    assert TrainConfig().tensorboard is False and TrainConfig().histogram_every == 1
    with pytest.raises(TrainingError, match="tensorboard"):
        TrainConfig.from_dict({"tensorboard": "yes"})
    with pytest.raises(TrainingError, match="histogram_every"):
        TrainConfig.from_dict({"histogram_every": -1})


def test_train_tensorboard_flag_writes_event_files(tmp_path, run_main):
    path = tmp_path / "iris.json"
    save_design(iris_design(), path)
    out = tmp_path / "run"
    code, stdout, err = run_main(
        ["train", str(path), "--epochs", "1", "--out", str(out), "--tensorboard"]
    )
    assert code == 0, err
    assert list(out.glob("events.out.tfevents.*"))
    assert len(read_events(out).Scalars("val_loss")) == 1
    assert json.loads((out / "summary.json").read_text())["config"]["tensorboard"] is True


def test_missing_tensorboard_package_is_one_line_with_the_install_command(
    tmp_path, run_main, monkeypatch
):
    path = tmp_path / "iris.json"
    save_design(iris_design(), path)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    out = tmp_path / "run"
    code, stdout, err = run_main(["train", str(path), "--out", str(out), "--tensorboard"])
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert 'pip install "deepwire[tensorboard]"' in err
    assert not out.exists()  # refused before anything was written
