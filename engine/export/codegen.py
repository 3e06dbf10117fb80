"""Generate one readable, self-contained PyTorch file from an export plan.

The file holds an ``nn.Module`` class with one named submodule per layer (built from the layer's
parameters), a ``forward`` in topological order that reads like hand-written PyTorch, the folded
preprocessing as constants, and a ``__main__`` block that loads the safetensors weights and runs a
prediction. Weight names in the safetensors file are the attribute names used here
(:func:`weights_by_code_name`), so ``model.load_state_dict(load_file(path))`` just works.

Safety: user text never reaches the code as code. Node ids and labels become identifiers through
:func:`safe_identifier` (ASCII letters, digits and ``_``; keywords, builtins and ``nn.Module``
attributes avoided); names, labels and paths appear only in comments after :func:`comment_text`
(a whitelist of harmless characters) or as ``repr()`` string literals; parameters are emitted by
:func:`literal`, which accepts only numbers, booleans and the registry's fixed choices.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import math
import re
import textwrap
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.blocks import BLOCK_TYPE
from engine.export.prepare import ExportPlan
from engine.layers import REGISTRY, fmt_shape

LINE = 88
_MODULE_NAMES = {
    "argparse",
    "np",
    "nn",
    "torch",
    "Path",
    "load_file",
    "main",
    "INPUT_SHAPES",
    "INPUT_NAMES",
    "OUTPUT_NAMES",
    "CLASS_LABELS",
    "WEIGHTS_FILE",
    "SOM_COLS",
    "SelfOrganizingMap",
    "PREPROCESS_IMPUTE",
    "PREPROCESS_CLIP_LOW",
    "PREPROCESS_CLIP_HIGH",
    "PREPROCESS_SHIFT",
    "PREPROCESS_SCALE",
}
_LOCAL_NAMES = {"self", "_", "h_n", "c_n"}
RESERVED = (
    set(keyword.kwlist)
    | set(getattr(keyword, "softkwlist", []))
    | set(dir(builtins))
    | set(dir(nn.Module))
    | _MODULE_NAMES
    | _LOCAL_NAMES
    | {"pre_impute", "pre_clip_low", "pre_clip_high", "pre_shift", "pre_scale"}
)
_SAFE_CHARS = re.compile(r"[^A-Za-z0-9 _\-.,:;()\[\]+*/=<>!?#%&@']")


def safe_identifier(text: str, taken: set[str], fallback: str = "layer") -> str:
    """A Python identifier from any text: ASCII word characters only, never a keyword, builtin,
    ``nn.Module`` attribute or name in ``taken`` (a numbered suffix makes it unique)."""
    ascii_text = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9]+", "_", ascii_text).strip("_").lower()[:40].rstrip("_")
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"{fallback}_{name}"
    base = name
    i = 1
    while name in RESERVED or name in taken or not name.isidentifier():
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name


def comment_text(text: str, limit: int = 60) -> str:
    """User text made harmless for a comment or docstring: one line of whitelisted characters."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    clean = _SAFE_CHARS.sub("", re.sub(r"\s", " ", ascii_text))
    clean = re.sub(r" {2,}", " ", clean).strip()
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def comment_lines(text: str, indent: str) -> list[str]:
    """``# text`` wrapped to the line limit (``text`` must already be :func:`comment_text`)."""
    return [f"{indent}# {line}" for line in textwrap.wrap(text, LINE - len(indent) - 2)]


def class_name(text: str, suffix: str = "") -> str:
    """CamelCase class name from a design name (``"digits mlp"`` → ``DigitsMlp``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", ascii_text)
    name = "".join(w[0].upper() + w[1:] for w in words)[:40] or "Network"
    if name[0].isdigit():
        name = "Net" + name
    name += suffix
    if keyword.iskeyword(name) or name in RESERVED or not name.isidentifier():
        name += "Net"
    return name


def literal(value: Any) -> str:
    """Python source for a parameter value; only bools, finite numbers and plain words pass."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else '-float("inf")'
        return repr(float(value))
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_]{1,32}", value):
        return '"' + value + '"'
    raise ValueError(f"cannot emit {value!r} as a parameter literal")


# ------------------------------------------------------------------------------------------
# one rule per layer type


@dataclass(frozen=True)
class LayerCode:
    """How one layer type appears in the generated code.

    ``ctor(p, ins, out)`` gives the submodule constructor (``None``: no submodule, e.g. merges);
    ``call(p, attr, ins, out_var, in_shapes)`` gives the forward line(s); ``strip`` is the part of
    the registry module's state-dict keys that the generated module does not have.
    """

    ctor: Callable[[dict, Sequence[tuple], tuple], str] | None
    call: Callable[[dict, str, list[str], str, Sequence[tuple]], list[str]] | None = None
    strip: str = ""
    helper: str = ""  # a class of engine.layers.modules the file then carries (its source)


