"""Data larger than memory: image folders and ``.npy`` files read from disk batch by batch.

:func:`plan_for` estimates what a data section would take in memory (samples × decoded float32
size) and compares it with the memory budget (``data.memory_budget_mb``, default a quarter of the
machine's RAM); ``data.stream`` (``"auto"`` | ``true`` | ``false``) overrides the choice. When the
data streams, :func:`prepare_streaming` returns a :class:`~engine.data.PreparedData` whose
``x_*`` are :class:`StreamedSplit` objects (array-like: ``len``, ``shape``, indexing reads from
disk) while the targets stay resident (one number per sample). The training loop turns a split
into a :class:`DeviceStream`: a :class:`torch.utils.data.DataLoader` whose worker processes
decode (Pillow), resize, convert and preprocess each batch the trainer asks for, pinned when
the device is CUDA and prefetched ahead of the step. Everything handed to the workers is
picklable (spawn-safe): module-level classes, no lambdas, the memory map reopened in each
worker.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.errors import DataError, check_cancel

#: Share of the machine's RAM a data section may take resident when no budget is given.
DEFAULT_BUDGET_SHARE = 0.25
#: Headers (not pixels) of at most this many images are checked before training starts.
HEADER_SAMPLE = 512
#: Training images decoded to fit the preprocessing statistics (mean/std, min/max).
STATS_SAMPLE = 1024
#: Batches each worker keeps decoded ahead of the step.
PREFETCH = 4
#: Most worker processes chosen from the machine.
MAX_WORKERS = 8
STREAM_CHOICES = ("auto", True, False)


def machine_memory_mb() -> int:
    """Physical memory of this machine in MiB (8 GiB when it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20)
    except (AttributeError, ValueError, OSError):
        try:
            import psutil

            return int(psutil.virtual_memory().total // 2**20)
        except Exception:  # noqa: BLE001 - no way to know: assume a modest machine
            return 8192


def default_budget_mb() -> int:
    """The memory budget when the data section names none: a quarter of the machine's RAM."""
    return max(64, int(machine_memory_mb() * DEFAULT_BUDGET_SHARE))


def default_workers() -> int:
    """Worker processes from the machine: one per CPU core but one (for the training step),
    at most :data:`MAX_WORKERS`; 0 (decode in the training process) on a single core."""
    return max(0, min(MAX_WORKERS, (os.cpu_count() or 1) - 1))


def _size_text(nbytes: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{int(nbytes)} B"


@dataclass
class StreamPlan:
    """Whether a data section streams, and why (:meth:`line` is the Data panel's line)."""

    stream: bool
    n_samples: int
    nbytes: int  # the decoded float32 size of every sample
    budget_mb: int
    choice: Any  # the spec's "stream": "auto" | True | False
    noun: str  # "images" | "rows"

    def line(self) -> str:
        """The Data panel's line: ``streams from disk: … > budget …`` or ``resident: …``."""
        what = f"{self.n_samples:,} {self.noun} ≈ {_size_text(self.nbytes)}"
        budget = f"budget {_size_text(self.budget_mb * 1e6)}"
        if self.choice is not True and self.choice is not False:
            sign = ">" if self.stream else "≤"
            return f"{'streams from disk' if self.stream else 'resident'}: {what} {sign} {budget}"
        forced = "set to stream" if self.stream else "set to resident"
        return f"{'streams from disk' if self.stream else 'resident'}: {what} ({forced}; {budget})"


# --------------------------------------------------------------------------- sources
class ImageFiles:
    """The images of a folder, read one by one: decoded with Pillow, converted to ``mode``,
    resized to ``size`` (or checked to be ``shape`` when the spec keeps the files' size), as
    float32 ``(C, H, W)`` in [0, 1]. Picklable: only paths and numbers."""

    def __init__(
        self,
        paths: list[str],
        names: list[str],
        mode: str,
        size: tuple[int, int] | None,
        shape: tuple[int, int, int],
    ) -> None:
        self.paths, self.names, self.mode, self.size = paths, names, mode, size
        self.sample_shape = shape

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The images ``rows`` as float32 ``(n, C, H, W)`` in [0, 1]: decoded as 8-bit into one
        batch buffer and scaled once; a file that fails is read again by
        :func:`~engine.data.importers.read_image`, whose DataError names it and the fix."""
        from PIL import Image

        from engine.data.importers import EIGHT_BIT_MODES, MAX_IMAGE_PIXELS

        c, h, w = self.sample_shape
        buf = np.empty((len(rows), h, w, c), np.uint8)
        for k, r in enumerate(rows):
            try:
                with Image.open(self.paths[r]) as img:
                    if img.width * img.height > MAX_IMAGE_PIXELS or img.mode not in (
                        EIGHT_BIT_MODES
                    ):
                        raise ValueError(img.mode)  # read_image says what is wrong
                    if img.mode != self.mode:
                        img = img.convert(self.mode)
                    if self.size is not None and img.size != (w, h):
                        img = img.resize((w, h), Image.Resampling.BILINEAR)
                    arr = np.asarray(img)
            except Exception:  # noqa: BLE001 - the careful reader below names the problem
                arr = None
            if arr is None or arr.shape[:2] != (h, w):
                buf[k] = self._careful(r)
            else:
                buf[k] = arr.reshape(h, w, c)
        out = buf.transpose(0, 3, 1, 2).astype(np.float32)
        out *= 1.0 / 255.0
        return out

    def _careful(self, r: int) -> np.ndarray:
        """Image ``r`` (it failed the fast read) as 8-bit ``(H, W, C)`` through
        :func:`~engine.data.importers.read_image`, or its one-line DataError."""
        from engine.data.importers import read_image

        c, h, w = self.sample_shape
        where = f"image '{self.names[r]}'"
        arr = read_image(Path(self.paths[r]), where, self.mode, self.size)
        if arr.shape == self.sample_shape:
            return np.rint(arr.transpose(1, 2, 0) * 255.0).astype(np.uint8)
        raise DataError(
            f"{where} is {arr.shape[2]}×{arr.shape[1]} pixels but the other images "
            f"are {w}×{h}: resize it, or set the data's size to resize every image"
        )


class NpyRows:
    """Rows of a ``.npy`` file through a read-only memory map (``allow_pickle`` never), reopened
    in each worker process; ``columns`` cuts off a last target column."""

    def __init__(self, path: str, name: str, columns: int | None) -> None:
        self.path, self.name, self.columns = path, name, columns
        self._map: np.ndarray | None = None
        head = self._open()
        self.n = int(head.shape[0])
        shape = tuple(int(d) for d in head.shape[1:])
        self.sample_shape = (columns,) if columns is not None else (shape or (1,))

    def _open(self) -> np.ndarray:
        if self._map is None:
            self._map = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return self._map

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_map"] = None  # a worker maps the file itself
        return state

    def __len__(self) -> int:
        return self.n

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The array's rows ``rows`` as float32, read in ascending order from the memory map."""
        mm = self._open()
        order = np.argsort(rows, kind="stable")  # ascending reads are friendlier to the disk
        got = np.asarray(mm[np.asarray(rows)[order]], dtype=np.float32)
        if self.columns is not None:
            got = got[:, : self.columns]
        got = got.reshape(len(rows), *self.sample_shape)
        out = np.empty_like(got)
        out[order] = got
        return out


def _keep(batch: Any) -> Any:
    """The DataLoader's collate: batches come whole from :meth:`StreamDataset.__getitems__`."""
    return batch


class StreamDataset(torch.utils.data.Dataset):
    """Samples ``rows`` of a source, preprocessed: one worker call reads a whole batch.

    A bad file does not kill the worker: the batch comes back as ``("error", line)`` and the
    training process raises that line (:class:`DeviceStream`)."""

    def __init__(self, source: ImageFiles | NpyRows, rows: np.ndarray, pre: Any) -> None:
        self.source, self.rows, self.pre = source, np.asarray(rows, np.int64), pre

    def __len__(self) -> int:
        return len(self.rows)

    def read(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """The preprocessed float32 samples at ``positions`` of this split (raises DataError)."""
        x = self.source.read(self.rows[np.asarray(positions, np.int64)])
        if self.pre is None or (isinstance(self.source, ImageFiles) and _is_identity(self.pre)):
            return x  # decoded images are finite floats already: nothing to do
        return self.pre.transform(x)

    def __getitems__(self, positions: list[int]) -> tuple[Any, Any]:
        try:
            return "ok", torch.from_numpy(np.ascontiguousarray(self.read(positions)))
        except DataError as exc:
            return "error", str(exc)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.read([i])[0])


def _is_identity(pre: Any) -> bool:
    """Whether the fitted preprocessing leaves images unchanged (no scaling, clipping,
    imputing or smoothing)."""
    return (
        pre.shift is None
        and pre.clip_low is None
        and pre.impute_values is None
        and pre.settings["smooth_window"] <= 1
    )


class StreamedSplit:
    """One split read from disk on demand, shaped like the array it stands for: ``len``,
    ``shape``, ``ndim``, ``dtype``, indexing with an int, slice or index array returns the
    preprocessed float32 samples (``np.asarray`` reads them all — only for small splits)."""

    def __init__(self, dataset: StreamDataset, sample_shape: tuple[int, ...]) -> None:
        self.dataset = dataset
        self.shape = (len(dataset), *sample_shape)
        self.dtype = np.dtype(np.float32)
        self.ndim = len(self.shape)

    @property
    def rows(self) -> np.ndarray:
        """Which samples of the source (file order) make up this split."""
        return self.dataset.rows

    @property
    def nbytes(self) -> int:
        """The split's size as float32 in memory (what loading it whole would take)."""
        return int(np.prod(self.shape)) * 4

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        rest: tuple = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, int | np.integer):
            out = self.dataset.read([int(key) % len(self)])[0]
            return out[rest] if rest else out
        positions = np.arange(len(self))[key if isinstance(key, slice) else np.asarray(key)]
        out = self.dataset.read(positions)
        return out[(slice(None), *rest)] if rest else out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.dataset.read(np.arange(len(self)))
        return out if dtype is None else out.astype(dtype)

    def reshape(self, *shape: Any) -> np.ndarray:
        """The whole split read from disk and reshaped (as ``ndarray.reshape``; small splits)."""
        return np.asarray(self).reshape(*shape)


class _Plan(torch.utils.data.Sampler):
    """The batches the trainer will ask for, in order (replaced each epoch)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class DeviceStream:
    """A :class:`StreamedSplit` as the training loop sees it: like a tensor on ``device``
    (``index_select(0, idx)``, slices, ``shape``). :meth:`plan` hands over an epoch's batches;
    the DataLoader's workers then decode them ahead, in order, and each ``index_select`` with
    the planned ``idx`` takes the next one. Anything unplanned is read in this process."""

    def __init__(self, split: StreamedSplit, device: torch.device, workers: int) -> None:
        self.split, self.device = split, device
        self.shape = torch.Size(split.shape)
        self.dtype = torch.float32
        self.workers = workers
        self._sampler = _Plan()
        self._loader: torch.utils.data.DataLoader | None = None
        self._it = None
        self._planned: deque = deque()

    def __len__(self) -> int:
        return self.shape[0]

    def is_floating_point(self) -> bool:
        """True: streamed inputs are float32 (as ``Tensor.is_floating_point``)."""
        return True

    def new_zeros(self, *size: Any) -> torch.Tensor:
        """Zeros on the training device (as ``Tensor.new_zeros``)."""
        return torch.zeros(*size, device=self.device)

    def _make_loader(self) -> torch.utils.data.DataLoader:
        import multiprocessing

        if multiprocessing.current_process().daemon:
            # a daemonic process (the window's training child) may not start processes:
            # decode in this one
            self.workers = 0
        extra: dict[str, Any] = {}
        if self.workers > 0:
            extra = {"persistent_workers": True, "prefetch_factor": PREFETCH}
        return torch.utils.data.DataLoader(
            self.split.dataset,
            batch_sampler=self._sampler,
            num_workers=self.workers,
            collate_fn=_keep,
            pin_memory=self.device.type == "cuda",
            **extra,
        )

    def _start(self, keys: list, batches: list[list[int]]) -> None:
        if self._loader is None:
            self._loader = self._make_loader()
        self._sampler.batches = batches
        self._planned = deque(keys)
        self._it = iter(self._loader)

    def plan(self, batches: Sequence[torch.Tensor]) -> None:
        """The epoch's batches (index tensors into this split), in the order they will come."""
        flat = torch.cat(list(batches)).cpu().tolist() if batches else []  # one device sync
        lists, a = [], 0
        for b in batches:
            lists.append(flat[a : a + len(b)])
            a += len(b)
        self._start([id(b) for b in batches], lists)
        self._refs = list(batches)  # keeps the ids valid while planned

    def _next(self, key: Any) -> torch.Tensor | None:
        if not self._planned or self._planned[0] != key:
            return None
        self._planned.popleft()
        status, value = next(self._it)
        if status == "error":
            self.close()
            raise DataError(value)
        return value.to(self.device, non_blocking=True)

    def _direct(self, positions: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.split.dataset.read(positions))).to(
            self.device
        )

    def index_select(self, dim: int, idx: torch.Tensor) -> torch.Tensor:
        """The batch ``idx`` on the device: the prefetched one the loader planned, else read now."""
        got = self._next(id(idx))
        return got if got is not None else self._direct(idx.cpu().numpy())

    def __getitem__(self, key: Any) -> torch.Tensor:
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(len(self))
            if start == 0 and stop < len(self):  # a sweep in chunks (evaluation): plan it
                step = stop - start
                spans = [(a, min(a + step, len(self))) for a in range(0, len(self), step)]
                self._start(spans, [list(range(a, b)) for a, b in spans])
            got = self._next((start, stop))
            return got if got is not None else self._direct(np.arange(start, stop))
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        return self._direct(np.arange(len(self))[key])

    def close(self) -> None:
        """Stop the worker processes (a later plan starts them again)."""
        self._it = None
        self._loader = None
        self._planned.clear()


