"""Plain helpers several test modules share (fixtures live in the conftest files)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from engine.graph import Design
from tests.engine.builders import chain

#: The repository root (where main.py is).
REPO = Path(__file__).resolve().parents[1]


def huge_mlp(last_width: int = 10) -> Design:
    """784 → 1e6 → 1e6 → ``last_width``: shapes infer at once, but no machine trains it (two
    10¹² -weight layers)."""
    return chain(
        ("x", "Input", {"shape": [784]}),
        ("fc1", "Linear", {"out_features": 1_000_000}),
        ("fc2", "Linear", {"out_features": 1_000_000}),
        ("fc3", "Linear", {"out_features": last_width}),
    )


def export_argv(
    design: str | Path, checkpoint: str | Path, fmt: str, output: str | Path
) -> list[str]:
    """``main.py export`` arguments: ``DESIGN --checkpoint CKPT --format FMT --output OUT``."""
    return [
        "export",
        str(design),
        "--checkpoint",
        str(checkpoint),
        "--format",
        fmt,
        "--output",
        str(output),
    ]


def data_info(task: str, data: Any) -> dict[str, Any]:
    """The ``data_info`` a checkpoint of a run on the prepared ``data`` carries."""
    return {
        "task": task,
        "input_shape": list(data.input_shape),
        "target_shape": list(data.target_shape),
        "num_classes": data.num_classes,
        "class_names": data.class_names,
        "feature_names": data.feature_names,
    }


_RUN_GENERATED = textwrap.dedent("""
    import json, runpy, sys
    import numpy as np, torch
    from safetensors.torch import load_file
    for job in json.loads(sys.argv[1]):
        model = runpy.run_path(job["py"], run_name="generated")[job["cls"]]()
        model.load_state_dict(load_file(job["weights"]), strict=True)
        model.eval()
        data = np.load(job["inputs"])
        with torch.no_grad():
            out = model(*[torch.from_numpy(data[k]) for k in data.files])
        out = out if isinstance(out, tuple) else (out,)
        np.savez(job["out"], *[o.numpy() for o in out])
""")


def run_generated_models(
    jobs: list[dict[str, str]], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run exported Python modules in a fresh interpreter (nothing of Deepwire imported).

    Each job names the module ``py``, its class ``cls``, its ``weights`` (safetensors), an
    ``inputs`` ``.npz`` (the model's inputs, in order) and the ``out`` ``.npz`` the outputs are
    written to (``arr_0``, ``arr_1``…)."""
    return subprocess.run(
        [sys.executable, "-c", _RUN_GENERATED, json.dumps(jobs)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=cwd,
        env=env,
    )


def run_python(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """``python ARGS`` in a child process run from the repository root, its output captured as
    text (for what must happen in a fresh process: a crash, the ``--screenshot`` CLI)."""
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


#: The built-in iris data, standardized (small runs that train in a blink).
IRIS = {"source": "builtin", "name": "iris", "preprocess": {"scale": "standard"}}


def iris_design(lr: float = 0.01, batch_size: int = 32, epochs: int = 2) -> Design:
    """A 4 → 8 → 3 classifier of iris named "iris net" with its data and training sections."""
    design = chain(
        ("x", "Input", {"shape": [4]}),
        ("h", "Linear", {"out_features": 8}),
        ("a", "ReLU"),
        ("logits", "Linear", {"out_features": 3}),
        ("out", "Output", {}),
    )
    design.name = "iris net"
    design.data = dict(IRIS)
    design.training = {"epochs": epochs, "batch_size": batch_size, "lr": lr}
    return design


def train_start(epochs: int, batches_per_epoch: int) -> Any:
    """The TrainStartEvent of a small classification run (100 train / 20 val samples)."""
    from engine.training.events import TrainStartEvent

    return TrainStartEvent(
        task="classification",
        epochs=epochs,
        start_epoch=0,
        batches_per_epoch=batches_per_epoch,
        n_train=100,
        n_val=20,
        device="cpu",
        data_description="test data",
        loss_names=("loss",),
    )


def train_into_store(
    root: Path, name: str, layers: list, data: dict[str, Any]
) -> tuple[Path, Path]:
    """A design of ``layers`` on ``data`` saved as ``root/<name>.json`` and trained one epoch
    into a new run of its store under ``root/runs``; returns (design path, its best.pt)."""
    import torch

    from engine.io import save_design
    from engine.runs import store_for
    from engine.training import Trainer

    design = chain(*layers)
    design.name = name
    design.data = data
    design.training = {"epochs": 1, "batch_size": 64, "lr": 0.01, "task": "classification"}
    path = root / f"{name}.json"
    save_design(design, path)
    folder = store_for(path, name, root=root / "runs").new_run_folder()
    torch.set_num_threads(1)
    Trainer(design, out_dir=folder).fit()
    return path, folder / "best.pt"
