"""Turn a design and a trained checkpoint into the exact network every export format writes.

:func:`prepare_export` checks the request (design valid, checkpoint trained on this design, the
part asked for exists), picks the network, loads its weights and wraps it in an
:class:`ExportModule` that

* folds the fitted preprocessing into the model when it is expressible as tensor operations
  (mean/median imputation of missing values, outlier clipping, standard or min-max scaling), so
  the exported model takes the same raw features the user loaded;
* for a self-organizing map returns the best-matching unit and every unit's distance.

Which part is exported (``part``):

* ``None`` — the design's model; for a GAN, the generator.
* a network name or role (``"generator"``, ``"discriminator"``) — that network.
* ``"encoder"`` — the encoder alone: every layer up to and including the *bottleneck*, the
  narrowest layer (fewest values per sample) that every path from the input to the output passes
  through; when consecutive layers share that width (a Linear and its activation) the last of them.
* ``"encoder:NODE"`` — the encoder ending at the node ``NODE`` (its id or label), with every layer
  it depends on.
"""

from __future__ import annotations

import keyword
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import torch
from torch import nn

from engine.compile import DesignModule, compile_design
from engine.data.preprocess import AffineParams, Preprocessor
from engine.errors import DataError, DesignError, ExportError
from engine.graph import Design, Edge, Node
from engine.io import load_design
from engine.layers import REGISTRY, fmt_shape, numel
from engine.shapes import ShapeAnalysis, analyze, network_inputs, network_outputs
from engine.training.checkpoint import Checkpoint, load_checkpoint

SIDECAR_FORMAT = "deepwire.export"
SIDECAR_VERSION = 1


@dataclass(frozen=True)
class Preprocessing:
    """Fitted preprocessing folded into the model: ``y = (clip(impute(x)) - shift) / scale``.

    Arrays are float32 with one entry per feature and already shaped to broadcast against a
    batch (``(F,)`` for tables and sequences, ``(C, 1, 1)`` for images). A step is ``None`` when
    it does nothing, so the generated code only shows the steps that matter.
    """

    steps: tuple[str, ...]
    impute: np.ndarray | None
    clip_low: np.ndarray | None
    clip_high: np.ndarray | None
    shift: np.ndarray | None
    scale: np.ndarray | None

    @classmethod
    def from_affine(cls, affine: AffineParams, settings: dict[str, Any]) -> Preprocessing | None:
        """The non-trivial steps of ``affine``; ``None`` when preprocessing is the identity."""
        shape = (-1,) if affine.feature_axis == -1 else (-1, 1, 1)

        def arr(a: np.ndarray) -> np.ndarray:
            return np.asarray(a, dtype=np.float32).reshape(shape)

        impute = arr(affine.impute_value) if not np.isnan(affine.impute_value).all() else None
        clipping = np.isfinite(affine.clip_low).any() or np.isfinite(affine.clip_high).any()
        scaling = bool((affine.shift != 0).any() or (affine.scale != 1).any())
        steps = []
        if impute is not None:
            steps.append(f"{settings.get('impute', 'mean')} imputation of missing values")
        if clipping:
            steps.append(f"{settings.get('outliers', '')} outlier clipping".strip())
        if scaling:
            steps.append(f"{settings.get('scale', '')} scaling".strip())
        if not steps:
            return None
        return cls(
            tuple(steps),
            impute,
            arr(affine.clip_low) if clipping else None,
            arr(affine.clip_high) if clipping else None,
            arr(affine.shift) if scaling else None,
            arr(affine.scale) if scaling else None,
        )

    def constants(self) -> dict[str, np.ndarray]:
        """The non-``None`` arrays by name (``impute``, ``clip_low``, ``clip_high``, ``shift``…)."""
        names = ("impute", "clip_low", "clip_high", "shift", "scale")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


