"""How a run ended: :class:`RunSummary`, returned by ``Trainer.fit`` and written to summary.json.

The command line and the GUI both get this object from the one trainer, and the trainer writes it
to ``summary.json`` with :meth:`RunSummary.write`, so the file is the same whoever started the
run. Its JSON keys (and their order) are the file format documented in docs/training.md::

    summary = trainer.fit()
    summary.epochs_completed, summary.best_epoch, summary.best_checkpoint
    RunSummary.from_json(json.loads(path.read_text()))  # the same object back
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.errors import TrainingError
from engine.files import atomic_write_bytes

#: The file the trainer writes into a run's folder.
SUMMARY_FILE = "summary.json"


@dataclass
class RunSummary:
    """Everything summary.json holds, as attributes (the JSON keys, in the file's order).

    ``best`` and ``final`` are metrics.jsonl records (``epoch``, ``train_loss``, ``val_loss``,
    the family's metrics, ``lr``, ``elapsed_s``); ``config`` is the resolved
    :meth:`TrainConfig.to_dict`. In the file the two checkpoint paths sit under ``checkpoints``
    as ``best`` and ``last``.
    """

    design: str = ""
    task: str = ""
    device: str | None = None
    world_size: int = 1
    epochs: int = 0
    epochs_completed: int = 0
    stopped: bool = False
    early_stopped: bool = False
    error: str | None = None
    monitor: str | None = None
    best_epoch: int | None = None
    best: dict[str, Any] | None = None
    final: dict[str, Any] | None = None
    restored_best: bool = False
    elapsed_s: float = 0.0
    train_samples_per_s: float = 0.0
    data: str | None = None
    n_train: int = 0
    n_val: int = 0
    best_checkpoint: str | None = None
    last_checkpoint: str | None = None
    metrics_file: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> str:
        """``stopped`` (by request), ``stopped early`` (early stopping), ``failed`` or ``done``."""
        if self.error is not None:
            return "failed"
        if self.stopped:
            return "stopped"
        return "stopped early" if self.early_stopped else "done"

    def to_json(self) -> dict[str, Any]:
        """The summary.json object: every field under its key, the checkpoints nested."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "best_checkpoint":
                out["checkpoints"] = {"best": self.best_checkpoint, "last": self.last_checkpoint}
            elif f.name != "last_checkpoint":
                out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_json(cls, obj: Any) -> RunSummary:
        """Read what :meth:`to_json` wrote; keys it does not know are ignored, missing ones take
        their defaults. A value that is not a JSON object is a :class:`TrainingError`."""
        if not isinstance(obj, dict):
            raise TrainingError(
                f"{SUMMARY_FILE} must hold a JSON object, not "
                f"{type(obj).__name__}: write it with RunSummary.write"
            )
        names = {f.name for f in fields(cls)} - {"best_checkpoint", "last_checkpoint"}
        values = {k: v for k, v in obj.items() if k in names}
        checkpoints = obj.get("checkpoints")
        if isinstance(checkpoints, dict):
            values["best_checkpoint"] = checkpoints.get("best")
            values["last_checkpoint"] = checkpoints.get("last")
        return cls(**values)

    def write(self, folder: str | Path) -> Path:
        """Write ``folder/summary.json`` atomically (the folder is created); returns its path.
        Raises :class:`OSError` when it cannot be written (the old file then stays intact)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / SUMMARY_FILE
        atomic_write_bytes(path, (json.dumps(self.to_json(), indent=2) + "\n").encode("utf-8"))
        return path
