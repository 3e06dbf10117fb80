"""Evaluate a trained checkpoint on the test or validation split, and predict new samples.

::

    result = evaluate_checkpoint(design, "runs/mlp/best.pt", split="test", base_dir="designs/")
    print(result.table())                 # or result.to_dict() for JSON
    preds = predict_file(design, "runs/mlp/best.pt", "sample.png")

Both go through the data preparation the checkpoint saved: the split comes from the training
seed stored in the checkpoint, and the samples are scaled with the checkpoint's fitted
preprocessing (not a new fit). The checkpoint is read with the safe loader
(:func:`~engine.training.checkpoint.load_checkpoint`, ``weights_only=True``) and must belong to
the design: the same layers and wiring, and weights whose names and shapes fit the compiled
networks. Metrics come from scikit-learn (accuracy, per-class precision/recall/F1, confusion
matrix; MAE/RMSE/R²) and, for SOMs, from the same quantization/topographic errors the training
loop reports. Every problem is one line (a :class:`~engine.errors.DeepwireError`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.compile import compile_design
from engine.data.prepare import PreparedData, prepare_data
from engine.data.preprocess import Preprocessor
from engine.data.spec import normalize_spec
from engine.errors import DataError, DesignFormatError, TrainingError, first_line
from engine.graph import Design
from engine.training.checkpoint import Checkpoint, load_checkpoint
from engine.training.config import TrainConfig
from engine.training.devices import DistContext
from engine.training.init_from import load_weights, weights_mismatch
from engine.training.loops import EVAL_CHUNK, FamilyLoop, LoopContext, make_loop
from engine.training.metrics import som_quality

SPLITS = ("test", "val")
_SPLIT_WORDS = {"test": "test", "val": "validation"}


@dataclass
class ClassScore:
    """Precision, recall and F1 of one class, and how many samples of it the split holds."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Evaluation:
    """What :func:`evaluate_checkpoint` measured; fields that do not apply to the task are None."""

    split: str
    task: str
    n_samples: int
    checkpoint: str
    epoch: int
    loss: float | None = None
    loss_name: str | None = None
    accuracy: float | None = None
    classes: list[ClassScore] = field(default_factory=list)
    confusion: list[list[int]] | None = None
    mae: float | None = None
    rmse: float | None = None
    r2: float | None = None
    reconstruction_error: float | None = None
    quantization_error: float | None = None
    topographic_error: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (what ``evaluate --json`` prints)."""
        return dataclasses.asdict(self)

    def table(self) -> str:
        """A human-readable report: the headline metrics, then per-class scores and the
        confusion matrix for classifiers."""
        lines = [
            f"{self.checkpoint} (epoch {self.epoch}) on the {_SPLIT_WORDS[self.split]} split: "
            f"{self.n_samples} samples, task {self.task}"
        ]
        rows = [
            (f"loss ({self.loss_name})" if self.loss_name else "loss", self.loss),
            ("accuracy", self.accuracy),
            ("MAE", self.mae),
            ("RMSE", self.rmse),
            ("R²", self.r2),
            ("reconstruction error (MSE)", self.reconstruction_error),
            ("quantization error", self.quantization_error),
            ("topographic error", self.topographic_error),
        ]
        for name, value in rows:
            if value is not None:
                lines.append(f"  {name:<28} {value:.4f}")
        if self.classes:
            width = max(5, *(len(c.name) for c in self.classes))
            lines.append("")
            lines.append(f"  {'class':<{width}}  precision  recall     f1  support")
            for c in self.classes:
                lines.append(
                    f"  {c.name:<{width}}  {c.precision:9.4f}  {c.recall:6.4f}  {c.f1:5.4f}"
                    f"  {c.support:7d}"
                )
        if self.confusion is not None:
            names = [c.name for c in self.classes]
            cell = max(4, *(len(str(v)) for row in self.confusion for v in row), *map(len, names))
            width = max(len(n) for n in names)
            lines.append("")
            lines.append("  confusion matrix (rows: true class, columns: predicted)")
            lines.append("  " + " " * width + " " + " ".join(f"{n:>{cell}}" for n in names))
            for name, row in zip(names, self.confusion, strict=True):
                lines.append(f"  {name:>{width}} " + " ".join(f"{v:>{cell}}" for v in row))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class Predictions:
    """What :func:`predict_file` computed for each sample of the input file."""

    task: str
    class_names: list[str] | None
    labels: list[str] | None  # the predicted class per sample (classifiers)
    probabilities: list[list[float]] | None  # per sample, one per class (classifiers)
    values: list[list[float]] | None  # per sample, the outputs (regression, forecast, autoencoder)

    def __len__(self) -> int:
        rows = self.labels if self.labels is not None else self.values
        return len(rows or [])

    def to_csv(self) -> str:
        """One header line, then one line per sample."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if self.labels is not None:
            writer.writerow(["sample", "prediction", *(f"p({n})" for n in self.class_names)])
            for i, (label, probs) in enumerate(zip(self.labels, self.probabilities, strict=True)):
                writer.writerow([i, label, *(f"{p:.6g}" for p in probs)])
        else:
            width = len(self.values[0]) if self.values else 0
            writer.writerow(["sample", *(f"output_{k}" for k in range(width))])
            for i, row in enumerate(self.values):
                writer.writerow([i, *(f"{v:.6g}" for v in row)])
        return buf.getvalue()


