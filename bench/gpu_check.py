"""GPU readiness in one command: ``python bench/gpu_check.py [--quick] [--device cuda]``.

On a CUDA machine (≤ 5 min; nothing beyond ``pip install -e .`` and no network) it checks, each
as one step that prints ``ok`` or ``FAIL`` with one line:

1. ``train``: every template in ``resources/templates`` trains on the device through the real
   ``main.py train`` code path with AMP on (``training.amp: true``), a few epochs; each run ends
   with finite losses, ``summary.json`` names the device and ``last.pt`` / ``best.pt`` load; for
   the loops that use AMP (supervised, reconstruction) ``last.pt`` carries the GradScaler state,
   so mixed precision really ran.
2. ``throughput``: the Trainer (with its files, as ``main.py train`` writes them) against a tight
   loop on the same compiled network and prepared data (data on the device, ``randperm`` slices,
   the same optimizer, AMP and per-epoch validation), MLP and CNN templates; synchronized clocks,
   interleaved rounds, medians. ``ratio_vs_tight_cuda`` is the lower of the two ratios.
3. ``placement``: the prepared tensors live on the device, every batch the network reads is on
   it, and (CUDA) a profiler trace of one whole epoch shows host→device copies far smaller than
   the dataset: the trainer does not copy the data to the GPU every epoch.
4. ``torchrun``: ``python -m torch.distributed.run --standalone --nproc_per_node 1 main.py train``
   finishes and writes its files.
5. ``export``: the checkpoints trained on the device export through ``main.py export`` in every
   format (ONNX, .pt2, safetensors, Python), and each file loads and runs on the CPU with the
   outputs of the checkpoint's own module: onnxruntime (CPU provider), the checked ``.pt2``
   loader, the generated Python class with its safetensors weights.

The last line is ``gpu_ok=<true|false> ratio_vs_tight_cuda=<f>``; exit 0 when every step passed,
1 when one failed. Without a CUDA device it prints one line saying so and
``gpu_ok=skipped ratio_vs_tight_cuda=nan`` (exit 0). ``--device cpu`` runs the same steps on the
CPU (the tests do, with tiny settings); ``--quick`` trains 1 epoch, times 1 round and exports
the MLP and CNN only.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import math
import os
import runpy
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from engine.compile import compile_design  # noqa: E402
from engine.data import prepare_data  # noqa: E402
from engine.errors import first_line  # noqa: E402
from engine.io import load_design  # noqa: E402
from engine.training import Callback, TrainConfig, Trainer  # noqa: E402
from engine.training.checkpoint import load_checkpoint  # noqa: E402
from engine.training.loops import make_optimizer  # noqa: E402
from resources import TEMPLATES, template_path  # noqa: E402

#: Export formats of ``main.py export`` and the file name (after the template's) of each; the
#: Python code brings ``<name>.safetensors`` along, so the weights-only file is named apart.
EXPORT_NAMES = {
    "onnx": ".onnx",
    "pt2": ".pt2",
    "safetensors": "-weights.safetensors",
    "python": "_model.py",
}
#: Tasks whose loop runs under torch.autocast on CUDA (engine/training/loops.py _BackpropLoop).
AMP_TASKS = ("classification", "regression", "forecast", "reconstruction")
#: A profiled epoch may copy at most this fraction of the dataset's bytes host→device.
HTOD_BUDGET = 0.5


@dataclass
class StepResult:
    """One step's verdict: ``ok``, a one-line ``message`` and detail lines printed before it."""

    name: str
    ok: bool
    message: str
    details: list[str] = field(default_factory=list)
    value: float = math.nan  # the step's figure (throughput: the ratio)

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.message}"


@dataclass
class Settings:
    """How much each step does (``--quick`` shrinks all of it)."""

    epochs: int = 3
    bench_epochs: int = 10
    rounds: int = 5
    export_templates: tuple[str, ...] = tuple(TEMPLATES)

    @classmethod
    def quick(cls) -> Settings:
        return cls(epochs=1, bench_epochs=2, rounds=1, export_templates=("mlp", "cnn"))


