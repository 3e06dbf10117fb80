"""Shared helpers for the headless commands, and ``check``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from engine.errors import DeepwireError, DesignFormatError, printable
from engine.graph import Design
from engine.io import load_design
from engine.layers import fmt_shape
from engine.shapes import ShapeAnalysis, analyze


def fail(message: str, code: int) -> int:
    """Print one error line on stderr and return ``code`` (control characters escaped)."""
    sys.stderr.write(f"error: {printable(message)}\n")
    return code


def guarded(fn: Callable[[], int]) -> int:
    """Run a command body; turn user errors into one line (exit 1, or 2 for unreadable files)."""
    try:
        return fn()
    except DesignFormatError as exc:
        return fail(str(exc), 2)
    except DeepwireError as exc:
        return fail(str(exc), 1)
    except OSError as exc:  # a file the command had to read or write
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{where}{exc.strerror or exc}; check the path and its permissions", 2)
    except KeyboardInterrupt:
        return fail("interrupted", 130)


def check_report(design: Design, analysis: ShapeAnalysis) -> dict[str, Any]:
    """The ``check --json`` object (see DESIGN.md's command-line contract)."""
    totals = analysis.totals()
    nodes = []
    for node in design:
        info = analysis.info.get(node.id)
        shape = info.output_shape if info else None
        nodes.append({"id": node.id, "type": node.type, "network": node.network,
                      "output_shape": list(shape) if shape is not None else None,
                      "params": info.params if info else 0, "macs": info.macs if info else 0,
                      "activation_bytes": info.activation_bytes if info else 0})
    return {
        "valid": analysis.valid,
        "nodes": nodes,
        "total_params": totals.params,
        "total_macs": totals.macs,
        "total_activation_bytes": totals.activation_bytes,
        "errors": [{"node": p.node, "message": p.message + (f" — {p.fix}" if p.fix else "")}
                   for p in analysis.problems],
    }


def run_check(args: argparse.Namespace) -> int:
    """``check DESIGN.json [--json]``: exit 0 valid, 1 invalid, 2 unreadable."""

    def body() -> int:
        design = load_design(args.design)
        analysis = analyze(design)
        if args.json:
            print(json.dumps(check_report(design, analysis), indent=2))
            return 0 if analysis.valid else 1
        totals = analysis.totals()
        if analysis.valid:
            print(printable(f"{args.design}: valid — {len(design)} layers, {totals.params:,} "
                            f"parameters, {totals.macs:,} MACs per sample"))
            for node in design:
                info = analysis.info[node.id]
                print(printable(f"  {node.id:<20} {node.type:<18} "
                                f"{fmt_shape(info.output_shape):<18} {info.params:>10,} params"))
            return 0
        for problem in analysis.problems:
            sys.stderr.write(printable(f"{args.design}: {problem}") + "\n")
        sys.stderr.write(printable(f"{args.design}: invalid — {len(analysis.problems)} "
                                   "problem(s)") + "\n")
        return 1

    if args.json:
        try:
            return body()
        except DesignFormatError as exc:
            print(json.dumps({"valid": False, "nodes": [], "total_params": 0, "total_macs": 0,
                              "errors": [{"node": None, "message": str(exc)}]}, indent=2))
            return fail(str(exc), 2)
    return guarded(body)
