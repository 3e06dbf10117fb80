"""Import a PyTorch model as an editable Deepwire design, with its weights.

Sources: ``FILE.py:ClassName`` (the file is executed to build ``ClassName()``: only import code
you trust; nothing else in Deepwire ever runs code from a file) or a ``.pt2`` program saved by
``torch.export.save`` (checked member by member before it is loaded, so that opening it runs
nothing from it: see ``engine/importer/safe_pt2.py``). Both become a ``torch.export`` program
(ATen operators, one per torch call, each remembering the module and source line it came from),
and each operator is mapped to a registry layer: Linear, Conv1d/2d, ConvTranspose2d, pooling,
BatchNorm, LayerNorm, activations, softmax, Dropout, Embedding, RNN/LSTM/GRU (with the last-step
selection ``h_n[-1]``, ``cat(h_n[-2], h_n[-1])`` or ``out[:, -1]`` folded into the layer),
flatten/view/reshape/squeeze, add, multiply and cat.

Anything without a Deepwire layer is reported by name and place ("torch.nn.functional.grid_sample
at node grid_sample_1 (model.py:12) has no Deepwire layer") and nothing is written. Otherwise the
import writes the design (layered left to right) and, next to it, a Deepwire checkpoint
``DESIGN.pt`` with the weights, after checking that the design reproduces the model's outputs.
"""

from __future__ import annotations

import importlib.util
import inspect
import operator
import os
import re
import sys
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.compile import DesignModule, compile_design
from engine.editing.layout import apply_layout
from engine.errors import ExportError, first_line
from engine.graph import NODE_ID_RE, Design, Edge, Node
from engine.importer.blocks import group_into_blocks
from engine.importer.safe_pt2 import load_program
from engine.io import save_design
from engine.layers import numel
from engine.shapes import analyze
from engine.training.checkpoint import checkpoint_from_modules, save_checkpoint

TOLERANCE = 1e-5
aten = torch.ops.aten


@dataclass
class ImportResult:
    """What an import wrote and how faithful it is."""

    design_path: Path
    checkpoint_path: Path
    design: Design
    max_difference: float
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the CLI."""
        layers = sum(1 for n in self.design if n.type not in ("Input", "Output"))
        text = (
            f"wrote {self.design_path} ({layers} layers) and its weights "
            f"{self.checkpoint_path.name}; outputs match the original to "
            f"{self.max_difference:.1e}"
        )
        return text + "".join(f"; note: {n}" for n in self.notes)


def parse_shape(text: str) -> list[tuple[tuple[int, ...], str]]:
    """``"1,28,28"`` → ``[((1, 28, 28), "float32")]``; several inputs separated by ``;``, an
    ``:int64`` suffix for token ids (``"12:int64"``)."""
    out = []
    for part in str(text).split(";"):
        dims, _, dtype = part.strip().partition(":")
        dtype = dtype.strip() or "float32"
        try:
            shape = tuple(int(d) for d in re.split(r"[,x×]", dims))
        except ValueError:
            shape = ()
        if not shape or any(d < 1 for d in shape) or dtype not in ("float32", "int64"):
            raise ExportError(
                f"--input-shape {text!r} is not a sample shape: give sizes without "
                "the batch, e.g. 1,28,28 (add :int64 for token ids, ; between "
                "inputs)"
            )
        out.append((shape, dtype))
    return out


# ------------------------------------------------------------------------------------------
# sources


def split_source(source: str) -> tuple[Path, str]:
    """``FILE.py:ClassName`` → (path, class name); ExportError for anything else."""
    path_text, _, class_name = source.rpartition(":")
    path = Path(path_text)
    if not path_text or not class_name.isidentifier() or path.suffix != ".py":
        raise ExportError(
            f"{source}: give a Python file and a class, e.g. model.py:Net, or a .pt2 file"
        )
    if not path.is_file():
        raise ExportError(f"{path}: no such file; check the path")
    return path, class_name


def load_python_model(source: str) -> tuple[nn.Module, str]:
    """Execute ``FILE.py`` and build ``ClassName()`` from ``FILE.py:ClassName``."""
    path, class_name = split_source(source)
    name = f"deepwire_import_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ExportError(f"running {path} failed: {first_line(exc, 200)}") from None
    finally:
        sys.path.pop(0)
    cls = getattr(module, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
        found = [
            k
            for k, v in vars(module).items()
            if inspect.isclass(v) and issubclass(v, nn.Module) and v.__module__ == name
        ]
        raise ExportError(
            f"{path} has no nn.Module class '{class_name}' (it defines: "
            f"{', '.join(found) or 'none'})"
        )
    try:
        model = cls()
    except Exception as exc:
        raise ExportError(
            f"{class_name}() failed: {first_line(exc, 200)}; the class must build with no arguments"
        ) from None
    return model.eval(), class_name


def _examples(
    specs: list[tuple[tuple[int, ...], str]], batch: int = 3, vocab: int = 2
) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(0)
    return tuple(
        torch.randint(0, vocab, (batch, *s), generator=gen)
        if d == "int64"
        else torch.randn((batch, *s), generator=gen)
        for s, d in specs
    )


def trace_module(model: nn.Module, specs: list[tuple[tuple[int, ...], str]]):
    """``torch.export`` with a dynamic batch (falling back to a fixed one)."""
    args = _examples(specs)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    errors = []
    for dynamic in (tuple({0: batch} for _ in specs), None):
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's notes about nn.LSTM weights
                return torch.export.export(model, args, dynamic_shapes=dynamic)
        except Exception as exc:  # torch raises many types while tracing user code
            errors.append(exc)
    raise ExportError(
        f"cannot trace {type(model).__name__} with torch.export: {first_line(errors[-1], 200)}"
    )


# ------------------------------------------------------------------------------------------
# graph mapping


@dataclass
class _Ref:
    """An activation produced by a Deepwire node."""

    node: str


@dataclass
class _Param:
    name: str
    tensor: torch.Tensor


@dataclass
class _Recurrent:
    """A recurrent operator waiting to learn which of its outputs the model uses."""

    kind: str
    params: dict[str, Any]
    source: _Ref
    weights: dict[str, torch.Tensor]
    hint: str
    fx_name: str
    mode: str | None = None  # "sequences" or "last" once used
    node: str | None = None


@dataclass
class _RecurrentOut:
    rec: _Recurrent
    index: int  # 0 sequence output, 1 h_n, 2 c_n


@dataclass
class _StateSelect:
    rec: _Recurrent
    layer_index: int  # index into h_n's first dimension (normalized)


class _Unmappable(Exception):
    """This operator has no Deepwire layer (the message says why, if not just that)."""


class _Downstream(Exception):
    """An input of this operator could not be mapped (already reported): skip it silently."""


@dataclass
class _Builder:
    design: Design
    weights: dict[str, torch.Tensor] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    param_users: dict[int, tuple[str, torch.Tensor]] = field(default_factory=dict)
    #: Per node, the module instances it was computed in (for :mod:`engine.importer.blocks`).
    origins: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    current: list[tuple[str, str]] = field(default_factory=list)

    def add(
        self,
        type_id: str,
        params: dict[str, Any],
        inputs: list[_Ref],
        hint: str,
        weights: dict[str, torch.Tensor] | None = None,
    ) -> _Ref:
        node_id = _node_id(hint, self.design)
        self.design.add_node(Node(node_id, type_id, params))
        self.origins[node_id] = self.current
        for port, ref in enumerate(inputs):
            self.design.add_edge(Edge(ref.node, node_id, port))
        for key, value in (weights or {}).items():
            self.weights[f"layers.{node_id}.{key}"] = value.detach().clone()
            owner, _ = self.param_users.setdefault(id(value), (node_id, value))
            if owner != node_id:
                note = (
                    f"'{owner}' and '{node_id}' share weights in the model; the design "
                    "gives each its own copy"
                )
                if note not in self.notes:
                    self.notes.append(note)
        return _Ref(node_id)


def _node_id(hint: str, design: Design) -> str:
    base = re.sub(r"[^A-Za-z0-9_]+", "_", hint).strip("_")[:56] or "layer"
    if not base[0].isalpha() and base[0] != "_":
        base = "n_" + base
    name, i = base, 1
    while name in design or not NODE_ID_RE.match(name):
        i += 1
        name = f"{base}_{i}"
    return name


@dataclass(frozen=True)
class _Problem:
    """One operator without a Deepwire layer: its kind (``hardtanh``), the module class it is
    part of (``ReLU6``), where it is (``features.0.2`` or ``grid_sample_1 (model.py:12)``) and
    why, when there is more to say than that no layer matches."""

    kind: str
    module: str
    place: str
    reason: str


def _problem(node: torch.fx.Node, reason: str) -> _Problem:
    fn = node.meta.get("torch_fn")
    what = fn[1] if fn else ""
    if what.endswith("__getitem__"):
        kind = "tensor indexing [...]"
    elif what:
        kind = what.rpartition(".")[2]
    else:
        kind = str(node.target).removeprefix("aten.").split(".")[0]
    stack = node.meta.get("nn_module_stack") or {}
    modules = [v for v in stack.values() if v[0] and not v[0].startswith("_")]
    module, place = "", ""
    if modules:
        path, cls = modules[-1]
        cls_name = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
        module, place = cls_name.rsplit(".", 1)[-1], path
    if not place:
        where = _source_line(node)
        place = (fn[0] if fn else node.name) + (f" ({where})" if where else "")
    return _Problem(kind, module, place, reason)


def refusal(problems: list[_Problem]) -> str:
    """One line naming every unmapped operation, grouped by kind with counts and first places:
    ``cannot import: hardtanh ×35 (ReLU6) at features.0.2, features.1.conv.0.2, …; …``."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for p in problems:
        groups.setdefault((p.kind, p.module, p.reason), []).append(p.place)
    parts = []
    for (kind, module, reason), places in groups.items():
        shown = ", ".join(places[:3]) + (", …" if len(places) > 3 else "")
        text = f"{kind} ×{len(places)}" + (f" ({module})" if module else "") + f" at {shown}"
        parts.append(text + (f": {reason}" if reason else ""))
    kinds = len({k[0] for k in groups})
    head = "no Deepwire layer for " + (
        "this operation" if len(problems) == 1 else f"{len(problems)} operations of {kinds} kinds"
    )
    return f"cannot import ({head}): " + "; ".join(parts) + " — nothing was written"


