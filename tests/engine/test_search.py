"""Search (Optuna): the design's search section, the study runner and ``main.py search``.

Every trial here trains a tiny MLP on iris for 1–2 epochs; studies hold 2–4 trials.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from engine.editing.search_section import default_entry, with_entry, with_option, without_entry
from engine.io import dumps, load_design, loads, save_design
from engine.search import (
    SearchCallback,
    SearchRunner,
    StorageError,
    best_trial_design,
    make_sampler,
    open_storage,
)
from engine.search_space import SearchError, apply_params, parse_search

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py

ROOT = Path(__file__).resolve().parents[2]

SPACE = {
    "lr": {"low": 0.001, "high": 0.1, "log": True},
    "hidden.out_features": {"low": 4, "high": 16, "step": 4},
    "optimizer": {"choices": ["adam", "sgd"]},
}


def iris_doc(space=None, epochs=1, **search) -> dict:
    """A tiny iris MLP design document with a search section."""
    return {
        "format": "deepwire.design",
        "version": 1,
        "name": "iris-mlp",
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [4]}},
            {"id": "hidden", "type": "Linear", "params": {"out_features": 8}},
            {"id": "act", "type": "ReLU"},
            {"id": "drop", "type": "Dropout", "params": {"p": 0.1}},
            {"id": "logits", "type": "Linear", "params": {"out_features": 3}},
            {"id": "y", "type": "Output"},
        ],
        "edges": [
            {"source": "x", "target": "hidden"},
            {"source": "hidden", "target": "act"},
            {"source": "act", "target": "drop"},
            {"source": "drop", "target": "logits"},
            {"source": "logits", "target": "y"},
        ],
        "data": {"source": "builtin", "name": "iris", "split": {"val": 0.3, "test": 0.0}},
        "training": {"epochs": epochs, "batch_size": 32, "device": "cpu", "log_every": 1000},
        "search": {"space": SPACE if space is None else space, **search},
    }


def iris(space=None, epochs=1, **search):
    return loads(json.dumps(iris_doc(space, epochs, **search)))


def write_iris(path: Path, space=None, epochs=1, **search) -> Path:
    path.write_text(json.dumps(iris_doc(space, epochs, **search)), encoding="utf-8")
    return path


# -- the section --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "section, expected",
    [
        ({}, 'no "search" section'),
        ({"space": {}}, "search: space is empty; add at least one entry"),
        ({"space": {"lr": {"low": 0.1, "high": 0.001}}}, 'search: "lr": low 0.1 is above high'),
        (
            {"space": {"lr": {"low": 0, "high": 0.1, "log": True}}},
            'search: "lr": a log range needs low above 0',
        ),
        (
            {"space": {"hiden.out_features": {"low": 1, "high": 4}}},
            "no node 'hiden' in this design (did you mean 'hidden'?)",
        ),
        (
            {"space": {"hidden.units": {"low": 1, "high": 4}}},
            "node 'hidden' (Linear) has no parameter 'units'; searchable: out_features, bias",
        ),
        (
            {"space": {"x.shape": {"choices": [[4]]}}},
            "parameter 'shape' of node 'x' is a shape, which cannot be searched",
        ),
        (
            {"space": {"optimizer": {"choices": ["adam", "adamx"]}}},
            'choice "adamx" is not allowed for optimizer; allowed: sgd | adam | adamw | rmsprop',
        ),
        (
            {"space": {"drop.p": {"low": 0.0, "high": 1.0}}},
            'search: "drop.p": high 1 is outside what drop.p accepts',
        ),
        ({"space": {"task": {"choices": ["regression"]}}}, "'task' cannot be searched"),
        ({"space": {"lrate": {"low": 0.1, "high": 1}}}, "not a searchable training setting"),
        (
            {"space": {"hidden.out_features": {"low": 4, "high": 30, "step": 8}}},
            "is not a multiple of step 8",
        ),
        (
            {"space": {"hidden.out_features": {"low": 4.5, "high": 30}}},
            "low 4.5 must be a whole number",
        ),
        ({"space": {"batch_size": {"choices": [16, 16]}}}, "choice 16 is listed twice"),
        ({"space": {"batch_size": {"choices": []}}}, "choices is empty"),
        (
            {"space": {"optimizer": {"low": 1, "high": 2}}},
            "this setting takes choices, not a range",
        ),
        (
            {"space": {"lr": {"low": 0.1, "high": 1, "choices": [0.1]}}},
            "give either choices or a range (low, high), not both; remove low, high",
        ),
        ({"space": {"lr": {"low": 0.1}}}, 'a range needs "low" and "high" (high is missing)'),
        ({"space": {"lr": {"low": 0.1, "high": 1, "lg": True}}}, "space.lr.lg is not a known"),
        ({"space": {"lr": 0.1}}, 'an entry must be an object like {"low": 1, "high": 10}'),
        ({"space": SPACE, "seed": -1}, "search: seed is -1; allowed: an integer from 0"),
        ({"space": SPACE, "pruner": "median"}, "search: 'pruner' is not a known key"),
    ],
)
def test_an_invalid_search_section_is_one_line_naming_the_entry(section, expected):
    design = iris()
    design.search = section
    with pytest.raises(SearchError) as info:
        parse_search(design)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_the_section_round_trips_through_the_file_and_copies(tmp_path):
    design = iris(seed=3, pruning=False)
    text = dumps(design)
    assert loads(text).search == design.search and dumps(loads(text)) == text
    assert design.copy().search == design.search and design.copy().search is not design.search
    space = parse_search(design)
    assert space.keys == ("lr", "hidden.out_features", "optimizer")
    assert (space.seed, space.pruning) == (3, False)
    plain = iris()
    plain.search = {}
    assert '"search"' not in dumps(plain)


def test_check_reports_an_invalid_search_section(tmp_path, run_main):
    path = write_iris(tmp_path / "d.json", {"lr": {"low": 1.0, "high": 0.1}})
    code, _, err = run_main(["check", str(path)])
    assert code == 1
    assert 'search: "lr": low 1 is above high 0.1' in err


def test_editing_helpers_give_new_sections_and_refuse_bad_entries():
    design = iris({"lr": {"low": 0.001, "high": 0.1, "log": True}})
    before = json.dumps(design.search)
    section = with_entry(design, "drop.p", {"low": 0.0, "high": 0.5})
    assert list(section["space"]) == ["lr", "drop.p"]
    assert json.dumps(design.search) == before  # nothing changed in place
    with pytest.raises(SearchError, match="low 0.6 is above high 0.5"):
        with_entry(design, "drop.p", {"low": 0.6, "high": 0.5})
    assert without_entry(design, "lr") == {}
    assert with_option(design, "seed", 7)["seed"] == 7
    with pytest.raises(SearchError, match="seed is -2"):
        with_option(design, "seed", -2)
    with pytest.raises(SearchError, match="not in the search space"):
        without_entry(design, "epochs")


@pytest.mark.parametrize("template", ["mlp", "cnn", "lstm", "autoencoder", "som"])
def test_default_entry_of_every_searchable_target_is_valid(template):
    design = load_design(ROOT / "resources" / "templates" / f"{template}.json")
    keys = ["lr", "batch_size", "optimizer", "weight_decay", "epochs", "momentum"]
    from engine.search_space import searchable_params

    for node in design:
        keys += [f"{node.id}.{p}" for p in searchable_params(design, node.id)]
    for key in keys:
        entry = default_entry(design, key)
        design.search = with_entry(design, key, entry)
    assert len(parse_search(design).dimensions) == len(keys)


def test_apply_params_sets_training_settings_and_layer_parameters():
    design = iris()
    out = apply_params(design, {"lr": 0.02, "hidden.out_features": 12, "optimizer": "sgd"})
    assert out.training["lr"] == 0.02 and out.training["optimizer"] == "sgd"
    assert out.node("hidden").params["out_features"] == 12
    assert design.node("hidden").params["out_features"] == 8 and "lr" not in design.training


def test_the_sampler_is_reproducible_and_differs_between_trial_numbers():
    space = parse_search(iris())

    def first_points(n):
        study = optuna.create_study(sampler=make_sampler(space))
        return [study.ask(space.distributions()).params for _ in range(n)]

    a, b = first_points(3), first_points(3)
    assert a == b
    assert a[0] != a[1]


# -- the runner ---------------------------------------------------------------------------------


class Recorder(SearchCallback):
    def __init__(self):
        self.started, self.ended, self.epochs = [], [], []

    def on_trial_start(self, trial):
        self.started.append(trial.number)

    def on_trial_epoch(self, number, epoch, epochs, value):
        self.epochs.append((number, epoch, value))

    def on_trial_end(self, trial):
        self.ended.append(trial)


def test_a_study_runs_its_trials_as_runs_on_disk_and_the_best_applies(tmp_path):
    rec = Recorder()
    design = iris()
    runner = SearchRunner(design, 3, runs_dir=tmp_path / "runs", callbacks=[rec])
    outcome = runner.run()
    assert [t.number for t in outcome.trials] == [0, 1, 2]
    assert outcome.counts == {"complete": 3} and outcome.monitor == "val_loss"
    assert rec.started == [0, 1, 2] and [t.state for t in rec.ended] == ["complete"] * 3
    assert [(n, e) for n, e, _ in rec.epochs] == [(0, 1), (1, 1), (2, 1)]
    for trial in outcome.trials:
        folder = Path(trial.run_dir)
        assert folder.parent == (tmp_path / "runs").resolve()
        assert folder.name.startswith(f"iris-mlp-trial-{trial.number:04d}-")
        summary = json.loads((folder / "summary.json").read_text())
        assert trial.value == pytest.approx(summary["best"]["val_loss"])
        info = json.loads((folder / "trial.json").read_text())
        assert (info["study"], info["number"], info["state"]) == (
            "iris-mlp-search",
            trial.number,
            "complete",
        )
        assert (folder / "best.pt").is_file()
    best = outcome.best
    assert best.value == min(t.value for t in outcome.trials)
    better = best_trial_design(runner.study, design)
    assert better.node("hidden").params["out_features"] == best.params["hidden.out_features"]
    assert better.training["lr"] == best.params["lr"]
    assert better.training["optimizer"] == best.params["optimizer"]
    assert better.node("drop").params == design.node("drop").params  # untouched
    assert better.search == design.search


class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return True


def test_a_pruned_trial_stops_after_the_epoch_the_pruner_saw(tmp_path):
    rec = Recorder()
    runner = SearchRunner(
        iris(epochs=3), 2, runs_dir=tmp_path / "runs", callbacks=[rec], pruner=AlwaysPrune()
    )
    outcome = runner.run()
    assert [t.state for t in outcome.trials] == ["pruned", "pruned"]
    states = [t.state for t in runner.study.get_trials()]
    assert states == [TrialState.PRUNED, TrialState.PRUNED]
    for trial in outcome.trials:
        lines = (Path(trial.run_dir) / "metrics.jsonl").read_text().splitlines()
        assert len(lines) == 1  # epochs 2 and 3 never ran
        assert trial.value == pytest.approx(json.loads(lines[0])["val_loss"])
        assert json.loads((Path(trial.run_dir) / "summary.json").read_text())["stopped"]
    assert outcome.best is None
    with pytest.raises(SearchError, match="no complete trial yet"):
        best_trial_design(runner.study, iris())


def test_values_that_break_the_design_fail_that_trial_with_the_reason(tmp_path):
    doc = iris_doc({"conv.kernel_size": {"choices": [3, 6]}})
    doc["nodes"][1:2] = [
        {"id": "shape", "type": "Reshape", "params": {"shape": [1, 4]}},
        {"id": "conv", "type": "Conv1d", "params": {"out_channels": 2, "padding": 0}},
        {"id": "flat", "type": "Flatten"},
        {"id": "hidden", "type": "Linear", "params": {"out_features": 8}},
    ]
    doc["edges"][0:1] = [
        {"source": "x", "target": "shape"},
        {"source": "shape", "target": "conv"},
        {"source": "conv", "target": "flat"},
        {"source": "flat", "target": "hidden"},
    ]
    design = loads(json.dumps(doc))
    runner = SearchRunner(design, 2, runs_dir=tmp_path / "runs")
    runner.study.enqueue_trial({"conv.kernel_size": 6})
    runner.study.enqueue_trial({"conv.kernel_size": 3})
    outcome = runner.run()
    failed, done = outcome.trials
    assert (failed.state, done.state) == ("failed", "complete")
    assert failed.error.startswith("these values make the design invalid: node 'conv'")
    assert failed.run_dir is None and "\n" not in failed.error
    assert runner.study.trials[0].user_attrs["error"] == failed.error


class StopDuring(SearchCallback):
    """Asks the runner to stop in trial ``number``'s first epoch."""

    def __init__(self, number):
        self.number, self.runner = number, None

    def on_trial_epoch(self, number, epoch, epochs, value):
        if number == self.number and epoch == 1:
            self.runner.request_stop()


