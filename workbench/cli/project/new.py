"""``mlops-workbench new PATH``: create a project without the TUI (from a sample or from flags)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.cli.output import print_json, progress_printer

NAME = "new"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("new", help="create a project without the TUI (from a sample or from flags)")
    p.add_argument("path", help="the project folder (created if missing)")
    p.add_argument("--sample", metavar="NAME", help="start from a bundled sample (see 'samples')")
    p.add_argument("--name", help="project name (default: the folder's name)")
    p.add_argument("--description", help="one line saying what the project is for")
    p.add_argument("--problem", help="the problem statement")
    p.add_argument("--owner", help="the business owner")
    p.add_argument("--metric", help="success metric, e.g. 'recall >= 0.80 at precision >= 0.50'")
    p.add_argument("--task", choices=["classification", "regression"], default="classification")
    p.add_argument("--member", action="append", metavar="NAME,EMAIL,ROLE",
                   help="a team member (repeatable); role: business_owner, data_scientist, "
                   "ml_engineer, researcher")
    p.add_argument("--latency-ms", type=int, help="latency constraint in milliseconds")
    p.add_argument("--interpretability", help="interpretability constraint")
    p.add_argument("--privacy", help="data privacy constraint")
    p.add_argument("--remote", metavar="DIR", help="DVC remote folder (default: PATH.dvc-storage beside it)")
    p.add_argument("--in-outer-repo", action="store_true",
                   help="inside another git repository: make a DVC sub-project of it")
    p.add_argument("--git-remote", metavar="URL", help="the team's shared git repository (becomes origin)")
    p.add_argument("--dvc-remote", metavar="URL",
                   help="the team's DVC remote: a folder, s3://bucket/prefix, ssh://... (instead of --remote)")
    p.add_argument("--dvc-endpoint", metavar="URL", help="with an s3:// --dvc-remote: the S3-compatible endpoint")
    p.add_argument("--role", help="the role you act in for the first commit")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from workbench.new_project import create_from_sample, create_project
    from workbench.project import Charter, parse_member

    path = Path(args.path)
    if args.sample:
        made = create_from_sample(args.sample, path, name=args.name, remote=args.remote,
                                  in_outer_repo=args.in_outer_repo, git_remote=args.git_remote,
                                  dvc_remote=args.dvc_remote, dvc_endpoint=args.dvc_endpoint,
                                  progress=progress_printer(args))
    else:
        members = tuple(parse_member(m) for m in args.member or [])
        constraints: dict[str, Any] = {}
        if args.latency_ms is not None:
            constraints["latency_ms"] = args.latency_ms
        if args.interpretability:
            constraints["interpretability"] = args.interpretability
        if args.privacy:
            constraints["privacy"] = args.privacy
        name = args.name if args.name is not None else path.expanduser().absolute().name
        charter = Charter(
            name=name, problem=args.problem or "", business_owner=args.owner or "",
            success_metric=args.metric or "", task=args.task, constraints=constraints, team=members,
        )
        made = create_project(path, charter, description=args.description or "", remote=args.remote,
                              in_outer_repo=args.in_outer_repo, role=args.role,
                              git_remote=args.git_remote, dvc_remote=args.dvc_remote,
                              dvc_endpoint=args.dvc_endpoint, progress=progress_printer(args))
    if args.json:
        print_json({"schema": 1, "path": str(made.path), "commit": made.commit,
                    "data_commit": made.data_commit, "remote": made.remote,
                    "messages": list(made.messages)})
        return 0
    for message in made.messages:
        print(f"note: {message}", file=sys.stderr)
    print(f"Created project at {made.path} (commit {made.commit[:7]})")
    if made.data_commit:
        print(f"Data tracked with DVC (commit {made.data_commit[:7]}) and pushed to {made.remote}")
    else:
        print(f"DVC remote: {made.remote}")
    print(f"Open it with: mlops-workbench {made.path}")
    return 0
