"""Team: ``mlops-workbench remote show|set`` (the shared git remote, origin, and the DVC remote).

The work is in :mod:`workbench.versioning.remote`. Credentials are kept in
``.dvc/config.local`` or the environment, never committed.
"""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli.options import project_path
from workbench.cli.output import print_json

NAME = "remote"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("remote", help="the shared git remote (origin) and DVC remote: show | set")
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
    p.set_defaults(remote_command="show")


def run(args: argparse.Namespace) -> int:
    from workbench.versioning.remote import read_remotes, set_remotes

    if args.remote_command == "set":
        remotes = set_remotes(project_path(args), git_url=args.git, dvc_url=args.dvc, endpoint=args.endpoint,
                              access_key_id=args.access_key_id, secret_access_key=args.secret_access_key,
                              role=args.role)
    else:
        remotes = read_remotes(project_path(args))
    if args.json:
        print_json(remotes.to_json())
        return 0
    for message in remotes.messages:
        print(message)
    if args.remote_command != "set":
        print(f"git remote origin: {remotes.git_url or '(none: mlops-workbench remote set --git URL)'}")
        print(f"DVC remote {remotes.dvc_name or ''}: {remotes.dvc_url or '(none)'}"
              + (f"  endpoint {remotes.dvc_endpoint}" if remotes.dvc_endpoint else ""))
        print(f"DVC credentials: {remotes.credentials}")
    return 0