class CheckFailed(Exception):
    """A check found something wrong (one line)."""


def need(condition: object, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def reason(exc: BaseException) -> str:
    """One line for a failed check or any error."""
    return str(exc) if isinstance(exc, CheckFailed) else first_line(exc, 300)


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cli(argv: list[str]) -> tuple[int, str, str]:
    """``main.py ARGV`` in this process: (exit code, stdout, stderr)."""
    import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main.main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def last_line(text: str) -> str:
    """The last non-empty line of a command's output (its error line), tqdm's \\r lines cut."""
    lines = [ln.rsplit("\r", 1)[-1].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    return lines[-1] if lines else "(no output)"


def design_copy(stem: str, folder: Path, device: str, epochs: int) -> Path:
    """The template ``stem`` written to ``folder`` with AMP on, the device and the epochs set."""
    design = json.loads(template_path(stem).read_text(encoding="utf-8"))
    design.setdefault("training", {}).update({"amp": True, "device": device, "epochs": epochs})
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(design, indent=1), encoding="utf-8")
    return path


# -- 1. every template trains -------------------------------------------------------------------
def check_run_folder(out: Path, device: torch.device, epochs: int, task: str) -> str:
    """What a finished ``main.py train`` run left in ``out``, in one line; CheckFailed (one
    line) when something is missing or wrong."""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    need(summary.get("error") is None, f"summary.json records an error: {summary['error']}")
    done = summary["epochs_completed"]
    need(done == epochs, f"{done} of {epochs} epochs completed")
    need(
        str(summary["device"]).split(":")[0] == device.type,
        (f"trained on {summary['device']}, not {device.type}"),
    )
    final = summary["final"]
    losses = {k: v for k, v in final.items() if k.endswith("loss") and v is not None}
    need(losses and all(math.isfinite(v) for v in losses.values()), f"losses {losses}")
    need(summary["config"]["amp"] is True, "the run's settings have amp off")
    last = load_checkpoint(out / "last.pt")
    need(last.epoch == epochs, f"last.pt holds epoch {last.epoch}, not {epochs}")
    load_checkpoint(out / "best.pt")
    scaler = bool(last.trainer_state.get("loop", {}).get("scaler"))
    amp_expected = device.type == "cuda" and task in AMP_TASKS
    need(
        scaler == amp_expected,
        (
            f"last.pt {'has' if scaler else 'has no'} GradScaler state on {device.type} "
            f"({task}): AMP {'ran' if scaler else 'did not run'}"
        ),
    )
    loss_text = ", ".join(f"{k} {v:.4g}" for k, v in losses.items())
    amp_text = "AMP on" if scaler else "no AMP (" + ("cpu" if device.type != "cuda" else task) + ")"
    return f"{epochs} epoch(s) on {summary['device']}, {loss_text}, {amp_text}"


def train_templates(
    device: torch.device, folder: Path, epochs: int, templates: tuple[str, ...] = tuple(TEMPLATES)
) -> tuple[StepResult, dict[str, tuple[Path, Path]]]:
    """Train each template through ``main.py train``; returns the verdict and, per template
    that trained, (design path, run folder)."""
    details, failures, runs = [], [], {}
    for stem in templates:
        path = design_copy(stem, folder, device.type, epochs)
        out = folder / f"run-{stem}"
        t0 = time.perf_counter()
        code, _stdout, stderr = cli(
            ["train", str(path), "--out", str(out), "--device", device.type]
        )
        took = time.perf_counter() - t0
        if code != 0:
            failures.append(f"{stem}: main.py train exited {code}: {last_line(stderr)}")
            continue
        task = json.loads(path.read_text(encoding="utf-8"))["training"].get("task", "")
        try:
            details.append(f"{stem}: {check_run_folder(out, device, epochs, task)} ({took:.1f} s)")
        except Exception as exc:
            failures.append(f"{stem}: {reason(exc)}")
            continue
        runs[stem] = (path, out)
    if failures:
        return StepResult("train", False, "; ".join(failures), details), runs
    message = f"{len(runs)} templates trained on {device} through main.py train"
    return StepResult("train", True, message, details), runs


# -- 2. trainer vs a tight loop -----------------------------------------------------------------
class _Clock(Callback):
    """Trainer callback: synchronized time from the start of training to its end."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.t0 = self.t1 = 0.0

    def on_train_start(self, event: Any) -> None:
        sync(self.device)
        self.t0 = time.perf_counter()

    def on_train_end(self, summary: Any) -> None:
        sync(self.device)
        self.t1 = time.perf_counter()


def bench_design(stem: str, device: torch.device, epochs: int):
    """The template ``stem`` as a design set to train ``epochs`` epochs on ``device`` with AMP,
    its settings and its prepared data (seed 0)."""
    design = load_design(template_path(stem))
    design.training = {**design.training, "device": device.type, "epochs": epochs, "amp": True}
    config = TrainConfig.from_design(design)
    return design, config, prepare_data(design.data, seed=config.seed)


def run_trainer(design, config, data, device: torch.device, out: Path | None) -> float:
    """Samples/s of ``Trainer.fit`` writing its files to ``out`` (as ``main.py train`` does;
    None: no files)."""
    clock = _Clock(device)
    if out is not None:
        shutil.rmtree(out, ignore_errors=True)
    trainer = Trainer(design, config, callbacks=[clock], data=data, out_dir=out)
    summary = trainer.fit()
    need(summary.epochs_completed == config.epochs, "the trainer stopped early")
    need(out is None or (out / "last.pt").is_file(), "the trainer wrote no last.pt")
    return config.epochs * len(data.x_train) / (clock.t1 - clock.t0)


def run_tight(design, config, data, device: torch.device) -> float:
    """Samples/s of a hand-written loop on the same compiled network, data and settings: data
    on the device, one ``randperm`` per epoch sliced into batches, the same optimizer and AMP,
    validation loss and accuracy after every epoch."""
    torch.manual_seed(config.seed)
    model = compile_design(design).to(device)
    opt = make_optimizer([p for p in model.parameters() if p.requires_grad], config)
    amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if amp else None
    x, y = (torch.from_numpy(a).to(device) for a in (data.x_train, data.y_train))
    xv, yv = (torch.from_numpy(a).to(device) for a in (data.x_val, data.y_val))
    y, yv = y.long(), yv.long()
    n, bs = len(x), config.batch_size
    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.float16)) if amp else contextlib.nullcontext
    )
    sync(device)
    t0 = time.perf_counter()
    for _ in range(config.epochs):
        perm = torch.randperm(n, device=device)
        for idx in perm.split(bs):
            with autocast():
                loss = F.cross_entropy(model(x.index_select(0, idx)).float(), y[idx])
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad(), autocast():
            out = model(xv).float()
            float(F.cross_entropy(out, yv)), float((out.argmax(1) == yv).float().mean())
        model.train()
    sync(device)
    return config.epochs * n / (time.perf_counter() - t0)


def model_rates(
    stem: str, device: torch.device, folder: Path, epochs: int, rounds: int
) -> tuple[dict[str, float], int]:
    """Median samples/s of the trainer (with its files), the tight loop and the trainer
    without files for template ``stem``, over interleaved rounds (order rotating); and the
    batch size."""
    design, config, data = bench_design(stem, device, epochs)
    run_tight(design, config, data, device)  # warm-up: kernels, allocator, cuDNN choice
    common = (design, config, data, device)
    runners = {
        "trainer": functools.partial(run_trainer, *common, folder / f"bench-{stem}"),
        "tight": functools.partial(run_tight, *common),
        "no_files": functools.partial(run_trainer, *common, None),
    }
    order = list(runners)
    rates: dict[str, list[float]] = {k: [] for k in runners}
    for r in range(rounds):
        for kind in order[r % 3 :] + order[: r % 3]:
            rates[kind].append(runners[kind]())
    return {k: statistics.median(v) for k, v in rates.items()}, config.batch_size


def throughput(
    device: torch.device,
    folder: Path,
    epochs: int,
    rounds: int,
    models: tuple[str, ...] = ("mlp", "cnn"),
) -> StepResult:
    """Trainer (with its files) / tight loop per model; the trainer without files is shown too,
    to tell what the files cost."""
    details, ratios = [], {}
    for stem in models:
        med, batch = model_rates(stem, device, folder, epochs, rounds)
        ratios[stem] = med["trainer"] / med["tight"]
        details.append(
            f"{stem}: trainer {med['trainer'] / 1000:.1f}k samples/s (without files "
            f"{med['no_files'] / 1000:.1f}k), tight {med['tight'] / 1000:.1f}k samples/s, "
            f"ratio {ratios[stem]:.3f} (medians of {rounds}, {epochs} epochs, batch {batch})"
        )
    worst = min(ratios.values())
    need(math.isfinite(worst) and worst > 0, f"ratios are not positive numbers: {ratios}")
    text = ", ".join(f"{k} {v:.3f}" for k, v in ratios.items())
    return StepResult(
        "throughput", True, f"trainer / tight loop on {device}: {text}", details, worst
    )


# -- 3. the data stays on the device ------------------------------------------------------------
def htod_copies(trace: dict[str, Any]) -> tuple[int, int | None]:
    """Host→device memcpy events in a ``torch.profiler`` Chrome trace: (count, total bytes, or
    None when an event does not say its size)."""
    count, total = 0, 0
    sized = True
    for event in trace.get("traceEvents", []):
        name = str(event.get("name", ""))
        cat = str(event.get("cat", "")).lower()
        if "HtoD" not in name or "memcpy" not in (cat + name.lower()):
            continue
        count += 1
        size = (event.get("args") or {}).get("bytes")
        if size is None:
            sized = False
        else:
            total += int(size)
    return count, total if sized else None


def gpu_activity(trace: dict[str, Any]) -> bool:
    """Whether a Chrome trace recorded work on the GPU (kernels or copies): without it, zero
    host→device copies would prove nothing."""
    return any(
        str(e.get("cat", "")).lower() in ("kernel", "gpu_memcpy", "gpu_memset")
        for e in trace.get("traceEvents", [])
    )


def judge_htod(count: int, nbytes: int | None, dataset_bytes: int, batches: int) -> str | None:
    """Why one epoch's host→device copies say the data does not stay on the device (None: it
    does). With sizes: more than HTOD_BUDGET of the dataset's bytes; without: a copy per batch."""
    if nbytes is not None:
        if nbytes > HTOD_BUDGET * dataset_bytes:
            return (
                f"one epoch copied {nbytes:,} bytes host→device in {count} copies, "
                f"{nbytes / max(dataset_bytes, 1):.2f}× the {dataset_bytes:,}-byte dataset: "
                "the data is moved to the device again during training"
            )
        return None
    if count >= batches:
        return (
            f"one epoch made {count} host→device copies for {batches} batches: the batches "
            "are copied to the device one by one"
        )
    return None