def _source_line(node: torch.fx.Node) -> str:
    trace = node.meta.get("stack_trace") or ""
    frames = re.findall(r'File "([^"]+)", line (\d+)', trace)
    user = [
        (f, n)
        for f, n in frames
        if "/torch/" not in f.replace("\\", "/") and "site-packages" not in f
    ]
    if not user:
        return ""
    file, line = user[-1]
    return f"{Path(file).name}:{line}"


def _ints(value: Any, count: int) -> list[int]:
    if isinstance(value, (list, tuple)):
        items = [int(v) for v in value]
        return items * count if len(items) == 1 else items
    return [int(value)] * count


def _uniform(values: list[int], what: str) -> int:
    if len(set(values)) != 1:
        raise _Unmappable(
            f"Deepwire needs the same {what} in every direction, got {'×'.join(map(str, values))}"
        )
    return values[0]


def _shape(node: Any) -> tuple | None:
    val = node.meta.get("val") if isinstance(node, torch.fx.Node) else None
    return tuple(val.shape) if isinstance(val, torch.Tensor) else None


def _same_batch(a: tuple, b: tuple) -> bool:
    return len(a) > 0 and len(b) > 0 and str(a[0]) == str(b[0])


def _module_path(node: torch.fx.Node, class_suffix: str) -> str | None:
    """The path of the outermost module of a class named ``…class_suffix`` the node is in."""
    for path, cls in (node.meta.get("nn_module_stack") or {}).values():
        name = cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}"
        if name.endswith("." + class_suffix) and name.startswith("torch.nn."):
            return path
    return None


def _origin(node: torch.fx.Node) -> list[tuple[str, str]]:
    """The module instances ``node`` was computed in, outermost first: (path, class)."""
    out = []
    for path, cls in (node.meta.get("nn_module_stack") or {}).values():
        if not path or path.startswith("_"):
            continue
        if isinstance(cls, type):
            cls = f"{cls.__module__}.{cls.__qualname__}"
        out.append((str(path), str(cls)))
    return out


def _attention_groups(graph: torch.fx.Graph) -> dict[str, list[torch.fx.Node]]:
    """The operators of each ``torch.nn.MultiheadAttention`` call, by module path."""
    groups: dict[str, list[torch.fx.Node]] = {}
    for node in graph.nodes:
        if node.op == "call_function":
            path = _module_path(node, "MultiheadAttention")
            if path is not None:
                groups.setdefault(path, []).append(node)
    return groups


def _broadcasts(a: tuple | None, b: tuple | None) -> bool:
    """Same batch and rank, every other size equal or 1 (what Deepwire's Multiply takes)."""
    if a is None or b is None or len(a) != len(b) or not _same_batch(a, b):
        return False
    try:
        return all(x == y or 1 in (x, y) for x, y in zip(_sample(a), _sample(b)))
    except _Unmappable:
        return False


def _sample(shape: tuple) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in shape[1:])
    except (TypeError, ValueError):
        raise _Unmappable(
            "only the batch dimension may vary in size; give fixed sizes for the others"
        ) from None


