"""The run store (engine/runs.py) and ``main.py runs``: every run of a design, as its files say."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from engine.errors import TrainingError
from engine.io import design_from_dict, design_to_dict, save_design
from engine.runs import (
    INDEX,
    RunRecord,
    RunStoreError,
    design_changed_since,
    list_runs,
    read_metrics,
    store_for,
)
from engine.training.config import TrainConfig
from engine.training.events import Callback
from engine.training.trainer import Trainer
from tests.helpers import IRIS, iris_design

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py


class _StopAtFirstBatch(Callback):
    def __init__(self) -> None:
        self.trainer = None

    def on_batch_end(self, event) -> None:
        self.trainer.request_stop()


class _Explode(Callback):
    def on_epoch_end(self, event) -> None:
        raise RuntimeError("disk on fire")


def _train(design, out: Path, epochs: int = 1, callbacks=()) -> Trainer:
    config = TrainConfig.from_design(design, {"epochs": epochs, "log_every": 1})
    trainer = Trainer(design, config, out_dir=out, callbacks=list(callbacks))
    for cb in callbacks:
        if isinstance(cb, _StopAtFirstBatch):
            cb.trainer = trainer
    return trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A store with a finished, a stopped and a failed run of ``iris.json`` (1 epoch each)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("store")
    design = iris_design()
    design_path = base / "iris.json"
    save_design(design, design_path)
    store = store_for(design_path, design.name, root=base / "runs")
    t0 = time.time()
    finished = store.new_run_folder(t0 - 30)
    _train(design, finished).fit()
    stopped = store.new_run_folder(t0 - 20)
    _train(design, stopped, callbacks=[_StopAtFirstBatch()]).fit()
    failed = store.new_run_folder(t0 - 10)
    with pytest.raises(TrainingError, match="disk on fire"):
        _train(design, failed, callbacks=[_Explode()]).fit()
    torch.set_num_threads(threads)
    return {"store": store, "design": design, "path": design_path, "base": base}


def fresh_store(trained, tmp_path):
    """A copy of the trained store in ``tmp_path`` (tests may change it)."""
    root = tmp_path / "runs"
    shutil.copytree(trained["store"].root, root)
    return store_for(trained["path"], trained["design"].name, root=root)


def by_name(runs):
    return {r.name: r for r in runs}


def test_finished_stopped_and_failed_runs_are_listed_newest_first(trained):
    runs = list_runs(trained["store"])
    assert [r.status for r in runs] == ["failed", "stopped", "finished"]
    assert [r.started for r in runs] == sorted((r.started for r in runs), reverse=True)
    done = runs[2]
    assert done.epochs_completed == 1 and done.epochs == 1 and done.device == "cpu"
    assert done.monitor == "val_loss" and done.best_value == done.best["val_loss"]
    assert done.final["epoch"] == 1 and done.duration_s > 0
    assert abs(done.started - (time.time() - done.duration_s)) < 600
    assert done.checkpoint("best") == done.path / "best.pt"
    assert "disk on fire" in runs[0].reason and runs[0].snapshot["name"] == "iris net"
    assert runs[1].epochs_completed == 0 and runs[1].checkpoint("best") is None


def test_every_run_keeps_the_design_it_trained(trained):
    run = list_runs(trained["store"])[-1]
    snap = design_from_dict(run.snapshot, "design.json")
    assert design_to_dict(snap) == design_to_dict(trained["design"])
    assert design_changed_since(run, trained["design"]) is False
    moved = trained["design"].copy()
    moved.node("h").position = (999.0, 5.0)  # layout is not a change
    assert design_changed_since(run, moved) is False
    wider = trained["design"].copy()
    wider.node("h").params["out_features"] = 16
    assert design_changed_since(run, wider) is True


def test_settings_diff_names_what_differs_from_the_design_now(trained):
    run = list_runs(trained["store"])[-1]
    design = trained["design"]
    # the run was started with epochs 1 over the design's 2 (as train --epochs 1 does)
    assert run.settings_diff(design) == {"epochs": (1, 2)}
    changed = design.copy()
    changed.training = {**design.training, "lr": 0.1, "optimizer": "sgd", "epochs": 1}
    changed.data = {**IRIS, "preprocess": {"scale": "minmax"}}
    diff = run.settings_diff(changed)
    assert diff["lr"] == (0.01, 0.1) and diff["optimizer"] == ("adam", "sgd")
    assert diff["momentum"] == (0.0, 0.9)  # sgd's default momentum
    assert diff["data.preprocess.scale"] == ("standard", "minmax")
    assert "epochs" not in diff and "sample_every" not in diff


def test_a_run_killed_without_a_summary_is_interrupted_and_a_live_one_running(trained, tmp_path):
    store = fresh_store(trained, tmp_path)
    run = next(r for r in store.list_runs() if r.status == "finished").path
    (run / "summary.json").unlink()
    start = json.loads((run / "run-start.json").read_text())
    start["pid"] = 2**22 + 12345  # no such process
    (run / "run-start.json").write_text(json.dumps(start))
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"epoch": 2, "train_lo')  # cut off while writing
    rec = RunRecord.read(run)
    assert rec.status == "interrupted" and rec.epochs_completed == 1 and rec.epochs == 1
    assert rec.best["epoch"] == 1 and rec.monitor == "val_loss"
    start["pid"] = os.getpid()  # this process is alive: the run is still going
    (run / "run-start.json").write_text(json.dumps(start))
    assert RunRecord.read(run).status == "running"
    start["host"] = "elsewhere"  # another machine: judged by how fresh its files are
    (run / "run-start.json").write_text(json.dumps(start))
    assert RunRecord.read(run).status == "running"
    assert RunRecord.read(run, now=time.time() + 3600).status == "interrupted"


def test_a_running_run_is_never_renamed_or_deleted(trained, tmp_path, monkeypatch):
    store = fresh_store(trained, tmp_path)
    run = store.list_runs()[0].path
    (run / "summary.json").unlink()
    start = json.loads((run / "run-start.json").read_text())
    (run / "run-start.json").write_text(json.dumps({**start, "pid": os.getpid()}))
    trashed = []
    monkeypatch.setattr("send2trash.send2trash", trashed.append)
    with pytest.raises(RunStoreError, match="still running: stop it before you delete it"):
        store.delete(run)
    with pytest.raises(RunStoreError, match="still running"):
        store.rename(run, "other")
    assert run.is_dir() and not trashed


def test_corrupt_run_folders_are_listed_unreadable_with_a_reason(trained, tmp_path):
    store = fresh_store(trained, tmp_path)
    runs = store.list_runs()
    (runs[0].path / "summary.json").write_text("{not json")
    (runs[1].path / "metrics.jsonl").write_text('{"epoch": 1}\nrubbish\n{"epoch": 2}\n')
    (runs[2].path / "summary.json").write_text('{"epochs": "many", "stopped": []}')
    empty = store.root / f"{store.stem}-20200101-000000"
    empty.mkdir()
    (store.root / f"{store.stem}-20200101-000001").write_text("a file, not a folder")
    listed = by_name(store.list_runs())
    assert listed[runs[0].name].status == "unreadable"
    assert "summary.json is not valid JSON" in listed[runs[0].name].reason
    assert listed[runs[1].name].reason == "metrics.jsonl line 2 is not a JSON object"
    assert listed[empty.name].status == "unreadable" and "not a run" in listed[empty.name].reason
    assert listed[runs[2].name].status == "unreadable"
    assert all("\n" not in r.reason for r in listed.values())


def test_metrics_reader_skips_only_a_cut_off_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1}\n{"epoch": 2}\n{"epo')
    assert [r["epoch"] for r in read_metrics(path)] == [1, 2]
    path.write_text('{"epoch": 1}\n[1, 2]\n{"epoch": 3}\n')
    with pytest.raises(RunStoreError, match="line 2"):
        read_metrics(path)


def test_rename_note_and_star_keep_the_run_in_the_store(trained, tmp_path):
    store = fresh_store(trained, tmp_path)
    run = store.list_runs()[-1]
    renamed = store.rename(run, "baseline lr 0.01")
    assert renamed.path == store.root / "baseline lr 0.01" and not run.path.exists()
    store.set_note(renamed, "first try")
    store.set_star(renamed)
    again = by_name(store.list_runs())["baseline lr 0.01"]
    assert again.status == "finished" and again.note == "first try" and again.star
    assert again.checkpoint("best") == again.path / "best.pt"  # paths follow the folder
    other = store.list_runs()[0]
    with pytest.raises(RunStoreError, match="exists already"):
        store.rename(other, "baseline lr 0.01")
    for bad in ("", "a/b", "..", "x\ny"):
        with pytest.raises(RunStoreError, match="run name"):
            store.rename(other, bad)
    assert other.path.is_dir()
    # a run of another design in the same root is not this design's
    foreign = store_for("other.json", root=store.root)
    assert foreign.list_runs() == []


def test_delete_moves_the_folder_to_the_trash(trained, tmp_path, monkeypatch):
    store = fresh_store(trained, tmp_path)
    run = store.list_runs()[-1]
    trashed = []
    monkeypatch.setattr("send2trash.send2trash", lambda p: trashed.append(p))
    store.delete(run)
    assert trashed == [str(run.path)]

    def refuse(path):
        raise PermissionError(13, "no trash here")

    monkeypatch.setattr("send2trash.send2trash", refuse)
    with pytest.raises(RunStoreError, match="could not move it to the trash.*nothing was deleted"):
        store.delete(store.list_runs()[0])


def test_delete_with_a_real_freedesktop_trash(trained, tmp_path, monkeypatch):
    """send2trash's own freedesktop trash, pointed at a temporary XDG_DATA_HOME (send2trash reads
    the variable at import, so its module globals are patched too)."""
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("the freedesktop trash is Linux's")
    import send2trash.plat_other as trash

    if os.stat(tmp_path).st_dev != os.stat(Path.home()).st_dev:
        pytest.skip("send2trash would use the temporary folder's volume trash")
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    monkeypatch.setattr(trash, "XDG_DATA_HOME", os.fsencode(xdg))
    monkeypatch.setattr(trash, "HOMETRASH_B", os.fsencode(xdg / "Trash"))
    monkeypatch.setattr(trash, "HOMETRASH", str(xdg / "Trash"))
    store = fresh_store(trained, tmp_path)
    run = store.list_runs()[-1]
    store.delete(run)
    assert not run.path.exists()
    assert (xdg / "Trash" / "files" / run.name / "metrics.jsonl").is_file()
    assert run.name not in by_name(store.list_runs())


def test_runs_outside_the_store_are_added_by_hand_and_out_folders_inside_are_found(
    trained, tmp_path
):
    store = fresh_store(trained, tmp_path)
    outside = tmp_path / "elsewhere" / "my-run"
    shutil.copytree(store.list_runs()[-1].path, outside)
    n = len(store.list_runs())
    rec = store.add_run(outside)
    assert rec.status == "finished" and json.loads((store.root / INDEX).read_text())
    assert len(store.list_runs()) == n + 1 and outside in [r.path for r in store.list_runs()]
    store.add_run(outside)  # twice is once
    assert len(store.list_runs()) == n + 1
    with pytest.raises(RunStoreError, match="not a run folder"):
        store.add_run(tmp_path)
    with pytest.raises(RunStoreError, match="no such folder"):
        store.add_run(tmp_path / "nope")
    # train --out ROOT/experiments/a: found by the design the run names
    nested = store.root / "experiments" / "a"
    shutil.copytree(outside, nested)
    assert nested in [r.path for r in store.list_runs()]
    shutil.rmtree(outside)  # an added folder that is gone is listed as such
    gone = by_name(store.list_runs())["my-run"]
    assert gone.status == "unreadable" and "gone" in gone.reason
    store.forget_run(outside)
    assert "my-run" not in by_name(store.list_runs())


def test_runs_command_lists_the_store(trained, tmp_path, monkeypatch, run_main):
    store = fresh_store(trained, tmp_path)
    monkeypatch.setenv("DEEPWIRE_DATA_DIR", str(tmp_path))  # runs_root() = tmp_path/runs
    (store.list_runs()[0].path / "summary.json").write_text("[]")
    code, out, err = run_main(["runs", str(trained["path"])])
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == [
        "name", "status", "started", "duration", "epochs", "best", "device", "changed"
    ]  # fmt: skip
    assert [line.split()[1] for line in lines[1:4]] == ["unreadable", "stopped", "finished"]
    assert "val_loss" in lines[3] and "cpu" in lines[3]
    assert "summary.json must hold a JSON object" in out
    code, out, err = run_main(["runs", str(trained["path"]), "--json"])
    obj = json.loads(out)
    assert code == 0 and obj["store"] == str(tmp_path / "runs")
    finished = obj["runs"][2]
    assert finished["status"] == "finished" and finished["settings_diff"] == {"epochs": [1, 2]}
    assert finished["design_changed"] is False and finished["best_value"] > 0


def test_runs_command_bad_input_is_one_line(tmp_path, monkeypatch, run_main):
    monkeypatch.setenv("DEEPWIRE_DATA_DIR", str(tmp_path))
    code, out, err = run_main(["runs", str(tmp_path / "missing.json")])
    assert code == 2 and "missing.json" in err and len(err.splitlines()) == 1
    design = tmp_path / "d.json"
    save_design(iris_design(), design)
    code, out, err = run_main(["runs", str(design)])
    assert code == 0 and out.startswith("no runs of d in")
    code, out, err = run_main(["runs", str(design), "--add", str(tmp_path)])
    assert code == 1 and "not a run folder" in err and len(err.splitlines()) == 1


def test_import_main_stays_torch_free():
    import subprocess
    import sys

    code = "import sys, main, engine.runs; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "False"


def test_runs_from_before_the_start_file_take_their_start_from_the_folder_name(trained, tmp_path):
    store = fresh_store(trained, tmp_path)
    old = store.root / f"{store.stem}-20200102-030405"
    shutil.copytree(store.list_runs()[-1].path, old)
    (old / "run-start.json").unlink()
    (old / "design.json").unlink()
    rec = by_name(store.list_runs())[old.name]
    assert rec.status == "finished" and rec.snapshot is None
    assert rec.started == time.mktime((2020, 1, 2, 3, 4, 5, 0, 0, -1))
    assert store.list_runs()[-1].name == old.name  # the oldest comes last
    assert design_changed_since(rec, trained["design"]) is None  # nobody can tell
    assert rec.settings_diff(trained["design"]) == {"epochs": (1, 2)}  # summary's settings
    # another design's runs in the same folder are skipped without being read
    (store.root / "cnn-20200102-030405").mkdir()
    (store.root / "cnn-20200102-030405" / "summary.json").write_text("{broken")
    assert "cnn-20200102-030405" not in by_name(store.list_runs())


def test_a_searchs_trials_are_runs_of_the_design(tmp_path):
    """The Search panel writes its trials into the run store (<stem>-trial-NNNN-<time>): the
    Runs panel lists them with the design's other runs, and not with another design's."""
    from engine.search import SearchRunner

    design = iris_design(epochs=1)
    design.search = {"space": {"lr": {"low": 0.001, "high": 0.1, "log": True}}}
    path = tmp_path / "iris.json"
    save_design(design, path)
    store = store_for(path, design.name, root=tmp_path / "runs")
    outcome = SearchRunner(design, 2, runs_dir=store.root, base_dir=tmp_path, stem="iris").run()
    trials = sorted(Path(t.run_dir).name for t in outcome.trials)
    assert len(trials) == 2 and all(name.startswith("iris-trial-") for name in trials)
    listed = store.list_runs()
    assert sorted(r.name for r in listed) == trials
    assert all(r.status == "finished" for r in listed)
    assert store_for(tmp_path / "iris-trial.json", "other", root=store.root).list_runs() == []