class _Placement(Callback):
    """Records where the loop's data tensors and every network input live, and profiles the
    second epoch (CUDA) into ``trace``."""

    def __init__(self, trace: Path | None) -> None:
        self.trainer: Trainer | None = None  # set once the trainer exists
        self.trace = trace
        self.tensors: dict[str, torch.Tensor] = {}
        self.input_devices: set[str] = set()
        self.batches = 0
        self.profiler: torch.profiler.profile | None = None
        self.profile_error = ""  # why no trace was written, if the profiler failed

    def _record(self, _module: torch.nn.Module, inputs: tuple) -> None:
        self.input_devices.update(str(x.device) for x in inputs if isinstance(x, torch.Tensor))

    def on_train_start(self, event: Any) -> None:
        loop = self.trainer.loop
        self.batches = event.batches_per_epoch
        self.tensors = {
            k: v
            for k, v in vars(loop).items()
            if isinstance(v, torch.Tensor) and k.split("_")[0] in ("x", "y", "labels")
        }
        for net in loop.networks.values():
            net.register_forward_pre_hook(self._record)

    def on_epoch_end(self, event: Any) -> None:
        if self.trace is None:
            return
        try:
            if event.epoch == 1:
                activities = [
                    torch.profiler.ProfilerActivity.CPU,
                    torch.profiler.ProfilerActivity.CUDA,
                ]
                self.profiler = torch.profiler.profile(activities=activities)
                self.profiler.start()
            elif event.epoch == 2 and self.profiler is not None:
                sync(self.trainer.device)
                self.profiler.stop()
                self.profiler.export_chrome_trace(str(self.trace))
                self.profiler = None
        except Exception as exc:  # no CUPTI, say: the placement checks still stand
            self.profile_error = first_line(exc, 200)
            self.profiler = None

    def dataset_bytes(self) -> int:
        unique = {t.data_ptr(): t.numel() * t.element_size() for t in self.tensors.values()}
        return sum(unique.values())