class _Mapper:
    """Walks a torch.export graph once, turning operators into design nodes."""

    def __init__(self, program: torch.export.ExportedProgram, name: str) -> None:
        self.program = program
        self.b = _Builder(Design(name))
        self.values: dict[str, Any] = {}
        self.problems: list[str] = []
        self.failed: set[str] = set()
        self.inputs: list[tuple[str, tuple[int, ...], str]] = []
        signature = program.graph_signature
        self.param_of: dict[str, str] = {}
        for spec in signature.input_specs:
            if spec.target is not None:
                self.param_of[spec.arg.name] = spec.target
        self.handlers: dict[Any, Callable] = self._handlers()

    # -- value access -----------------------------------------------------------------------

    def ref(self, arg: Any) -> _Ref:
        if isinstance(arg, torch.fx.Node) and arg.name in self.failed:
            raise _Downstream
        value = self.values.get(arg.name) if isinstance(arg, torch.fx.Node) else None
        if isinstance(value, _RecurrentOut) and value.index == 0:
            return self.materialize(value.rec, "sequences")
        if isinstance(value, _Ref):
            return value
        if isinstance(value, _Param):
            raise _Unmappable(
                f"uses the tensor '{value.name}' as data; Deepwire layers take activations only"
            )
        raise _Unmappable("")

    def param(self, arg: Any, optional: bool = False) -> torch.Tensor | None:
        if arg is None and optional:
            return None
        value = self.values.get(arg.name) if isinstance(arg, torch.fx.Node) else None
        if not isinstance(value, _Param):
            raise _Unmappable("takes its weights from another computation")
        return value.tensor

    def state_tensor(self, key: str) -> torch.Tensor | None:
        for source in (self.program.state_dict, self.program.constants):
            if key in source:
                return source[key]
        return None

    def materialize(self, rec: _Recurrent, mode: str) -> _Ref:
        if rec.mode is not None and rec.mode != mode:
            raise _Unmappable(
                f"uses both the sequence output and the final state of "
                f"{rec.kind} '{rec.hint}'; a Deepwire {rec.kind} gives one of them"
            )
        if rec.node is None:
            rec.mode = mode
            params = dict(rec.params, return_sequences=mode == "sequences")
            rec.node = self.b.add(
                rec.kind,
                params,
                [rec.source],
                rec.hint,
                {f"rnn.{k}": v for k, v in rec.weights.items()},
            ).node
        return _Ref(rec.node)

    # -- walking ----------------------------------------------------------------------------

    def run(self) -> tuple[Design, dict[str, torch.Tensor], list[str]]:
        graph = self.program.graph
        user_inputs = set(self.program.graph_signature.user_inputs)
        attention = _attention_groups(graph)
        member = {n.name: path for path, nodes in attention.items() for n in nodes}
        for node in graph.nodes:
            self.b.current = _origin(node)
            try:
                if node.name in member:
                    self.values[node.name] = self.attention_part(node, attention[member[node.name]])
                elif node.op == "placeholder":
                    self.placeholder(node, node.name in user_inputs)
                elif node.op == "call_function":
                    self.call(node)
                elif node.op == "output":
                    self.output(node)
                elif node.op == "get_attr":
                    self.values[node.name] = _Param(
                        str(node.target), getattr(graph.owning_module, node.target)
                    )
            except _Unmappable as exc:
                self.problems.append(_problem(node, str(exc)))
                if _shape(node) is None:
                    self.failed.add(node.name)
                else:  # a stand-in, so that every later operator is checked too
                    stand_in = self.b.add("Input", {"shape": [1]}, [], "unmapped_" + node.name)
                    self.values[node.name] = stand_in
            except _Downstream:
                self.failed.add(node.name)
        return self.b.design, self.b.weights, self.b.notes

    def attention_part(self, node: torch.fx.Node, group: list[torch.fx.Node]) -> Any:
        """An operator inside an ``nn.MultiheadAttention``: the whole module becomes one
        MultiheadAttention layer at its output operator; the others are absorbed."""
        inside = {n.name for n in group}
        if _shape(node) is None or all(u.name in inside for u in node.users):
            return None  # sizes, and the operators whose results stay inside
        outside = [
            a
            for n in group
            for a in n.all_input_nodes
            if a.name not in inside
            and (
                a.name in self.failed
                or not isinstance(self.values.get(a.name), (_Param, type(None)))
            )
        ]
        sources = list(dict.fromkeys(outside))
        if any(s.name in self.failed for s in sources):
            raise _Downstream
        if len(sources) != 1:
            raise _Unmappable(
                "attention with different query/key/value inputs or a mask; Deepwire's "
                "MultiheadAttention is self-attention"
            )
        shape = _shape(sources[0])
        path = _module_path(node, "MultiheadAttention")
        w = self.state_tensor(f"{path}.in_proj_weight")
        out_w = self.state_tensor(f"{path}.out_proj.weight")
        if w is None or out_w is None or self.state_tensor(f"{path}.bias_k") is not None:
            raise _Unmappable(
                "attention with separate key/value sizes or extra key/value biases has no "
                "Deepwire layer"
            )
        features = int(shape[-1])
        heads = next(
            (
                features // int(_shape(n)[-1])
                for n in group
                if n.target is aten.view.default and len(_shape(n) or ()) == 3
            ),
            None,
        )
        if shape is None or len(shape) != 3 or not heads:
            raise _Unmappable("attention on tensors other than (batch, tokens, features)")
        weights = {"attn.in_proj_weight": w, "attn.out_proj.weight": out_w}
        b = self.state_tensor(f"{path}.in_proj_bias")
        if b is not None:
            weights |= {
                "attn.in_proj_bias": b,
                "attn.out_proj.bias": self.state_tensor(f"{path}.out_proj.bias"),
            }
        return self.b.add(
            "MultiheadAttention",
            {"num_heads": heads, "bias": b is not None},
            [self.ref(sources[0])],
            path.replace(".", "_"),
            weights,
        )

    def placeholder(self, node: torch.fx.Node, user: bool) -> None:
        if not user:
            target = self.param_of.get(node.name, node.name)
            tensor = self.state_tensor(target)
            if tensor is None:
                raise _Unmappable(f"the program has no value for '{target}'")
            self.values[node.name] = _Param(target, tensor)
            return
        val = node.meta.get("val")
        if not isinstance(val, torch.Tensor):
            raise _Unmappable("Deepwire inputs are tensors")
        dtype = {torch.float32: "float32", torch.int64: "int64"}.get(val.dtype)
        if dtype is None:
            raise _Unmappable(f"input dtype {val.dtype} is not float32 or int64")
        shape = _sample(tuple(val.shape))
        params: dict[str, Any] = {"shape": list(shape)}
        if dtype == "int64":
            params["dtype"] = "int64"
        self.values[node.name] = self.b.add("Input", params, [], node.name)
        self.inputs.append((node.name, shape, dtype))

    def output(self, node: torch.fx.Node) -> None:
        results = node.args[0]
        results = results if isinstance(results, (list, tuple)) else (results,)
        for i, value in enumerate(results):
            ref = self.ref(value)
            self.b.add("Output", {}, [ref], "output" if len(results) == 1 else f"output_{i + 1}")

    def call(self, node: torch.fx.Node) -> None:
        target = node.target
        if target is aten.sym_size.int or (
            str(target).startswith("aten._assert") or str(target).startswith("aten.sym_constrain")
        ):
            self.values[node.name] = None  # shapes and guards: not layers
            return
        if target is aten.zeros.default and all(u.target in _RNN_OPS for u in node.users):
            self.values[node.name] = "zeros"  # the zero initial state of a recurrent layer
            return
        if target is operator.getitem:
            self.values[node.name] = self.getitem(node)
            return
        handler = self.handlers.get(target)
        if handler is None:
            raise _Unmappable("")
        self.values[node.name] = handler(node)

    def hint(self, node: torch.fx.Node) -> str:
        """A node id: the module path for module calls (``layer1_0_conv1``), else the op name."""
        stack = node.meta.get("nn_module_stack") or {}
        paths = [v[0] for v in stack.values() if v[0] and not v[0].startswith("_")]
        if paths:
            path = paths[-1].replace(".", "_")
            return path
        return node.name

    # -- operator handlers ------------------------------------------------------------------

    # Long on purpose: one flat table of aten operator → handler reads best in one piece.
    def _handlers(self) -> dict[Any, Callable]:
        """Which handler turns each supported aten operator into design nodes."""
        act = self.activation
        table: dict[Any, Callable] = {
            aten.linear.default: self.linear,
            aten.conv1d.default: lambda n: self.conv(n, 1),
            aten.conv2d.default: lambda n: self.conv(n, 2),
            aten.conv1d.padding: lambda n: self.conv(n, 1),
            aten.conv2d.padding: lambda n: self.conv(n, 2),
            aten.conv_transpose2d.input: self.conv_transpose,
            aten.max_pool1d.default: lambda n: self.pool(n, "MaxPool1d", 1),
            aten.max_pool2d.default: lambda n: self.pool(n, "MaxPool2d", 2),
            aten.avg_pool2d.default: lambda n: self.pool(n, "AvgPool2d", 2),
            aten.adaptive_avg_pool2d.default: self.adaptive_pool,
            aten.mean.dim: self.mean,
            aten.upsample_nearest1d.vec: lambda n: self.upsample(n, "nearest"),
            aten.upsample_nearest2d.vec: lambda n: self.upsample(n, "nearest"),
            aten.upsample_bilinear2d.vec: lambda n: self.upsample(n, "bilinear"),
            aten.batch_norm.default: self.batch_norm,
            aten._native_batch_norm_legit_no_training.default: self.batch_norm,
            aten.layer_norm.default: self.layer_norm,
            aten.relu.default: act("ReLU"),
            aten.relu_.default: act("ReLU"),
            aten.leaky_relu.default: act("LeakyReLU", negative_slope=(1, 0.01)),
            aten.leaky_relu_.default: act("LeakyReLU", negative_slope=(1, 0.01)),
            aten.elu.default: self.elu,
            aten.gelu.default: self.gelu,
            aten.silu.default: act("SiLU"),
            aten.silu_.default: act("SiLU"),
            aten.sigmoid.default: act("Sigmoid"),
            aten.hardtanh.default: self.hardtanh,
            aten.hardtanh_.default: self.hardtanh,
            aten.hardswish.default: act("Hardswish"),
            aten.hardswish_.default: act("Hardswish"),
            aten.hardsigmoid.default: act("Hardsigmoid"),
            aten.hardsigmoid_.default: act("Hardsigmoid"),
            aten.group_norm.default: self.group_norm,
            aten.instance_norm.default: self.instance_norm,
            aten.sub.Tensor: lambda n: self.merge(n, "Subtract"),
            aten.amax.default: self.amax,
            aten.transpose.int: self.transpose,
            aten.permute.default: self.permute,
            aten.tanh.default: act("Tanh"),
            aten.softmax.int: lambda n: self.softmax(n, "Softmax"),
            aten._softmax.default: lambda n: self.softmax(n, "Softmax"),
            aten.log_softmax.int: lambda n: self.softmax(n, "LogSoftmax"),
            aten._log_softmax.default: lambda n: self.softmax(n, "LogSoftmax"),
            aten.dropout.default: self.dropout,
            aten.dropout_.default: self.dropout,
            aten.feature_dropout.default: self.dropout,
            aten.feature_dropout_.default: self.dropout,
            aten.embedding.default: self.embedding,
            aten.add.Tensor: lambda n: self.merge(n, "Add"),
            aten.add_.Tensor: lambda n: self.merge(n, "Add"),
            aten.mul.Tensor: lambda n: self.merge(n, "Multiply"),
            aten.mul_.Tensor: lambda n: self.merge(n, "Multiply"),
            aten.cat.default: self.cat,
            aten.select.int: self.select,
            aten.lstm.input: lambda n: self.recurrent(n, "LSTM"),
            aten.gru.input: lambda n: self.recurrent(n, "GRU"),
            aten.rnn_tanh.input: lambda n: self.recurrent(n, "RNN", "tanh"),
            aten.rnn_relu.input: lambda n: self.recurrent(n, "RNN", "relu"),
        }
        for op in (
            aten.view.default,
            aten.reshape.default,
            aten._unsafe_view.default,
            aten.flatten.using_ints,
            aten.unflatten.int,
            aten.squeeze.dim,
            aten.squeeze.dims,
            aten.squeeze.default,
            aten.unsqueeze.default,
        ):
            table[op] = self.reshape
        for op in (
            aten.contiguous.default,
            aten.clone.default,
            aten.alias.default,
            aten.detach.default,
            aten.slice.Tensor,
        ):
            table[op] = self.identity
        return table

    def arg(self, node: torch.fx.Node, index: int, name: str, default: Any = None) -> Any:
        if len(node.args) > index:
            return node.args[index]
        return node.kwargs.get(name, default)

    def linear(self, node):
        x = self.ref(node.args[0])
        w, b = self.param(node.args[1]), self.param(self.arg(node, 2, "bias"), optional=True)
        weights = {"weight": w} | ({"bias": b} if b is not None else {})
        return self.b.add(
            "Linear",
            {"out_features": int(w.shape[0]), "bias": b is not None},
            [x],
            self.hint(node),
            weights,
        )

    def conv(self, node, dims: int):
        x = self.ref(node.args[0])
        w = self.param(node.args[1])
        b = self.param(self.arg(node, 2, "bias"), optional=True)
        stride = _uniform(_ints(self.arg(node, 3, "stride", 1), dims), "stride")
        pad_arg = self.arg(node, 4, "padding", 0)
        dilation = _ints(self.arg(node, 5, "dilation", 1), dims)
        groups = int(self.arg(node, 6, "groups", 1))
        kernel = _uniform(list(w.shape[2:]), "kernel size")
        dilated = _uniform(dilation, "dilation")
        if isinstance(pad_arg, str):
            span = dilated * (kernel - 1)
            if pad_arg == "same" and (stride != 1 or span % 2):
                raise _Unmappable("padding='same' needs stride 1 and an odd kernel here")
            padding = span // 2 if pad_arg == "same" else 0
        else:
            padding = _uniform(_ints(pad_arg, dims), "padding")
        params = {
            "out_channels": int(w.shape[0]),
            "kernel_size": kernel,
            "stride": stride,
            "padding": padding,
            "bias": b is not None,
        }
        if groups != 1:
            params["groups"] = groups
        if dilated != 1:
            params["dilation"] = dilated
        weights = {"weight": w} | ({"bias": b} if b is not None else {})
        return self.b.add(f"Conv{dims}d", params, [x], self.hint(node), weights)

    def conv_transpose(self, node):
        x = self.ref(node.args[0])
        w = self.param(node.args[1])
        b = self.param(self.arg(node, 2, "bias"), optional=True)
        stride = _uniform(_ints(self.arg(node, 3, "stride", 1), 2), "stride")
        padding = _uniform(_ints(self.arg(node, 4, "padding", 0), 2), "padding")
        out_pad = _uniform(_ints(self.arg(node, 5, "output_padding", 0), 2), "output padding")
        groups = int(self.arg(node, 6, "groups", 1))
        dilation = _ints(self.arg(node, 7, "dilation", 1), 2)
        if groups != 1 or set(dilation) != {1}:
            raise _Unmappable("Deepwire's ConvTranspose2d has no dilation or groups")
        params = {
            "out_channels": int(w.shape[1]),
            "kernel_size": _uniform(list(w.shape[2:]), "kernel size"),
            "stride": stride,
            "padding": padding,
            "output_padding": out_pad,
            "bias": b is not None,
        }
        weights = {"weight": w} | ({"bias": b} if b is not None else {})
        return self.b.add("ConvTranspose2d", params, [x], self.hint(node), weights)

    def pool(self, node, type_id: str, dims: int):
        x = self.ref(node.args[0])
        kernel = _uniform(_ints(node.args[1], dims), "window size")
        stride_arg = self.arg(node, 2, "stride", [])
        stride = _uniform(_ints(stride_arg, dims), "stride") if stride_arg else kernel
        padding = _uniform(_ints(self.arg(node, 3, "padding", 0), dims), "padding")
        if type_id.startswith("Max"):
            dilation = _ints(self.arg(node, 4, "dilation", 1), dims)
            ceil = bool(self.arg(node, 5, "ceil_mode", False))
            if set(dilation) != {1}:
                raise _Unmappable("Deepwire's pooling has no dilation")
        else:
            ceil = bool(self.arg(node, 4, "ceil_mode", False))
            if (
                not self.arg(node, 5, "count_include_pad", True)
                or self.arg(node, 6, "divisor_override", None) is not None
            ):
                raise _Unmappable("Deepwire's AvgPool2d counts padding and has no divisor")
        if ceil:
            raise _Unmappable("Deepwire's pooling rounds sizes down (ceil_mode=False)")
        params = {"kernel_size": kernel, "padding": padding}
        if stride != kernel:
            params["stride"] = stride
        return self.b.add(type_id, params, [x], self.hint(node))

    def adaptive_pool(self, node):
        x = self.ref(node.args[0])
        size = _uniform(_ints(node.args[1], 2), "output size")
        return self.b.add("AdaptiveAvgPool2d", {"output_size": size}, [x], self.hint(node))

    def mean(self, node):
        """``x.mean((2, 3))`` over an image's height and width = global average pooling."""
        x = self.ref(node.args[0])
        shape = _shape(node.args[0])
        dims = sorted(d % len(shape) for d in _ints(node.args[1], 1)) if shape else []
        keep = bool(self.arg(node, 2, "keepdim", False))
        if shape is not None and len(dims) == 1 and dims[0] > 0:
            return self.b.add("Mean", {"dim": dims[0] - 1, "keepdim": keep}, [x], self.hint(node))
        if shape is None or len(shape) not in (3, 4) or dims != list(range(2, len(shape))):
            raise _Unmappable(
                "a mean over several dimensions other than an image's height and width "
                "(global average pooling) has no Deepwire layer"
            )
        if keep and len(shape) == 4:
            return self.b.add("AdaptiveAvgPool2d", {"output_size": 1}, [x], self.hint(node))
        if keep:
            raise _Unmappable("global pooling of a sequence with keepdim has no Deepwire layer")
        return self.b.add("GlobalAvgPool", {}, [x], self.hint(node))

    def amax(self, node):
        """``x.amax((2, 3))``: global max pooling; one dimension: not a Deepwire layer."""
        x = self.ref(node.args[0])
        shape = _shape(node.args[0])
        dims = sorted(d % len(shape) for d in _ints(node.args[1], 1)) if shape else []
        keep = bool(self.arg(node, 2, "keepdim", False))
        if shape is None or keep or len(shape) not in (3, 4) or dims != list(range(2, len(shape))):
            raise _Unmappable("only the maximum over all positions (global max pooling) maps")
        return self.b.add("GlobalMaxPool", {}, [x], self.hint(node))

    def hardtanh(self, node):
        x = self.ref(node.args[0])
        low, high = (
            float(self.arg(node, 1, "min_val", -1.0)),
            float(self.arg(node, 2, "max_val", 1.0)),
        )
        if (low, high) != (0.0, 6.0):
            raise _Unmappable(f"hardtanh between {low:g} and {high:g} (only ReLU6, 0 to 6, maps)")
        return self.b.add("ReLU6", {}, [x], self.hint(node))

    def group_norm(self, node):
        x = self.ref(node.args[0])
        groups = int(node.args[1])
        w = self.param(self.arg(node, 2, "weight"), optional=True)
        b = self.param(self.arg(node, 3, "bias"), optional=True)
        eps = float(self.arg(node, 4, "eps", 1e-5))
        weights = {}
        if w is not None:
            weights = {"weight": w, "bias": b if b is not None else torch.zeros_like(w)}
        return self.b.add(
            "GroupNorm",
            {"num_groups": groups, "eps": eps, "affine": w is not None},
            [x],
            self.hint(node),
            weights,
        )

    def instance_norm(self, node):
        x = self.ref(node.args[0])
        w = self.param(node.args[1], optional=True)
        b = self.param(node.args[2], optional=True)
        running = node.args[3] is not None or node.args[4] is not None
        if running or not node.args[5] or len(_shape(node.args[0]) or ()) != 4:
            raise _Unmappable(
                "Deepwire's InstanceNorm2d normalizes images by their own statistics "
                "(track_running_stats=False)"
            )
        weights = {}
        if w is not None:
            weights = {"weight": w, "bias": b if b is not None else torch.zeros_like(w)}
        return self.b.add(
            "InstanceNorm2d",
            {"eps": float(node.args[7]), "affine": w is not None},
            [x],
            self.hint(node),
            weights,
        )

    def transpose(self, node):
        x = self.ref(node.args[0])
        rank = len(_shape(node.args[0]) or ())
        a, b = int(node.args[1]) % rank, int(node.args[2]) % rank
        if a == b:
            return x
        if 0 in (a, b):
            raise _Unmappable("transposes the batch dimension; Deepwire keeps it first")
        return self.b.add("Transpose", {"dim0": a - 1, "dim1": b - 1}, [x], self.hint(node))

    def permute(self, node):
        x = self.ref(node.args[0])
        rank = len(_shape(node.args[0]) or ())
        dims = [int(d) % rank for d in node.args[1]]
        if dims[0] != 0:
            raise _Unmappable("moves the batch dimension; Deepwire keeps it first")
        if dims == list(range(rank)):
            return x
        return self.b.add("Permute", {"dims": [d - 1 for d in dims[1:]]}, [x], self.hint(node))

    def upsample(self, node, mode: str):
        x = self.ref(node.args[0])
        if mode == "bilinear" and self.arg(node, 2, "align_corners", False):
            raise _Unmappable("Deepwire's bilinear Upsample uses align_corners=False")
        before, after = _shape(node.args[0]), _shape(node)
        factors = {int(a) // int(b) for a, b in zip(after[2:], before[2:]) if int(a) % int(b) == 0}
        if len(factors) != 1 or any(
            int(a) != int(b) * next(iter(factors)) for a, b in zip(after[2:], before[2:])
        ):
            raise _Unmappable("Deepwire's Upsample enlarges every side by one integer factor")
        return self.b.add(
            "Upsample", {"scale_factor": factors.pop(), "mode": mode}, [x], self.hint(node)
        )

    def batch_norm(self, node):
        x = self.ref(node.args[0])
        legit = node.target is aten._native_batch_norm_legit_no_training.default
        w = self.param(node.args[1], optional=True)
        b = self.param(node.args[2], optional=True)
        mean = self.param(node.args[3], optional=True)
        var = self.param(node.args[4], optional=True)
        if legit:
            momentum, eps = node.args[5], node.args[6]
        else:
            if self.arg(node, 5, "training", False):
                raise _Unmappable("batch norm in training mode; export the model in eval()")
            momentum, eps = self.arg(node, 6, "momentum", 0.1), self.arg(node, 7, "eps", 1e-5)
        if mean is None or var is None:
            raise _Unmappable(
                "Deepwire's BatchNorm keeps running statistics (track_running_stats=True)"
            )
        channels = int(mean.shape[0])
        weights = {
            "weight": w if w is not None else torch.ones(channels),
            "bias": b if b is not None else torch.zeros(channels),
            "running_mean": mean,
            "running_var": var,
        }
        target = self.param_of.get(node.args[3].name, "")
        tracked = (
            self.state_tensor(target.rsplit(".", 1)[0] + ".num_batches_tracked")
            if "." in target
            else None
        )
        weights["num_batches_tracked"] = (
            tracked if tracked is not None else torch.tensor(0, dtype=torch.long)
        )
        if momentum is None:
            self.b.notes.append(f"{self.hint(node)}: cumulative BatchNorm momentum became 0.1")
            momentum = 0.1
        rank = len(_shape(node.args[0]) or ())
        type_id = "BatchNorm2d" if rank == 4 else "BatchNorm1d"
        return self.b.add(
            type_id, {"momentum": float(momentum), "eps": float(eps)}, [x], self.hint(node), weights
        )

    def layer_norm(self, node):
        x = self.ref(node.args[0])
        shape = _shape(node.args[0])
        normalized = _ints(node.args[1], 1)
        if not shape or normalized != [int(shape[-1])]:
            raise _Unmappable("Deepwire's LayerNorm normalizes over the last dimension only")
        w = self.param(self.arg(node, 2, "weight"), optional=True)
        b = self.param(self.arg(node, 3, "bias"), optional=True)
        eps = float(self.arg(node, 4, "eps", 1e-5))
        weights = {}
        if w is not None:
            weights = {"weight": w, "bias": b if b is not None else torch.zeros_like(w)}
        return self.b.add(
            "LayerNorm",
            {"eps": eps, "elementwise_affine": w is not None},
            [x],
            self.hint(node),
            weights,
        )

    def activation(self, type_id: str, **extra: tuple[int, Any]):
        def handle(node):
            x = self.ref(node.args[0])
            params = {k: float(self.arg(node, i, k, d)) for k, (i, d) in extra.items()}
            return self.b.add(type_id, params, [x], self.hint(node))

        return handle

    def elu(self, node):
        x = self.ref(node.args[0])
        alpha = float(self.arg(node, 1, "alpha", 1.0))
        if (
            float(self.arg(node, 2, "scale", 1.0)) != 1
            or float(self.arg(node, 3, "input_scale", 1.0)) != 1
        ):
            raise _Unmappable("scaled ELU (SELU/CELU) has no Deepwire layer")
        return self.b.add("ELU", {"alpha": alpha}, [x], self.hint(node))

    def gelu(self, node):
        x = self.ref(node.args[0])
        return self.b.add(
            "GELU",
            {
                "approximate": str(
                    node.kwargs.get("approximate", self.arg(node, 1, "approximate", "none"))
                )
            },
            [x],
            self.hint(node),
        )

    def softmax(self, node, type_id: str):
        x = self.ref(node.args[0])
        dim = int(node.args[1])
        rank = len(_shape(node.args[0]) or ())
        if dim % rank == 0:
            raise _Unmappable("softmax over the batch dimension")
        sample_dim = dim if dim < 0 else dim - 1
        return self.b.add(type_id, {"dim": sample_dim}, [x], self.hint(node))

    def dropout(self, node):
        x = self.ref(node.args[0])
        return self.b.add("Dropout", {"p": float(node.args[1])}, [x], self.hint(node))

    def embedding(self, node):
        w = self.param(node.args[0])
        x = self.ref(node.args[1])
        return self.b.add(
            "Embedding",
            {"num_embeddings": int(w.shape[0]), "embedding_dim": int(w.shape[1])},
            [x],
            self.hint(node),
            {"weight": w},
        )

    def merge(self, node, type_id: str):
        a, b = node.args[0], node.args[1]
        position = self.learned_positions(node, type_id)
        if position is not None:
            return position
        if not (isinstance(a, torch.fx.Node) and isinstance(b, torch.fx.Node)):
            raise _Unmappable(
                "combines a tensor with a constant; Deepwire's "
                f"{type_id} combines two layers' outputs"
            )
        if node.kwargs.get("alpha", 1) != 1:
            raise _Unmappable("add or subtract with alpha ≠ 1")
        sa, sb = _shape(a), _shape(b)
        if type_id == "Multiply" and _broadcasts(sa, sb):
            return self.b.add(type_id, {}, [self.ref(a), self.ref(b)], self.hint(node))
        if sa != sb:
            raise _Unmappable(
                f"needs equal shapes for Deepwire's {type_id}, got "
                f"{tuple(map(str, sa or ()))} and {tuple(map(str, sb or ()))}"
            )
        return self.b.add(type_id, {}, [self.ref(a), self.ref(b)], self.hint(node))

    def learned_positions(self, node, type_id: str) -> _Ref | None:
        """``tokens + self.pos`` with a (T, F) or (1, T, F) parameter: a learned
        PositionalEncoding (None when the add is something else)."""
        if type_id != "Add" or node.kwargs.get("alpha", 1) != 1:
            return None
        a, b = node.args[0], node.args[1]
        values = [self.values.get(x.name) if isinstance(x, torch.fx.Node) else None for x in (a, b)]
        if not isinstance(values[1], _Param):
            a, b, values = b, a, values[::-1]
        shape = _shape(a)
        if not isinstance(values[1], _Param) or shape is None or len(shape) != 3:
            return None
        tokens = _sample(shape)
        weight = values[1].tensor
        if tuple(weight.shape) not in (tokens, (1, *tokens)):
            return None
        return self.b.add(
            "PositionalEncoding",
            {"kind": "learned"},
            [self.ref(a)],
            values[1].name.replace(".", "_"),
            {"weight": weight.reshape(tokens)},
        )

    def cat(self, node):
        items = node.args[0]
        dim = int(self.arg(node, 1, "dim", 0))
        if any(i.name in self.failed for i in items):
            raise _Downstream
        values = [self.values.get(i.name) for i in items]
        if (
            len(values) == 2
            and all(isinstance(v, _StateSelect) for v in values)
            and values[0].rec is values[1].rec
        ):
            rec = values[0].rec
            top = rec.params["num_layers"] * 2
            if rec.params["bidirectional"] and [v.layer_index for v in values] == [
                top - 2,
                top - 1,
            ]:
                return self.materialize(rec, "last")
            raise _Unmappable(f"this combination of {rec.kind} states has no Deepwire layer")
        refs = [self.ref(i) for i in items]
        rank = len(_shape(items[0]) or ())
        if dim % rank == 0:
            raise _Unmappable("concatenation along the batch dimension")
        if len(refs) == 1:
            return refs[0]
        return self.b.add(
            "Concatenate", {"dim": dim if dim < 0 else dim - 1}, refs, self.hint(node)
        )

    def reshape(self, node):
        source = node.args[0]
        if source.name in self.failed:
            raise _Downstream
        value = self.values.get(source.name) if isinstance(source, torch.fx.Node) else None
        before, after = _shape(source), _shape(node)
        if isinstance(value, _RecurrentOut) and value.index == 1:
            rec = value.rec
            if (
                rec.params["num_layers"] == 1
                and not rec.params["bidirectional"]
                and after is not None
                and len(after) == 2
            ):
                return self.materialize(rec, "last")  # h_n.squeeze(0) / h_n.view(N, H)
        x = self.ref(source)
        if before is None or after is None or not _same_batch(before, after):
            raise _Unmappable("reshapes across the batch dimension; Deepwire reshapes each sample")
        sample_in, sample_out = _sample(before), _sample(after)
        if sample_out == sample_in:
            return x
        if sample_out == (numel(sample_in),):
            return self.b.add("Flatten", {}, [x], self.hint(node))
        return self.b.add("Reshape", {"shape": list(sample_out)}, [x], self.hint(node))

    def identity(self, node):
        source = node.args[0]
        if source.name in self.failed:
            raise _Downstream
        if node.target is aten.slice.Tensor and _shape(node) != _shape(source):
            raise _Unmappable("slicing has no Deepwire layer")
        value = self.values.get(source.name) if isinstance(source, torch.fx.Node) else None
        if isinstance(value, (_RecurrentOut, _StateSelect)):
            return value
        return self.ref(source)

    def getitem(self, node):
        source, index = node.args
        if source.name in self.failed:
            raise _Downstream
        value = self.values.get(source.name)
        if isinstance(value, _Recurrent):
            return _RecurrentOut(value, int(index))
        raise _Unmappable("")

    def select(self, node):
        source, dim, index = node.args[0], int(node.args[1]), int(node.args[2])
        if source.name in self.failed:
            raise _Downstream
        value = self.values.get(source.name)
        if isinstance(value, _RecurrentOut):
            rec = value.rec
            dirs = 2 if rec.params["bidirectional"] else 1
            if value.index == 1 and dim == 0:
                size = rec.params["num_layers"] * dirs
                layer = index % size
                if dirs == 1 and layer == size - 1:
                    return self.materialize(rec, "last")
                return _StateSelect(rec, layer)
            if value.index == 0 and dim == 1 and index == -1 and dirs == 1:
                return self.materialize(rec, "last")  # out[:, -1] == h_n[-1] one-directional
            raise _Unmappable(
                f"this use of {rec.kind} '{rec.hint}' outputs has no Deepwire "
                "layer (use h_n[-1], cat(h_n[-2], h_n[-1]) or out[:, -1])"
            )
        raise _Unmappable("selecting one index has no Deepwire layer")

    def recurrent(self, node, kind: str, nonlinearity: str = "tanh"):
        args = node.args
        x = self.ref(args[0])
        hx = args[1] if isinstance(args[1], (list, tuple)) else [args[1]]
        if any(self.values.get(h.name) != "zeros" for h in hx):
            raise _Unmappable(f"a {kind} started from a given state; Deepwire starts from zeros")
        tensors = [self.param(p) for p in args[2]]
        has_biases, layers, dropout = bool(args[3]), int(args[4]), float(args[5])
        bidirectional, batch_first = bool(args[7]), bool(args[8])
        if not has_biases or not batch_first:
            raise _Unmappable(f"Deepwire's {kind} is batch_first with biases")
        names = []
        for layer in range(layers):
            for suffix in ("", "_reverse") if bidirectional else ("",):
                names += [
                    f"{w}_l{layer}{suffix}"
                    for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                ]
        if len(names) != len(tensors):
            raise _Unmappable(f"{kind} with projections has no Deepwire layer")
        hidden = int(tensors[1].shape[1])
        params = {
            "hidden_size": hidden,
            "num_layers": layers,
            "bidirectional": bidirectional,
            "dropout": dropout,
        }
        if kind == "RNN":
            params["nonlinearity"] = nonlinearity
        return _Recurrent(kind, params, x, dict(zip(names, tensors)), self.hint(node), node.name)


_RNN_OPS = (aten.lstm.input, aten.gru.input, aten.rnn_tanh.input, aten.rnn_relu.input)


def program_to_design(program: torch.export.ExportedProgram, name: str, flat: bool = True):
    """(design, DesignModule state dict, notes) for a program; ExportError lists what does not
    map. Unless ``flat``, repeated submodules become blocks (:mod:`engine.importer.blocks`)."""
    mapper = _Mapper(program, name)
    design, weights, notes = mapper.run()
    if mapper.problems:
        raise ExportError(refusal(mapper.problems))
    if not flat:
        design, weights = group_into_blocks(design, weights, mapper.b.origins)
    apply_layout(design)
    return design, weights, notes


# ------------------------------------------------------------------------------------------
# the command


def import_model(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    input_shape: list[tuple[tuple[int, ...], str]] | tuple[int, ...] | None = None,
    flat: bool = False,
) -> ImportResult:
    """Import ``source`` (``FILE.py:Class`` — executed! — or ``.pt2``) as a design at ``output``
    with its weights in ``output`` with suffix ``.pt``; see the module doc. Repeated submodules
    become blocks unless ``flat``; should the grouped design not reproduce the model, the flat
    one is written, with a note."""
    source = str(source)
    output = Path(output)
    ckpt_path = _checkpoint_path(output)
    program, original, name = _load_source(source, input_shape)
    description = f"Imported from {Path(source.rpartition(':')[0] or source).name}"
    batch = _fixed_batch(program) or 4
    design = None
    if not flat:
        design, weights, notes = program_to_design(program, name, flat=False)
        design.description = description
        try:
            net = _checked_module(design, weights)
            diff = _compare(original, net, design, batch=batch)
        except ExportError as exc:
            design = None
            reason = first_line(exc, 160)
    if design is None:
        design, weights, notes = program_to_design(program, name)
        design.description = description
        net = _checked_module(design, weights)
        diff = _compare(original, net, design, batch=batch)
        if not flat:
            notes.append(f"imported flat: the design with blocks did not check ({reason})")
    ckpt = checkpoint_from_modules(
        design,
        {next(iter(design.networks)): net},
        data_info={"input_shape": list(net.input_shapes[net.input_ids[0]])},
        epoch=0,
    )
    save_checkpoint(ckpt_path, ckpt)
    try:
        save_design(design, output)
    except OSError:
        ckpt_path.unlink(missing_ok=True)
        raise
    return ImportResult(output, ckpt_path, design, diff, notes)


def _checkpoint_path(output: Path) -> Path:
    """Where the weights of a design imported to ``output`` go; refuses an unwritable output."""
    if output.is_dir():
        raise ExportError(f"{output} is a folder; give a design file name for --output")
    if not output.parent.is_dir():
        raise ExportError(f"cannot write {output}: the folder {output.parent} does not exist")
    return (
        output.with_suffix(".pt")
        if output.suffix != ".pt"
        else output.with_name(output.name + ".pt")
    )


def _load_source(
    source: str, input_shape: list[tuple[tuple[int, ...], str]] | tuple[int, ...] | None
) -> tuple[torch.export.ExportedProgram, nn.Module, str]:
    """The traced program, the original module (to compare against) and a name for ``source``:
    a ``.pt2`` is checked before it loads; a ``FILE.py:Class`` is executed and traced."""
    specs = None
    if input_shape is not None:
        specs = (
            [(tuple(input_shape), "float32")]
            if input_shape and isinstance(input_shape[0], int)
            else list(input_shape)
        )
    if source.endswith(".pt2"):
        path = Path(source)
        program = load_program(path)  # checked first: loading it runs nothing from the file
        original = program.module()
        name = path.stem
    else:
        split_source(source)
        if specs is None:
            raise ExportError(
                "importing a Python model needs --input-shape (the sample shape "
                "without the batch, e.g. 1,28,28)"
            )
        model, name = load_python_model(source)
        program = trace_module(model, specs)
        original = model
    return program, original, name


def _checked_module(design: Design, weights: dict[str, torch.Tensor]) -> DesignModule:
    """The imported design compiled with the model's weights, in eval mode; ExportError (and
    nothing written) when the design is invalid or the weights do not fit it."""
    problems = analyze(design).problems
    if problems:
        raise ExportError(f"the imported design is not valid: {problems[0]} — nothing was written")
    net = compile_design(design)
    try:
        net.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise ExportError(
            f"the model's weights do not fit the imported design "
            f"({first_line(exc, 200)}) — nothing was written"
        ) from None
    net.eval()
    return net


def _fixed_batch(program: torch.export.ExportedProgram) -> int | None:
    """The batch size a program was exported with, when it is not dynamic (else None)."""
    users = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in users:
            val = node.meta.get("val")
            dim = getattr(val, "shape", (None,))[0] if getattr(val, "ndim", 0) else None
            return dim if isinstance(dim, int) else None
    return None


def _compare(original: Any, net: nn.Module, design: Design, batch: int = 4) -> float:
    """Largest output difference on random inputs; ExportError when it is above tolerance."""
    vocab = min(
        (int(n.params["num_embeddings"]) for n in design if n.type == "Embedding"), default=2
    )
    specs = [
        (tuple(design.node(i).params["shape"]), design.node(i).params.get("dtype", "float32"))
        for i in net.input_ids
    ]
    inputs = _examples(specs, batch=batch, vocab=vocab)
    with torch.no_grad():
        want = original(*inputs)
        got = net(*inputs)
    want = want if isinstance(want, (tuple, list)) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    if len(want) != len(got):
        raise ExportError(
            f"the imported design gives {len(got)} outputs, the model "
            f"{len(want)} — nothing was written"
        )
    worst = 0.0
    for w, g in zip(want, got):
        if tuple(w.shape) != tuple(g.shape):
            raise ExportError(
                f"the imported design gives shape {tuple(g.shape)}, the model "
                f"{tuple(w.shape)} — nothing was written"
            )
        scale = max(1.0, float(w.abs().max())) if w.numel() else 1.0
        worst = max(worst, float((w.float() - g.float()).abs().max()) / scale if w.numel() else 0.0)
    if worst > TOLERANCE:
        raise ExportError(
            f"the imported design differs from the model by {worst:.2e} "
            "(more than 1e-5) — nothing was written; please report this model"
        )
    return worst
