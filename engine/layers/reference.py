"""Generate docs/layers.md, the layer reference, from the registry (the one source of truth).

Run ``python -m engine.layers.reference > docs/layers.md``; a test checks the file is current.
"""

from __future__ import annotations

import json

from engine.layers.registry import REGISTRY


def _default(value) -> str:
    return json.dumps(value)


def render() -> str:
    """The whole Markdown page."""
    lines = [
        "# Layer reference",
        "",
        "Generated from the layer registry by `python -m engine.layers.reference`; do not edit.",
        "Every layer's `type` id is what a design file's node names (see "
        "[design-format.md](design-format.md)). Shapes are per sample: the batch dimension N is "
        "implied.",
        "",
        "Element types: a tensor between layers is float32 or int64. Each layer says what it "
        'takes and gives ("Types" below); wiring an int64 Input into a float layer, or a '
        "float32 output into an Embedding, is a validation problem on that layer. Token ids "
        "reach float layers through an Embedding.",
        "",
    ]
    for category, specs in REGISTRY.by_category().items():
        lines += [f"## {category}", ""]
        for spec in specs:
            title = f"### `{spec.type_id}` — {spec.display_name}"
            lines += [title, "", spec.help, ""]
            if spec.variadic:
                ports = f"{spec.min_inputs} or more inputs (one per port: 0, 1, 2, …)"
            elif spec.inputs == 0:
                ports = "no inputs (a network's entry point)"
            else:
                ports = f"{spec.inputs} input" + ("s" if spec.inputs > 1 else "")
            extra = []
            if spec.replaces:
                extra.append(
                    "old names still accepted: " + ", ".join(f"`{r}`" for r in spec.replaces)
                )
            if spec.learning == "competitive":
                extra.append("trained by competitive learning, not backpropagation")
            lines += [
                f"Ports: {ports}." + "".join(f" {e[0].upper()}{e[1:]}." for e in extra),
                "",
                f"Types: {spec.describe_dtypes()}.",
                "",
            ]
            if spec.params:
                lines += ["| parameter | allowed | default | meaning |", "|---|---|---|---|"]
                for ps in spec.params:
                    lines.append(
                        f"| `{ps.name}` | {ps.describe_range()} | "
                        f"`{_default(ps.default)}` | {ps.help} |"
                    )
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