#: How many of the worst samples :func:`evaluate_details` returns by default.
WORST_SAMPLES = 12


@dataclass
class SampleResult:
    """One sample of a split as the model saw it: its loss, the truth and the prediction.

    ``truth`` and ``predicted`` are class names for classifiers and short value texts otherwise
    (the BMU for a SOM); ``probabilities`` (classifiers) holds one value per class. ``inputs`` is
    the sample with the saved preprocessing undone where it is a per-feature scaling (so a
    picture looks as it was loaded), else as the model read it."""

    index: int  # position in the split
    loss: float
    truth: str | None
    predicted: str
    probabilities: list[float] | None
    inputs: np.ndarray


@dataclass
class SplitSamples:
    """The samples of one split: ``prepared`` as the model reads them (preprocessed),
    ``inputs`` for showing (preprocessing undone where possible), ``truth`` per sample."""

    split: str
    prepared: np.ndarray
    inputs: np.ndarray
    truth: list[str | None]

    def __len__(self) -> int:
        return len(self.prepared)


@dataclass
class EvaluationDetails:
    """What :func:`evaluate_details` gives: the metrics, the worst samples (highest loss first)
    and the split's samples."""

    evaluation: Evaluation
    worst: list[SampleResult]
    samples: SplitSamples


# ----------------------------------------------------------------------------------------------
# the checkpoint and the design


def load_for_design(design: Design, path: str | Path) -> Checkpoint:
    """The checkpoint at ``path`` (safe loader), refused in one line unless it was saved for
    ``design``: the same layers, parameters and wiring, and weights that fit its networks."""
    ckpt = load_checkpoint(path)
    if not ckpt.matches(design):
        mismatch = weights_mismatch(design, ckpt)
        detail = f"; {mismatch}" if mismatch else ""
        raise DataError(
            f"{path} was saved for a different design (layers, parameters or wiring "
            f"differ{detail}): use a checkpoint from a run of this design"
        )
    mismatch = weights_mismatch(design, ckpt)
    if mismatch:
        raise DataError(f"{path} does not fit this design: {mismatch}")
    return ckpt


def saved_preprocessor(ckpt: Checkpoint, where: str) -> Preprocessor | None:
    """The checkpoint's fitted preprocessing, or None when it saved none."""
    if ckpt.preprocessor is None:
        return None
    try:
        return Preprocessor.from_state(ckpt.preprocessor)
    except DataError:
        raise
    except Exception as exc:  # a hostile or damaged state: wrong types, missing keys
        raise DesignFormatError(
            f"{where}: its saved preprocessing is damaged ({first_line(exc, 120)}); "
            "pick a best.pt or last.pt from a training run"
        ) from None