def placement_of(stem: str, device: torch.device, folder: Path, profile: bool | None = None) -> str:
    """Train ``stem`` 2 epochs on ``device`` and check where its data lives; one line. The
    second epoch is profiled when ``profile`` (default: on CUDA)."""
    design, config, data = bench_design(stem, device, 2)
    profile = device.type == "cuda" if profile is None else profile
    trace = folder / f"trace-{stem}.json" if profile else None
    probe = _Placement(trace)
    trainer = probe.trainer = Trainer(design, config, callbacks=[probe], data=data)
    trainer.fit()
    need(probe.tensors, f"{stem}: found no data tensors on the training loop")
    away = {k: str(v.device) for k, v in probe.tensors.items() if v.device.type != device.type}
    need(not away, f"{stem}: data tensors not on {device.type}: {away}")
    need(probe.input_devices, f"{stem}: no network ran a forward pass")
    other = {d for d in probe.input_devices if not d.startswith(device.type)}
    need(not other, f"{stem}: a network read inputs on {sorted(other)}, not on {device.type}")
    text = f"{stem}: {len(probe.tensors)} data tensors and every batch on {device.type}"
    if trace is None:
        return text + " (no host→device copies to count on the CPU)"
    if not trace.is_file():
        return text + f" (host→device copies not counted: {probe.profile_error or 'no trace'})"
    events = json.loads(trace.read_text(encoding="utf-8"))
    if not gpu_activity(events):  # the profiler ran without its CUDA part: nothing to count
        return text + " (host→device copies not counted: the trace has no GPU activity)"
    count, nbytes = htod_copies(events)
    problem = judge_htod(count, nbytes, probe.dataset_bytes(), probe.batches)
    need(problem is None, f"{stem}: {problem}")
    size = f"{nbytes:,} bytes" if nbytes is not None else "size not recorded"
    dataset = f"{probe.dataset_bytes():,}-byte dataset"
    return f"{text}; one epoch: {count} host→device copies ({size}) for a {dataset}"


