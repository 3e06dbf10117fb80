"""Shared helpers for the headless commands, and ``check``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import DataError, DeepwireError, DesignFormatError, TrainingError, printable
from engine.graph import Design
from engine.io import load_design
from engine.layers import fmt_shape
from engine.memory import MemoryEstimate, estimate_for_config, memory_problems
from engine.shapes import Problem, ShapeAnalysis, analyze

if TYPE_CHECKING:
    from engine.training.config import TrainConfig


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


@contextmanager
def two_step_ctrl_c(target: Any, message: str, *, active: bool = True) -> Iterator[None]:
    """While the block runs (in the main thread, and ``active``): the first Ctrl+C calls
    ``target.request_stop()`` and writes ``message`` (e.g. "stopping after this batch"); a second
    one, once ``target.stop_requested``, aborts at once (KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread() or not active:
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if target.stop_requested:
            raise KeyboardInterrupt
        sys.stderr.write(f"\n{message} (Ctrl+C again to abort)\n")
        target.request_stop()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def section_problems(design: Design) -> tuple[list[Problem], TrainConfig | None]:
    """Problems of the ``data``, ``training`` and ``search`` sections, found by the same code
    ``train`` and ``search`` run (without loading any data), and the training config when that
    section is valid."""
    from engine.data.augment_spec import design_augment_problem
    from engine.data.builtin import check_builtin
    from engine.data.spec import normalize_spec
    from engine.training.config import TrainConfig

    problems: list[Problem] = []
    if design.data:
        try:
            spec = normalize_spec(design.data)
            if spec["source"] == "builtin":
                check_builtin(spec)
            augment = design_augment_problem(design)  # e.g. a flip on a table
            if augment is not None:
                problems.append(Problem(None, augment))
        except DataError as exc:
            problems.append(Problem(None, str(exc)))
    config = None
    try:
        config = TrainConfig.from_design(design)
    except TrainingError as exc:
        problems.append(Problem(None, str(exc)))
    if design.search:
        from engine.search_space import search_problems

        problems += [Problem(None, message) for message in search_problems(design)]
    return problems, config


@dataclass
class CheckResult:
    """Everything ``check`` reports: shape analysis, section problems and the memory estimate."""

    design: Design
    analysis: ShapeAnalysis
    problems: list[Problem]
    memory: MemoryEstimate | None

    @property
    def valid(self) -> bool:
        """True when the check found no problem."""
        return not self.problems


def check_design(design: Design, available: int | None | str = "measure") -> CheckResult:
    """Validate ``design`` the way ``train`` would before it loads data: shapes, the data and
    training sections, and whether training fits in the free memory."""
    analysis = analyze(design)
    problems, config = section_problems(design)
    problems = analysis.problems + problems
    memory = None
    if analysis.valid and config is not None:
        memory = estimate_for_config(design, analysis, config, available)
        problems += memory_problems(memory)
    return CheckResult(design, analysis, problems, memory)


def check_report(
    design: Design, analysis: ShapeAnalysis, result: CheckResult | None = None
) -> dict[str, Any]:
    """The ``check --json`` object (see DESIGN.md's command-line contract)."""
    problems = result.problems if result is not None else analysis.problems
    memory = result.memory if result is not None else None
    totals = analysis.totals()
    nodes = []
    for node in design:
        info = analysis.info.get(node.id)
        shape = info.output_shape if info else None
        nodes.append(
            {
                "id": node.id,
                "type": node.type,
                "network": node.network,
                "output_shape": list(shape) if shape is not None else None,
                "params": info.params if info else 0,
                "macs": info.macs if info else 0,
                "activation_bytes": info.activation_bytes if info else 0,
            }
        )
    return {
        "valid": not problems,
        "nodes": nodes,
        "total_params": totals.params,
        "total_macs": totals.macs,
        "total_activation_bytes": totals.activation_bytes,
        "memory": memory.to_dict() if memory is not None else None,
        "errors": [
            {"node": p.node, "message": p.message + (f" — {p.fix}" if p.fix else "")}
            for p in problems
        ],
    }


def run_check(args: argparse.Namespace) -> int:
    """``check DESIGN.json [--json]``: exit 0 valid, 1 invalid, 2 unreadable."""

    def body() -> int:
        design = load_design(args.design)
        result = check_design(design)
        analysis = result.analysis
        if args.json:
            print(json.dumps(check_report(design, analysis, result), indent=2))
            return 0 if result.valid else 1
        totals = analysis.totals()
        if result.valid:
            print(
                printable(
                    f"{args.design}: valid — {len(design)} layers, {totals.params:,} "
                    f"parameters, {totals.macs:,} MACs per sample"
                )
            )
            for node in design:
                info = analysis.info[node.id]
                print(
                    printable(
                        f"  {node.id:<20} {node.type:<18} "
                        f"{fmt_shape(info.output_shape):<18} {info.params:>10,} params"
                    )
                )
            if result.memory is not None:
                print(f"memory to train: {result.memory.summary()}")
            from engine.data.downloads import not_cached_note

            if note := not_cached_note(design.data):
                print(printable(note))
            return 0
        for problem in result.problems:
            sys.stderr.write(printable(f"{args.design}: {problem}") + "\n")
        sys.stderr.write(
            printable(f"{args.design}: invalid — {len(result.problems)} problem(s)") + "\n"
        )
        return 1

    if args.json:
        try:
            return body()
        except DesignFormatError as exc:
            print(
                json.dumps(
                    {
                        "valid": False,
                        "nodes": [],
                        "total_params": 0,
                        "total_macs": 0,
                        "memory": None,
                        "errors": [{"node": None, "message": str(exc)}],
                    },
                    indent=2,
                )
            )
            return fail(str(exc), 2)
    return guarded(body)