class ExportModule(nn.Module):
    """What every format exports: the trained network plus folded preprocessing and SOM head.

    ``forward`` takes one raw tensor per Input node and returns the network's output(s); with
    ``som_head`` it returns ``(bmu, distances)``: the index of the best-matching unit per sample
    (int64, row-major over the grid) and the distance to every unit.
    """

    def __init__(
        self,
        net: DesignModule,
        preprocessing: Preprocessing | None = None,
        input_index: int = 0,
        som_head: bool = False,
    ) -> None:
        super().__init__()
        self.net = net
        self.input_index = input_index
        self.som_head = som_head
        self.steps: tuple[str, ...] = ()
        if preprocessing is not None:
            self.steps = tuple(preprocessing.constants())
            for name, value in preprocessing.constants().items():
                self.register_buffer(name, torch.from_numpy(np.array(value)), persistent=False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the folded preprocessing to one raw input batch."""
        if "impute" in self.steps:
            x = torch.where(torch.isnan(x), self.impute, x)
        if "clip_low" in self.steps:
            x = torch.clamp(x, self.clip_low, self.clip_high)
        if "shift" in self.steps:
            x = (x - self.shift) / self.scale
        return x

    def forward(self, *inputs: torch.Tensor):  # noqa: D401 - torch API
        if self.steps:
            inputs = tuple(
                self.preprocess(x) if i == self.input_index else x for i, x in enumerate(inputs)
            )
        out = self.net(*inputs)
        if self.som_head:
            return out.argmin(dim=1), out
        return out


@dataclass
class ExportPlan:
    """A checked export request: the module to write and everything the sidecar describes."""

    design: Design  # the exported sub-design (one network; for an encoder only its layers)
    network: str
    part: str  # "model", "generator", "discriminator", "encoder"
    module: ExportModule
    analysis: ShapeAnalysis
    input_ids: list[str]  # Input node ids in ``design`` (keywords renamed, see _safe_ids)
    output_names: list[str]  # public output names (ONNX outputs, sidecar, .npz keys)
    input_shapes: list[tuple[int, ...]]
    input_dtypes: list[str]
    preprocessing: Preprocessing | None
    preprocessing_note: str
    som_grid: tuple[int, int] | None
    info: dict[str, Any] = field(default_factory=dict)  # task, class names, columns, epoch…
    input_names: list[str] = field(default_factory=list)  # public input names (node ids)
    original_ids: dict[str, str] = field(default_factory=dict)  # renamed id -> id in the file
    dynamic_steps: bool = False  # sequence length varies too (set by the writers once verified)
    program: Any = field(default=None, repr=False)  # the torch.export trace, made once
    step_dims: dict[str, list[int]] = field(default_factory=dict)  # output id -> dims that vary

    def example_inputs(self, batch: int = 2, steps: int | None = None) -> tuple[torch.Tensor, ...]:
        """Random raw inputs of the exported shapes (``steps`` overrides a sequence length)."""
        gen = torch.Generator().manual_seed(0)
        out = []
        for shape, dtype in zip(self.input_shapes, self.input_dtypes):
            if steps is not None and len(shape) == 2:
                shape = (steps, shape[1])
            if dtype == "int64":
                out.append(torch.zeros((batch, *shape), dtype=torch.long))
            else:
                out.append(torch.rand((batch, *shape), generator=gen))
        return tuple(out)

    def sidecar(self, fmt: str, file_name: str) -> dict[str, Any]:
        """The JSON written next to the export: what goes in, what comes out, and how."""
        info = self.info
        out: dict[str, Any] = {
            "format": SIDECAR_FORMAT,
            "version": SIDECAR_VERSION,
            "file": file_name,
            "export_format": fmt,
            "design": info.get("design_name"),
            "network": self.network,
            "part": self.part,
            "task": info.get("task"),
            "inputs": self._sidecar_inputs(),
            "outputs": self._sidecar_outputs(),
            "class_labels": info.get("class_names"),
            "preprocessing": self._sidecar_preprocessing(),
            "dynamic_axes": {"batch": True, "steps": self.dynamic_steps},
            "trained_epochs": info.get("epoch"),
            "metrics": info.get("metrics") or {},
        }
        if self.som_grid is not None:
            out["som_grid"] = {
                "rows": self.som_grid[0],
                "cols": self.som_grid[1],
                "bmu_to_cell": "row = bmu // cols, col = bmu % cols",
            }
        return out

    def _sidecar_inputs(self) -> list[dict[str, Any]]:
        """The sidecar's ``inputs``: name, shape (with its dynamic axes), dtype, columns."""
        info = self.info
        batch = "batch"
        inputs = []
        for i, (node_id, shape, dtype) in enumerate(
            zip(self.input_names, self.input_shapes, self.input_dtypes)
        ):
            dims: list[Any] = [batch, *shape]
            if self.dynamic_steps and len(shape) == 2:
                dims[1] = "steps"
            entry: dict[str, Any] = {"name": node_id, "shape": dims, "dtype": dtype}
            if i == 0 and info.get("feature_names") and len(shape) == 1:
                entry["columns"] = list(info["feature_names"])
            inputs.append(entry)
        return inputs

    def _sidecar_outputs(self) -> list[dict[str, Any]]:
        """The sidecar's ``outputs``: name, shape (with its dynamic axes) and meaning."""
        batch = "batch"
        outputs = []
        steps = self.input_shapes[0][0] if self.dynamic_steps else None
        for i, name in enumerate(self.output_names):
            node_id = self.module.net.output_ids[min(i, len(self.module.net.output_ids) - 1)]
            shape = self._output_shape(name if self.som_grid is not None else node_id)
            dims: list[Any] | None = [batch, *shape] if shape is not None else None
            if dims is not None and self.dynamic_steps:
                for d in self.step_dims.get(node_id, []):
                    dims[d + 1] = "steps" if shape[d] == steps else "dynamic"
            outputs.append({"name": name, "shape": dims, "meaning": self._meaning(name)})
        return outputs

    def _sidecar_preprocessing(self) -> dict[str, Any]:
        """The sidecar's ``preprocessing``: folded or not, its steps, constants, state or note."""
        info = self.info
        pre = {
            "folded": self.preprocessing is not None or self.preprocessing_note == "",
            "steps": list(self.preprocessing.steps) if self.preprocessing else [],
            "note": self.preprocessing_note,
        }
        if self.preprocessing is not None:
            pre["constants"] = {
                k: [_json_float(v) for v in np.asarray(a).ravel()]
                for k, a in self.preprocessing.constants().items()
            }
        if info.get("preprocessor_state") is not None and not pre["folded"]:
            pre["state"] = info["preprocessor_state"]
        return pre

    def _output_shape(self, name: str) -> tuple[int, ...] | None:
        if self.som_grid is not None:
            return () if name == "bmu" else (self.som_grid[0] * self.som_grid[1],)
        shape = self.analysis.info[name].output_shape
        return tuple(shape) if shape is not None else None

    def _meaning(self, name: str) -> str:
        task = self.info.get("task")
        if self.som_grid is not None:
            return (
                "index of the best-matching unit (row-major)"
                if name == "bmu"
                else "Euclidean distance from the sample to every unit"
            )
        if self.part == "encoder":
            return "the code (encoder output)"
        if self.part == "generator":
            return "generated samples"
        if self.part == "discriminator":
            return "logit that the sample is real"
        if task == "classification":
            return "class scores, one per entry of class_labels (argmax = predicted class)"
        if task == "reconstruction":
            return "reconstruction of the preprocessed input"
        return "predicted values"


def _json_float(v: float) -> float | str:
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


# ------------------------------------------------------------------------------------------
# loading and checking


def load_request(
    design: Design | str | os.PathLike[str], checkpoint: Checkpoint | str | os.PathLike[str]
) -> tuple[Design, Checkpoint, str]:
    """Load (if paths) and cross-check a design and a checkpoint; returns them and a display name.

    Raises DesignFormatError for unreadable files, DesignError for an invalid design and
    ExportError when the checkpoint was trained on a different design.
    """
    where = "the design"
    if not isinstance(design, Design):
        where = str(design)
        design = load_design(design)
    analysis = analyze(design)
    if not analysis.valid:
        problems = analysis.problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DesignError(
            f"cannot export {where}: {problems[0]}{more}; fix it (see "
            "'deepwire check') and train again"
        )
    ckpt_name = "the checkpoint"
    if not isinstance(checkpoint, Checkpoint):
        ckpt_name = str(checkpoint)
        checkpoint = load_checkpoint(checkpoint)
    if not checkpoint.matches(design):
        raise ExportError(
            f"{ckpt_name} was trained on a different design than {where} "
            f"({_difference(checkpoint.design, design)}); pick the checkpoint of "
            "a training run of this design"
        )
    return design, checkpoint, where


def _difference(trained: Design, current: Design) -> str:
    """A short description of the first structural difference between two designs."""
    a = {n.id: n for n in trained}
    b = {n.id: n for n in current}
    missing = sorted(set(a) - set(b))
    if missing:
        return f"layer '{missing[0]}' is not in the design"
    extra = sorted(set(b) - set(a))
    if extra:
        return f"layer '{extra[0]}' is new"
    for node_id in sorted(a):
        if (a[node_id].type, a[node_id].params) != (b[node_id].type, b[node_id].params):
            return f"layer '{node_id}' has different settings"
    return "the wiring differs"


def resolve_part(design: Design, part: str | None) -> tuple[str, str, str | None]:
    """``(network, part_kind, encoder_end)`` for a ``part`` request (see the module doc)."""
    roles = {name: meta.get("role") for name, meta in design.networks.items()}
    if part is None or part == "":
        gen = design.network_of_role("generator")
        if gen is not None:
            return gen, "generator", None
        net = design.network_of_role("model") or next(iter(design.networks))
        return net, "model", None
    if part == "encoder" or part.startswith("encoder:"):
        net = design.network_of_role("model")
        if net is None:
            raise ExportError(
                "an encoder can only be exported from a single-network design (an autoencoder)"
            )
        end = part.split(":", 1)[1].strip() if ":" in part else None
        return net, "encoder", end or None
    if part in design.networks:
        return part, roles[part] if roles[part] in ("generator", "discriminator") else "model", None
    for name, role in roles.items():
        if role == part:
            return name, role if role != "model" else "model", None
    choices = list(design.networks) + ["encoder", "encoder:NODE"]
    raise ExportError(
        f"the design has no network or part '{part}'; choose one of: " + ", ".join(choices)
    )


def bottleneck(design: Design, network: str, analysis: ShapeAnalysis) -> str:
    """The node the encoder ends at by default (see the module doc)."""
    graph = design.graph.subgraph([n.id for n in design.nodes_in_network(network)])
    inputs = network_inputs(design, network)
    outputs = network_outputs(design, network)
    order = [
        n
        for n in analysis.topological_order(network)
        if REGISTRY.resolve(design.node(n).type) not in ("Input", "Output")
    ]

    def on_every_path(node_id: str) -> bool:
        rest = graph.subgraph([n for n in graph.nodes if n != node_id])
        return not any(
            nx.has_path(rest, i, o) for i in inputs for o in outputs if i in rest and o in rest
        )

    candidates = [n for n in order if on_every_path(n) and n not in outputs]
    if not candidates:
        raise ExportError(
            f"network '{network}' has no layer every path passes through, so it "
            "has no bottleneck; name the encoder's last layer (encoder:NODE)"
        )
    sizes = [numel(analysis.info[n].output_shape) for n in candidates]
    smallest = min(sizes)
    i = sizes.index(smallest)
    while i + 1 < len(candidates) and sizes[i + 1] == smallest:
        i += 1
    return candidates[i]


def _find_node(design: Design, network: str, name: str) -> str:
    for node in design.nodes_in_network(network):
        if name in (node.id, node.label):
            return node.id
    names = ", ".join(n.id for n in design.nodes_in_network(network))
    raise ExportError(f"no layer called '{name}' in network '{network}' (its layers: {names})")


def _safe_ids(design: Design) -> tuple[Design, dict[str, str]]:
    """``design`` with node ids that are Python keywords renamed (``class`` → ``class_``);
    torch.export cannot re-load modules with such attribute names. Returns the design and
    new id → original id, for the public input/output names."""
    bad = [n.id for n in design if keyword.iskeyword(n.id)]
    if not bad:
        return design, {}
    taken = {n.id for n in design}
    public: dict[str, str] = {}
    for old in bad:
        new = old + "_"
        while new in taken:
            new += "_"
        taken.add(new)
        public[new] = old
    out = Design(design.name, design.description)
    out.networks, out.data, out.training = design.networks, design.data, design.training
    out.blocks = design.blocks
    rename = {old: new for new, old in public.items()}
    for node in design:
        out.add_node(
            Node(
                rename.get(node.id, node.id),
                node.type,
                dict(node.params),
                node.position,
                node.label,
                node.network,
            )
        )
    for e in design.edges:
        out.add_edge(Edge(rename.get(e.source, e.source), rename.get(e.target, e.target), e.port))
    return out, public


def sub_design(design: Design, network: str, keep: set[str] | None = None) -> Design:
    """A copy holding only ``network`` (and of it only ``keep``), as a single ``model`` network."""
    out = design.copy()
    for node in list(out):
        if node.network != network or (keep is not None and node.id not in keep):
            out.remove_node(node.id)
    out.networks = {network: {"role": "model"}}
    return out


# ------------------------------------------------------------------------------------------
# the plan


def prepare_export(
    design: Design | str | os.PathLike[str],
    checkpoint: Checkpoint | str | os.PathLike[str],
    part: str | None = None,
    fold_preprocessing: bool = True,
) -> ExportPlan:
    """Check a request and build the :class:`ExportPlan` every format writer consumes."""
    design, ckpt, _where = load_request(design, checkpoint)
    full_analysis = analyze(design)
    network, kind, encoder_end = resolve_part(design, part)
    weights = _network_weights(ckpt, network)
    keep = _kept_nodes(design, network, kind, encoder_end, full_analysis)
    sub, public = _safe_ids(sub_design(design, network, keep))
    analysis = analyze(sub)
    if not analysis.valid:  # e.g. an encoder cut that leaves a merge without its inputs
        raise ExportError(
            f"the {kind} of network '{network}' is not a valid network on its "
            f"own: {analysis.problems[0]}"
        )
    net = compile_design(sub, network, analysis)
    _load_weights(net, weights, public, keep, network)

    inputs = list(net.input_ids)
    input_shapes = [tuple(analysis.info[i].output_shape) for i in inputs]
    input_dtypes = [analysis.info[i].resolved.get("dtype", "float32") for i in inputs]
    preprocessing, note = None, ""
    data_input = kind != "generator" and len(inputs) == 1 and input_dtypes[0] == "float32"
    pre_state = ckpt.preprocessor
    if pre_state is not None and data_input:
        preprocessing, note = _fold(pre_state, input_shapes[0], fold_preprocessing)
    elif pre_state is not None and kind != "generator":
        note = "not folded: the network does not take one float input; apply it before the model"

    outputs = list(net.output_ids)
    som_grid = _som_grid(sub, network, analysis, outputs)
    module = ExportModule(net, preprocessing, 0, som_head=som_grid is not None).eval()
    info = _plan_info(design, ckpt, kind, data_input)
    return ExportPlan(
        design=sub,
        network=network,
        part=kind,
        module=module,
        analysis=analysis,
        input_ids=inputs,
        input_names=[public.get(i, i) for i in inputs],
        original_ids=public,
        output_names=["bmu", "distances"] if som_grid else [public.get(o, o) for o in outputs],
        input_shapes=input_shapes,
        input_dtypes=input_dtypes,
        preprocessing=preprocessing,
        preprocessing_note=note,
        som_grid=som_grid,
        info=info,
    )


def _network_weights(ckpt: Checkpoint, network: str) -> dict[str, torch.Tensor]:
    """The checkpoint's weights for ``network``, unwrapped; refuses a checkpoint without them."""
    weights = ckpt.state_dicts.get(network)
    if weights is None:
        raise ExportError(
            f"the checkpoint holds no weights for network '{network}' (it has: "
            f"{', '.join(ckpt.state_dicts) or 'none'}); export a checkpoint of a "
            "finished training run"
        )
    return _unwrap_keys(weights)


def _kept_nodes(
    design: Design, network: str, kind: str, encoder_end: str | None, full_analysis: ShapeAnalysis
) -> set[str] | None:
    """The nodes an encoder export keeps (the end node and its ancestors); None keeps all."""
    if kind != "encoder":
        return None
    if encoder_end is not None:
        end = _find_node(design, network, encoder_end)
    elif design.training.get("task") == "reconstruction":
        end = bottleneck(design, network, full_analysis)
    else:
        raise ExportError(
            "only an autoencoder (task reconstruction) has a bottleneck to "
            "end the encoder at; name the last layer with encoder:NODE"
        )
    return nx.ancestors(design.graph, end) | {end}


def _load_weights(
    net: DesignModule,
    weights: dict[str, torch.Tensor],
    public: dict[str, str],
    keep: set[str] | None,
    network: str,
) -> None:
    """Load ``weights`` (keyed by the design's ids) into ``net`` (keyed by safe ids), strictly;
    an encoder cut (``keep``) drops the weights of the layers it leaves out. Leaves it in eval."""
    internal = {old: new for new, old in public.items()}
    sd = {}
    for key, value in weights.items():
        head, node_id, rest = key.split(".", 2) if key.count(".") >= 2 else ("", "", key)
        node_id = internal.get(node_id, node_id)
        if keep is None or node_id in net.layers:
            sd[f"{head}.{node_id}.{rest}" if head else key] = value
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ExportError(
            f"the checkpoint's weights for network '{network}' do not fit the "
            f"design ({first[:160]}); retrain the design"
        ) from None
    net.eval()


def _som_grid(
    sub: Design, network: str, analysis: ShapeAnalysis, outputs: list[str]
) -> tuple[int, int] | None:
    """The (rows, cols) of the SOM the one output passes through, or None (no SOM head)."""
    som_nodes = [n for n in sub.nodes_in_network(network) if REGISTRY.resolve(n.type) == "SOM"]
    if som_nodes and len(outputs) == 1 and _passes_through(sub, outputs[0], som_nodes[0].id):
        params = analysis.info[som_nodes[0].id].resolved
        return (params["rows"], params["cols"])
    return None


def _plan_info(design: Design, ckpt: Checkpoint, kind: str, data_input: bool) -> dict[str, Any]:
    """The facts about the trained model that travel with every export (the sidecar's source)."""
    data_info = ckpt.data_info or {}
    task = design.training.get("task") or data_info.get("task")
    return {
        "design_name": design.name,
        "task": task,
        "class_names": (list(data_info.get("class_names") or []) or None)
        if task == "classification" and kind == "model"
        else None,
        "feature_names": data_info.get("feature_names") if data_input else None,
        "epoch": ckpt.epoch,
        "metrics": dict(ckpt.metrics),
        "preprocessor_state": ckpt.preprocessor if data_input else None,
    }


def _unwrap_keys(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop a ``module.`` (DistributedDataParallel) or ``_orig_mod.`` (torch.compile) prefix that
    every key carries, so checkpoints of wrapped modules export too."""
    for prefix in ("module.", "_orig_mod."):
        if weights and all(k.startswith(prefix) for k in weights):
            weights = {k[len(prefix) :]: v for k, v in weights.items()}
    return weights


def export_parts(design: Design) -> list[tuple[str | None, str]]:
    """What can be exported from ``design``, as ``(part, description)`` for menus and dialogs;
    ``part`` is what :func:`prepare_export` and ``export_model(network=...)`` take."""
    gen = design.network_of_role("generator")
    if gen is not None:
        disc = design.network_of_role("discriminator")
        parts: list[tuple[str | None, str]] = [(None, f"generator '{gen}' (noise → sample)")]
        if disc is not None:
            parts.append(("discriminator", f"discriminator '{disc}' (sample → logit)"))
        return parts
    parts = [(None, "the whole model")]
    net = design.network_of_role("model")
    if net is not None and design.training.get("task") == "reconstruction":
        analysis = analyze(design)
        if analysis.valid:
            try:
                parts.append(
                    ("encoder", f"the encoder (up to '{bottleneck(design, net, analysis)}')")
                )
            except ExportError:
                pass
    return parts


def _passes_through(design: Design, output: str, node_id: str) -> bool:
    """Whether ``output`` is ``node_id`` or only Output layers follow it."""
    current = output
    while current != node_id:
        if REGISTRY.resolve(design.node(current).type) != "Output":
            return False
        sources = design.in_edges(current)
        if len(sources) != 1:
            return False
        current = sources[0].source
    return True


def _fold(
    state: dict[str, Any], input_shape: tuple[int, ...], enabled: bool
) -> tuple[Preprocessing | None, str]:
    """Fold fitted preprocessing into the model if possible; returns it and a note for users."""
    try:
        pre = Preprocessor.from_state(state)
    except (DataError, KeyError, TypeError, ValueError) as exc:
        return None, f"not folded: the checkpoint's preprocessing cannot be read ({exc})"
    if not pre.fitted:
        return None, ""
    affine = pre.affine_params()
    if affine is None:
        reason = (
            "text columns are one-hot encoded"
            if pre.categorical
            else "sequences are smoothed over time"
        )
        return None, (
            f"not folded ({reason}): apply the preprocessing in the 'state' entry before the model"
        )
    folded = Preprocessing.from_affine(affine, pre.settings)
    if folded is None:
        return None, ""
    if tuple(pre.output_shape) != tuple(input_shape):
        return None, (
            f"not folded: the preprocessing gives {fmt_shape(pre.output_shape)} but the "
            f"network reads {fmt_shape(input_shape)}"
        )
    if not enabled:
        return None, "not folded on request: apply the preprocessing before the model"
    return folded, ""


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    """Where the sidecar JSON of an export to ``output`` goes: ``OUTPUT.json``."""
    p = Path(output)
    return p.with_name(p.name + ".json")
