"""Experiment history commands: ``exp list|show|diff|promote|discard|note``.

The commands only parse and print; the work is in
:mod:`workbench.development.experiments`. Bad input (an unknown experiment or metric,
a dirty workspace on promote) prints one line on stderr and exits 2 with nothing written.

Usage::

    mlops-workbench exp list [--json] [--sort METRIC] [--limit N] [--all-columns] [-C PATH]
    mlops-workbench exp show NAME [--json]
    mlops-workbench exp diff A B [--json]
    mlops-workbench exp promote NAME [--role ROLE] [--json]
    mlops-workbench exp discard [--remove] [--json]   (the workspace back as HEAD has it)
    mlops-workbench exp note NAME TEXT          (an empty TEXT removes the note)

JSON (schema 1)::

    exp list --json     {"schema": 1, "experiments": [<experiment>], "varying": {"params": [...], "metrics": [...]},
                         "messages": [str]}
    exp show --json     {"schema": 1, "experiment": <experiment>}
    exp diff --json     {"schema": 1, "a": <experiment>, "b": <experiment>, "unchanged_params": int,
                         "params": [{"key", "a", "b", "delta"}], "metrics": [{"key", "a", "b", "delta"}]}
    exp promote --json  {"schema": 1, "experiment": str, "commit": str}
    exp discard --json  {"schema": 1, "experiment": str|null, "restored": [path], "removed": [path],
                         "checked_out": [path], "removed_ref": bool}
    <experiment>        {"name", "rev", "baseline", "branch", "created", "params": {flat}, "metrics": {flat},
                         "is_baseline", "note"}
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli.options import project_path
from workbench.cli.output import print_json, progress_printer
from workbench.errors import WorkbenchError
from workbench.textfmt import fmt

NAME = "exp"


def _fmt(value: Any, width: int = 12) -> str:
    """A table cell: floats with 4 decimals (4 significant digits from 100,000 up), cut to ``width``."""
    return fmt(value, fixed_below=1e5, width=width)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def _exp_list(args: argparse.Namespace) -> int:
    from workbench.development.experiments import (
        list_experiments,
        metric_keys,
        sort_by_metric,
        varying_columns,
    )
    from workbench.versioning.run_journal import recover_interrupted_run

    root = project_path(args)
    messages = recover_interrupted_run(root)
    exps = list_experiments(root, progress=progress_printer(args))
    varying_params, varying_metrics = varying_columns(exps)
    if args.sort:
        exps = sort_by_metric(exps, args.sort)
    if args.limit is not None:
        if args.limit < 1:
            raise WorkbenchError(f"--limit {args.limit} must be at least 1")
        exps = exps[: args.limit]
    if args.json:
        print_json({"schema": 1, "experiments": [e.to_json() for e in exps],
                    "varying": {"params": varying_params, "metrics": varying_metrics},
                    "messages": messages})
        return 0
    for line in messages:
        print(f"note: {line}", file=sys.stderr)
    if not exps:
        print("No experiments yet: run one with 'mlops-workbench train'.")
        return 0
    params = list(dict.fromkeys(k for e in exps for k in e.params)) if args.all_columns else varying_params
    metrics = metric_keys(exps)
    header = ["name", "rev", "created", *params, *metrics, "note"]
    rows = []
    for e in exps:
        label = f"{e.name} (baseline)" if e.is_baseline else f"  {e.name}"
        rows.append([label, e.short, e.created[:16].replace("T", " "),
                     *[_fmt(e.params.get(k)) for k in params],
                     *[_fmt(e.metrics.get(k)) for k in metrics], _fmt(e.note, 30) if e.note else ""])
    for line in _table(header, rows):
        print(line)
    hidden = len({k for e in exps for k in e.params}) - len(params)
    count = sum(1 for e in exps if not e.is_baseline)
    print(f"\n{count} experiment(s)" + (f"; {hidden} unchanged param column(s) hidden (--all-columns shows them)"
                                       if hidden else ""))
    return 0


def _exp_show(args: argparse.Namespace) -> int:
    from workbench.development.experiments import get_experiment

    e = get_experiment(project_path(args), args.name)
    if args.json:
        print_json({"schema": 1, "experiment": e.to_json()})
        return 0
    kind = "baseline commit" if e.is_baseline else "experiment"
    print(f"{e.name}  ({kind} {e.rev})")
    print(f"  baseline: {e.baseline[:7]}" + (f" ({e.branch})" if e.branch else ""))
    print(f"  created:  {e.created}")
    if e.note:
        print(f"  note:     {e.note}")
    print("\nmetrics")
    for k, v in e.metrics.items():
        print(f"  {k:<24} {_fmt(v)}")
    if not e.metrics:
        print("  (none)")
    print("\nparams")
    for k, v in e.params.items():
        print(f"  {k:<40} {_fmt(v, 60)}")
    return 0


def _exp_diff(args: argparse.Namespace) -> int:
    from workbench.development.experiments import diff_experiments

    result = diff_experiments(project_path(args), args.a, args.b)
    if args.json:
        print_json(result)
        return 0
    a, b = result["a"]["name"], result["b"]["name"]
    print(f"{a} ({result['a']['rev'][:7]})  vs  {b} ({result['b']['rev'][:7]})\n")
    rows = [[p["key"], _fmt(p["a"], 30), _fmt(p["b"], 30)] for p in result["params"]]
    if rows:
        for line in _table(["param", a, b], rows):
            print(line)
    else:
        print("params: identical")
    print(f"({result['unchanged_params']} unchanged param(s) not shown)\n")
    rows = [[m["key"], _fmt(m["a"]), _fmt(m["b"]),
             "-" if m["delta"] is None else f"{m['delta']:+.4f}"] for m in result["metrics"]]
    for line in _table(["metric", a, b, "delta (b - a)"], rows):
        print(line)
    return 0


def _exp_promote(args: argparse.Namespace) -> int:
    from workbench.development.promotion import promote_experiment

    commit = promote_experiment(project_path(args), args.name, role=args.role, progress=progress_printer(args))
    if args.json:
        print_json({"schema": 1, "experiment": args.name, "commit": commit})
        return 0
    print(f"Promoted {args.name} (commit {commit[:7]}): params, dvc.lock, metrics and plots are on "
          "the branch; the model is in DVC")
    return 0


def _exp_discard(args: argparse.Namespace) -> int:
    from workbench.development.workspace import discard_workspace_experiment

    result = discard_workspace_experiment(project_path(args), remove=args.remove, progress=progress_printer(args))
    if args.json:
        print_json(result.to_json())
        return 0
    if not (result.restored or result.removed or result.checked_out or result.experiment):
        print("Nothing to discard: the pipeline files are as HEAD has them.")
        return 0
    what = f"experiment {result.experiment}" if result.experiment else "the experiment outputs"
    files = [*result.restored, *result.removed, *result.checked_out]
    print(f"Discarded {what} from the workspace: {', '.join(files)} as HEAD has them (nothing committed)")
    if result.experiment:
        print(f"  {result.experiment} was removed from the experiments (refs/exps)" if result.removed_ref else
              f"  {result.experiment} stays in 'mlops-workbench exp list' (--remove deletes it)")
    return 0


def _exp_note(args: argparse.Namespace) -> int:
    from workbench.development.experiments import get_experiment, set_note

    root = project_path(args)
    set_note(root, args.name, args.text)
    e = get_experiment(root, args.name)
    print(f"Note on {e.name} {'saved' if args.text.strip() else 'removed'} (git notes, refs/notes/workbench)")
    return 0


_HANDLERS = {"list": _exp_list, "show": _exp_show, "diff": _exp_diff, "promote": _exp_promote,
             "discard": _exp_discard, "note": _exp_note}


def run(args: argparse.Namespace) -> int:
    return _HANDLERS[args.exp_command](args)


def add_parser(subparsers: Any) -> None:
    def project(p: argparse.ArgumentParser) -> None:
        p.add_argument("-C", "--project", metavar="PATH",
                       help="the project folder (default: the current folder)")

    exp = subparsers.add_parser("exp", help="experiment history: list, show, diff, promote, note")
    cmds = exp.add_subparsers(dest="exp_command", metavar="ACTION", required=True)

    p = cmds.add_parser("list", help="every experiment of the project (all commits and branches)")
    project(p)
    p.add_argument("--sort", metavar="METRIC", help="order by a metric, best first")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N rows")
    p.add_argument("--all-columns", action="store_true", help="also show params that are the same everywhere")
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = cmds.add_parser("show", help="one experiment's params and metrics")
    p.add_argument("name", help="experiment name, branch or commit sha")
    project(p)
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = cmds.add_parser("diff", help="two experiments side by side, with metric deltas")
    p.add_argument("a")
    p.add_argument("b")
    project(p)
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = cmds.add_parser("promote", help="make an experiment a normal commit on the current branch")
    p.add_argument("name")
    project(p)
    p.add_argument("--role", help="the role you act in for the commit")
    p.add_argument("--quiet", action="store_true", help="do not stream DVC's output")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = cmds.add_parser("discard", help="put the pipeline files back as HEAD has them (undo a train "
                        "that was not promoted)")
    project(p)
    p.add_argument("--remove", action="store_true", help="also delete the experiment from refs/exps")
    p.add_argument("--quiet", action="store_true", help="do not stream DVC's output")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = cmds.add_parser("note", help="label an experiment (stored as a git note)")
    p.add_argument("name")
    p.add_argument("text", help="the note; an empty string removes it")
    project(p)