def _kw(**pairs: tuple[Any, Any]) -> str:
    """``, name=value`` for each pair whose value differs from its torch default."""
    return "".join(f", {k}={literal(v)}" for k, (v, default) in pairs.items() if v != default)


def _simple(cls: str) -> LayerCode:
    return LayerCode(lambda p, s, o: f"nn.{cls}()")


def _module_call(
    p: dict, attr: str, ins: list[str], out: str, shapes: Sequence[tuple]
) -> list[str]:
    return [f"{out} = self.{attr}({ins[0]})"]


def _conv(cls: str) -> LayerCode:
    return LayerCode(
        lambda p, s, o: (
            f"nn.{cls}({s[0][0]}, {p['out_channels']}, kernel_size={p['kernel_size']}"
            + _kw(
                stride=(p["stride"], 1),
                padding=(p["padding"], 0),
                output_padding=(p.get("output_padding", 0), 0),
                bias=(p["bias"], True),
                groups=(p.get("groups", 1), 1),
                dilation=(p.get("dilation", 1), 1),
            )
            + ")"
        )
    )


def _pool(cls: str) -> LayerCode:
    def ctor(p: dict, s: Sequence[tuple], o: tuple) -> str:
        k = p["kernel_size"]
        return f"nn.{cls}({k}" + _kw(stride=(p["stride"] or k, k), padding=(p["padding"], 0)) + ")"

    return LayerCode(ctor)


def _sample_dim(dim: int, rank: int) -> int:
    """Registry dims count per sample; torch counts the batch too."""
    return dim % rank + 1


def _recurrent(kind: str) -> LayerCode:
    def ctor(p: dict, s: Sequence[tuple], o: tuple) -> str:
        extra = _kw(num_layers=(p["num_layers"], 1))
        extra += ", batch_first=True"
        extra += _kw(
            bidirectional=(p["bidirectional"], False),
            dropout=(p["dropout"] if p["num_layers"] > 1 else 0.0, 0.0),
        )
        if kind == "RNN":
            extra += _kw(nonlinearity=(p.get("nonlinearity", "tanh"), "tanh"))
        return f"nn.{kind}({s[0][-1]}, {p['hidden_size']}{extra})"

    def call(p: dict, attr: str, ins: list[str], out: str, shapes: Sequence[tuple]) -> list[str]:
        if p["return_sequences"]:
            return [f"{out}, _ = self.{attr}({ins[0]})"]
        state = "(h_n, _)" if kind == "LSTM" else "h_n"
        last = "torch.cat([h_n[-2], h_n[-1]], dim=-1)" if p["bidirectional"] else "h_n[-1]"
        note = "  # last step of both directions" if p["bidirectional"] else "  # last step"
        return [f"_, {state} = self.{attr}({ins[0]})", f"{out} = {last}{note}"]

    return LayerCode(ctor, call, strip="rnn.")


def _merge(op: str) -> LayerCode:
    def call(p: dict, attr: str, ins: list[str], out: str, shapes: Sequence[tuple]) -> list[str]:
        if op == "cat":
            return [
                f"{out} = torch.cat([{', '.join(ins)}], dim={_sample_dim(p['dim'], len(shapes[0]))})"
            ]
        return [f"{out} = {f' {op} '.join(ins)}"]

    return LayerCode(None, call)


def _reshape_call(
    p: dict, attr: str, ins: list[str], out: str, shapes: Sequence[tuple], out_shape: tuple = ()
) -> list[str]:
    return [f"{out} = {ins[0]}.reshape({ins[0]}.shape[0], {', '.join(map(str, out_shape))})"]


def _method_call(method: Callable[[dict, Sequence[tuple]], str]) -> LayerCode:
    """A layer that is one tensor method call, e.g. ``x.mean(dim=(2, 3))``."""

    def call(p: dict, attr: str, ins: list[str], out: str, shapes: Sequence[tuple]) -> list[str]:
        return [f"{out} = {ins[0]}.{method(p, shapes)}"]

    return LayerCode(None, call)


def _torch_dims(dims: Sequence[int]) -> str:
    return ", ".join(str(d) for d in dims)


def _helper(cls: str, args: Callable[[dict, Sequence[tuple]], str]) -> LayerCode:
    """A layer built from a class of engine.layers.modules, whose source the file carries."""
    return LayerCode(lambda p, s, o: f"{cls}({args(p, s)})", helper=cls)


def _transpose_pair(p: dict, s: Sequence[tuple]) -> str:
    rank = len(s[0])
    return f"transpose({_sample_dim(p['dim0'], rank)}, {_sample_dim(p['dim1'], rank)})"