def _config(
    design: Design, ckpt: Checkpoint, data: PreparedData | None, where: str = "the checkpoint"
) -> TrainConfig:
    """The training settings the checkpoint was trained with (task, loss, seed), or the design's
    when the checkpoint saved none (an imported model)."""
    saved = ckpt.trainer_state.get("config")
    if saved:
        try:
            return TrainConfig.from_dict(saved).replace(device="cpu")
        except Exception as exc:  # a damaged or hostile settings table
            raise DesignFormatError(
                f"{where}: its saved training settings are unusable ({first_line(exc, 160)}); "
                "pick a best.pt or last.pt from a training run"
            ) from None
    from engine.training.trainer import Trainer

    config = TrainConfig.from_design(design).replace(device="cpu")
    return Trainer(design, config)._fit_task(config, data) if data is not None else config


# ----------------------------------------------------------------------------------------------
# evaluate


def evaluate_checkpoint(
    design: Design,
    checkpoint: str | Path,
    split: str = "test",
    base_dir: str | Path | None = None,
) -> Evaluation:
    """Evaluate ``checkpoint`` (of ``design``) on the ``test`` or ``val`` split of the design's
    data; see the module doc."""
    return _measure(_open_split(design, checkpoint, split, base_dir))


def evaluate_details(
    design: Design,
    checkpoint: str | Path,
    split: str = "test",
    base_dir: str | Path | None = None,
    worst: int = WORST_SAMPLES,
    should_stop: Callable[[], bool] | None = None,
) -> EvaluationDetails:
    """:func:`evaluate_checkpoint`, plus the ``worst`` samples of the split with the highest
    loss and the split's samples themselves (what the window's Evaluate panel shows), from one
    preparation of the data. ``should_stop`` is passed to the data preparation (the window's
    cancel)."""
    opened = _open_split(design, checkpoint, split, base_dir, should_stop)
    evaluation = _measure(opened)
    return EvaluationDetails(
        evaluation,
        _worst(opened, worst),
        SplitSamples(
            split,
            np.asarray(opened.data.x_test if split == "test" else opened.data.x_val),
            _display_inputs(opened.fitted, opened.x.cpu().numpy()),
            _truth_texts(opened),
        ),
    )


@dataclass
class _Opened:
    """A checkpoint loaded into its family loop, with the chosen split as validation data."""

    ckpt: Checkpoint
    config: TrainConfig
    data: PreparedData
    loop: FamilyLoop
    fitted: Preprocessor | None
    split: str
    checkpoint: str
    notes: list[str]

    @property
    def x(self) -> torch.Tensor:
        return self.loop.x_val


def _open_split(
    design: Design,
    checkpoint: str | Path,
    split: str,
    base_dir: str | Path | None,
    should_stop: Callable[[], bool] | None = None,
) -> _Opened:
    if split not in SPLITS:
        raise DataError(f"split must be test or val, not {split!r}")
    ckpt = load_for_design(design, checkpoint)
    if not design.data:
        raise DataError(
            "the design has no data section, so there is nothing to evaluate on: choose a "
            "dataset in the editor's Data panel, or add a data section (see docs/data.md)"
        )
    spec = normalize_spec(design.data)
    if spec["split"][split] <= 0:
        raise DataError(_no_split_message(split))
    config = _config(design, ckpt, None, str(checkpoint))
    fitted = saved_preprocessor(ckpt, str(checkpoint))
    data = prepare_data(design.data, base_dir, config.seed, should_stop, fitted=fitted)
    if not ckpt.trainer_state.get("config"):
        config = _config(design, ckpt, data)
    notes = _split_notes(design, ckpt, split)
    x, y = (data.x_test, data.y_test) if split == "test" else (data.x_val, data.y_val)
    if len(x) == 0:
        raise DataError(
            f"the {_SPLIT_WORDS[split]} split of {data.description} has no samples: raise "
            f"data.split.{split} or add data"
        )
    if config.task == "gan":
        raise DataError(
            "a GAN has no test metric to evaluate: export the generator and look at its "
            "samples instead"
        )
    # the loop sees the chosen split as its validation data
    loop = _loop(design, config, dataclasses.replace(data, x_val=x, y_val=y))
    load_weights(dict(loop.networks), ckpt, str(checkpoint))
    return _Opened(ckpt, config, data, loop, fitted, split, str(checkpoint), notes)