def placement(
    device: torch.device, folder: Path, templates: tuple[str, ...] = tuple(TEMPLATES)
) -> StepResult:
    """:func:`placement_of` for each template."""
    details, failures = [], []
    for stem in templates:
        try:
            details.append(placement_of(stem, device, folder))
        except Exception as exc:
            failures.append(reason(exc))
    if failures:
        return StepResult("placement", False, "; ".join(failures), details)
    return StepResult(
        "placement",
        True,
        f"data and batches stay on {device} ({len(templates)} templates)",
        details,
    )


# -- 4. torchrun --------------------------------------------------------------------------------
def torchrun(device: torch.device, folder: Path, timeout: float = 300.0) -> StepResult:
    """``torch.distributed.run --standalone --nproc_per_node 1 main.py train`` (MLP, 1 epoch)."""
    path = design_copy("mlp", folder, device.type, 1)
    out = folder / "run-torchrun"
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1"]
    argv += ["main.py", "train", str(path), "--out", str(out), "--device", device.type]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return StepResult("torchrun", False, f"torchrun did not finish within {timeout:.0f} s")
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        why = last_line(proc.stderr or proc.stdout)
        return StepResult("torchrun", False, f"torchrun exited {proc.returncode}: {why}")
    try:
        line = check_run_folder(out, device, 1, "classification")
    except Exception as exc:
        return StepResult("torchrun", False, f"torchrun's run folder: {reason(exc)}")
    return StepResult(
        "torchrun", True, f"1-process torchrun trained the MLP: {line} ({took:.1f} s)"
    )