LAYER_CODE: dict[str, LayerCode] = {
    "Linear": LayerCode(
        lambda p, s, o: (
            f"nn.Linear({s[0][-1]}, {p['out_features']}" + _kw(bias=(p["bias"], True)) + ")"
        )
    ),
    "Dropout": LayerCode(lambda p, s, o: f"nn.Dropout(p={literal(p['p'])})"),
    "Flatten": _simple("Flatten"),
    "Reshape": LayerCode(None),  # call filled in by the generator (needs the output shape)
    "Embedding": LayerCode(
        lambda p, s, o: f"nn.Embedding({p['num_embeddings']}, {p['embedding_dim']})"
    ),
    "Conv1d": _conv("Conv1d"),
    "Conv2d": _conv("Conv2d"),
    "ConvTranspose2d": _conv("ConvTranspose2d"),
    "MaxPool1d": _pool("MaxPool1d"),
    "MaxPool2d": _pool("MaxPool2d"),
    "AvgPool2d": _pool("AvgPool2d"),
    "AdaptiveAvgPool2d": LayerCode(lambda p, s, o: f"nn.AdaptiveAvgPool2d({p['output_size']})"),
    "Upsample": LayerCode(
        lambda p, s, o: (
            f"nn.Upsample(scale_factor={p['scale_factor']}, mode={literal(p['mode'])}"
            + (", align_corners=False" if p["mode"] == "bilinear" else "")
            + ")"
        )
    ),
    "BatchNorm1d": LayerCode(
        lambda p, s, o: (
            f"nn.BatchNorm1d({s[0][0]}"
            + _kw(eps=(p["eps"], 1e-5), momentum=(p["momentum"], 0.1))
            + ")"
        )
    ),
    "BatchNorm2d": LayerCode(
        lambda p, s, o: (
            f"nn.BatchNorm2d({s[0][0]}"
            + _kw(eps=(p["eps"], 1e-5), momentum=(p["momentum"], 0.1))
            + ")"
        )
    ),
    "LayerNorm": LayerCode(
        lambda p, s, o: (
            f"nn.LayerNorm({s[0][-1]}"
            + _kw(eps=(p["eps"], 1e-5), elementwise_affine=(p["elementwise_affine"], True))
            + ")"
        )
    ),
    "ReLU": _simple("ReLU"),
    "LeakyReLU": LayerCode(lambda p, s, o: f"nn.LeakyReLU({literal(p['negative_slope'])})"),
    "ELU": LayerCode(
        lambda p, s, o: (
            "nn.ELU(" + (f"alpha={literal(p['alpha'])}" if p["alpha"] != 1.0 else "") + ")"
        )
    ),
    "GELU": LayerCode(
        lambda p, s, o: (
            "nn.GELU("
            + (f"approximate={literal(p['approximate'])}" if p["approximate"] != "none" else "")
            + ")"
        )
    ),
    "SiLU": _simple("SiLU"),
    "Sigmoid": _simple("Sigmoid"),
    "Tanh": _simple("Tanh"),
    "Softmax": LayerCode(lambda p, s, o: f"nn.Softmax(dim={_sample_dim(p['dim'], len(s[0]))})"),
    "LogSoftmax": LayerCode(
        lambda p, s, o: f"nn.LogSoftmax(dim={_sample_dim(p['dim'], len(s[0]))})"
    ),
    "RNN": _recurrent("RNN"),
    "LSTM": _recurrent("LSTM"),
    "GRU": _recurrent("GRU"),
    "Add": _merge("+"),
    "Multiply": _merge("*"),
    "Concatenate": _merge("cat"),
    "SOM": LayerCode(lambda p, s, o: f"SelfOrganizingMap({s[0][0]}, {p['rows'] * p['cols']})"),
    "ReLU6": _simple("ReLU6"),
    "Hardswish": _simple("Hardswish"),
    "Hardsigmoid": _simple("Hardsigmoid"),
    "GroupNorm": LayerCode(
        lambda p, s, o: (
            f"nn.GroupNorm({p['num_groups']}, {s[0][0]}"
            + _kw(eps=(p["eps"], 1e-5), affine=(p["affine"], True))
            + ")"
        )
    ),
    "InstanceNorm2d": LayerCode(
        lambda p, s, o: (
            f"nn.InstanceNorm2d({s[0][0]}"
            + _kw(eps=(p["eps"], 1e-5), affine=(p["affine"], False))
            + ")"
        )
    ),
    "Dropout2d": LayerCode(lambda p, s, o: f"nn.Dropout2d(p={literal(p['p'])})"),
    "GlobalAvgPool": _method_call(
        lambda p, s: f"mean(dim=({_torch_dims(range(2, len(s[0]) + 1))}))"
    ),
    "GlobalMaxPool": _method_call(
        lambda p, s: f"amax(dim=({_torch_dims(range(2, len(s[0]) + 1))}))"
    ),
    "Permute": _method_call(lambda p, s: f"permute(0, {_torch_dims(d + 1 for d in p['dims'])})"),
    "Transpose": _method_call(_transpose_pair),
    "Squeeze": _method_call(lambda p, s: f"squeeze({_sample_dim(p['dim'], len(s[0]))})"),
    "Unsqueeze": _method_call(lambda p, s: f"unsqueeze({_sample_dim(p['dim'], len(s[0]) + 1)})"),
    "Mean": _method_call(
        lambda p, s: (
            f"mean(dim={_sample_dim(p['dim'], len(s[0]))}"
            + (", keepdim=True" if p["keepdim"] else "")
            + ")"
        )
    ),
    "Subtract": _merge("-"),
    "Scale": _helper(
        "Scale",
        lambda p, s: (
            repr(
                (1,)
                if p["per"] == "scalar"
                else (s[0][-1],)
                if p["per"] == "feature"
                else (s[0][0], *([1] * (len(s[0]) - 1)))
            )
            + f", {literal(p['init'])}"
        ),
    ),
    "MultiheadAttention": _helper(
        "SelfAttention",
        lambda p, s: (
            f"{s[0][-1]}, {p['num_heads']}, {s[0][0]}"
            + _kw(dropout=(p["dropout"], 0.0), bias=(p["bias"], True), causal=(p["causal"], False))
        ),
    ),
    "TransformerEncoderLayer": LayerCode(
        lambda p, s, o: (
            f"nn.TransformerEncoderLayer({s[0][-1]}, {p['num_heads']}, "
            f"dim_feedforward={p['dim_feedforward']}, dropout={literal(p['dropout'])}"
            + _kw(activation=(p["activation"], "relu"), layer_norm_eps=(p["eps"], 1e-5))
            + ", batch_first=True"
            + _kw(norm_first=(p["norm_first"], False))
            + ")"
        )
    ),
    "PositionalEncoding": _helper(
        "PositionalEncoding", lambda p, s: f"{s[0][0]}, {s[0][1]}, kind={literal(p['kind'])}"
    ),
    "PatchEmbedding": _helper(
        "PatchEmbedding", lambda p, s: f"{s[0][0]}, {p['features']}, {p['patch_size']}"
    ),
}
#: Layer types that are not computations: Input becomes a forward argument, Output a return.
STRUCTURAL = ("Input", "Output")