# --------------------------------------------------------------------------- choice
def _budget(spec: dict[str, Any]) -> int:
    return int(spec.get("memory_budget_mb") or default_budget_mb())


def plan_for(spec: dict[str, Any], base_dir: Path | None) -> StreamPlan | None:
    """Whether a normalized data spec streams (None for sources that always load whole)."""
    source = spec.get("source")
    if source == "image_folder":
        from engine.data.importers import list_image_folder

        listing = list_image_folder(spec, base_dir)
        per = int(np.prod(_image_shape(spec, listing))) * 4
        n, noun = len(listing.paths), "images"
    elif source == "npy":
        try:
            rows = _npy_rows(spec, base_dir)
        except DataError:
            return None  # not mappable: loading it whole names the problem
        per, n, noun = int(np.prod(rows.sample_shape)) * 4, len(rows), "rows"
    else:
        return None
    budget = _budget(spec)
    choice = spec.get("stream", "auto")
    stream = choice if isinstance(choice, bool) else n * per > budget * 1e6
    return StreamPlan(bool(stream), n, n * per, budget, choice, noun)


def _image_shape(spec: dict[str, Any], listing: Any) -> tuple[int, int, int]:
    channels = 1 if spec["color"] == "grayscale" else 3
    if spec["size"] is not None:
        return (channels, int(spec["size"][0]), int(spec["size"][1]))
    return (channels, *listing.first_size)