# -- 5. export from the device's checkpoints, run on the CPU ------------------------------------
def _outputs(value: Any) -> list[np.ndarray]:
    items = value if isinstance(value, tuple | list) else (value,)
    return [
        np.asarray(v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v) for v in items
    ]


def same_outputs(got: list[np.ndarray], want: list[np.ndarray], atol: float, what: str) -> None:
    """CheckFailed unless ``got`` matches ``want`` output by output (shapes, values ± atol)."""
    need(len(got) == len(want), f"{what} gives {len(got)} outputs, expected {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        need(g.shape == w.shape, f"{what} output {i} has shape {g.shape}, expected {w.shape}")
        diff = float(np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)))) if g.size else 0.0
        need(diff <= atol, f"{what} output {i} differs from the checkpoint's model by {diff:.3g}")


def verify_exports(design: Path, ckpt: Path, files: dict[str, Path]) -> None:
    """Load each exported file on the CPU and compare it with the checkpoint's module."""
    import onnxruntime as ort
    from safetensors.torch import load_file

    from engine.export import prepare_export
    from engine.importer.safe_pt2 import load_program

    plan = prepare_export(design, ckpt)
    inputs = plan.example_inputs(batch=3)
    with torch.no_grad():
        want = _outputs(plan.module(*inputs))
    session = ort.InferenceSession(str(files["onnx"]), providers=["CPUExecutionProvider"])
    feeds = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)}
    same_outputs([np.asarray(o) for o in session.run(None, feeds)], want, 1e-4, "ONNX")
    with torch.no_grad():
        same_outputs(_outputs(load_program(files["pt2"]).module()(*inputs)), want, 1e-5, ".pt2")
    side = json.loads(Path(f"{files['python']}.json").read_text(encoding="utf-8"))
    model = runpy.run_path(str(files["python"]), run_name="exported")[side["python_class"]]()
    weights = load_file(str(files["python"].with_name(side["weights"])))
    model.load_state_dict(weights, strict=True)
    with torch.no_grad():
        same_outputs(_outputs(model.eval()(*inputs)), want, 1e-5, "Python code")
    alone = load_file(str(files["safetensors"]))
    need(alone.keys() == weights.keys(), "the safetensors names differ from the Python code's")
    for name, tensor in alone.items():
        need(tensor.device.type == "cpu", f"safetensors '{name}' loads on {tensor.device}")
        need(torch.equal(tensor, weights[name]), f"safetensors '{name}' differs from the code's")


