"""``mlops-workbench samples``: the bundled sample projects."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli.output import print_json

NAME = "samples"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("samples", help="list the bundled sample projects")
    p.add_argument("--json", action="store_true", help="print as JSON")


def run(args: argparse.Namespace) -> int:
    from workbench.samples import list_samples

    samples = list_samples()
    if args.json:
        print_json({"schema": 1, "samples": [
            {"id": s.id, "name": s.name, "description": s.description,
             "data": list(s.data), "incoming": list(s.incoming)} for s in samples]})
        return 0
    width = max((len(s.id) for s in samples), default=0)
    for s in samples:
        print(f"{s.id:<{width}}  {s.description}")
    return 0
