"""``mlops-workbench data add|check|thresholds|exclude|include``: parse, call the core, print.

Exit codes of ``data check``: 0 GO, 1 NO-GO, 2 unusable input (nothing written).
``data thresholds KEY=VALUE ...``, ``data exclude COL [--reason TEXT]`` and
``data include COL`` each change workbench.yaml in one commit (exit 2 on bad input,
nothing written); ``data thresholds`` alone prints the thresholds in force.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from workbench.cli.options import add_project_option, project_path

NAME = "data"


def _say(args: argparse.Namespace):  # noqa: ANN202 - a tiny printer
    if getattr(args, "json", False):
        return None
    return lambda line: print(f"  {line}", file=sys.stderr) if str(line).strip() else None


def run(args: argparse.Namespace) -> int:
    if args.data_command == "add":
        return _cmd_add(args)
    if args.data_command == "check":
        return _cmd_check(args)
    if args.data_command == "thresholds":
        return _cmd_thresholds(args)
    if args.data_command in ("exclude", "include"):
        return _cmd_exclude(args)
    print("usage: mlops-workbench data {add,check,thresholds,exclude,include} ... "
          "(see 'mlops-workbench data -h')", file=sys.stderr)
    return 2


def _cmd_thresholds(args: argparse.Namespace) -> int:
    from workbench.design.data_check import set_thresholds, thresholds
    from workbench.project import Project

    if not args.assignments:
        config = Project(project_path(args)).read_config()
        values = thresholds(config)
        if args.json:
            print(json.dumps({"schema": 1, "thresholds": values, "commit": None}, indent=2))
            return 0
        for key, value in values.items():
            print(f"{key} = {value:g}")
        return 0
    change = set_thresholds(project_path(args), args.assignments, role=args.role)
    if args.json:
        print(json.dumps({"schema": 1, "thresholds": change.values, "commit": change.commit,
                          "messages": list(change.messages)}, indent=2))
        return 0
    for note in change.messages:
        print(f"note: {note}", file=sys.stderr)
    done = f"(commit {change.commit[:7]})" if change.commit else "(no change to commit)"
    print(f"Data thresholds: {change.summary} {done}")
    print("Next: mlops-workbench data check")
    return 0


def _cmd_exclude(args: argparse.Namespace) -> int:
    from workbench.design.data_check import set_excluded

    change = set_excluded(project_path(args), args.column, exclude=args.data_command == "exclude",
                          reason=args.reason or "", role=args.role)
    if args.json:
        print(json.dumps({"schema": 1, "exclude_columns": change.values["exclude_columns"],
                          "commit": change.commit, "messages": list(change.messages)}, indent=2))
        return 0
    for note in change.messages:
        print(f"note: {note}", file=sys.stderr)
    done = f"(commit {change.commit[:7]})" if change.commit else "(no change to commit)"
    print(f"{change.summary[0].upper()}{change.summary[1:]} {done}; excluded now: "
          f"{', '.join(change.values['exclude_columns']) or 'none'}")
    print("Next: mlops-workbench data check")
    return 0


def _cmd_add(args: argparse.Namespace) -> int:
    from workbench.design.data_sources import add_data

    added = add_data(project_path(args), args.path, name=args.name, role=args.role,
                     cwd=Path.cwd(), progress=_say(args))
    if args.json:
        print(json.dumps({"schema": 1, "name": added.name, "path": added.path, "format": added.format,
                          "files": added.files, "rows": added.rows, "columns": added.columns,
                          "copied_from": added.copied_from, "notes": list(added.notes),
                          "commit": added.commit, "messages": list(added.messages)},
                         indent=2, ensure_ascii=False))
        return 0
    for note in (*added.notes, *added.messages):
        print(f"note: {note}", file=sys.stderr)
    if added.copied_from:
        print(f"Copied {added.copied_from} into the project as {added.path} (it was outside the project)")
    what = f"{added.rows:,} rows x {added.columns} columns" + (
        f" in {added.files} files" if added.files > 1 else "")
    verb = "Tracked again" if added.replaced else "Added source"
    commit = f" (commit {added.commit[:7]})" if added.commit else " (no change to commit)"
    print(f"{verb} {added.name!r}: {added.path}, {what}, tracked with DVC{commit}")
    print("Next: mlops-workbench data check")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from workbench.design.data_check import check_data

    def progress(fraction: float, message: str) -> None:
        if not args.json and not args.quiet:
            print(f"  [{fraction * 100:3.0f}%] {message}", file=sys.stderr)

    report = check_data(project_path(args), target=args.target, role=args.role, progress=progress)
    if args.json:
        out: dict[str, Any] = report.to_json()
        out["commit"] = report.commit
        out["messages"] = list(report.messages)
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return report.exit_code
    for message in report.messages:
        print(f"note: {message}", file=sys.stderr)
    if report.target_saved:
        print(f"note: target {report.target!r} saved as data.target in workbench.yaml (same commit)",
              file=sys.stderr)
    print(f"{report.verdict}  (readiness {report.readiness_score}/5; target: {report.target or 'not set'}; "
          f"use case: {report.use_case or 'none selected'})")
    for reason in report.reasons:
        print(f"  x {reason}")
    for warning in report.warnings:
        print(f"  ! {warning}")
    for src in report.sources:
        print(f"  {src.name}: {src.rows:,} rows x {src.columns} columns, {src.duplicate_rows:,} duplicate "
              f"rows, md5 {src.dvc_md5[:12] or '-'}")
    commit = f" (commit {report.commit[:7]})" if report.commit else ""
    print(f"Report: reports/data_check.md{commit}")
    return report.exit_code


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("data", help="data availability: register sources, check GO / NO-GO")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    a = data_sub.add_parser("add", help="track a CSV/TSV/Parquet file or folder with DVC as a source")
    a.add_argument("path", help="the file or folder (outside the project: copied into data/)")
    a.add_argument("--name", help="the source's name (default: the file name without suffix)")
    a.add_argument("--role", help="the role you act in for the commit")
    a.add_argument("--json", action="store_true", help="print the result as JSON")
    add_project_option(a)
    c = data_sub.add_parser("check", help="profile the sources and decide GO / NO-GO "
                            "(exit 0 GO, 1 NO-GO, 2 unusable input)")
    c.add_argument("--target", metavar="COL", help="the target column (default: data.target)")
    c.add_argument("--role", help="the role you act in for the commit")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    add_project_option(c)
    t = data_sub.add_parser("thresholds", help="show or change the thresholds the data check judges by "
                            "(one commit of workbench.yaml)")
    t.add_argument("assignments", nargs="*", metavar="KEY=VALUE",
                   help="e.g. min_rows=300 min_positives=20 (keys: min_rows, min_positives, "
                   "max_target_missing_share, max_missing_share, leakage_score, max_age_days)")
    t.add_argument("--role", help="the role you act in for the commit")
    t.add_argument("--json", action="store_true", help="print the result as JSON")
    add_project_option(t)
    for action, text in (("exclude", "leave a column out of the data check and the default features"),
                         ("include", "take a column out of data.exclude_columns again")):
        e = data_sub.add_parser(action, help=f"{text} (one commit of workbench.yaml)")
        e.add_argument("column", metavar="COL", help="the column")
        e.add_argument("--reason", help="why (recorded in the commit)")
        e.add_argument("--role", help="the role you act in for the commit")
        e.add_argument("--json", action="store_true", help="print the result as JSON")
        add_project_option(e)

