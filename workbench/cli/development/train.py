"""Training: ``mlops-workbench train`` (one experiment, or a sweep through DVC's queue).

The command only parses and prints; the work is in :mod:`workbench.development.training`.
Bad input prints one line on stderr and exits 2 with nothing written or committed.

Usage::

    mlops-workbench train [-S key=value ...] [--sweep key=v1,v2 ...] [-j N] [--name NAME] [--json]

``-S`` keys are dotted params.yaml keys: ``model.name``, ``model.params.C``, ``split.seed``,
``split.test_size``, ``preprocessing.numeric.scale``... Values are YAML (``0.5``, ``null``).

JSON (schema 1)::

    train --json     {"schema": 1, "experiments": [{"name": str, "metrics": {str: float}}],
                      "failed": [str], "seconds": float}
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli.interrupt import cancel_on_interrupt
from workbench.cli.options import add_project_option, project_path
from workbench.cli.output import print_json, progress_printer

NAME = "train"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("train", help="run an experiment (dvc exp run) or a sweep through DVC's queue")
    add_project_option(p)
    p.add_argument("-S", "--set", action="append", metavar="KEY=VALUE",
                   help="override a params.yaml key for this run (repeatable)")
    p.add_argument("--sweep", action="append", metavar="KEY=V1,V2",
                   help="sweep a key over values (repeatable: a grid), run with DVC's queue")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="queue workers for a sweep")
    p.add_argument("--name", help="name of the experiment (single runs)")
    p.add_argument("--quiet", action="store_true", help="do not stream DVC's output")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from workbench.development.training import (
        parse_assignments,
        parse_sweeps,
        run_experiment,
        run_sweep,
    )

    root = project_path(args)
    fixed = parse_assignments(args.set or [])
    progress = progress_printer(args)
    with cancel_on_interrupt() as cancel:
        if args.sweep:
            sweep = parse_sweeps(args.sweep)
            result = run_sweep(root, sweep, fixed, jobs=args.jobs, progress=progress, cancel=cancel)
            rows = [{"name": n, "metrics": result.metrics.get(n, {})} for n in result.names]
            failed, seconds = list(result.failed), result.seconds
        else:
            one = run_experiment(root, fixed, name=args.name, progress=progress, cancel=cancel)
            rows = [{"name": one.name, "metrics": one.metrics}]
            failed, seconds = [], one.seconds
    if args.json:
        print_json({"schema": 1, "experiments": rows, "failed": failed, "seconds": round(seconds, 3)})
        return 1 if failed else 0
    for row in rows:
        shown = "  ".join(f"{k}={v:.4f}" for k, v in row["metrics"].items())
        print(f"{row['name']}  {shown}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"{len(rows)} experiment(s) in {seconds:.1f} s; see them with 'dvc exp show'")
    return 0