def test_a_stopped_study_resumes_and_retries_the_interrupted_trial(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    stop = StopDuring(1)
    first = SearchRunner(
        iris(epochs=2), 3, runs_dir=tmp_path / "runs", storage=storage, callbacks=[stop]
    )
    stop.runner = first
    outcome = first.run()
    assert outcome.stopped
    assert [t.state for t in outcome.trials] == ["complete", "interrupted", "waiting"]
    interrupted = outcome.trials[1]
    lines = (Path(interrupted.run_dir) / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1  # stopped before epoch 2 ran

    again = SearchRunner(iris(epochs=2), 3, runs_dir=tmp_path / "runs", storage=storage)
    outcome = again.run()
    assert not outcome.stopped
    states = [t.state for t in outcome.trials]
    assert states == ["complete", "interrupted", "complete", "complete"]
    assert outcome.trials[2].params == interrupted.params  # retried first
    assert again.study.trials[2].user_attrs["retry_of"] == 1


def test_a_study_made_for_another_space_is_refused(tmp_path):
    storage = f"journal:///{tmp_path / 'j.log'}"
    SearchRunner(iris(), 1, storage=storage, study_name="s")
    other = iris({"lr": {"low": 0.001, "high": 0.1}})
    with pytest.raises(StorageError, match="was made for another search space"):
        SearchRunner(other, 1, storage=storage, study_name="s")


@pytest.mark.parametrize(
    "url, expected",
    [
        ("sqlite:////no/such/folder/s.db", "cannot open it"),
        ("nonsense", "not a storage; use sqlite:///FILE.db"),
        ("journal:///no/such/folder/s.log", "folder /no/such/folder does not exist"),
        ("nodriver://host/db", "cannot open it"),
    ],
)
def test_a_storage_that_cannot_be_opened_is_one_line(url, expected):
    with pytest.raises(StorageError, match="^--storage ") as info:
        open_storage(url)
    assert expected in str(info.value) and "\n" not in str(info.value)


# -- the command line ---------------------------------------------------------------------------


def test_cli_prints_each_trial_and_applies_the_best(tmp_path, run_main, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_iris(tmp_path / "d.json")
    code, out, err = run_main(
        ["search", str(path), "--trials", "2", "--out", "r", "--storage", "s.log", "--apply"]
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("trial 0  complete  value ") and "lr=" in lines[0]
    assert lines[1].startswith("trial 1  complete")
    assert lines[2].startswith("best: trial ") and "val_loss" in lines[2]
    assert lines[3] == "study 'iris-mlp-search': 2 complete"
    applied = load_design(path)
    study = optuna.load_study(study_name=applied.name + "-search", storage=open_storage("s.log"))
    assert applied.node("hidden").params["out_features"] == study.best_params["hidden.out_features"]
    assert len(list((tmp_path / "r").iterdir())) == 2


def test_cli_bad_storage_exits_2_and_apply_keeps_the_file_when_nothing_completed(
    tmp_path, run_main
):
    path = write_iris(tmp_path / "d.json")
    code, out, err = run_main(["search", str(path), "--trials", "1", "--storage", "bogus"])
    assert code == 2 and err.startswith("error: --storage bogus: not a storage")
    assert len(err.splitlines()) == 1
    bad = write_iris(tmp_path / "bad.json", {"lr": {"low": 1.0, "high": 0.1}})
    code, _, err = run_main(["search", str(bad), "--trials", "1"])
    assert code == 1 and 'search: "lr": low 1 is above high 0.1' in err
    code, _, err = run_main(["search", str(path), "--trials", "0"])
    assert code == 2 and "--trials: 0 must be at least 1" in err


def test_apply_refuses_when_no_trial_completed(tmp_path, run_main, monkeypatch):
    import engine.search as search

    path = write_iris(tmp_path / "d.json")
    before = path.read_bytes()
    original = search.SearchRunner.__init__

    def pruning_init(self, *args, **kwargs):
        original(self, *args, **{**kwargs, "pruner": AlwaysPrune()})

    monkeypatch.setattr(search.SearchRunner, "__init__", pruning_init)
    doc = iris_doc(epochs=2)
    path.write_text(json.dumps(doc))
    before = path.read_bytes()
    code, out, err = run_main(
        ["search", str(path), "--trials", "1", "--out", str(tmp_path / "r"), "--apply"]
    )
    assert code == 1 and "has no complete trial yet" in err
    assert path.read_bytes() == before


def test_two_worker_processes_share_one_journal_study(tmp_path):
    """Two ``main.py search`` processes on one journal file: every trial number 0..N-1 once,
    each finished, each with its own run folder."""
    path = write_iris(tmp_path / "d.json")
    storage = str(tmp_path / "study.log")
    argv = [sys.executable, str(ROOT / "main.py"), "search", str(path), "--trials", "4"]
    argv += ["--storage", storage, "--out", str(tmp_path / "runs")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=300) for w in workers]
    for w, (_out, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, err.decode()[-2000:]
    study = optuna.load_study(study_name="iris-mlp-search", storage=open_storage(storage))
    trials = study.get_trials()
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))
    assert 4 <= len(trials) <= 5  # each worker may finish the trial it was running
    assert all(t.state == TrialState.COMPLETE for t in trials)
    printed = [
        int(line.split()[1])
        for out, _ in outputs
        for line in out.decode().splitlines()
        if line.startswith("trial ")
    ]
    assert sorted(printed) == numbers  # each trial run by exactly one worker
    folders = {t.user_attrs["run_dir"] for t in trials}
    assert len(folders) == len(trials) and all(Path(f).is_dir() for f in folders)


def test_main_module_still_imports_no_torch_or_optuna():
    code = "import sys, main; main.build_parser(); print(any(m in sys.modules for m in ('torch', 'optuna')))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip() == "False", out.stderr


def test_save_design_keeps_the_section(tmp_path):
    design = iris()
    save_design(design, tmp_path / "x.json")
    assert load_design(tmp_path / "x.json").search == design.search


def test_trials_in_threads_share_the_study_exactly(tmp_path):
    rec = Recorder()
    runner = SearchRunner(iris(), 3, runs_dir=tmp_path / "runs", jobs=2, callbacks=[rec])
    outcome = runner.run()
    assert [(t.number, t.state) for t in outcome.trials] == [(n, "complete") for n in range(3)]
    assert sorted(rec.started) == [0, 1, 2]
    assert len({t.run_dir for t in outcome.trials}) == 3


def test_ctrl_c_stops_the_cli_search_and_the_same_command_resumes(tmp_path, run_main, monkeypatch):
    path = write_iris(tmp_path / "d.json", epochs=100_000, pruning=False)
    argv = ["search", str(path), "--trials", "2", "--storage", "s.log", "--out", "runs"]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *argv],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 240
    while not [m for m in (tmp_path / "runs").glob("*/metrics.jsonl") if m.stat().st_size]:
        assert proc.poll() is None and time.monotonic() < deadline, "no epoch finished"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()[-2000:]
    assert out.decode().startswith("trial 0  interrupted")
    assert "run the same command again to continue the study" in err.decode()
    storage = open_storage(str(tmp_path / "s.log"))
    params = optuna.load_study(study_name="iris-mlp-search", storage=storage).trials[0].params

    write_iris(path, epochs=1, pruning=False)  # the same space: the study goes on
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(argv)
    assert code == 0, err
    study = optuna.load_study(study_name="iris-mlp-search", storage=storage)
    states = [t.state for t in study.trials]
    assert states == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert study.trials[0].user_attrs["interrupted"] is True
    assert study.trials[1].params == params  # the interrupted values ran first
    assert out.splitlines()[0].startswith("trial 1  complete")


def test_a_timeout_starts_no_new_trial(tmp_path):
    runner = SearchRunner(iris(), 50, timeout=1e-9)
    outcome = runner.run()
    assert outcome.timed_out and not outcome.stopped
    assert len(outcome.trials) <= 1
