"""CI/CD: ``mlops-workbench ci init|steps`` (write the CI workflow, list its run steps).

The command only parses and prints; the work is in :mod:`workbench.operations.cicd`.
The workflow runs ``mlops-workbench check`` (:mod:`workbench.cli.operations.check`).

Usage::

    mlops-workbench ci init [--install "pip install -r requirements.txt"] [--force] [--json]
    mlops-workbench ci steps [--json]        the workflow's run steps, in order

JSON (schema 1)::

    ci init --json  {"schema": 1, "commit": str|null, "path": str,
                     "steps": [{"id", "name", "run"}], "messages": [str]}
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from workbench.cli.options import add_project_option, project_path
from workbench.cli.output import print_json

NAME = "ci"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("ci", help="CI/CD: write the CI workflow (ci init), list its steps (ci steps)")
    inner = p.add_subparsers(dest="ci_command", metavar="ACTION")
    i = inner.add_parser("init", help="write .github/workflows/mlops-workbench.yml; one commit")
    i.add_argument("--install", metavar="CMD", help="the workflow's install command "
                   "(default: pip install mlops-workbench==VERSION; kept in workbench.yaml ci.install)")
    i.add_argument("--force", action="store_true", help="replace an existing workflow file")
    i.add_argument("--role", help="the role you act in for the commit")
    i.add_argument("--json", action="store_true", help="print the result as JSON")
    add_project_option(i)
    s = inner.add_parser("steps", help="the workflow's run steps, in order")
    s.add_argument("--json", action="store_true", help="print the steps as JSON")


def run(args: argparse.Namespace) -> int:
    from workbench.operations.cicd import init_ci, workflow_steps

    if args.ci_command == "steps":
        steps = workflow_steps()
        if args.json:
            print_json({"schema": 1, "steps": [asdict(s) for s in steps]})
        else:
            for s in steps:
                print(f"{s.id:<9} {s.run}")
        return 0
    if args.ci_command != "init":
        print("mlops-workbench ci: say what to do: ci init | ci steps", file=sys.stderr)
        return 2
    done = init_ci(project_path(args), install=args.install, force=args.force, role=args.role)
    if args.json:
        print_json({"schema": 1, "commit": done.commit, "path": done.path,
                    "steps": [asdict(s) for s in done.steps], "messages": list(done.messages)})
        return 0
    for message in done.messages:
        print(f"note: {message}", file=sys.stderr)
    commit = f" (commit {done.commit[:7]})" if done.commit else " (unchanged, nothing committed)"
    print(f"Wrote {done.path}{commit}")
    for s in done.steps:
        print(f"  {s.id:<9} {s.run}")
    return 0