def _measure(opened: _Opened) -> Evaluation:
    config, loop = opened.config, opened.loop
    result = Evaluation(
        split=opened.split,
        task=config.task,
        n_samples=len(opened.x),
        checkpoint=opened.checkpoint,
        epoch=opened.ckpt.epoch,
        notes=opened.notes,
    )
    if config.task == "som":
        _som_metrics(loop, result)
    elif config.task == "reconstruction":
        _reconstruction_metrics(loop, config, result)
    elif config.task == "classification":
        _class_metrics(loop, config, opened.data.class_names, result)
    else:
        _regression_metrics(loop, config, result)
    return result


def _display_inputs(pre: Preprocessor | None, x: np.ndarray) -> np.ndarray:
    """``x`` (preprocessed) with a per-feature scaling undone, for showing; as given otherwise."""
    params = pre.affine_params() if pre is not None else None
    if params is None:
        return np.asarray(x, dtype=np.float32)
    axis = params.feature_axis if params.feature_axis < 0 else params.feature_axis + 1
    shape = [1] * x.ndim
    shape[axis] = -1
    return (x * params.scale.reshape(shape) + params.shift.reshape(shape)).astype(np.float32)


def _value_text(values: Any) -> str:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    text = ", ".join(f"{v:.4g}" for v in flat[:4])
    return text + (", …" if len(flat) > 4 else "")


def _truth_texts(opened: _Opened) -> list[str | None]:
    """The true class name (classifiers) or target values of every sample of the split."""
    loop, task = opened.loop, opened.config.task
    n = len(opened.x)
    if task == "classification":
        names = _names(opened)
        return [names[int(i)] for i in loop.labels_val.cpu()]
    if task in ("som", "reconstruction"):
        return [None] * n
    return [_value_text(row) for row in loop.y_val.reshape(n, -1).cpu().numpy()]


def _names(opened: _Opened) -> list[str]:
    k = opened.loop.num_classes
    return list(opened.data.class_names or [str(i) for i in range(k)])


def sample_losses(opened: _Opened) -> tuple[np.ndarray, list[str], np.ndarray | None]:
    """Per sample of the split: the loss (the training loss on that sample alone; for a SOM
    the distance to its best-matching unit), the prediction text and the class probabilities
    (classifiers; None otherwise)."""
    loop, task = opened.loop, opened.config.task
    x = opened.x
    n = len(x)
    if task == "som":
        loop.net.eval()
        with torch.no_grad():
            dist = torch.cat(
                [loop._distances(x[s : s + EVAL_CHUNK])[1] for s in range(0, n, EVAL_CHUNK)]
            )
        best = dist.min(dim=1)
        cols = loop.cols
        units = [f"unit ({int(u) // cols}, {int(u) % cols})" for u in best.indices]
        return best.values.double().numpy(), units, None
    out = loop._predict(x)
    target = x if task == "reconstruction" else loop.y_val
    target = target.reshape(out.shape) if task == "reconstruction" else target
    with torch.no_grad():
        losses = np.array(
            [float(loop.loss_fn(out[i : i + 1], target[i : i + 1])) for i in range(n)]
        )
    if task == "classification":
        probs = _class_probabilities(out, loop.binary)
        names = _names(opened)
        return losses, [names[int(i)] for i in probs.argmax(1)], probs.double().numpy()
    if task == "reconstruction":
        return losses, ["reconstruction"] * n, None
    return losses, [_value_text(row) for row in out.reshape(n, -1).cpu().numpy()], None