# ------------------------------------------------------------------------------------------
# naming, shared by the code and the safetensors writer


@dataclass
class Naming:
    """Identifiers for one plan: class, forward arguments, submodules and variables."""

    class_name: str
    args: dict[str, str]  # Input node id -> argument name
    attrs: dict[str, str]  # layer node id -> attribute name (every non-structural node)
    variables: dict[str, str]  # node id -> variable holding its output
    chain: bool


def _name_source(node: Any) -> str:
    """The node's label when it has letters or digits to name by, else its id."""
    label = node.label or ""
    return label if re.search(r"[A-Za-z0-9]", unicodedata.normalize("NFKD", label)) else node.id


def naming(plan: ExportPlan) -> Naming:
    """Name everything in the generated code (deterministic; labels preferred over ids)."""
    design, network = plan.design, plan.network
    order = plan.analysis.topological_order(network)
    suffix = {"encoder": "Encoder", "generator": "Generator", "discriminator": "Discriminator"}.get(
        plan.part, ""
    )
    cls = class_name(plan.info.get("design_name") or design.name, suffix)
    taken: set[str] = {cls}
    args: dict[str, str] = {}
    for node_id in plan.input_ids:
        node = design.node(node_id)
        args[node_id] = safe_identifier(_name_source(node), taken, "inputs")
    attrs: dict[str, str] = {}
    for node_id in order:
        node = design.node(node_id)
        if REGISTRY.resolve(node.type) not in STRUCTURAL:
            attrs[node_id] = safe_identifier(_name_source(node), taken)
    graph = design.graph
    chain = len(plan.input_ids) == 1 and all(
        graph.in_degree(n) <= 1 and graph.out_degree(n) <= 1 for n in order
    )
    chain_var = next(v for v in ("x", "h", "out", "y", "z") if v not in taken)
    variables: dict[str, str] = dict(args)
    for node_id in order:
        if node_id in args:
            continue
        if REGISTRY.resolve(design.node(node_id).type) == "Output":
            variables[node_id] = variables[design.in_edges(node_id)[0].source]
        else:
            variables[node_id] = chain_var if chain else attrs[node_id]
    return Naming(cls, args, attrs, variables, chain)


def weights_by_code_name(plan: ExportPlan) -> dict[str, torch.Tensor]:
    """The exported network's state dict keyed like the generated module (``hidden1.weight``)."""
    names = naming(plan)
    out: dict[str, torch.Tensor] = {}
    for key, value in plan.module.net.state_dict().items():
        _, node_id, rest = key.split(".", 2)
        out[_code_key(plan.design, plan.analysis, names, node_id, rest)] = value
    return out


