"""``main.py evaluate DESIGN --checkpoint CKPT [--split test|val] [--json]`` and
``main.py predict DESIGN --checkpoint CKPT --input FILE [--output FILE]``.

Exit codes as every command: 0 done, 1 the design, its data or the checkpoint's fit to it is
wrong, 2 a file cannot be read (or written) or a flag is wrong. Errors are one line on stderr.
torch is imported inside the commands, so ``main.py --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli import fail, guarded
from engine.errors import printable
from engine.io import load_design


def run_evaluate(args: argparse.Namespace) -> int:
    """Entry point of ``main.py evaluate``."""

    def body() -> int:
        from engine.evaluate import evaluate_checkpoint

        design = load_design(args.design)
        result = evaluate_checkpoint(
            design, args.checkpoint, args.split, base_dir=Path(args.design).resolve().parent
        )
        if args.json:
            print(json.dumps(result.to_dict(), indent=2))
        else:
            for line in result.table().splitlines():
                print(printable(line))
        return 0

    return guarded(body)


def run_predict(args: argparse.Namespace) -> int:
    """Entry point of ``main.py predict``."""

    def body() -> int:
        from engine.evaluate import predict_file
        from engine.files import atomic_write_bytes

        design = load_design(args.design)
        predictions = predict_file(design, args.checkpoint, args.input)
        text = predictions.to_csv()
        if args.output:
            out = Path(args.output)
            if out.resolve() in (Path(args.input).resolve(), Path(args.checkpoint).resolve()):
                return fail(
                    f"{out} would replace a file this command reads: choose another --output name",
                    2,
                )
            atomic_write_bytes(out, text.encode("utf-8"))
            print(printable(f"{len(predictions)} prediction(s) written to {out}"))
        else:
            sys.stdout.write(text)
        return 0

    return guarded(body)
