"""The search machinery's cost per trial: a trial run by :class:`engine.search.SearchRunner`
against the same training run plainly through :class:`engine.training.trainer.Trainer`.

Each round runs one more trial of one study (in-memory storage; the pruner is off so every
trial trains all its epochs) and trains the design with the same values plainly, in the same
kind of run folder; the order of the two alternates between rounds. The values of every round
are drawn ahead by the search's own sampler and queued for their trial, so either may go first. ``search`` times ``runner.run()`` for the one trial (asking the sampler, applying the
values and checking the shapes, the run folder, the per-epoch reports to the pruner,
``trial.json``, telling the study, listing the study's trials); ``plain`` times ``Trainer.fit``.
Both load the data and write checkpoints. Ratios are per round; figures are medians::

    python bench/bench_search.py [--rounds 9] [--epochs 3] [--design resources/templates/mlp.json]

The last line is ``search_overhead_ratio=<median of search/plain>`` (target ≤ 1.05).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--design", default=str(ROOT / "resources" / "templates" / "mlp.json"))
    args = parser.parse_args()

    import torch

    from engine.io import load_design
    from engine.search import SearchRunner
    from engine.search_space import apply_params
    from engine.training.config import TrainConfig
    from engine.training.run_files import new_run_folder
    from engine.training.trainer import Trainer

    torch.set_num_threads(1)
    design = load_design(args.design)
    design.training = {**design.training, "epochs": args.epochs, "device": "cpu"}
    first = next(n for n in design if n.type == "Linear")
    design.search = {
        "space": {
            "lr": {"low": 0.0005, "high": 0.01, "log": True},
            f"{first.id}.out_features": {"choices": [64, 128]},
        },
        "pruning": False,
    }
    base = Path(args.design).resolve().parent
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        runner = SearchRunner(design, 1, runs_dir=runs / "search", base_dir=base, stem="b")
        # the values of every round, drawn ahead by the same sampler (TPE draws its first ten
        # trials at random), so the plain run may come first; each is queued for its trial
        import optuna

        from engine.search import make_sampler

        draw = optuna.create_study(sampler=make_sampler(runner.space))
        values = [draw.ask(runner.space.distributions()).params for _ in range(args.rounds + 1)]

        def search_trial(params: dict) -> float:
            runner.n_trials = len(runner.study.trials) + 1
            runner.study.enqueue_trial(params)
            t0 = time.perf_counter()
            outcome = runner.run()
            took = time.perf_counter() - t0
            last = outcome.trials[-1]
            assert last.state == "complete" and last.params == params, last
            return took

        def plain(params: dict) -> float:
            t0 = time.perf_counter()
            trial_design = apply_params(design, params)
            config = TrainConfig.from_design(trial_design)
            out = new_run_folder(runs / "plain", "b")
            Trainer(trial_design, config, base_dir=base, out_dir=out).fit()
            return time.perf_counter() - t0

        search_trial(values[0])  # warm-up: imports, the first data load
        plain(values[0])
        rows = []
        for r in range(args.rounds):
            params = values[r + 1]
            if r % 2 == 0:
                s = search_trial(params)
                p = plain(params)
            else:
                p = plain(params)
                s = search_trial(params)
            rows.append((s, p))
            print(f"round {r + 1}: search {s:.3f} s  plain {p:.3f} s  ratio {s / p:.3f}")
    ratios = [s / p for s, p in rows]
    print(
        f"median search {statistics.median(s for s, _ in rows):.3f} s, "
        f"plain {statistics.median(p for _, p in rows):.3f} s per trial "
        f"({args.epochs} epochs, {Path(args.design).name}); loadavg "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print(f"search_overhead_ratio={statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
