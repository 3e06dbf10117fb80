"""Shape inference on a 5,000-node design: a full pass and single-parameter edits.

Targets (issue 2): full pass ≤ 100 ms, one parameter edit re-inferred ≤ 20 ms.
The design is a deep residual CNN: 714 blocks of Conv2d → BatchNorm2d → ReLU → Conv2d →
BatchNorm2d → Add(skip) → ReLU on (16, 8, 8) tensors, plus Input/Flatten/Linear (5,001 nodes).

Edits measured (each undone before the next, like an editor's undo):
* ``local``: toggle a Conv2d's ``bias`` (parameters change, shape does not) — the common case;
* ``propagating``: set a mid-design Conv2d's ``out_channels`` to 8 — the Add behind it breaks and
  every later node must be re-inferred (the worst case for an edit, reported separately).

Run: ``python bench/bench_shapes.py``. The last line reads
``full_infer_ms=<f> edit_infer_ms=<f>`` (medians; edit = the local edit).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.graph import Design, Edge, Node  # noqa: E402
from engine.shapes import analyze, clear_caches  # noqa: E402

BLOCKS = 714


def build() -> Design:
    design = Design("bench: 5,000 nodes")
    x = 0.0

    def node(node_id: str, type_id: str, params: dict | None = None, *inputs: str) -> str:
        nonlocal x
        x += 200.0
        design.add_node(Node(node_id, type_id, dict(params or {}), (x, 0.0)))
        for port, src in enumerate(inputs):
            design.add_edge(Edge(src, node_id, port))
        return node_id

    prev = node("image", "Input", {"shape": [16, 8, 8]})
    for b in range(BLOCKS):
        c1 = node(f"b{b}_conv1", "Conv2d", {"out_channels": 16}, prev)
        n1 = node(f"b{b}_bn1", "BatchNorm2d", {}, c1)
        r1 = node(f"b{b}_relu1", "ReLU", {}, n1)
        c2 = node(f"b{b}_conv2", "Conv2d", {"out_channels": 16}, r1)
        n2 = node(f"b{b}_bn2", "BatchNorm2d", {}, c2)
        s = node(f"b{b}_add", "Add", {}, n2, prev)
        prev = node(f"b{b}_relu2", "ReLU", {}, s)
    flat = node("flat", "Flatten", {}, prev)
    node("head", "Linear", {"out_features": 10}, flat)
    return design


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def main() -> None:
    design = build()
    n = len(design)
    full = []
    for _ in range(7):  # cold: the memo of shape rules is cleared before every pass
        clear_caches()
        full.append(timed(lambda: analyze(design)))
    clear_caches()
    analysis = analyze(design)
    assert analysis.valid, analysis.problems[:3]

    local, propagating, recomputed = [], [], []
    clear_caches()  # edits start cold too: the first edit of each kind computes its rule
    for i in range(21):
        target = f"b{(i * 97) % BLOCKS}_conv1"
        old = design.set_param(target, "bias", False)
        local.append(timed(lambda t=target: recomputed.append(len(analysis.update({t})))))
        design.node(target).params["bias"] = True if old is None else old
        if old is None:
            del design.node(target).params["bias"]
        analysis.update({target})

        mid = f"b{BLOCKS // 2 + i}_conv2"
        design.set_param(mid, "out_channels", 8)
        propagating.append(timed(lambda m=mid: analysis.update({m})))
        assert not analysis.valid
        design.set_param(mid, "out_channels", 16)
        analysis.update({mid})
        assert analysis.valid

    full_ms = statistics.median(full)
    edit_ms = statistics.median(local)
    prop_ms = statistics.median(propagating)
    print(f"nodes={n} edges={len(design.edges)}")
    print(f"full pass:         median {full_ms:8.2f} ms  (target 100 ms, ratio {full_ms / 100:.2f}; "
          f"best {min(full):.2f} ms)")
    print(f"local edit:        median {edit_ms:8.2f} ms  (target 20 ms, ratio {edit_ms / 20:.3f}; "
          f"nodes re-inferred {statistics.median(recomputed):.0f})")
    print(f"propagating edit:  median {prop_ms:8.2f} ms  (half the design re-inferred; "
          f"{prop_ms / full_ms:.2f}× a full pass)")
    print(f"full_infer_ms={full_ms:.2f} edit_infer_ms={edit_ms:.2f}")


if __name__ == "__main__":
    main()
