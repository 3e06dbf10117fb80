"""Deepwire entry point.

    python main.py [DESIGN.json]                      open the editor (default: MLP template)
    python main.py check DESIGN.json [--json]         validate a design
    python main.py train DESIGN.json [options]        train headless
    python main.py evaluate DESIGN.json --checkpoint C [--split test|val] [--json]
    python main.py predict DESIGN.json --checkpoint C --input FILE [--output CSV]
    python main.py search DESIGN.json --trials N [--timeout S] [--storage URL] [--study NAME]
                   [--jobs J] [--out DIR] [--device D] [--apply]
    python main.py export DESIGN.json --checkpoint C --format F --output PATH
    python main.py runs DESIGN.json [--json] [--add FOLDER]   list the design's runs
    python main.py import SOURCE --output DESIGN.json [--flat]   turn a PyTorch model into a design
    python main.py --screenshot PNG [DESIGN.json] [--size WxH] [--layout default|training|runs|evaluate|search]
                   [--train-for SECONDS]

Errors are one line on stderr; exit codes: 0 success, 1 invalid design or failed run, 2 unreadable
input or bad usage.
"""

from __future__ import annotations

import argparse
import sys

COMMANDS = ("check", "train", "evaluate", "predict", "search", "export", "import", "runs")


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (not the usage block) on bad usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from engine.errors import printable

        sys.stderr.write(printable(f"{self.prog}: error: {message} (see --help)") + "\n")
        raise SystemExit(2)


def _add_evaluate_parsers(sub: argparse._SubParsersAction) -> None:
    """The ``evaluate`` and ``predict`` sub-commands (engine/evaluate_cli.py)."""
    p = sub.add_parser("evaluate", help="evaluate a checkpoint on the test or validation split")
    p.add_argument("design")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--split", choices=("test", "val"), default="test")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("predict", help="predict the samples in an image, CSV or .npy file")
    p.add_argument("design")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="an image, a CSV of rows or a .npy array")
    p.add_argument("--output", default=None, help="write the predictions to this CSV file")