def _code_key(design: Any, analysis: Any, names: Naming, node_id: str, rest: str) -> str:
    """A compiled state-dict key (``node_id`` + ``rest``) as the generated module names it;
    through block instances (``stage.1.conv2.weight``) recursively."""
    node = design.node(node_id)
    if node.type == BLOCK_TYPE:
        runs = analysis.block_runs[node_id]
        index = 0
        if len(runs) > 1:
            head, rest = rest.split(".", 1)
            index = int(head)
        concrete, sub = runs[index]
        inner_id, inner_rest = rest.split(".", 1)
        inner = _code_key(
            concrete,
            sub,
            naming(_BlockPlan.of(node.params["block"], concrete, sub)),
            inner_id,
            inner_rest,
        )
        rest = f"{index}.{inner}" if len(runs) > 1 else inner
        return f"{names.attrs[node_id]}.{rest}"
    rule = LAYER_CODE[REGISTRY.resolve(node.type)]
    if rule.strip and rest.startswith(rule.strip):
        rest = rest[len(rule.strip) :]
    return f"{names.attrs[node_id]}.{rest}"


@dataclass
class _BlockPlan:
    """What the class writers read of an :class:`ExportPlan`, for one block body."""

    design: Any
    analysis: Any
    input_ids: list[str]
    output_id: str
    info: dict[str, Any]
    network: str | None = None
    part: str = "model"
    preprocessing: Any = None
    som_grid: Any = None
    original_ids: dict[str, str] = field(default_factory=dict)
    output_names: tuple[str, ...] = ("out",)

    @classmethod
    def of(cls, name: str, concrete: Any, sub: Any) -> _BlockPlan:
        inputs = [n.id for n in concrete if n.type == "Input"]
        output = next(n.id for n in concrete if n.type == "Output")
        return cls(concrete, sub, inputs, output, {"design_name": name, "block": name})

    @property
    def module(self) -> Any:  # forward reads module.net.output_ids
        return _Outputs([self.output_id])


@dataclass
class _Outputs:
    output_ids: list[str]

    @property
    def net(self) -> _Outputs:
        return self


def _block_classes(plan: Any, main_class: str) -> tuple[list[str], dict[tuple[int, str], str]]:
    """One class per block definition the plan uses (inner ones first) and the constructor
    expression of each instance node, keyed by (id of its design, node id). A definition whose
    instances need different layer sizes gets one class per variant (``Basic``, ``Basic2``)."""
    lines: list[str] = []
    ctors: dict[tuple[int, str], str] = {}
    classes: dict[tuple[str, str], str] = {}  # (block, class text) → class name
    taken: set[str] = set(_MODULE_NAMES) | {main_class}

    def visit(design: Any, analysis: Any) -> None:
        for node_id in analysis.topological_order(None):
            node = design.node(node_id)
            if node.type != BLOCK_TYPE:
                continue
            made = []
            for concrete, sub in analysis.block_runs[node_id]:
                visit(concrete, sub)
                made.append(emit(node.params["block"], concrete, sub) + "()")
            ctors[(id(design), node_id)] = (
                made[0] if len(made) == 1 else f"nn.Sequential({', '.join(made)})"
            )

    def emit(name: str, concrete: Any, sub: Any) -> str:
        bplan = _BlockPlan.of(name, concrete, sub)
        names = naming(bplan)
        order = sub.topological_order(None)
        body = _init_method(bplan, names, order, ctors) + _forward_method(bplan, names, order)
        text = "\n".join(body[3:])
        known = classes.get((name, text))
        if known is not None:
            return known
        cls = names.class_name
        i = 1
        while cls in taken:
            i += 1
            cls = f"{names.class_name}{i}"
        taken.add(cls)
        classes[(name, text)] = cls
        body[2] = f"class {cls}(nn.Module):"
        lines.extend(body)
        return cls

    visit(plan.design, plan.analysis)
    return lines, ctors


# ------------------------------------------------------------------------------------------
# the file


def _wrap_floats(name: str, values: np.ndarray) -> list[str]:
    """``NAME = (1.0, 2.0, ...)`` wrapped to the line limit."""
    items = [literal(float(v)) for v in np.asarray(values, dtype=np.float32).ravel()]
    lines, current = [f"{name} = ("], "    "
    for item in items:
        piece = item + ", "
        if len(current) + len(piece.rstrip()) > LINE:
            lines.append(current.rstrip())
            current = "    "
        current += piece
    lines.append(current.rstrip())
    lines.append(")")
    return lines


def _strings(name: str, values: Sequence[str]) -> list[str]:
    """``NAME = [...]`` of string literals (``repr`` makes any user text a safe literal)."""
    items = [repr(str(v)) for v in values]
    one = f"{name} = [{', '.join(items)}]"
    if len(one) <= LINE:
        return [one]
    return [f"{name} = ["] + [f"    {item}," for item in items] + ["]"]


