"""The run store: every run of a design, read from the run folders' own files (no Qt, no torch).

Where runs live: the editor writes each run to ``<data folder>/runs/<stem>-YYYYmmdd-HHMMSS``
(:func:`runs_root`; the data folder is ``$DEEPWIRE_DATA_DIR`` or the platform's user data
folder). :func:`store_for` gives the :class:`RunStore` of one design (the GUI and ``main.py
runs`` use the same function). A folder under the store's root is a run of the design when

- its name is ``<stem>-YYYYmmdd-HHMMSS[-N]`` (how the editor and ``train`` name runs), or
- its ``run.json`` sidecar names the design (a renamed run keeps it), or
- it is any other run folder up to two levels below the root (``train --out ROOT/exp1``) whose
  design snapshot or summary names the design;

plus the folders added by hand with :meth:`RunStore.add_run` (kept in ``index.json`` in the
root, written atomically). A run folder holds ``metrics.jsonl``, ``best.pt``/``last.pt``,
``summary.json`` at the end, and from the trainer's start ``design.json`` (the design it trained,
an ordinary design file) and ``run-start.json`` (process id, host, start time, resolved
settings). :class:`RunRecord` reads them; status is

``finished``  summary.json without error or stop (early stopping included);
``stopped``   summary.json of a run stopped by request;
``failed``    summary.json with an error;
``running``   no summary yet and the process that started it is alive on this host (another
              host: metrics written in the last :data:`RECENT_S` seconds);
``interrupted`` no summary and its process is gone (killed, crashed, power lost);
``unreadable`` the folder's files cannot be read; ``reason`` says why in one line.

Listing never raises for a bad folder. Rename, note, star and delete change one run; a running
run is never renamed or deleted. Delete moves the folder to the system trash (``send2trash``).
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import DeepwireError, first_line
from engine.files import atomic_write_bytes, process_alive, read_regular_file

#: Sidecar with the user's name-independent notes on a run: ``note``, ``star``, ``design``.
SIDECAR = "run.json"
#: The design a run trained (an ordinary design file), written when training starts.
SNAPSHOT = "design.json"
#: Who runs it and with which resolved settings, written when training starts.
START_FILE = "run-start.json"
#: Folders added by hand, per design stem (in the store root).
INDEX = "index.json"
METRICS_FILE = "metrics.jsonl"  # engine.training.run_files.METRICS_FILE (that module loads torch)
SUMMARY_FILE = "summary.json"
DATA_DIR_ENV = "DEEPWIRE_DATA_DIR"
APPLICATION = "Deepwire"
#: A run on another host counts as running while its metrics changed this recently (seconds).
RECENT_S = 600.0
#: Largest metrics.jsonl read (a million epochs of a dozen metrics is far less).
MAX_METRICS_BYTES = 64 << 20
MAX_JSON_BYTES = 16 << 20
MAX_NOTE_CHARS = 10_000
#: How deep below the store root ``--out`` run folders are looked for.
SEARCH_DEPTH = 2
#: Training keys that change what a run reports, not what it trains: left out of settings diffs.
_LOGGING_KEYS = ("sample_every", "log_every", "tensorboard", "histogram_every")
STATUSES = ("finished", "stopped", "failed", "running", "interrupted", "unreadable")
_STAMP = r"\d{8}-\d{6}(?:-\d+)?"
_ANY_RUN = re.compile(rf".+-{_STAMP}")
_BAD_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


class RunStoreError(DeepwireError):
    """A run-store action cannot be done (bad name, running run, unreadable folder)."""


def data_dir() -> Path:
    """Deepwire's data folder: ``$DEEPWIRE_DATA_DIR`` or platformdirs' user data folder."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APPLICATION, appauthor=False))


def runs_root() -> Path:
    """The folder the editor writes its runs into: ``<data folder>/runs``."""
    return data_dir() / "runs"