def export_runs(runs: dict[str, tuple[Path, Path]], folder: Path) -> StepResult:
    """Export each run's ``best.pt`` through ``main.py export`` in every format; check on CPU."""
    if not runs:
        return StepResult(
            "export", False, "no trained checkpoint to export (the train step failed)"
        )
    details, failures = [], []
    for stem, (design, out) in runs.items():
        files = {fmt: folder / f"{stem}{name}" for fmt, name in EXPORT_NAMES.items()}
        try:
            for fmt, target in files.items():
                argv = ["export", str(design), "--checkpoint", str(out / "best.pt")]
                code, _o, err = cli(argv + ["--format", fmt, "--output", str(target)])
                need(code == 0, f"main.py export --format {fmt} exited {code}: {last_line(err)}")
            verify_exports(design, out / "best.pt", files)
        except Exception as exc:
            failures.append(f"{stem}: {reason(exc)}")
            continue
        details.append(f"{stem}: {', '.join(files)} written and run on the CPU")
    if failures:
        return StepResult("export", False, "; ".join(failures), details)
    return StepResult(
        "export", True, f"{len(runs)} checkpoints exported in {len(files)} formats", details
    )


# -- the command --------------------------------------------------------------------------------
def run_step(step: Callable[[], StepResult], name: str) -> StepResult:
    """Run one step; any error becomes a failed step with one line (never a traceback)."""
    t0 = time.perf_counter()
    try:
        result = step()
    except Exception as exc:
        result = StepResult(name, False, reason(exc))
    for line in result.details:
        print(f"     {line}", flush=True)
    print(f"{result.line()} [{time.perf_counter() - t0:.1f} s]", flush=True)
    return result


def run_checks(device: torch.device, settings: Settings, folder: Path) -> list[StepResult]:
    """Every step in order (export reuses the checkpoints the train step wrote)."""
    results = []
    runs: dict[str, tuple[Path, Path]] = {}

    def train() -> StepResult:
        result, trained = train_templates(device, folder / "train", settings.epochs)
        runs.update(trained)
        return result

    wanted = settings.export_templates
    steps: list[tuple[str, Callable[[], StepResult]]] = [
        ("train", train),
        (
            "throughput",
            lambda: throughput(device, folder / "bench", settings.bench_epochs, settings.rounds),
        ),
        ("placement", lambda: placement(device, folder / "placement")),
        ("torchrun", lambda: torchrun(device, folder / "torchrun")),
        (
            "export",
            lambda: export_runs({k: v for k, v in runs.items() if k in wanted}, folder / "export"),
        ),
    ]
    for name, step in steps:
        (folder / name).mkdir(parents=True, exist_ok=True)
        results.append(run_step(step, name))
    return results


def final_line(results: list[StepResult] | None) -> str:
    """``gpu_ok=<true|false|skipped> ratio_vs_tight_cuda=<f>``."""
    if results is None:
        return "gpu_ok=skipped ratio_vs_tight_cuda=nan"
    ok = all(r.ok for r in results)
    ratio = next((r.value for r in results if r.name == "throughput"), math.nan)
    return f"gpu_ok={str(ok).lower()} ratio_vs_tight_cuda={ratio:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true", help="1 epoch, 1 round, export MLP/CNN")
    args = parser.parse_args(argv)
    try:
        if args.device == "cuda" and not torch.cuda.is_available():
            print("no CUDA device here (torch.cuda.is_available() is False): GPU check skipped")
            print(final_line(None))
            return 0
        device = torch.device(args.device, 0) if args.device == "cuda" else torch.device("cpu")
        settings = Settings.quick() if args.quick else Settings()
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        print(f"GPU check on {device} ({name}), torch {torch.__version__}", flush=True)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="deepwire-gpu-check-") as tmp:
            results = run_checks(device, settings, Path(tmp))
        print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
    except Exception as exc:  # setup itself failed: still one line and the verdict
        print(f"FAIL setup: {reason(exc)}")
        results = [StepResult("setup", False, reason(exc))]
    print(final_line(results), flush=True)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