def _worst(opened: _Opened, count: int) -> list[SampleResult]:
    losses, predicted, probs = sample_losses(opened)
    truth = _truth_texts(opened)
    inputs = _display_inputs(opened.fitted, opened.x.cpu().numpy())
    order = np.argsort(-losses, kind="stable")[: max(0, count)]
    return [
        SampleResult(
            int(i),
            float(losses[i]),
            truth[i],
            predicted[i],
            probs[i].tolist() if probs is not None else None,
            inputs[i],
        )
        for i in order
    ]


def _no_split_message(split: str) -> str:
    if split == "test":
        return (
            "the design's data has no test split (data.split.test is 0): set split.test "
            '(e.g. 0.2) in the Data panel or as "split": {"test": 0.2} in the data section, '
            "train again, then evaluate; or evaluate with --split val"
        )
    return (
        "the design's data has no validation split (data.split.val is 0): set split.val "
        '(e.g. 0.2) in the Data panel or as "split": {"val": 0.2} in the data section'
    )


def _samples_spec(data: Any) -> dict[str, Any]:
    """What decides a data section's samples and splits (augmentation only varies training)."""
    spec = normalize_spec(data)
    spec.pop("augment", None)
    return spec


def _split_notes(design: Design, ckpt: Checkpoint, split: str) -> list[str]:
    """A warning when the data section changed since training (samples of this split may then
    have been trained on)."""
    try:
        then = ckpt.design.data
        if then and _samples_spec(then) != _samples_spec(design.data):
            return [
                "the design's data section differs from the one this checkpoint was "
                f"trained with: some {_SPLIT_WORDS[split]} samples may have been in its "
                "training split"
            ]
    except DataError:
        return []
    return []


def _loop(design: Design, config: TrainConfig, data: PreparedData) -> FamilyLoop:
    device = torch.device("cpu")
    try:
        return make_loop(LoopContext(design, config, data, device, DistContext(), config.epochs))
    except (TrainingError, DataError):
        raise
    except Exception as exc:
        raise DataError(f"cannot evaluate this design: {first_line(exc, 200)}") from None