def file_stem(name: str) -> str:
    """A design name as a file-name stem: ``"CNN on digits"`` → ``cnn-on-digits``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-").lower() or "design"


def store_for(
    design_path: str | os.PathLike[str] | None, name: str = "", root: str | Path | None = None
) -> RunStore:
    """The run store of the design saved at ``design_path`` (None: an unsaved design called
    ``name``) under ``root`` (default :func:`runs_root`)."""
    stem = Path(design_path).stem if design_path is not None else file_stem(name)
    return RunStore(Path(root) if root is not None else runs_root(), stem, name)


# -- reading a run folder --------------------------------------------------------------------------
def _read_json(path: Path, what: str) -> Any:
    raw = read_regular_file(path, MAX_JSON_BYTES, what, RunStoreError)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RunStoreError(f"{path.name} is not valid JSON ({first_line(exc, 80)})") from None


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl; a cut-off last line (a run killed while writing) is
    skipped, a bad line before it is a :class:`RunStoreError`."""
    raw = read_regular_file(path, MAX_METRICS_BYTES, "metrics file", RunStoreError)
    lines = raw.decode("utf-8", errors="replace").splitlines()
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            if i == len(lines) - 1:
                break
            raise RunStoreError(f"{METRICS_FILE} line {i + 1} is not a JSON object")
        out.append(record)
    return out


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` holds a run's files (metrics, summary or the start files)."""
    return path.is_dir() and any(
        (path / f).is_file() for f in (METRICS_FILE, SUMMARY_FILE, START_FILE, SNAPSHOT)
    )


def _sidecar(folder: Path) -> dict[str, Any]:
    path = folder / SIDECAR
    if not path.exists():
        return {}
    obj = _read_json(path, "run sidecar")
    if not isinstance(obj, dict):
        raise RunStoreError(f"{SIDECAR} must hold a JSON object")
    return obj


def _write_sidecar(folder: Path, values: dict[str, Any]) -> None:
    try:
        current = _sidecar(folder)
    except RunStoreError:
        current = {}  # a damaged sidecar is replaced, never the reason an edit fails
    current.update(values)
    atomic_write_bytes(folder / SIDECAR, (json.dumps(current, indent=2) + "\n").encode("utf-8"))


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


@dataclass
class RunRecord:
    """One run folder as the Runs panel and ``main.py runs`` show it.

    ``started`` is seconds since the epoch (None when unknown); ``duration_s`` the training time
    (summary's, else the last epoch's ``elapsed_s``, for a running run the time since start);
    ``best`` / ``final`` are metrics.jsonl records; ``monitor`` the metric "best" is judged on;
    ``config`` the resolved training settings it ran with; ``snapshot`` the design file's JSON
    object (None when the run kept none); ``history`` every metrics.jsonl record.
    """

    path: Path
    status: str = "unreadable"
    reason: str = ""  # unreadable: why; failed: the run's error
    started: float | None = None
    duration_s: float | None = None
    epochs_completed: int = 0
    epochs: int | None = None
    best_epoch: int | None = None
    best: dict[str, Any] | None = None
    final: dict[str, Any] | None = None
    monitor: str | None = None
    device: str | None = None
    task: str | None = None
    design_name: str | None = None
    note: str = ""
    star: bool = False
    config: dict[str, Any] | None = None
    snapshot: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    sidecar_design: str | None = None

    @property
    def name(self) -> str:
        """The run's name: its folder's."""
        return self.path.name

    @property
    def best_value(self) -> float | None:
        """The monitored metric at the best epoch (the final epoch's when none is marked)."""
        record = self.best or self.final
        if not record or not self.monitor:
            return None
        return _number(record.get(self.monitor))

    def checkpoint(self, kind: str = "best") -> Path | None:
        """``best.pt`` or ``last.pt`` of this run when it exists (paths follow renames)."""
        path = self.path / f"{kind}.pt"
        return path if path.is_file() else None

    def settings_diff(self, current: Any) -> dict[str, tuple[Any, Any]]:
        """The training settings (``lr``, ``scheduler.type`` …) and data settings (``data.…``)
        this run used that differ from design ``current``'s: key → (run's value, current value).
        Unknown on either side is shown as None."""
        return settings_diff(self, current)

    @classmethod
    def read(cls, folder: str | Path, now: float | None = None) -> RunRecord:
        """Read ``folder``; never raises: a bad folder is status ``unreadable`` with a reason."""
        rec = cls(Path(folder))
        try:
            rec._load(time.time() if now is None else now)
        except Exception as exc:  # noqa: BLE001 - a bad folder is listed, never fatal
            rec.status, rec.reason = "unreadable", first_line(exc, 200)
        return rec

    def _load(self, now: float) -> None:
        from engine.training.summary import RunSummary

        folder = self.path
        if not folder.is_dir():
            raise RunStoreError("the folder is gone (moved or deleted)")
        if not is_run_folder(folder):
            raise RunStoreError(f"no {METRICS_FILE}, {SUMMARY_FILE} or {SNAPSHOT}: not a run")
        side = _sidecar(folder)
        self.note = str(side.get("note") or "")
        self.star = bool(side.get("star", False))
        self.sidecar_design = side.get("design") if isinstance(side.get("design"), str) else None
        start = (
            _read_json(folder / START_FILE, "run start file")
            if (folder / START_FILE).exists()
            else {}
        )
        if not isinstance(start, dict):
            raise RunStoreError(f"{START_FILE} must hold a JSON object")
        if (folder / SNAPSHOT).exists():
            snap = _read_json(folder / SNAPSHOT, "design snapshot")
            self.snapshot = snap if isinstance(snap, dict) else None
            if self.snapshot is not None and isinstance(self.snapshot.get("name"), str):
                self.design_name = self.snapshot["name"]
        metrics = folder / METRICS_FILE
        self.history = read_metrics(metrics) if metrics.exists() else []
        self.started = _number(start.get("started"))
        if isinstance(start.get("config"), dict):
            self.config = start["config"]
        summary = None
        if (folder / SUMMARY_FILE).exists():
            try:
                summary = RunSummary.from_json(_read_json(folder / SUMMARY_FILE, "run summary"))
            except TypeError as exc:
                raise RunStoreError(f"{SUMMARY_FILE} has a wrong value ({exc})") from None
        if self.started is None:  # a run from before run-start.json existed
            self.started = _started_guess(folder, summary)
        self.final = self.history[-1] if self.history else None
        self.epochs_completed = len(self.history)
        if summary is not None:
            self._from_summary(summary)
        else:
            self._live_status(start, metrics, now)

    def _from_summary(self, s: Any) -> None:
        self.status = "failed" if s.error else "stopped" if s.stopped else "finished"
        self.reason = str(s.error or "")
        self.duration_s = _number(s.elapsed_s)
        self.epochs_completed = int(s.epochs_completed or self.epochs_completed)
        self.epochs = int(s.epochs) if s.epochs else None
        self.best_epoch = s.best_epoch
        self.best = s.best if isinstance(s.best, dict) else None
        self.final = s.final if isinstance(s.final, dict) else self.final
        self.monitor = s.monitor
        self.device = s.device
        self.task = s.task or None
        self.design_name = s.design or self.design_name
        if isinstance(s.config, dict) and s.config:
            self.config = s.config

    def _live_status(self, start: dict[str, Any], metrics: Path, now: float) -> None:
        """No summary: running or interrupted, from the start file's process and the metrics."""
        pid, host = start.get("pid"), start.get("host")
        if isinstance(pid, int) and host == socket.gethostname():
            alive = process_alive(pid)
        else:
            touched = max(
                (p.stat().st_mtime for p in (metrics, self.path / START_FILE) if p.exists()),
                default=0.0,
            )
            alive = now - touched < RECENT_S
        self.status = "running" if alive else "interrupted"
        self.device = start.get("device") if isinstance(start.get("device"), str) else None
        config = self.config or {}
        self.epochs = config.get("epochs") if isinstance(config.get("epochs"), int) else None
        self.task = config.get("task") if isinstance(config.get("task"), str) else None
        self.monitor = (
            "val_loss"
            if any("val_loss" in h for h in self.history)
            else ("train_loss" if self.history else None)
        )
        best = [h for h in self.history if _number(h.get(self.monitor or "")) is not None]
        if best:
            self.best = min(best, key=lambda h: h[self.monitor])
            self.best_epoch = self.best.get("epoch")
        if self.final is not None:
            self.duration_s = _number(self.final.get("elapsed_s"))
        if self.status == "running" and self.started is not None:
            self.duration_s = max(0.0, now - self.started)


def _newest_first_key(record: RunRecord) -> tuple[bool, float, int, str]:
    """Sort key (reversed: newest first): the start time, else the folder name's time stamp;
    runs started in the same second by their ``-N`` suffix (``-10`` after ``-2``)."""
    stamp = re.search(r"-(\d{8}-\d{6})(?:-(\d+))?$", record.path.name)
    started = record.started
    if started is None and stamp:
        try:
            started = time.mktime(time.strptime(stamp.group(1), "%Y%m%d-%H%M%S"))
        except (ValueError, OverflowError):
            pass
    suffix = int(stamp.group(2) or 1) if stamp else 0
    return (started is not None, started or 0.0, suffix, record.name)


def _started_guess(folder: Path, summary: Any) -> float:
    """A start time without run-start.json: the time stamp in the folder's name, else the
    summary's time less the training time, else when the folder was made."""
    stamp = re.search(r"-(\d{8}-\d{6})(?:-\d+)?$", folder.name)
    if stamp:
        try:
            return time.mktime(time.strptime(stamp.group(1), "%Y%m%d-%H%M%S"))
        except (ValueError, OverflowError):
            pass
    if summary is not None:
        return (folder / SUMMARY_FILE).stat().st_mtime - (_number(summary.elapsed_s) or 0.0)
    return folder.stat().st_mtime


# -- comparing with the current design ---------------------------------------------------------------
def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = list(value) if isinstance(value, tuple) else value


def _resolved(training: Any, design: Any, overrides: dict[str, Any] | None = None) -> dict:
    from engine.training.config import TrainConfig

    try:
        return TrainConfig.from_design(design, overrides).to_dict()
    except DeepwireError:
        return dict(training) if isinstance(training, dict) else {}


def run_config(run: RunRecord) -> dict[str, Any]:
    """The resolved training settings ``run`` trained with: its start file's or summary's, else
    resolved from its design snapshot ({} when it kept neither)."""
    run_cfg = run.config
    if run_cfg is None and run.snapshot is not None:
        from engine.io import design_from_dict

        try:
            snap = design_from_dict(run.snapshot, SNAPSHOT)
            run_cfg = _resolved(snap.training, snap)
        except DeepwireError:
            run_cfg = dict(run.snapshot.get("training") or {})
    return run_cfg or {}


def settings_diff(run: RunRecord, current: Any) -> dict[str, tuple[Any, Any]]:
    """See :meth:`RunRecord.settings_diff`; ``current`` is an :class:`~engine.graph.Design`."""
    run_cfg = run_config(run)
    training = current.training if isinstance(current.training, dict) else {}
    given = {}
    if "task" not in training and run_cfg.get("task"):
        given = {"task": run_cfg["task"]}  # the trainer took it from the data, as it would now
        if "loss" not in training and run_cfg.get("loss"):
            given["loss"] = run_cfg["loss"]
    now_cfg = _resolved(training, current, given)
    if given and not now_cfg:
        now_cfg = _resolved(training, current)
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flat("", run_cfg, a)
    _flat("", now_cfg, b)
    run_data = run.snapshot.get("data") if run.snapshot is not None else None
    if run_data is not None or run.snapshot is not None:
        _flat("data", run_data or {}, a)
        _flat("data", current.data or {}, b)
    diff: dict[str, tuple[Any, Any]] = {}
    for key in list(a) + [k for k in b if k not in a]:
        if key in _LOGGING_KEYS:
            continue  # how the run is watched, not how the model trains
        if a.get(key) != b.get(key):
            diff[key] = (a.get(key), b.get(key))
    return diff


def _normal(doc: dict[str, Any]) -> str:
    """graph + data + training of a design document, without layout, labels and names."""
    nodes = sorted(
        (
            {k: n.get(k) for k in ("id", "type", "network", "params")}
            for n in doc.get("nodes") or []
            if isinstance(n, dict)
        ),
        key=lambda n: str(n["id"]),
    )
    edges = sorted(
        json.dumps(e, sort_keys=True) for e in doc.get("edges") or [] if isinstance(e, dict)
    )
    body = {
        "networks": doc.get("networks") or {},
        "nodes": nodes,
        "edges": edges,
        "data": doc.get("data") or {},
        "training": doc.get("training") or {},
    }
    return json.dumps(body, sort_keys=True, default=str)


def design_changed_since(run: RunRecord, design: Any) -> bool | None:
    """Whether ``run`` was started from a design other than ``design`` as it is now (graph,
    data and training compared; positions, labels and the name ignored). None: the run kept
    no snapshot, so nobody can tell."""
    if run.snapshot is None:
        return None
    from engine.io import design_to_dict

    return _normal(run.snapshot) != _normal(design_to_dict(design))


def write_start_files(folder: Path, design: Any, config: dict[str, Any] | None = None) -> None:
    """What the trainer writes when a run starts: the design snapshot and the start file (process,
    host, time, resolved settings). A failure to write them never stops the training."""
    from engine.io import dumps

    try:
        atomic_write_bytes(folder / SNAPSHOT, dumps(design).encode("utf-8"))
    except (OSError, DeepwireError):
        pass
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": round(time.time(), 3),
        "config": config,
    }
    try:
        atomic_write_bytes(folder / START_FILE, (json.dumps(info, indent=2) + "\n").encode())
    except (OSError, TypeError, ValueError):
        pass


# -- the store ----------------------------------------------------------------------------------------
class RunStore:
    """The runs of one design (``stem``, ``name``) under ``root``; see the module docstring."""

    def __init__(self, root: Path, stem: str, name: str = "") -> None:
        self.root = Path(root)
        self.stem = stem
        self.name = name
        # <stem>-<time> (a run), <stem>-trial-NNNN-<time> (a search trial, engine/search.py)
        self._pattern = re.compile(rf"{re.escape(stem)}(?:-trial-\d+)?-{_STAMP}")

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r}, {self.stem!r})"

    def new_run_folder(self, when: float | None = None) -> Path:
        """The folder for a new run of this design (not created): ``<root>/<stem>-<time>``."""
        from engine.training.run_files import new_run_folder

        return new_run_folder(self.root, self.stem, when)

    # index of hand-added folders
    def _index(self) -> dict[str, list[str]]:
        path = self.root / INDEX
        if not path.exists():
            return {}
        try:
            obj = _read_json(path, "run index")
        except RunStoreError:
            return {}
        if not isinstance(obj, dict):
            return {}
        return {
            k: [p for p in v if isinstance(p, str)] for k, v in obj.items() if isinstance(v, list)
        }

    def _write_index(self, index: dict[str, list[str]]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = (json.dumps(index, indent=2) + "\n").encode("utf-8")
        atomic_write_bytes(self.root / INDEX, data)

    def added(self) -> list[Path]:
        """The folders added by hand to this design's store."""
        return [Path(p) for p in self._index().get(self.stem, [])]

    def add_run(self, path: str | Path) -> RunRecord:
        """Register a run folder that lies outside the store; returns it as read."""
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            raise RunStoreError(f"{path}: no such folder; give the folder a run wrote")
        if not is_run_folder(folder):
            raise RunStoreError(
                f"{path}: not a run folder (no {METRICS_FILE} or {SUMMARY_FILE}); "
                "give the folder train --out wrote"
            )
        index = self._index()
        paths = index.setdefault(self.stem, [])
        if str(folder) not in paths and not self._belongs(folder):
            paths.append(str(folder))
            self._write_index(index)
        return RunRecord.read(folder)

    def forget_run(self, path: str | Path) -> None:
        """Remove a hand-added folder from the index (the folder is left alone)."""
        index = self._index()
        target = str(Path(path).expanduser().resolve())
        if target in index.get(self.stem, []):
            index[self.stem].remove(target)
            self._write_index(index)

    # which folders are this design's
    def _belongs(self, folder: Path, record: RunRecord | None = None) -> bool:
        try:
            folder.resolve().relative_to(self.root.resolve())
        except (OSError, ValueError):
            return False
        if self._pattern.fullmatch(folder.name):
            return True
        rec = record or RunRecord.read(folder)
        if rec.sidecar_design is not None:
            return rec.sidecar_design == self.stem
        named = rec.design_name
        return bool(named) and (named == self.name or file_stem(named) == self.stem)

    def _other_design(self, folder: Path) -> bool:
        """Named as another design's run and never renamed: skipped without reading it."""
        return (
            not self._pattern.fullmatch(folder.name)
            and _ANY_RUN.fullmatch(folder.name) is not None
            and not (folder / SIDECAR).exists()
        )

    def _candidates(self) -> list[Path]:
        out: list[Path] = []
        if not self.root.is_dir():
            return out
        level = [self.root]
        for _depth in range(SEARCH_DEPTH):
            nxt: list[Path] = []
            for parent in level:
                try:
                    children = sorted(p for p in parent.iterdir() if p.is_dir())
                except OSError:
                    continue
                for child in children:
                    if child.name.startswith("."):
                        continue
                    if self._pattern.fullmatch(child.name) or is_run_folder(child):
                        out.append(child)
                    else:
                        nxt.append(child)
            level = nxt
        return out

    def list_runs(self, now: float | None = None) -> list[RunRecord]:
        """Every run of this design, newest first (unknown start times last)."""
        now = time.time() if now is None else now
        seen: set[Path] = set()
        records: list[RunRecord] = []
        for folder in self._candidates():
            if self._other_design(folder):
                continue
            rec = RunRecord.read(folder, now)
            if self._pattern.fullmatch(folder.name) or self._belongs(folder, rec):
                seen.add(folder.resolve())
                records.append(rec)
        for folder in self.added():
            if folder.resolve() not in seen:
                seen.add(folder.resolve())
                records.append(RunRecord.read(folder, now))
        records.sort(key=_newest_first_key, reverse=True)
        return records

    def checkpoints(self, limit: int = 5) -> list[Path]:
        """``best.pt`` then ``last.pt`` of this design's newest ``limit`` runs that have one,
        newest run first (renamed runs and search trials included). Reads the run folders: call
        it off the GUI thread."""
        out: list[Path] = []
        runs = 0
        for run in self.list_runs():
            found = [p for p in (run.path / "best.pt", run.path / "last.pt") if p.is_file()]
            if found:
                out += found
                runs += 1
                if runs >= limit:
                    break
        return out

    # editing one run
    def _check_not_running(self, run: RunRecord | Path, action: str) -> RunRecord:
        rec = run if isinstance(run, RunRecord) else RunRecord.read(run)
        if rec.status == "running":
            raise RunStoreError(
                f"run {rec.name!r} is still running: stop it before you {action} it"
            )
        return rec

    def rename(self, run: RunRecord | Path, new_name: str) -> RunRecord:
        """Rename the run's folder; a bad or taken name is a one-line :class:`RunStoreError`."""
        rec = self._check_not_running(run, "rename")
        new_name = new_name.strip()
        if not new_name or new_name in (".", "..") or new_name.startswith("."):
            raise RunStoreError(f"run name {new_name!r} is empty or starts with '.': give a name")
        if _BAD_NAME.search(new_name) or len(new_name) > 200:
            raise RunStoreError(
                f"run name {new_name!r} has a character a folder name cannot have "
                '(/ \\ : * ? " < > | or a control character) or is over 200 long; choose another'
            )
        target = rec.path.with_name(new_name)
        if target.exists():
            raise RunStoreError(f"a run or file named {new_name!r} exists already; choose another")
        added = [p.resolve() for p in self.added()]
        if rec.path.resolve() not in added and self._pattern.fullmatch(rec.path.name):
            _write_sidecar(rec.path, {"design": self.stem})  # stays this design's once renamed
        os.rename(rec.path, target)
        if rec.path.resolve() in added:
            self.forget_run(rec.path)
            index = self._index()
            index.setdefault(self.stem, []).append(str(target.resolve()))
            self._write_index(index)
        return RunRecord.read(target)

    def set_note(self, run: RunRecord | Path, note: str) -> None:
        """Keep ``note`` with the run (in its run.json)."""
        if len(note) > MAX_NOTE_CHARS:
            raise RunStoreError(f"a note holds at most {MAX_NOTE_CHARS} characters; shorten it")
        _write_sidecar(_path(run), {"note": note})

    def set_star(self, run: RunRecord | Path, star: bool = True) -> None:
        """Star (or unstar) the run (in its run.json)."""
        _write_sidecar(_path(run), {"star": bool(star)})

    def delete(self, run: RunRecord | Path) -> None:
        """Move the run's folder to the system trash; a running run is refused."""
        rec = self._check_not_running(run, "delete")
        from send2trash import send2trash

        try:
            send2trash(str(rec.path))
        except OSError as exc:  # TrashPermissionError is one too
            raise RunStoreError(
                f"{rec.path}: could not move it to the trash ({first_line(exc, 120)}); "
                "nothing was deleted"
            ) from None
        self.forget_run(rec.path)


def _path(run: RunRecord | Path) -> Path:
    path = run.path if isinstance(run, RunRecord) else Path(run)
    if not path.is_dir():
        raise RunStoreError(f"{path}: no such run folder")
    return path


def duration_text(seconds: float | None, spaced: bool = False) -> str:
    """``42s``, ``3m05s``, ``2h01m`` (``spaced``: ``42 s``, ``3 min 05 s``, ``2 h 01 min``, as the
    window's Runs table reads); ``-`` (spaced: ``—``) when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—" if spaced else "-"
    s = int(round(seconds))
    sec, mins, hours = (" s", " min ", " h ") if spaced else ("s", "m", "h")
    if s < 60:
        return f"{s}{sec}"
    if s < 3600:
        return f"{s // 60}{mins}{s % 60:02d}{sec}"
    return f"{s // 3600}{hours}{s % 3600 // 60:02d}{mins.rstrip()}"


def list_runs(store: RunStore, now: float | None = None) -> list[RunRecord]:
    """:meth:`RunStore.list_runs` as a function."""
    return store.list_runs(now)
