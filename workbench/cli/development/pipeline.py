"""Data engineering: ``mlops-workbench pipeline`` (target, features, split, model; dvc.yaml).

The command only parses and prints; the work is in :mod:`workbench.development.pipeline`.
Bad input prints one line on stderr and exits 2 with nothing written or committed.

Usage::

    mlops-workbench pipeline [--target COL] [--features a,b,c | a:numeric,b:text] [--split random|stratified|time]
        [--test-size 0.2] [--seed 42] [--time-column COL] [--model NAME] [-S key=value ...]
        [--allow-flagged COL[,COL]] [--role ROLE] [--json]

``-S`` keys are dotted params.yaml keys: ``model.name``, ``model.params.C``, ``split.seed``,
``split.test_size``, ``preprocessing.numeric.scale``... Values are YAML (``0.5``, ``null``).

JSON (schema 1)::

    pipeline --json  {"schema": 1, "commit": str|null, "summary": str, "params": {...params.yaml},
                      "choices": [str]}   (what the step chose for you: left-out columns, positive class, split)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli.options import add_project_option, project_path
from workbench.cli.output import print_json
from workbench.errors import WorkbenchError

NAME = "pipeline"


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


def run(args: argparse.Namespace) -> int:
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
        project_path(args), target=args.target,
        features=None if features is None else {k: v for k, v in features.items()},  # type: ignore[misc]
        split=split, model=model, overrides=overrides, allow_flagged=allow, role=args.role,
    )
    if args.json:
        print_json({"schema": 1, "commit": result.commit, "summary": result.summary,
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



def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("pipeline", help="choose target, features, split, model; write dvc.yaml (one commit)")
    add_project_option(p)
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
