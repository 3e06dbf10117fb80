"""Connection rules: whether a wire ``source → target:port`` may be drawn, and why not.

Pure graph logic over an engine :class:`~engine.graph.Design` and its
:class:`~engine.shapes.ShapeAnalysis` (no Qt): the canvas asks it while a wire is dragged, the
undo commands before they change anything. Every refusal comes with a one-line reason.
"""

from __future__ import annotations

from engine.blocks import BLOCK_TYPE
from engine.graph import Design, Edge
from engine.layers import REGISTRY, ParamValueError, ShapeRuleError
from engine.shapes import ShapeAnalysis, explain_shape_error


def can_connect(
    design: Design,
    analysis: ShapeAnalysis,
    source_id: str,
    target_id: str,
    port: int,
    *,
    ancestors: set[str] | None = None,
    replace: bool = False,
) -> tuple[bool, str]:
    """Whether ``source → target:port`` may be added to ``design``; else ``(False, reason)``.

    ``ancestors`` (the nodes that feed ``source``) lets a caller that checks many targets for
    one source compute the cycle test once. With ``replace``, an input another layer feeds
    counts as free (the new wire would replace the old one), and the shapes are judged with
    the new source in its place.
    """
    if source_id not in design or target_id not in design:
        return False, "both ends must be layers of this design"
    if source_id == target_id:
        return False, "a layer cannot feed its own input"
    source, target = design.node(source_id), design.node(target_id)
    if source.network != target.network:
        return False, (
            f"'{source.id}' is in network '{source.network}' and '{target.id}' in "
            f"'{target.network}'; edges stay within one network"
        )
    if target.type == BLOCK_TYPE:
        return _can_feed_block(design, source_id, target_id, port, ancestors)
    spec = REGISTRY.get(target.type) if target.type in REGISTRY else None
    if spec is None:
        return False, f"'{target.id}' has an unknown layer type '{target.type}'"
    if spec.inputs == 0 and not spec.variadic:
        return False, f"'{target.id}' is an Input; it takes no incoming edges"
    if not spec.variadic and not 0 <= port < spec.inputs:
        return False, f"{spec.display_name} has {spec.inputs} input port(s); port {port} is none"
    if port < 0:
        return False, f"port {port} does not exist"
    in_edges = design.in_edges(target_id)
    for e in in_edges:
        if e.port == port:
            if e.source == source_id:
                return False, f"'{source_id}' already feeds '{target_id}' there"
            if replace and not spec.variadic:
                continue
            return False, (
                f"input {port + 1} of '{target_id}' is already fed by "
                f"'{e.source}'; disconnect it first"
            )
    if spec.variadic and any(e.source == source_id for e in in_edges):
        return False, f"'{source_id}' already feeds '{target_id}'"
    if target_id in ancestors if ancestors is not None else design.has_path(target_id, source_id):
        return False, (
            f"connecting '{source_id}' → '{target_id}' would make a cycle "
            f"('{target_id}' already feeds '{source_id}')"
        )
    return shapes_fit(design, analysis, source_id, target_id, port, in_edges)


def _can_feed_block(
    design: Design, source_id: str, target_id: str, port: int, ancestors: set[str] | None
) -> tuple[bool, str]:
    """Whether ``source → block instance:port`` may be drawn: the port exists and is free, no
    cycle. Shapes are judged by the analysis once wired (the message names the block path)."""
    name = design.node(target_id).params.get("block")
    defn = design.blocks.get(name) if isinstance(name, str) else None
    if defn is None:
        return False, f"'{target_id}' uses block {name!r}, which the design does not define"
    count = len(defn.input_ids)
    if not 0 <= port < count:
        return False, f"block '{name}' has {count} input port(s); port {port} is none"
    for e in design.in_edges(target_id):
        if e.port == port:
            return False, (
                f"input {port + 1} of '{target_id}' is already fed by '{e.source}'; "
                "disconnect it first"
            )
    if target_id in ancestors if ancestors is not None else design.has_path(target_id, source_id):
        return False, (
            f"connecting '{source_id}' → '{target_id}' would make a cycle "
            f"('{target_id}' already feeds '{source_id}')"
        )
    return True, ""


def shapes_fit(
    design: Design,
    analysis: ShapeAnalysis,
    source_id: str,
    target_id: str,
    port: int,
    in_edges: list[Edge],
) -> tuple[bool, str]:
    """Try the target's shape rule with the new input; unknown shapes are given the benefit."""
    info = analysis.info
    spec = REGISTRY.get(design.node(target_id).type)
    src_info = info.get(source_id)
    tgt_info = info.get(target_id)
    if src_info is None or src_info.output_shape is None or tgt_info is None:
        return True, ""
    if not tgt_info.resolved or any("parameter" in p.message for p in tgt_info.problems):
        return True, ""
    feeds = {e.port: e.source for e in in_edges}
    feeds[port] = source_id
    if spec.variadic:
        ports = sorted(feeds)
        if len(ports) < spec.min_inputs:
            return True, ""
    else:
        ports = list(range(spec.inputs))
        if any(p not in feeds for p in ports):
            return True, ""  # other inputs still open: judge once they are wired
    shapes = []
    for p in ports:
        other = info.get(feeds[p])
        if other is None or other.output_shape is None:
            return True, ""
        shapes.append(other.output_shape)
    try:
        spec.infer(shapes, tgt_info.resolved)
    except ShapeRuleError as exc:
        reason, fix = explain_shape_error(exc, target_id, [feeds[p] for p in ports], shapes)
        return False, reason + (f" — {fix}" if fix else "")
    except (ParamValueError, ValueError, KeyError, IndexError, TypeError) as exc:
        return False, f"{spec.display_name} cannot take that input ({exc})"
    return True, ""
