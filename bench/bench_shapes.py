"""Shape inference on 5,000- and 20,000-node designs: a full pass and single-parameter edits.

Targets: 5k nodes (issue 2) full pass ≤ 100 ms; 20k nodes (issue 11) full pass ≤ 200 ms; one
parameter edit re-inferred ≤ 20 ms at either size — its cost must not grow with the design.
The design is a deep residual CNN: blocks of Conv2d → BatchNorm2d → ReLU → Conv2d →
BatchNorm2d → Add(skip) → ReLU on (16, 8, 8) tensors, plus Input/Flatten/Linear (714 blocks =
5,001 nodes; 2,857 blocks = 20,002 nodes): ``bench.designs.residual_cnn``, the design
bench_editor opens (node positions play no part here).

Edits measured (each undone before the next, like an editor's undo):
* ``local``: toggle a Conv2d's ``bias`` (parameters change, shape does not) — the common case;
* ``propagating``: set a mid-design Conv2d's ``out_channels`` to 8 — the Add behind it breaks and
  every later node must be re-inferred (the worst case for an edit, reported separately).

Times are this thread's CPU time (the work; the machine may be shared), wall time beside.
The sizes are measured in interleaved rounds (5k, 20k, 5k, 20k…) so that load changes hit both.

Run: ``python bench/bench_shapes.py [rounds]``. The last line reads
``full_infer_ms=<f> edit_infer_ms=<f> full_infer_ms_20k=<f> edit_infer_ms_20k=<f>``
(CPU medians; edit = the local edit).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.designs import BLOCKS, residual_cnn  # noqa: E402
from engine.graph import Edge, Node  # noqa: E402
from engine.shapes import analyze, clear_caches  # noqa: E402

SIZES = {"5k": BLOCKS, "20k": 2857}
TARGET_FULL_MS = {"5k": 100.0, "20k": 200.0}


def timed(fn) -> tuple[float, float]:
    """(CPU ms, wall ms) of one call."""
    wall, cpu = time.perf_counter(), time.thread_time()
    fn()
    return (time.thread_time() - cpu) * 1000.0, (time.perf_counter() - wall) * 1000.0


def one_round(design, blocks: int, out: dict[str, list]) -> None:
    """A cold full pass, then 3 local and 3 propagating edits (each undone)."""
    clear_caches()  # cold: the memo of shape rules is cleared before every pass
    out["full"].append(timed(lambda: analyze(design)))
    analysis = analyze(design)
    assert analysis.valid, analysis.problems[:3]
    clear_caches()  # edits start cold too: the first edit of each kind computes its rule
    for _i in range(3):
        target = f"b{(len(out['local']) * 97) % blocks}_conv1"
        old = design.set_param(target, "bias", False)
        out["local"].append(
            timed(lambda t=target: out["recomputed"].append(len(analysis.update({t}))))
        )
        design.set_param(target, "bias", old)
        analysis.update({target})

        mid = f"b{blocks // 2 + len(out['prop'])}_conv2"
        design.set_param(mid, "out_channels", 8)
        out["prop"].append(timed(lambda m=mid: analysis.update({m})))
        assert not analysis.valid
        design.set_param(mid, "out_channels", 16)
        analysis.update({mid})
        assert analysis.valid
        out["struct"].append(timed(lambda i=_i: structural_edit(design, analysis, blocks, i)))
        assert analysis.valid


def structural_edit(design, analysis, blocks: int, i: int) -> None:
    """Add a ReLU wired from a mid-design node, then remove it (an undo): both analysed."""
    source = f"b{(blocks // 3 + 13 * i) % blocks}_relu2"
    node = Node("bench_extra", "ReLU")
    design.add_node(node)
    edge = Edge(source, node.id)
    design.add_edge(edge)
    analysis.update({node.id}, structure_changed=True)
    assert analysis.info[node.id].output_shape == analysis.info[source].output_shape
    design.remove_node(node.id)
    analysis.update(set(), structure_changed=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("rounds", nargs="?", type=int, default=7, help="interleaved rounds")
    rounds = parser.parse_args().rounds
    designs = {label: residual_cnn(blocks) for label, blocks in SIZES.items()}
    results = {
        label: {"full": [], "local": [], "prop": [], "struct": [], "recomputed": []}
        for label in SIZES
    }
    for _ in range(rounds):
        for label, blocks in SIZES.items():
            one_round(designs[label], blocks, results[label])

    def med(pairs, which: int = 0) -> float:
        return statistics.median(p[which] for p in pairs)

    print(f"{rounds} interleaved rounds; medians; cpu = this thread's CPU time, wall = elapsed")
    last = []
    for label, res in results.items():
        design = designs[label]
        full_ms, edit_ms, prop_ms = med(res["full"]), med(res["local"]), med(res["prop"])
        target = TARGET_FULL_MS[label]
        print(f"[{label}] nodes={len(design)} edges={len(design.edges)}")
        print(
            f"  full pass:        cpu {full_ms:8.2f} ms, wall {med(res['full'], 1):8.2f} ms "
            f"(target {target:.0f} ms, ratio {full_ms / target:.2f})"
        )
        print(
            f"  local edit:       cpu {edit_ms:8.3f} ms, wall {med(res['local'], 1):8.3f} ms "
            f"(target 20 ms, ratio {edit_ms / 20:.4f}; nodes re-inferred "
            f"{statistics.median(res['recomputed']):.0f})"
        )
        print(
            f"  propagating edit: cpu {prop_ms:8.2f} ms (half the design re-inferred; "
            f"{prop_ms / full_ms:.2f}× a full pass)"
        )
        struct_ms = med(res["struct"])
        print(
            f"  structural edit:  cpu {struct_ms:8.3f} ms, wall {med(res['struct'], 1):8.3f} ms "
            f"(add a node + wire it, then remove it; target 20 ms, ratio {struct_ms / 20:.4f})"
        )
        suffix = "" if label == "5k" else f"_{label}"
        last.append(
            f"full_infer_ms{suffix}={full_ms:.2f} edit_infer_ms{suffix}={edit_ms:.3f} "
            f"struct_edit_ms{suffix}={struct_ms:.3f}"
        )
    small, big = results["5k"], results["20k"]
    print(
        f"20k / 5k: full pass {med(big['full']) / med(small['full']):.2f}×, local edit "
        f"{med(big['local']) / med(small['local']):.2f}×, structural edit "
        f"{med(big['struct']) / med(small['struct']):.2f}× (independent of size: ≈ 1)"
    )
    print(" ".join(last))


if __name__ == "__main__":
    main()