def _class_metrics(
    loop: FamilyLoop, config: TrainConfig, class_names: list[str] | None, result: Evaluation
) -> None:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    out = loop._predict(loop.x_val)
    result.loss = float(loop.loss_fn(out, loop.y_val))
    result.loss_name = config.loss
    labels = loop.labels_val.cpu().numpy()
    pred = _class_probabilities(out, loop.binary).argmax(1).numpy()
    k = loop.num_classes
    names = list(class_names or [str(i) for i in range(k)])
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, pred, labels=list(range(k)), zero_division=0
    )
    result.accuracy = float(accuracy_score(labels, pred))
    result.classes = [
        ClassScore(names[i], float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
        for i in range(k)
    ]
    result.confusion = confusion_matrix(labels, pred, labels=list(range(k))).tolist()


def _class_probabilities(out: torch.Tensor, binary: bool) -> torch.Tensor:
    """``(N, classes)`` probabilities from a classifier's outputs (softmax, or for one logit
    the sigmoid of class 1; one logit per class with BCE: per-class sigmoids, normalized)."""
    out = out.float().reshape(len(out), -1)
    if binary:
        p1 = torch.sigmoid(out[:, 0])
        return torch.stack([1 - p1, p1], dim=1)
    return torch.softmax(out, dim=1)


def _regression_metrics(loop: FamilyLoop, config: TrainConfig, result: Evaluation) -> None:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    out = loop._predict(loop.x_val)
    result.loss = float(loop.loss_fn(out, loop.y_val))
    result.loss_name = config.loss
    n = len(out)
    truth = loop.y_val.reshape(n, -1).cpu().double().numpy()
    pred = out.reshape(n, -1).cpu().double().numpy()
    result.mae = float(mean_absolute_error(truth, pred))
    result.rmse = float(math.sqrt(mean_squared_error(truth, pred)))
    result.r2 = float(r2_score(truth, pred)) if n > 1 else None


def _reconstruction_metrics(loop: FamilyLoop, config: TrainConfig, result: Evaluation) -> None:
    x = loop.x_val
    out = loop._predict(x)
    result.loss = float(loop.loss_fn(out, x))
    result.loss_name = config.loss
    result.reconstruction_error = float(torch.nn.functional.mse_loss(out.reshape(x.shape), x))


def _som_metrics(loop: FamilyLoop, result: Evaluation) -> None:
    x = loop.x_val
    loop.net.eval()
    with torch.no_grad():
        dist = torch.cat(
            [loop._distances(x[s : s + EVAL_CHUNK])[1] for s in range(0, len(x), EVAL_CHUNK)]
        )
    qe, te, _ = som_quality(dist, loop.grid)
    result.quantization_error = float(qe)
    result.topographic_error = float(te)
    result.loss, result.loss_name = float(qe), "quantization error"


# ----------------------------------------------------------------------------------------------
# predict


def predict_file(design: Design, checkpoint: str | Path, input_path: str | Path) -> Predictions:
    """Predictions of ``checkpoint`` (of ``design``) for the samples in ``input_path``: an image
    (png, jpg, bmp, gif), a CSV of rows with the training feature columns, or a ``.npy`` array of
    one sample or a batch. Samples go through the checkpoint's saved preprocessing."""
    predictor = Predictor(design, checkpoint)
    return predictor.predict(predictor.read(input_path))


class Predictor:
    """A checkpoint's model loaded once (safe loader, checked against ``design``) to predict
    many samples through the checkpoint's saved preprocessing: :func:`predict_file` and the
    window's "Try it" use it. GANs and SOMs are refused (they predict neither classes nor
    values)."""

    def __init__(self, design: Design, checkpoint: str | Path) -> None:
        self.checkpoint = str(checkpoint)
        self.ckpt = load_for_design(design, checkpoint)
        self.pre = saved_preprocessor(self.ckpt, self.checkpoint)
        self.raw_shape = _raw_shape(self.ckpt, self.pre, design)
        self.config = _config(design, self.ckpt, None, self.checkpoint)
        if self.config.task in ("gan", "som"):
            raise DataError(
                f"predict gives classes or values; a {self.config.task.upper()} design has "
                "neither: evaluate it or export it instead"
            )
        self.net = next(iter(_compiled(design).values()))
        load_weights({self.net.network: self.net}, self.ckpt, self.checkpoint)
        self.net.eval()
        names = self.ckpt.data_info.get("class_names")
        self.class_names = list(names) if names else None

    @property
    def columns(self) -> list[str] | None:
        """The raw table columns a sample has (None: not a named table)."""
        return list(self.pre.columns) if self.pre is not None and self.pre.columns else None

    @property
    def categorical(self) -> list[int]:
        """Indices of the text columns among :attr:`columns`."""
        return list(self.pre.categorical) if self.pre is not None else []

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """``(C, H, W)`` when a sample is a picture (an image input, or a flat input of a
        square gray picture such as the digits); None otherwise."""
        return image_shape(self.raw_shape, self.columns)

    def read(self, path: str | Path) -> np.ndarray:
        """The raw samples of an image, CSV or .npy file (see :func:`read_samples`)."""
        return read_samples(path, self.raw_shape, self.pre)

    def predict(self, raw: np.ndarray) -> Predictions:
        """Predictions for raw samples ``(N, *raw_shape)``, preprocessed as in training."""
        return self.predict_prepared(self.prepare(raw))

    def prepare(self, raw: np.ndarray) -> np.ndarray:
        """Raw samples ``(N, *raw_shape)`` through the checkpoint's saved preprocessing."""
        raw = np.asarray(raw)
        if tuple(raw.shape[1:]) != self.raw_shape:
            raise DataError(
                f"the sample has shape {_shape_text(tuple(raw.shape[1:]))}, but the model "
                f"expects {_shape_text(self.raw_shape)}"
            )
        return self.pre.transform(raw) if self.pre is not None else raw

    def predict_prepared(self, x: np.ndarray) -> Predictions:
        """Predictions for samples already preprocessed (a split of the prepared data)."""
        net, task, names = self.net, self.config.task, self.class_names
        in_id = net.input_ids[0]
        xt = torch.from_numpy(np.ascontiguousarray(x))
        xt = xt.long() if net.input_dtypes.get(in_id) == "int64" else xt.float()
        with torch.no_grad():
            out = torch.cat([net(xt[s : s + EVAL_CHUNK]) for s in range(0, len(xt), EVAL_CHUNK)])
        if task == "classification" and names:
            binary = out.reshape(len(out), -1).shape[1] == 1 and len(names) == 2
            probs = _class_probabilities(out, binary)
            if probs.shape[1] != len(names):
                raise DesignFormatError(
                    f"{self.checkpoint}: names {len(names)} classes but the model gives "
                    f"{probs.shape[1]} outputs; pick a best.pt or last.pt from a training run"
                )
            return Predictions(
                task, list(names), [names[int(i)] for i in probs.argmax(1)], probs.tolist(), None
            )
        return Predictions(task, None, None, None, out.reshape(len(out), -1).tolist())


def image_shape(
    shape: tuple[int, ...], columns: list[str] | None = None
) -> tuple[int, int, int] | None:
    """``(C, H, W)`` of a picture sample of per-sample ``shape`` (C of 1 or 3; a flat input of
    a square number of features, unnamed or named ``pixel…``, is one gray picture), or None."""
    if len(shape) == 3 and shape[0] in (1, 3):
        return int(shape[0]), int(shape[1]), int(shape[2])
    pixels = not columns or all(str(c).startswith("pixel") for c in columns)
    if len(shape) == 1 and pixels and shape[0] > 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
        side = math.isqrt(shape[0])
        return 1, side, side
    return None


def _compiled(design: Design) -> dict[str, torch.nn.Module]:
    try:
        return {name: compile_design(design, name) for name in design.networks}
    except Exception as exc:
        raise DataError(f"the design does not compile: {first_line(exc, 200)}") from None


def _raw_shape(ckpt: Checkpoint, pre: Preprocessor | None, design: Design) -> tuple[int, ...]:
    """The per-sample shape the input file must give, before preprocessing."""
    if pre is not None and pre.sample_shape is not None:
        return tuple(pre.sample_shape)
    shape = ckpt.data_info.get("input_shape")
    if shape:
        return tuple(int(d) for d in shape)
    net = next(iter(_compiled(design).values()))
    return tuple(int(d) for d in net.input_shapes[net.input_ids[0]])


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def read_samples(
    path: str | Path, shape: tuple[int, ...], pre: Preprocessor | None = None
) -> np.ndarray:
    """The raw samples ``(N, *shape)`` in an image, CSV or ``.npy`` file; DataError naming the
    expected shape when the file holds something else, DesignFormatError when it is unreadable."""
    p = Path(path)
    if not p.is_file():
        raise DesignFormatError(f"{p}: no such input file; check the path")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        x = _read_npy(p)
    elif suffix == ".csv":
        return _read_csv(p, shape, pre)
    elif suffix in _IMAGE_SUFFIXES:
        x = _read_image(p, shape)
    else:
        raise DesignFormatError(
            f"{p}: cannot read {suffix or 'a file without a suffix'}: give an image "
            "(.png, .jpg), a .csv of rows or a .npy array"
        )
    return _as_batch(x, shape, p)


def _shape_text(shape: tuple[int, ...]) -> str:
    """``(3, 10)``, ``(64,)``: a per-sample shape as numpy prints it."""
    return str(tuple(int(d) for d in shape))


def _as_batch(x: np.ndarray, shape: tuple[int, ...], where: Path) -> np.ndarray:
    if tuple(x.shape) == shape:
        x = x[None]
    elif tuple(x.shape[1:]) != shape:
        raise DataError(
            f"{where}: holds an array of shape {_shape_text(tuple(x.shape))}, but the model "
            f"expects one sample of shape {_shape_text(shape)} or a batch of them "
            f"(N, {', '.join(map(str, shape))})"
        )
    if x.dtype == object or x.dtype.kind not in "biuf":
        raise DataError(f"{where}: holds {x.dtype} values, not numbers")
    return x.astype(np.float64)


def _read_npy(p: Path) -> np.ndarray:
    try:
        return np.load(p, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DesignFormatError(
                f"{p}: holds Python objects, not plain numbers: save it with numeric arrays only"
            ) from None
        raise DesignFormatError(f"{p}: not a readable .npy file ({first_line(exc, 120)})") from None
    except OSError as exc:
        raise DesignFormatError(f"{p}: not a readable .npy file ({first_line(exc, 120)})") from None


def _read_image(p: Path, shape: tuple[int, ...]) -> np.ndarray:
    """An image file as a sample of ``shape`` (see :func:`image_sample`)."""
    from PIL import Image, UnidentifiedImageError

    if image_shape(shape) is None:
        raise DataError(
            f"{p}: the model takes samples of shape {_shape_text(shape)}, not images: give "
            "a .csv or .npy file"
        )
    try:
        with Image.open(p) as img:
            return image_sample(img, shape)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DesignFormatError(f"{p}: not a readable image ({first_line(exc, 120)})") from None


def image_sample(img: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A PIL image as one sample of ``shape`` (C, H, W), in [0, 1], as the image-folder loader
    and the digits dataset give their pixels: converted to gray or RGB and resized (bilinear)
    to the model's size; a flat model input ``(C·H·W,)`` of a square gray image works too.
    The window's drawing pad goes through here, like an opened image file."""
    from PIL import Image

    picture = image_shape(shape)
    if picture is None:
        raise DataError(f"the model takes samples of shape {_shape_text(shape)}, not images")
    channels, height, width = picture
    img = img.convert("L" if channels == 1 else "RGB")
    img = img.resize((width, height), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    arr = arr[None] if channels == 1 else np.moveaxis(arr, -1, 0)
    return arr.reshape(shape)


def _read_csv(p: Path, shape: tuple[int, ...], pre: Preprocessor | None) -> np.ndarray:
    """Rows of a CSV: by column name when it has the training feature columns as its header
    (other columns, like the target, are ignored), else as plain numbers, one sample a row."""
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DesignFormatError(f"{p}: not UTF-8 text; save the CSV as UTF-8") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{p}: holds no rows")
    columns = pre.columns if pre is not None and pre.columns else None
    header = [c.strip() for c in rows[0]]
    if columns and all(c in header for c in columns):
        index = [header.index(c) for c in columns]
        body = rows[1:]
        categorical = set(pre.categorical)
        if not body:
            raise DataError(f"{p}: has a header but no rows")
        x = np.empty((len(body), len(columns)), dtype=object if categorical else np.float64)
        for r, row in enumerate(body, start=2):
            if len(row) < len(header):
                raise DataError(f"{p} line {r}: has {len(row)} values, the header {len(header)}")
            for k, i in enumerate(index):
                x[r - 2, k] = row[i].strip() if k in categorical else _number(row[i], p, r)
        return x
    if columns and any(c in header for c in columns):
        missing = next(c for c in columns if c not in header)
        raise DataError(
            f"{p}: the header has no column {missing!r}; the model reads the columns "
            + ", ".join(columns)
        )
    if not _numeric(rows[0]):
        rows = rows[1:]  # a header of other names
    width = int(np.prod(shape))
    values = []
    for r, row in enumerate(rows, start=1):
        if len(row) != width:
            raise DataError(
                f"{p} line {r}: has {len(row)} values, but the model expects samples of "
                f"shape {_shape_text(shape)} ({width} values a row)"
            )
        values.append([_number(c, p, r) for c in row])
    if not values:
        raise DataError(f"{p}: holds no rows")
    return np.asarray(values, dtype=np.float64).reshape(len(values), *shape)


def _numeric(row: list[str]) -> bool:
    try:
        [float(c) for c in row if c.strip()]
    except ValueError:
        return False
    return True


def _number(cell: str, p: Path, line: int) -> float:
    cell = cell.strip()
    if cell == "" or cell.lower() in ("na", "nan"):
        return float("nan")
    try:
        return float(cell)
    except ValueError:
        raise DataError(f"{p} line {line}: {cell[:30]!r} is not a number") from None
