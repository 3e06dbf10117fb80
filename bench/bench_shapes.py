"""Shape inference on a 5,000-node design: a full pass and single-parameter edits.

Targets (issue 2): full pass ≤ 100 ms, one parameter edit re-inferred ≤ 20 ms.
The design is a deep residual CNN: 714 blocks of Conv2d → BatchNorm2d → ReLU → Conv2d →
BatchNorm2d → Add(skip) → ReLU on (16, 8, 8) tensors, plus Input/Flatten/Linear (5,001 nodes):
``bench.designs.residual_cnn``, the design bench_editor opens (node positions play no part here).

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

from bench.designs import BLOCKS, residual_cnn  # noqa: E402
from engine.shapes import analyze, clear_caches  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def main() -> None:
    design = residual_cnn()
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
    print(
        f"full pass:         median {full_ms:8.2f} ms  (target 100 ms, ratio {full_ms / 100:.2f}; "
        f"best {min(full):.2f} ms)"
    )
    print(
        f"local edit:        median {edit_ms:8.2f} ms  (target 20 ms, ratio {edit_ms / 20:.3f}; "
        f"nodes re-inferred {statistics.median(recomputed):.0f})"
    )
    print(
        f"propagating edit:  median {prop_ms:8.2f} ms  (half the design re-inferred; "
        f"{prop_ms / full_ms:.2f}× a full pass)"
    )
    print(f"full_infer_ms={full_ms:.2f} edit_infer_ms={edit_ms:.2f}")


if __name__ == "__main__":
    main()