def _fits(line: str, comment: str) -> str:
    return f"{line}  # {comment}" if comment and len(line) + len(comment) + 4 <= LINE else line


def _split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` outside brackets."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i = start
            continue
        i += 1
    parts.append(text[start:])
    return parts


def wrap(line: str) -> list[str]:
    """Break a long generated statement into lines within the limit (calls break at commas,
    sums and products at their operators)."""
    if len(line) <= LINE:
        return [line]
    indent = " " * (len(line) - len(line.lstrip()))
    inner = indent + "    "
    code, _, comment = line.partition("  # ")
    lhs, eq, rhs = code.strip().partition(" = ")
    if not eq:
        lhs, rhs = "", code.strip()
    head = f"{indent}{lhs} = " if eq else indent
    pieces = _split_top(rhs, " + ") if len(_split_top(rhs, " + ")) > 1 else _split_top(rhs, " * ")
    if len(pieces) > 1:
        op = " + " if " + " in rhs else " * "
        return (
            [head + "(", inner + pieces[0]]
            + [inner + op.strip() + " " + p for p in pieces[1:]]
            + [indent + ")"]
        )
    start = rhs.find("(")
    if start > 0 and rhs.endswith(")"):
        args = [a.strip() for a in _split_top(rhs[start + 1 : -1], ",")]
        lines, current = [head + rhs[: start + 1]], inner
        for arg in args:
            piece = arg + ","
            if current.strip() and len(current) + len(piece) + 1 > LINE:
                lines.append(current.rstrip())
                current = inner
            current += piece + " "
        lines.append(current.rstrip())
        lines.append(indent + ")")
        return lines
    return [line + "  # noqa: E501"]


def generate_python(plan: ExportPlan, weights_file: str) -> str:
    """The source of a self-contained ``.py`` file for ``plan`` (passes ``ruff check``)."""
    names = naming(plan)
    order = plan.analysis.topological_order(plan.network)
    out = _module_docstring(plan, names)
    out += _constants(plan, names, weights_file)
    if any(REGISTRY.resolve(plan.design.node(n).type) == "SOM" for n in order):
        out += _SOM_CLASS
    out += _helper_classes(plan, order)
    block_lines, ctors = _block_classes(plan, names.class_name)
    out += block_lines
    out += _init_method(plan, names, order, ctors)
    out += _forward_method(plan, names, order)
    out += _main_block(plan, names)
    return "\n".join(out) + "\n"


def _module_docstring(plan: ExportPlan, names: Naming) -> list[str]:
    """The file's docstring: what was exported, its inputs, its preprocessing and how to run it."""
    info = plan.info
    pre = plan.preprocessing
    out: list[str] = []
    title = comment_text(info.get("design_name") or plan.design.name) or "design"
    part = {
        "model": "model",
        "encoder": "encoder",
        "generator": "generator",
        "discriminator": "discriminator",
    }[plan.part]
    out += [f'"""PyTorch {part} exported by Deepwire (design: {title}).', ""]
    task = comment_text(info.get("task") or "")
    if task:
        out.append(f"Task: {task}.")
    for node_id, shape in zip(plan.input_ids, plan.input_shapes):
        out.append(
            f"Input {names.args[node_id]}: {fmt_shape(shape)}"
            + (
                ", raw features (preprocessing is applied inside forward)."
                if pre is not None and node_id == plan.input_ids[0]
                else "."
            )
        )
    if plan.preprocessing_note:
        out += textwrap.wrap(
            "Preprocessing: " + comment_text(plan.preprocessing_note, 300) + ".", LINE
        )
    out += [
        "",
        "Run a prediction:  python THIS_FILE.py [--input samples.npy] [--output out.npz]",
        "Weights are read from the safetensors file next to this one (--weights to change).",
        '"""',
    ]
    return out


def _constants(plan: ExportPlan, names: Naming, weights_file: str) -> list[str]:
    """The imports and module constants: weights file, input/output names, labels, constants."""
    info = plan.info
    pre = plan.preprocessing
    out = [
        "",
        "import argparse",
        "from pathlib import Path",
        "",
        "import numpy as np",
        "import torch",
        "from safetensors.torch import load_file",
        "from torch import nn",
        "",
        f"WEIGHTS_FILE = {repr(str(weights_file))}",
    ]
    out.append("INPUT_NAMES = [" + ", ".join(repr(names.args[i]) for i in plan.input_ids) + "]")
    out.append(
        "INPUT_SHAPES = ["
        + ", ".join(
            "(" + ", ".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"
            for s in plan.input_shapes
        )
        + "]"
    )
    out += _strings("OUTPUT_NAMES", plan.output_names)
    labels = info.get("class_names") or []
    if labels:
        out += _strings("CLASS_LABELS", labels)
    if plan.som_grid is not None:
        out.append(f"SOM_COLS = {plan.som_grid[1]}")
    if pre is not None:
        out += [""] + comment_lines(
            "Preprocessing fitted on the training data: "
            + comment_text(", ".join(pre.steps), 200)
            + ".",
            "",
        )
        for key, values in pre.constants().items():
            out += _wrap_floats(f"PREPROCESS_{key.upper()}", values)
    return out


def _helper_classes(plan: ExportPlan, order: list[str]) -> list[str]:
    """The source of each engine.layers.modules class the file's layers are built from."""
    from engine.layers import modules

    types = [plan.design.node(node_id).type for node_id in order]
    for defn in plan.design.blocks.values():  # layers inside block definitions (nested too)
        types += [node.type for node in defn.body]
    helpers: list[str] = []
    for node_type in types:
        rule = LAYER_CODE.get(REGISTRY.resolve(node_type) or "")
        if rule is not None and rule.helper and rule.helper not in helpers:
            helpers.append(rule.helper)
    out: list[str] = []
    for name in helpers:
        out += ["", "", *inspect.getsource(getattr(modules, name)).rstrip().splitlines()]
    return out


# The SOM layer has no torch.nn twin; files that use one carry this class.
_SOM_CLASS = [
    "",
    "",
    "class SelfOrganizingMap(nn.Module):",
    '    """A grid of prototypes; forward gives each unit\'s Euclidean distance."""',
    "",
    "    def __init__(self, in_features: int, units: int) -> None:",
    "        super().__init__()",
    "        weight = torch.zeros(units, in_features)",
    "        self.weight = nn.Parameter(weight, requires_grad=False)",
    "",
    "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
    "        diff = x.unsqueeze(1) - self.weight.unsqueeze(0)",
    "        return diff.pow(2).sum(-1).clamp_min(0).sqrt()",
]


def _init_method(
    plan: ExportPlan, names: Naming, order: list[str], ctors: dict | None = None
) -> list[str]:
    """The class line and ``__init__``: one attribute per layer, buffers for preprocessing;
    ``ctors`` holds the constructor of each block instance (see :func:`_block_classes`)."""
    design, analysis, pre = plan.design, plan.analysis, plan.preprocessing
    block = plan.info.get("block")
    doc = (
        f"Block {comment_text(block)}, layer by layer."
        if block
        else f"Network {comment_text(plan.network)} of the design, layer by layer."
    )
    out = [
        "",
        "",
        f"class {names.class_name}(nn.Module):",
        f'    """{doc}"""',
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
    ]
    for node_id in order:
        if node_id not in names.attrs:
            continue
        node = design.node(node_id)
        node_info = analysis.info[node_id]
        if node.type == BLOCK_TYPE:
            ctor = (ctors or {})[(id(design), node_id)]
        else:
            rule = LAYER_CODE[REGISTRY.resolve(node.type)]
            if rule.ctor is None:
                continue
            ctor = rule.ctor(node_info.resolved, node_info.input_shapes, node_info.output_shape)
        original = plan.original_ids.get(node_id, node_id)
        label = comment_text(node.label or "")
        if label and label != names.attrs[node_id]:  # the label as the user wrote it
            out.append(f"        # {label}")
        out += wrap(
            _fits(
                f"        self.{names.attrs[node_id]} = {ctor}",
                f"node {comment_text(original)}" if names.attrs[node_id] != original else "",
            )
        )
    if pre is not None:
        for key, values in pre.constants().items():
            reshape = ".reshape(-1, 1, 1)" if np.asarray(values).ndim == 3 else ""
            out.append(f"        const = torch.tensor(PREPROCESS_{key.upper()}){reshape}")
            out.append(f'        self.register_buffer("pre_{key}", const, persistent=False)')
    return out


def _forward_method(plan: ExportPlan, names: Naming, order: list[str]) -> list[str]:
    """``forward``: preprocessing, then one line (or a few) per layer, then the return."""
    design, analysis, pre = plan.design, plan.analysis, plan.preprocessing
    args = ", ".join(f"{names.args[i]}: torch.Tensor" for i in plan.input_ids)
    returns = (
        "tuple[torch.Tensor, torch.Tensor]"
        if plan.som_grid is not None or len(plan.output_names) > 1
        else "torch.Tensor"
    )
    out = ["", f"    def forward(self, {args}) -> {returns}:"]
    if pre is not None:
        arg = names.args[plan.input_ids[0]]
        out.append("        # preprocessing (fitted on the training data)")
        if pre.impute is not None:
            out.append(f"        {arg} = torch.where(torch.isnan({arg}), self.pre_impute, {arg})")
        if pre.clip_low is not None:
            out.append(f"        {arg} = torch.clamp({arg}, self.pre_clip_low, self.pre_clip_high)")
        if pre.shift is not None:
            out.append(f"        {arg} = ({arg} - self.pre_shift) / self.pre_scale")
    for node_id in order:
        node = design.node(node_id)
        type_id = REGISTRY.resolve(node.type)
        if type_id in STRUCTURAL:
            continue
        node_info = analysis.info[node_id]
        ins = [names.variables[e.source] for e in design.in_edges(node_id)]
        var = names.variables[node_id]
        if node.type == BLOCK_TYPE:
            lines = [f"{var} = self.{names.attrs[node_id]}({', '.join(ins)})"]
        elif (rule := LAYER_CODE[type_id]) and type_id == "Reshape":
            lines = _reshape_call({}, "", ins, var, (), tuple(node_info.output_shape))
        elif rule.call is not None:
            lines = rule.call(
                node_info.resolved, names.attrs[node_id], ins, var, node_info.input_shapes
            )
        else:
            lines = _module_call(
                node_info.resolved, names.attrs[node_id], ins, var, node_info.input_shapes
            )
        for i, line in enumerate(lines):
            shape = fmt_shape(node_info.output_shape) if i == len(lines) - 1 else ""
            text = "        " + line
            out += wrap(text if "#" in line else _fits(text, shape))
    results = [names.variables[o] for o in plan.module.net.output_ids]
    if plan.som_grid is not None:
        out.append(
            f"        return {results[0]}.argmin(dim=1), {results[0]}"
            "  # best-matching unit, distances"
        )
    else:
        out.append(f"        return {', '.join(results)}")
    return out


def _main_block(plan: ExportPlan, names: Naming) -> list[str]:
    """``main()``: load the weights, read or make inputs, predict, print and optionally save."""
    dtype_of = dict(zip(plan.input_ids, plan.input_dtypes))
    casts = [".long()" if dtype_of[i] == "int64" else ".float()" for i in plan.input_ids]
    lines = [
        "",
        "",
        "def main() -> None:",
        '    parser = argparse.ArgumentParser(description="Run the exported model.")',
        '    parser.add_argument("--weights", type=Path,',
        "                        default=Path(__file__).with_name(WEIGHTS_FILE))",
        '    parser.add_argument("--input", type=Path, nargs="*", default=[],',
        '                        help="one .npy file of samples per input (N, *shape)")',
        '    parser.add_argument("--output", type=Path, help="save the outputs as .npz")',
        "    args = parser.parse_args()",
        "",
        f"    model = {names.class_name}()",
        "    model.load_state_dict(load_file(args.weights))",
        "    model.eval()",
        "",
        "    casts = [" + ", ".join(f'"{c[1:-2]}"' for c in casts) + "]",
        "    if args.input and len(args.input) != len(INPUT_SHAPES):",
        '        parser.error(f"give {len(INPUT_SHAPES)} --input file(s): {INPUT_NAMES}")',
        "    if args.input:",
        "        inputs = [torch.from_numpy(np.load(path)) for path in args.input]",
        "    else:  # random example samples",
        "        torch.manual_seed(0)",
        "        inputs = [torch.rand(4, *shape) for shape in INPUT_SHAPES]",
        "    inputs = [getattr(t, cast)() for t, cast in zip(inputs, casts, strict=True)]",
    ]
    lines += [
        "    with torch.no_grad():",
        "        outputs = model(*inputs)",
        "    if isinstance(outputs, torch.Tensor):",
        "        outputs = (outputs,)",
        "",
    ]
    lines += _main_report(plan)
    lines += [
        "    if args.output is not None:",
        "        arrays = {n: v.numpy() for n, v in zip(OUTPUT_NAMES, outputs, strict=True)}",
        "        np.savez(args.output, **arrays)",
        "",
        "",
        'if __name__ == "__main__":',
        "    main()",
    ]
    return lines


def _main_report(plan: ExportPlan) -> list[str]:
    """The lines of ``main()`` that print the outputs the way the task reads them."""
    task = plan.info.get("task")
    if plan.som_grid is not None:
        return [
            "    bmu = outputs[0]",
            "    for i, unit in enumerate(bmu.tolist()):",
            "        row, col = divmod(unit, SOM_COLS)",
            '        print(f"sample {i}: best-matching unit {unit} (row {row}, col {col})")',
        ]
    if plan.info.get("class_names"):
        return [
            "    for i, k in enumerate(outputs[0].argmax(dim=1).tolist()):",
            '        print(f"sample {i}: {CLASS_LABELS[k]}")',
        ]
    what = {
        "generator": "generated",
        "encoder": "code",
        "discriminator": "real/fake logit",
    }.get(plan.part, task or "output")
    return [
        "    for name, value in zip(OUTPUT_NAMES, outputs, strict=True):",
        f'        print(f"{comment_text(what)} {{name}}: shape {{tuple(value.shape)}}")',
        "        print(value[:2])",
    ]
