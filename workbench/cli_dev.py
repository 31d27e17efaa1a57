"""Development-phase commands: ``pipeline`` (data engineering), ``stage``, ``train``.

The commands only parse and print; the work is in :mod:`workbench.development.pipeline`,
:mod:`workbench.development.stages` and :mod:`workbench.development.training`. Bad
input prints one line on stderr and exits 2 with nothing written or committed.

Usage::

    mlops-workbench pipeline [--target COL] [--features a,b,c | a:numeric,b:text] [--split random|stratified|time]
        [--test-size 0.2] [--seed 42] [--time-column COL] [--model NAME] [-S key=value ...]
        [--allow-flagged COL[,COL]] [--role ROLE] [--json]
    mlops-workbench stage prepare|train|evaluate        (what dvc.yaml runs; reads params.yaml)
    mlops-workbench train [-S key=value ...] [--sweep key=v1,v2 ...] [-j N] [--name NAME] [--json]

``-S`` keys are dotted params.yaml keys: ``model.name``, ``model.params.C``, ``split.seed``,
``split.test_size``, ``preprocessing.numeric.scale``... Values are YAML (``0.5``, ``null``).

JSON (schema 1)::

    pipeline --json  {"schema": 1, "commit": str|null, "summary": str, "params": {...params.yaml},
                      "choices": [str]}   (what the step chose for you: left-out columns, positive class, split)
    train --json     {"schema": 1, "experiments": [{"name": str, "metrics": {str: float}}],
                      "failed": [str], "seconds": float}
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.cli import EXTENSIONS, _print_json, _progress, _project_path, cancel_on_interrupt, command
from workbench.errors import WorkbenchError


def _features(text: str | None) -> dict[str, str | None] | None:
    if not text:
        return None
    out: dict[str, str | None] = {}
    for item in text.split(","):
        name, _, kind = item.strip().partition(":")
        if not name:
            raise WorkbenchError(f"--features {text!r} has an empty name: write a,b,c or a:numeric,b:text")
        out[name] = kind or None
    return out


@command("pipeline")
def cmd_pipeline(args: argparse.Namespace) -> int:
    from workbench.development.pipeline import configure_pipeline
    from workbench.development.training import parse_assignments, yaml_value

    split: dict[str, Any] = {}
    for key in ("method", "test_size", "seed", "time_column"):
        value = getattr(args, key if key != "method" else "split")
        if value is not None:
            split[key] = value
    model = {"name": args.model} if args.model else None
    overrides = {k: yaml_value(v) for k, v in parse_assignments(args.set or []).items()}
    features = _features(args.features)
    allow = [a.strip() for item in (args.allow_flagged or []) for a in item.split(",") if a.strip()]
    result = configure_pipeline(
        _project_path(args), target=args.target,
        features=None if features is None else {k: v for k, v in features.items()},  # type: ignore[misc]
        split=split, model=model, overrides=overrides, allow_flagged=allow, role=args.role,
    )
    if args.json:
        _print_json({"schema": 1, "commit": result.commit, "summary": result.summary,
                     "params": result.params, "choices": list(result.choices)})
        return 0
    for message in result.messages:
        print(f"note: {message}", file=sys.stderr)
    for choice in result.choices:
        print(f"  - {choice}")
    if result.commit:
        print(f"Pipeline written (commit {result.commit[:7]}): {result.summary}")
    else:
        print(f"Pipeline unchanged: {result.summary}")
    print("Run it with: mlops-workbench train   (or: dvc repro / dvc exp run with the venv active)")
    return 0


@command("stage")
def cmd_stage(args: argparse.Namespace) -> int:
    from workbench.development.stages import run_stage
    from workbench.versioning.locks import hold_project_lock

    root = Path(args.project).expanduser().absolute() if args.project else Path.cwd()
    with hold_project_lock(root, f"stage {args.stage}", dvc_locks=False):  # DVC's own run is let through
        info = run_stage(args.stage, root)
    print(f"{args.stage}: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    return 0


@command("train")
def cmd_train(args: argparse.Namespace) -> int:
    from workbench.development.training import (
        parse_assignments,
        parse_sweeps,
        run_experiment,
        run_sweep,
    )

    root = _project_path(args)
    fixed = parse_assignments(args.set or [])
    progress = _progress(args)
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
        _print_json({"schema": 1, "experiments": rows, "failed": failed, "seconds": round(seconds, 3)})
        return 1 if failed else 0
    for row in rows:
        shown = "  ".join(f"{k}={v:.4f}" for k, v in row["metrics"].items())
        print(f"{row['name']}  {shown}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"{len(rows)} experiment(s) in {seconds:.1f} s; see them with 'dvc exp show'")
    return 0


def _extend(sub: Any) -> None:
    def project(p: argparse.ArgumentParser) -> None:
        p.add_argument("-C", "--project", metavar="PATH",
                       help="the project folder (default: the current folder)")

    p = sub.add_parser("pipeline", help="choose target, features, split, model; write dvc.yaml (one commit)")
    project(p)
    p.add_argument("--target", help="the column to predict (default: data.target in workbench.yaml; "
                   "a new one is saved there in the same commit)")
    p.add_argument("--features", metavar="A,B|A:TYPE,...",
                   help="feature columns, optionally with types numeric|categorical|text|datetime "
                   "(default: all but the target, time and sensitive columns, data.exclude_columns, ids "
                   "and what the last data check flags)")
    p.add_argument("--split", choices=["random", "stratified", "time"], help="how to hold out test rows")
    p.add_argument("--test-size", type=float, help="test share, e.g. 0.2")
    p.add_argument("--seed", type=int, help="seed for every random choice (default 42)")
    p.add_argument("--time-column", help="the column a time split orders by")
    p.add_argument("--model", metavar="NAME", help="dummy, logistic_regression, linear_regression, ridge, "
                   "random_forest, hist_gradient_boosting")
    p.add_argument("-S", "--set", action="append", metavar="KEY=VALUE",
                   help="set a params.yaml key, e.g. model.params.C=0.5 (repeatable)")
    p.add_argument("--allow-flagged", action="append", metavar="COL[,COL]",
                   help="use a column the data check flags (personal data, identifier, leakage) or "
                   "data.exclude_columns lists as a feature anyway; recorded in the commit, params.yaml "
                   "and the model card (repeatable)")
    p.add_argument("--role", help="the role you act in for the commit")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("stage", help="run one pipeline stage (the cmd in dvc.yaml)")
    p.add_argument("stage", choices=["prepare", "train", "evaluate"])
    project(p)

    p = sub.add_parser("train", help="run an experiment (dvc exp run) or a sweep through DVC's queue")
    project(p)
    p.add_argument("-S", "--set", action="append", metavar="KEY=VALUE",
                   help="override a params.yaml key for this run (repeatable)")
    p.add_argument("--sweep", action="append", metavar="KEY=V1,V2",
                   help="sweep a key over values (repeatable: a grid), run with DVC's queue")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="queue workers for a sweep")
    p.add_argument("--name", help="name of the experiment (single runs)")
    p.add_argument("--quiet", action="store_true", help="do not stream DVC's output")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


EXTENSIONS.append(_extend)