def _npy_rows(spec: dict[str, Any], base_dir: Path | None) -> NpyRows:
    from engine.data.importers import check_numpy_file, resolve

    name = spec["path"]
    path = resolve(name, base_dir)
    check_numpy_file(path, name)
    try:
        head = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise DataError(
            f"{name} cannot be memory-mapped ({exc}): save it with numpy.save "
            "(an .npy of plain numbers)"
        ) from None
    if not isinstance(head, np.ndarray) or head.ndim == 0:
        raise DataError(f"{name} is not one .npy array: use source 'npz' for an archive")
    if head.dtype.kind not in "biuf":
        raise DataError(f"{name}: features have dtype {head.dtype}, not numbers: save numbers")
    columns = None
    if spec["target"] == "last":
        if head.ndim != 2 or head.shape[1] < 2:
            raise DataError(
                f"{name}: 'target': 'last' needs a 2-D array with at least two "
                f"columns, got shape {head.shape}"
            )
        columns = int(head.shape[1]) - 1
    return NpyRows(str(path), name, columns)


def _stream_source(
    spec: dict[str, Any], base_dir: Path | None, should_stop: Callable[[], bool] | None
) -> tuple[Any, np.ndarray | None, str, list[str] | None, str, str]:
    """``(source, labels, task, class names, layout, origin)`` of a streamed image folder or
    ``.npy`` file, its headers checked (nothing decoded)."""
    from engine.data.prepare import encode_labels

    if spec["source"] == "image_folder":
        from engine.data.importers import check_image_headers, image_task, list_image_folder

        listing = list_image_folder(spec, base_dir)
        task = image_task(spec, listing.origin)
        check_image_headers(listing, spec, should_stop, limit=HEADER_SAMPLE)
        shape = _image_shape(spec, listing)
        mode = "L" if spec["color"] == "grayscale" else "RGB"
        size = tuple(spec["size"]) if spec["size"] is not None else None
        source: ImageFiles | NpyRows = ImageFiles(listing.paths, listing.names, mode, size, shape)
        y = np.asarray(listing.labels, np.int64) if task == "classification" else None
        return source, y, task, listing.class_names, "image", listing.origin
    from engine.data.importers import npy_targets

    source = _npy_rows(spec, base_dir)
    layout = {1: "table", 2: "sequence", 3: "image"}.get(len(source.sample_shape))
    if layout is None:
        raise DataError(
            f"{spec['path']}: array of {len(source.sample_shape) + 1} dimensions; expected "
            "(N, F) table, (N, T, F) sequences or (N, C, H, W) images"
        )
    y, task = npy_targets(spec, base_dir, len(source))
    class_names, origin = None, spec["path"]
    if task == "classification":
        y, class_names = encode_labels(y, origin)
    return source, y, task, class_names, layout, origin


