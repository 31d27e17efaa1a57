"""Testing & validation: ``mlops-workbench validate [EXPERIMENT]`` (the gates on the model).

The command only parses and prints; the work is in :mod:`workbench.development.validation`.
Bad input prints one line on stderr and exits 2 with nothing written or committed.

Usage::

    mlops-workbench validate [EXPERIMENT] [--json] [-q] [--role ROLE]
        exit 0 every gate passes (or is skipped), 1 a gate fails, 2 unusable input

JSON (schema 1)::

    validate --json        reports/validation.json plus {"commit": str|null, "messages": [str]}:
                           {"schema", "passed", "validated_at", "model": {"digest", "file_md5", "experiment",
                            "commit", "family", "params"}, "task", "target", "metrics", "data": {"sources":
                            [{"path", "md5"}], "test_rows"}, "gates": [{"name", "title", "passed":
                            true|false|null, "value", "threshold", "why", "details": [...]}], "settings": {...}}
                           the first gate is always "model_file": the bytes are the train stage's output in
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli.options import add_project_option, project_path
from workbench.cli.output import print_json, progress_printer

NAME = "validate"

MARKS = {True: "PASS", False: "FAIL", None: " -- "}


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="run the gates on the model; writes and commits reports/validation.* "
                       "(exit 0 pass, 1 fail)")
    p.add_argument("experiment", nargs="?", metavar="EXPERIMENT",
                   help="a DVC experiment name (default: the workspace model)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--role", help="the role you act in for the commit")
    add_project_option(p)


def run(args: argparse.Namespace) -> int:
    from workbench.development.validation import validate

    result = validate(project_path(args), args.experiment, role=args.role, progress=progress_printer(args))
    if args.json:
        print_json(result.to_json())
        return result.exit_code
    for message in result.messages:
        print(f"note: {message}", file=sys.stderr)
    model = result.report["model"]
    which = f"experiment {model['experiment']}" if model.get("experiment") else "the workspace model"
    print(f"Validating {which} ({model['digest']})")
    for gate in result.gates:
        print(f"{MARKS[gate.passed]}  {gate.title:<28} {gate.why}")
    counts = {s: sum(g.state == s for g in result.gates) for s in ("pass", "fail", "skipped")}
    word = "PASSED" if result.passed else "FAILED"
    where = f" (commit {result.commit[:7]})" if result.commit else ""
    print(f"Result: {word} — {counts['pass']} pass, {counts['fail']} fail, {counts['skipped']} skipped; "
          f"reports/validation.md{where}")
    return result.exit_code