def _count(text: str) -> int:
    """A whole number of at least 1 (``--trials``, ``--jobs``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (``--timeout``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number of seconds")
    return value


def _add_search_parser(sub: argparse._SubParsersAction) -> None:
    """The ``search`` sub-command (engine/search_cli.py; docs/search.md)."""
    p = sub.add_parser(
        "search",
        help="search the design's settings with Optuna (its search section)",
        description='Run an Optuna study over the design\'s "search" section; every trial is '
        "a run in --out. See docs/search.md.",
    )
    p.add_argument("design")
    p.add_argument(
        "--trials",
        type=_count,
        required=True,
        help="finished trials the study should hold (a rerun continues to this total)",
    )
    p.add_argument("--timeout", type=_seconds, default=None, metavar="SECONDS")
    p.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="sqlite:///FILE.db, journal:///FILE.log (or FILE.log), or a database URL; "
        "shared by every worker of the study (default: in memory, this process only)",
    )
    p.add_argument("--study", default=None, metavar="NAME", help="default: <design>-search")
    p.add_argument("--jobs", type=_count, default=1, help="trials at once in this process")
    p.add_argument("--out", default=None, help="folder of the trials' runs (default runs/)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=None)
    p.add_argument(
        "--apply",
        action="store_true",
        help="write the best trial's values into DESIGN.json when the search ends",
    )


def _add_runs_parser(sub: argparse._SubParsersAction) -> None:
    """The ``runs`` sub-command (engine/runs_cli.py)."""
    p = sub.add_parser("runs", help="list the runs of a design (newest first)")
    p.add_argument("design")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--add", default=None, metavar="FOLDER", help="register a run folder first")


def build_parser() -> argparse.ArgumentParser:
    """The headless sub-command parser."""
    parser = _Parser(prog="deepwire", description="Build, train and export neural networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("check", help="validate a design file")
    p.add_argument("design")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("train", help="train a design headless")
    p.add_argument("design")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=None)
    p.add_argument("--seed", type=int)
    p.add_argument("--out", default=None, help="output folder (default runs/<design>-<time>)")
    p.add_argument("--resume", default=None, metavar="CHECKPOINT")
    p.add_argument(
        "--init-from",
        default=None,
        metavar="CHECKPOINT",
        help="start a new run from this checkpoint's weights (fine-tune; fresh optimizer)",
    )
    p.add_argument(
        "--tensorboard",
        action="store_true",
        default=None,
        help='write TensorBoard event files into the run folder (pip install "deepwire[tensorboard]")',
    )
    _add_evaluate_parsers(sub)
    _add_search_parser(sub)
    _add_runs_parser(sub)

    p = sub.add_parser("export", help="export a trained model")
    p.add_argument("design")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--format", required=True, choices=("onnx", "pt2", "safetensors", "python"))
    p.add_argument("--output", required=True)
    p.add_argument(
        "--network",
        default=None,
        help="which network to export (GAN: generator or discriminator; "
        "autoencoder: 'encoder' for the encoder alone)",
    )

    _add_import_parser(sub)
    return parser


def _add_import_parser(sub: argparse._SubParsersAction) -> None:
    """The ``import`` sub-command's arguments."""
    p = sub.add_parser(
        "import",
        help="turn a PyTorch model into an editable design",
        description="Import a model as a design. SOURCE is FILE.py:ClassName (the file is "
        "EXECUTED to build the model: only import code you trust) or a .pt2 file.",
    )
    p.add_argument("source")
    p.add_argument("--output", required=True)
    p.add_argument(
        "--input-shape",
        default=None,
        help="sample shape without batch, e.g. 1,28,28 (needed for .py sources)",
    )
    p.add_argument(
        "--flat",
        action="store_true",
        help="one layer per operation; by default repeated submodules (ResNet blocks, "
        "inverted residuals, encoder layers) become blocks",
    )


def run_headless(argv: list[str]) -> int:
    """Run one sub-command; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "check":
        from engine.cli import run_check

        return run_check(args)
    if args.command == "train":
        from engine.training.cli import run_train

        return run_train(args)
    if args.command in ("evaluate", "predict"):
        from engine.evaluate_cli import run_evaluate, run_predict

        return (run_evaluate if args.command == "evaluate" else run_predict)(args)
    if args.command == "search":
        from engine.search_cli import run_search

        return run_search(args)
    if args.command == "runs":
        from engine.runs_cli import run_runs

        return run_runs(args)
    if args.command == "export":
        from engine.export.cli import run_export

        return run_export(args)
    from engine.export.cli import run_import

    return run_import(args)


def run_gui(argv: list[str]) -> int:
    """Open the editor window (or render it to a PNG with --screenshot)."""
    parser = _Parser(
        prog="deepwire",
        description="Deepwire editor. Sub-commands: "
        + ", ".join(COMMANDS)
        + " (see 'deepwire check --help').",
    )
    parser.add_argument("design", nargs="?", help="design file to open")
    parser.add_argument("--screenshot", metavar="PNG", help="render the window to PNG and exit")
    parser.add_argument(
        "--train-for",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --screenshot: train live this long before rendering",
    )
    parser.add_argument(
        "--size",
        default="1400x900",
        help="with --screenshot: WIDTHxHEIGHT (default: the window's own size)",
    )
    parser.add_argument(
        "--layout",
        choices=("default", "training", "runs", "evaluate", "search"),
        default=None,
        help="with --screenshot: the docks as the window opens (default), as Train arranges "
        "them (training), or one panel once used: runs (the newest runs compared), evaluate "
        "(the newest run on the test split), search (the design's search run to its end)",
    )
    args = parser.parse_args(argv)
    from gui.app import run_app

    return run_app(args)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a headless sub-command or the GUI."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMANDS:
        return run_headless(argv)
    return run_gui(argv)


if __name__ == "__main__":
    sys.exit(main())