def _fit_on_sample(
    spec: dict[str, Any],
    source: Any,
    train: np.ndarray,
    layout: str,
    columns: list[str] | None,
    class_names: list[str] | None,
    seed: int,
) -> Any:
    """The Preprocessor fitted on up to :data:`STATS_SAMPLE` training samples (chosen with the
    seed; one sample when the preprocessing estimates nothing)."""
    from engine.data.preprocess import Preprocessor

    pre = Preprocessor(spec["preprocess"], layout, columns, [], class_names)
    p = spec["preprocess"]
    if (p["scale"], p["impute"], p["outliers"]) == ("none", "none", "none"):
        sample = train[:1]  # nothing to estimate: one sample gives the shapes
    else:
        take = min(len(train), STATS_SAMPLE)
        sample = np.sort(np.random.default_rng(seed).choice(train, take, replace=False))
    pre.fit(source.read(sample))
    return pre


# --------------------------------------------------------------------------- preparing
def prepare_streaming(
    spec: dict[str, Any],
    base_dir: Path | None,
    seed: int,
    should_stop: Callable[[], bool] | None = None,
    fitted: Any = None,
) -> Any:
    """:class:`~engine.data.PreparedData` whose inputs stay on disk (see the module doc).

    The files, labels, split and seed are those of the resident path, so a seed puts the same
    files in the same split either way; the preprocessing statistics come from up to
    :data:`STATS_SAMPLE` training samples (every one when the split is smaller)."""
    from engine.data.prepare import PreparedData, _describe, _split
    from engine.data.raw import RawData

    source, y, task, class_names, layout, origin = _stream_source(spec, base_dir, should_stop)
    check_cancel(should_stop)
    n = len(source)
    stand_in = RawData(np.empty((n, 0)), y, task, layout, origin)
    labels = y if task == "classification" else None
    tr, va, te = _split(stand_in, labels, spec["split"], seed)
    check_cancel(should_stop)
    columns = [f"x{i}" for i in range(source.sample_shape[0])] if layout == "table" else None
    names = class_names if task == "classification" else None
    pre = fitted or _fit_on_sample(spec, source, tr, layout, columns, names, seed)
    check_cancel(should_stop)

    def part(ix: np.ndarray) -> tuple[StreamedSplit, np.ndarray | None]:
        split = StreamedSplit(StreamDataset(source, ix, pre), tuple(pre.output_shape))
        return split, (y[ix] if y is not None else None)

    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = part(tr), part(va), part(te)
    target_shape = tuple(int(d) for d in y.shape[1:]) if task == "regression" else ()
    return PreparedData(
        x_tr,
        y_tr,
        x_va,
        y_va,
        x_te,
        y_te,
        task,
        tuple(pre.output_shape),
        target_shape,
        len(names) if names is not None else None,
        names,
        pre.feature_names,
        pre,
        _describe(origin, len(tr), len(va), len(te)) + ", streamed from disk",
        spec,
    )


#: Training samples the Data panel's pictures read from streamed data (tables, sequences).
PICTURE_SAMPLE = 2000


def picture_view(data: Any, seed: int) -> Any:
    """Streamed ``data`` with its training split cut to :data:`PICTURE_SAMPLE` samples chosen
    with ``seed`` and read into memory, for the pictures (histograms, lines) that look at
    every training sample; resident data as it is. The class balance comes from the whole
    data (the targets are resident)."""
    import dataclasses

    if not isinstance(data.x_train, StreamedSplit) or len(data.x_train) <= PICTURE_SAMPLE:
        return data
    pick = np.sort(
        np.random.default_rng(seed).choice(len(data.x_train), PICTURE_SAMPLE, replace=False)
    )
    y = data.y_train[pick] if data.y_train is not None else None
    return dataclasses.replace(data, x_train=data.x_train[pick], y_train=y)


def workers_for(spec: dict[str, Any]) -> int:
    """The data section's ``workers`` (null: :func:`default_workers`)."""
    w = spec.get("workers")
    return default_workers() if w is None else int(w)


def is_streamed(x: Any) -> bool:
    """Whether ``x`` is a split read from disk (on the host or feeding the device)."""
    return isinstance(x, StreamedSplit | DeviceStream)
