"""CI/CD: ``mlops-workbench check`` (the headless verdict the CI workflow runs).

The command only parses and prints; the work is in :mod:`workbench.operations.cicd`.

Usage::

    mlops-workbench check [--json] [-q]      exit 0 ok, 1 a gate fails, 3 action recommended

JSON (schema 1)::

    check --json    {"schema": 1, "severity": "ok"|"action"|"fail", "exit_code": 0|1|3,
                     "checks": [{"name": "pipeline"|"data"|"validation"|"monitoring",
                                 "severity": "ok"|"skip"|"action"|"fail", "detail": str}]}
"""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli.options import add_project_option, project_path
from workbench.cli.output import print_json, progress_printer

NAME = "check"

MARKS = {"ok": "ok  ", "skip": "--  ", "action": "ACT ", "fail": "FAIL"}


def add_parser(subparsers: Any) -> None:
    c = subparsers.add_parser("check", help="pipeline up to date, data check, validation, monitoring "
                       "(exit 0 ok, 1 a gate fails, 3 action recommended)")
    c.add_argument("--json", action="store_true", help="print the checks as JSON")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    add_project_option(c)


def run(args: argparse.Namespace) -> int:
    from workbench.operations.cicd import run_check

    report = run_check(project_path(args), progress=progress_printer(args))
    if args.json:
        print_json(report.to_json())
        return report.exit_code
    for item in report.items:
        print(f"{MARKS[item.severity]} {item.name:<11} {item.detail}")
    word = {"ok": "all clear", "action": "action recommended", "fail": "a gate fails"}[report.severity]
    print(f"Result: {word} (exit {report.exit_code})")
    return report.exit_code
