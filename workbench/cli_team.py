"""Team commands: ``mlops-workbench remote show|set`` and ``mlops-workbench sync``.

The work is in :mod:`workbench.versioning.remote` and :mod:`workbench.versioning.sync` (which
documents what sync shares, what it refuses and its exit codes: 0 in sync, 1 conflicts to
resolve, 2 bad input, 75 busy).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli import EXTENSIONS, _print_json, _progress, _project_path, cancel_on_interrupt, command


@command("remote")
def cmd_remote(args: argparse.Namespace) -> int:
    from workbench.versioning.remote import read_remotes, set_remotes

    if args.remote_command == "set":
        remotes = set_remotes(_project_path(args), git_url=args.git, dvc_url=args.dvc, endpoint=args.endpoint,
                              access_key_id=args.access_key_id, secret_access_key=args.secret_access_key,
                              role=args.role)
    else:
        remotes = read_remotes(_project_path(args))
    if args.json:
        _print_json(remotes.to_json())
        return 0
    for message in remotes.messages:
        print(message)
    if args.remote_command != "set":
        print(f"git remote origin: {remotes.git_url or '(none: mlops-workbench remote set --git URL)'}")
        print(f"DVC remote {remotes.dvc_name or ''}: {remotes.dvc_url or '(none)'}"
              + (f"  endpoint {remotes.dvc_endpoint}" if remotes.dvc_endpoint else ""))
        print(f"DVC credentials: {remotes.credentials}")
    return 0


def _status_lines(r: Any) -> list[str]:
    st = r.to_json()["status"]
    c = st["commits"]
    lines = [f"{r.branch} vs origin ({r.remote}): {c['ahead']} commit(s) ahead, {c['behind']} behind"]

    def some(label: str, items: list[str]) -> None:
        if items:
            shown = ", ".join(items[:8]) + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")
            lines.append(f"  {label}: {shown}")

    some("experiments only here", st["experiments"]["only_here"])
    some("experiments only there", st["experiments"]["only_there"])
    some("registry tags only here", st["registry_tags"]["only_here"])
    some("registry tags only there", st["registry_tags"]["only_there"])
    if st["notes"] != "in sync":
        lines.append(f"  notes (refs/notes/workbench): {st['notes']}")
    if st["dvc"]["checked"]:
        some("DVC objects missing on the remote", st["dvc"]["missing_on_remote"])
        some("DVC objects missing here", st["dvc"]["missing_locally"])
    return lines


@command("sync")
def cmd_sync(args: argparse.Namespace) -> int:
    from workbench.versioning.sync import sync

    with cancel_on_interrupt() as cancel:
        result = sync(_project_path(args), dry_run=args.dry_run, progress=_progress(args), cancel=cancel)
    if args.json:
        _print_json(result.to_json())
        return result.exit_code
    for line in _status_lines(result):
        print(line)
    if result.dry_run:
        print("dry run: nothing was pulled or pushed")
    if result.pulled:
        print(f"pulled ({result.pulled}): {len(result.pulled_files)} file(s) changed")
    if result.pipeline:
        print(f"pipeline: {result.pipeline}")
    for item in result.pushed:
        print(f"pushed {item}")
    for race in result.races:
        print(f"refused: {race.line()}", file=sys.stderr)
    for message in result.messages:
        print(f"note: {message}", file=sys.stderr)
    if result.in_sync and not result.dry_run:
        print("in sync with origin")
    return result.exit_code


def _extend(sub: Any) -> None:
    p = sub.add_parser("remote", help="the shared git remote (origin) and DVC remote: show | set")
    inner = p.add_subparsers(dest="remote_command", metavar="ACTION")
    s = inner.add_parser("show", help="the remotes and where the DVC credentials come from")
    s.add_argument("-C", "--project", metavar="PATH", help="the project folder (default: the current folder)")
    s.add_argument("--json", action="store_true", help="print as JSON")
    s = inner.add_parser("set", help="point the project at shared remotes (one commit of .dvc/config; "
                         "credentials only in .dvc/config.local or the environment)")
    s.add_argument("-C", "--project", metavar="PATH", help="the project folder (default: the current folder)")
    s.add_argument("--git", metavar="URL", help="the shared git repository, e.g. file:///srv/git/p.git, ssh://...")
    s.add_argument("--dvc", metavar="URL", help="the DVC remote: a folder, s3://bucket/prefix, ssh://, gs://, ...")
    s.add_argument("--endpoint", metavar="URL", help="with an s3:// remote: the S3-compatible store's endpoint")
    s.add_argument("--access-key-id", metavar="KEY", help="S3 access key (kept in .dvc/config.local, never committed; "
                   "default: AWS_ACCESS_KEY_ID from the environment)")
    s.add_argument("--secret-access-key", metavar="SECRET", help="S3 secret key (kept in .dvc/config.local)")
    s.add_argument("--role", help="the role you act in for the commit")
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(remote_command="show", project=None, json=False)

    p = sub.add_parser("sync", help="share commits, experiments, registry tags, notes and DVC data with the team "
                       "and bring in theirs; exit 0 in sync, 1 conflicts, 2 bad input, 75 busy")
    p.add_argument("-C", "--project", metavar="PATH", help="the project folder (default: the current folder)")
    p.add_argument("--dry-run", action="store_true", help="fetch and show the three-way status only")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


EXTENSIONS.append(_extend)
