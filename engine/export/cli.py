"""The ``export`` and ``import`` sub-commands (``main.py`` parses the flags and calls these)."""

from __future__ import annotations

import argparse
import sys

from engine.cli import fail, guarded
from engine.errors import first_line, printable


def run_export(args: argparse.Namespace) -> int:
    """``export DESIGN --checkpoint C --format F --output PATH [--network PART]``."""

    def body() -> int:
        from engine.export.formats import export_model, output_conflict

        conflict = output_conflict(
            args.format, args.output, {"design": args.design, "checkpoint": args.checkpoint}
        )
        if conflict is not None:  # bad usage: nothing is read or written
            return fail(conflict, 2)
        result = export_model(
            args.design,
            args.checkpoint,
            args.format,
            args.output,
            network=getattr(args, "network", None),
        )
        print(printable(result.summary()))
        for note in result.notes:
            sys.stderr.write(printable(f"note: preprocessing {note}") + "\n")
        return 0

    return guarded(body)


def run_import(args: argparse.Namespace) -> int:
    """``import SOURCE --output DESIGN.json [--input-shape 1,28,28] [--flat]``."""

    def body() -> int:
        from engine.importer import import_model, parse_shape

        shape = parse_shape(args.input_shape) if getattr(args, "input_shape", None) else None
        flat = bool(getattr(args, "flat", False))
        result = import_model(args.source, args.output, input_shape=shape, flat=flat)
        print(printable(result.summary()))
        return 0

    try:
        return guarded(body)
    except SystemExit:
        raise
    except Exception as exc:  # the user's own model code failed while being built or traced
        return fail(f"importing {args.source} failed: {first_line(exc)}", 1)
