"""Deployment: ``mlops-workbench predict INPUT -o OUTPUT`` (batch scoring with a registered model).

The command only parses and prints; the work is in :mod:`workbench.operations.predict`.
Bad input prints one line on stderr and exits 2 with nothing written.

Usage::

    mlops-workbench predict INPUT --output OUTPUT [--version V | --stage S] [--json]

JSON (schema 1)::

    predict --json        {"schema": 1, "input", "output", "rows", "version", "passthrough", "seconds"}
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.cli.options import add_project_option, project_path
from workbench.cli.output import print_json

NAME = "predict"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("predict", help="batch-score a CSV/Parquet file with a registered model")
    add_project_option(p)
    p.add_argument("input", metavar="INPUT", help="a .csv or .parquet file with the training features")
    p.add_argument("--output", "-o", required=True, metavar="OUTPUT", help="a .csv or .parquet file to write")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--version", metavar="V", help="score with this registered version")
    which.add_argument("--stage", choices=["staging", "production"], help="score with the version in this "
                       "stage (default: production)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from workbench.operations.predict import score_file

    progress = None
    if not args.json:
        def progress(done: int, total: int) -> None:
            print(f"  scored {done}/{total} rows", file=sys.stderr)

    result = score_file(project_path(args), Path(args.input), Path(args.output), version=args.version,
                        stage=args.stage or "production", progress=progress)
    if args.json:
        print_json({"schema": 1, **result.to_json()})
        return 0
    extra = f"; passed through {', '.join(result.passthrough)}" if result.passthrough else ""
    print(f"Scored {result.rows} rows with model {result.version} in {result.seconds:.1f} s -> {result.output}{extra}")
    return 0
