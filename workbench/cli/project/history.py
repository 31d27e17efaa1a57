"""``mlops-workbench history``: the timeline of versioned steps, read from git."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli.options import add_project_option, project_path
from workbench.cli.output import print_json

NAME = "history"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("history", help="the timeline of versioned steps, read from git")
    add_project_option(p)
    p.add_argument("--limit", type=int, metavar="N", help="only the newest N steps")
    p.add_argument("--json", action="store_true", help="print as JSON")


def run(args: argparse.Namespace) -> int:
    from workbench.project import Project
    from workbench.versioning.timeline import read_timeline

    project = Project(project_path(args))
    project.read_config()
    entries = read_timeline(project.path, limit=args.limit)
    if args.json:
        print_json({"schema": 1, "entries": [e.to_json() for e in entries]})
        return 0
    if not entries:
        print("No versioned steps yet.")
        return 0
    for e in entries:
        when = e.when.replace("T", " ")[:16]
        print(f"{e.short}  {when}  {e.author:<18.18} {e.role:<15} {e.step_title:<24.24} {e.summary}")
    return 0
