"""Monitoring command: ``mlops-workbench monitor``.

The command only parses and prints; the work is in :mod:`workbench.operations.monitoring`.

Usage::

    mlops-workbench monitor [CURRENT] [--reference PATH] [--all] [--dry-run] [--json] [-q] [--role ROLE] [-C PATH]
    mlops-workbench monitor --history [--json] [-C PATH]

CURRENT is a CSV/TSV/Parquet file (or folder of them); without it the prediction service's
log (``monitoring/predictions/*.jsonl``) is read: the lines newer than the last log-based
report, or every line with ``--all``. Exit codes: 0 healthy, 3 action recommended, 2 unusable
input (one line on stderr, nothing written or committed). ``--dry-run`` checks and prints
without writing or committing.

After a report that recommends action, the retraining policy (``retraining.policy`` in
workbench.yaml, see :mod:`workbench.operations.retrain`) applies: ``manual`` (the default)
prints one line suggesting ``mlops-workbench retrain``; ``automatic`` runs ``retrain`` on the
batch when it has labels (or on ``--retrain-data PATH``) up to validation, never promotion,
and the exit code stays 3. ``--json`` then adds ``"retrain": {"policy", "suggestion",
"result": <retrain --json> | null, "error": str | null}`` (null when no action is recommended
or with ``--dry-run``).

JSON (schema 1): ``monitor --json`` prints the report (``monitoring/<id>.json``) plus
``"commit"`` and ``"messages"``; ``monitor --history --json`` prints
``{"schema": 1, "reports": [{"id", "checked_at", "status", "action_recommended", "source", "batch",
"rows", "drift_share", "drifted_features", "statistics": {feature: {"statistic", "drifted"}},
"prediction_drift", "performance", "reasons"}]}`` oldest first.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli.interrupt import cancel_on_interrupt
from workbench.cli.options import project_path
from workbench.cli.output import print_json, progress_printer

NAME = "monitor"


def _print_report(report: Any, shown: int = 12) -> None:
    from workbench.operations.monitoring import METHOD_NAMES

    where = f" -> monitoring/{report.id}.md (commit {report.commit[:7]})" if report.commit else ""
    print(f"{report.summary[0].upper()}{report.summary[1:]}{where}")
    for reason in report.reasons:
        print(f"  ! {reason}")
    rows = list(report.features[:shown])
    if rows:
        width = max(len(f.name) for f in rows + list(report.prediction_drift))
        print(f"\n  {'feature':<{width}}  {'test':<20} {'statistic':>10} {'p-value':>9}  drifted  PSI")
        for f in [*rows, *report.prediction_drift]:
            stat = "-" if f.statistic is None else f"{f.statistic:.4g}"
            p = "-" if f.p_value is None else f"{f.p_value:.3g}"
            drifted = "n/a" if f.drifted is None else ("YES" if f.drifted else "no")
            psi = "-" if f.psi is None else f"{f.psi:.3f} {f.psi_band}"
            print(f"  {f.name:<{width}}  {METHOD_NAMES.get(f.method, f.method):<20} {stat:>10} {p:>9}  "
                  f"{drifted:<7}  {psi}")
        if len(report.features) > shown:
            print(f"  ... {len(report.features) - shown} more feature(s) in the report")
    for line in (report.prediction_note, report.performance_note):
        if line:
            print(f"\n  {line}")
    if report.performance:
        p = report.performance
        shown_metrics = "  ".join(f"{k}={v:.4f} (ref {p.reference.get(k, float('nan')):.4f})"
                                  for k, v in p.metrics.items())
        print(f"\n  performance on {p.rows:,} labelled rows: {shown_metrics}")
    for note in report.notes:
        print(f"  note: {note}", file=sys.stderr)
    for message in report.messages:
        print(f"note: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from workbench.operations.monitoring import list_reports, monitor, run_monitor

    root = project_path(args)
    if args.history:
        from workbench.project import Project

        Project(root).read_config()
        reports = list_reports(root)
        if args.json:
            print_json({"schema": 1, "reports": [r.to_json() for r in reports]})
            return 0
        if not reports:
            print("No monitoring reports yet: run 'mlops-workbench monitor [BATCH]'.")
            return 0
        for r in reports:
            mark = "!" if r.action_recommended else " "
            print(f"{mark} {r.id:<14} {r.checked_at[:16].replace('T', ' ')}  {r.rows:>9,} rows  "
                  f"drifted {r.drift_share:>4.0%}  {r.batch}")
        return 0
    from workbench.operations.retrain import after_monitor, retraining_policy
    from workbench.project import Project

    retraining_policy(Project(root).read_config())  # a typo in the policy: refused before anything is written
    progress = None if getattr(args, "quiet", False) else progress_printer(args)
    kwargs = {"reference": args.reference, "all_log": args.all, "progress": progress}
    after = None
    if args.dry_run:
        report, _batch = run_monitor(root, args.current, **kwargs)
    else:
        report = monitor(root, args.current, role=args.role, **kwargs)
        if report.action_recommended:
            with cancel_on_interrupt() as cancel:
                after = after_monitor(root, report, data=args.retrain_data, role=args.role, progress=progress,
                                      cancel=cancel)
    if args.json:
        print_json({**report.to_json(), "commit": report.commit, "messages": list(report.messages),
                    "retrain": after.to_json() if after else None})
    else:
        _print_report(report)
        if after is not None:
            from workbench.cli.operations.retrain import print_result

            print()
            if after.suggestion:
                print(after.suggestion[0].upper() + after.suggestion[1:])
            if after.result is not None:
                print("Retraining (retraining.policy: automatic; nothing is promoted):")
                print_result(after.result)
            if after.error:
                print(f"note: {after.error}", file=sys.stderr)
    return report.exit_code


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("monitor", help="drift and performance of a new batch against the training reference; "
                       "exit 0 healthy, 3 action recommended")
    p.add_argument("current", nargs="?", metavar="CURRENT",
                   help="the batch: a CSV/TSV/Parquet file or folder (default: the prediction log in "
                   "monitoring/predictions/)")
    p.add_argument("-C", "--project", metavar="PATH", help="the project folder (default: the current folder)")
    p.add_argument("--reference", metavar="PATH", help="reference statistics (default: reports/reference.json)")
    p.add_argument("--all", action="store_true",
                   help="with the prediction log: every line, not only those newer than the last report")
    p.add_argument("--dry-run", action="store_true", help="check and print; write and commit nothing")
    p.add_argument("--history", action="store_true", help="list past reports (drift over time)")
    p.add_argument("--retrain-data", metavar="PATH",
                   help="with retraining.policy automatic: the labelled data to retrain on when action is "
                   "recommended (default: the batch, when it has the target column)")
    p.add_argument("--role", help="the role you act in for the commit")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")

