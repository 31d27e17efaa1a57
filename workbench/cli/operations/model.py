"""Deployment: ``mlops-workbench model register|promote|list|history|bundle`` (the registry, bundles).

The command only parses and prints; the work is in :mod:`workbench.versioning.registry`
(GTO tags) and :mod:`workbench.operations.bundle`. Bad input prints one line on stderr and
exits 2 with no tag created and nothing written.

Usage::

    mlops-workbench model register [--version vX.Y.Z] [--role ROLE] [--no-push] [--json]
    mlops-workbench model promote VERSION --stage staging|production [--override-data-check REASON] [--role ROLE]
        [--no-push] [--json]
    mlops-workbench model list [--json]
    mlops-workbench model history [--json]
    mlops-workbench model bundle VERSION [--output DIR] [--json]

JSON (schema 1)::

    model register|promote --json  {"schema": 1, "tag", "version", "stage", "commit", "approved_by",
                                    "evidence_digest", "model_digest", "validation", "messages",
                                    "data_check": "GO"|"NO-GO"|"stale"|"missing", "data_check_override"}
    model list --json     {"schema": 1, "artifact": "model", "stages": {"staging": V|null, "production": V|null},
                           "versions": [{"version", "commit", "tag", "registered_at", "registered_by": {"name",
                           "email"}, "stages": [...], "approved_by", "evidence_digest", "model_digest"}]}
    model history --json  {"schema": 1, "events": [{"at", "event": "registration"|"assignment", "version",
                           "stage", "commit", "tag", "by": {"name", "email"}, "role", "approved_by",
                           "evidence_digest", "model_digest", "data_check", "data_check_override"}]}
    model bundle --json   {"schema": 1, "path", "version", "commit", "model_digest", "files", "card", "onnx"}
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.cli.options import add_project_option, project_path
from workbench.cli.output import print_json

NAME = "model"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("model", help="the model registry (GTO tags) and serving bundles")
    inner = p.add_subparsers(dest="model_command", metavar="ACTION")

    s = inner.add_parser("register", help="register the model committed at HEAD as a new version (a git tag)")
    add_project_option(s)
    s.add_argument("--version", metavar="vX.Y.Z", help="the version (default: v1.0.0, then the next minor)")
    s.add_argument("--role", help="the role you act in (recorded in the tag)")
    s.add_argument("--no-push", action="store_true", help="do not push the tag to origin (pushed when it exists)")
    s.add_argument("--json", action="store_true", help="print the result as JSON")

    s = inner.add_parser("promote", help="assign a stage to a version; production needs validation and approval")
    add_project_option(s)
    s.add_argument("version", metavar="VERSION", help="a registered version, e.g. v1.0.0")
    s.add_argument("--stage", required=True, choices=["staging", "production"])
    s.add_argument("--override-data-check", metavar="REASON",
                   help="promote to production although the data check of the model's data is NO-GO or "
                        "stale; the reason is recorded in the tag")
    s.add_argument("--role", help="the role you act in (recorded in the tag)")
    s.add_argument("--no-push", action="store_true", help="do not push the tag to origin (pushed when it exists)")
    s.add_argument("--json", action="store_true", help="print the result as JSON")

    s = inner.add_parser("list", help="registered versions and the stages they hold")
    add_project_option(s)
    s.add_argument("--json", action="store_true", help="print as JSON")

    s = inner.add_parser("history", help="every registration and promotion, newest first")
    add_project_option(s)
    s.add_argument("--json", action="store_true", help="print as JSON")

    s = inner.add_parser("bundle", help="write a serving bundle: model, schema, card, metadata, Dockerfile")
    add_project_option(s)
    s.add_argument("version", metavar="VERSION", help="a registered version, e.g. v1.0.0")
    s.add_argument("--output", metavar="DIR", help="where to write it (default: .workbench/cache/bundles/)")
    s.add_argument("--json", action="store_true", help="print the result as JSON")


def _short_when(iso: str) -> str:
    return iso.replace("T", " ")[:16]



def run(args: argparse.Namespace) -> int:
    action = args.model_command or "list"
    path = project_path(args)
    if action == "register":
        from workbench.versioning.registry_write import register_model

        done = register_model(path, args.version, role=args.role, push=not args.no_push)
    elif action == "promote":
        from workbench.versioning.registry_write import promote_model

        done = promote_model(path, args.version, args.stage, role=args.role, push=not args.no_push,
                             override_data_check=args.override_data_check)
    elif action == "bundle":
        return _bundle(args, path)
    elif action == "history":
        return _history(args, path)
    else:
        return _list(args, path)
    if args.json:
        print_json({"schema": 1, **done.to_json()})
        return 0
    for note in done.messages:
        print(f"note: {note}", file=sys.stderr)
    if done.stage:
        print(f"Promoted model {done.version} to {done.stage} (tag {done.tag}, commit {done.commit[:7]}; "
              f"approved by {done.approved_by})")
    else:
        print(f"Registered model {done.version} (tag {done.tag}) for commit {done.commit[:7]}; "
              f"model {done.model_digest}, validation {done.validation}, approved by {done.approved_by}")
        print(f"Next: mlops-workbench model promote {done.version} --stage staging")
    return 0


def _list(args: argparse.Namespace, path: Path) -> int:
    from workbench.versioning.registry import read_registry

    registry = read_registry(path)
    if getattr(args, "json", False):
        print_json({"schema": 1, **registry.to_json()})
        return 0
    if not registry.versions:
        print("No registered model yet. Register the committed model with: mlops-workbench model register")
        return 0
    print(f"{'version':<10} {'stages':<20} {'commit':<8} {'registered':<17} {'by':<20} approved by")
    for v in registry.versions:
        print(f"{v.version:<10} {','.join(v.stages) or '-':<20} {v.commit[:7]:<8} "
              f"{_short_when(v.registered_at):<17} {v.registered_by:<20.20} {v.approved_by or '-'}")
    return 0


def _history(args: argparse.Namespace, path: Path) -> int:
    from workbench.versioning.registry import read_registry

    registry = read_registry(path)
    if args.json:
        print_json({"schema": 1, "events": [e.to_json() for e in registry.events]})
        return 0
    if not registry.events:
        print("The registry is empty.")
        return 0
    for e in registry.events:
        what = f"registered {e.version}" if e.event == "registration" else f"{e.version} -> {e.stage}"
        override = f"; data check overridden: {e.data_check_override}" if e.data_check_override else ""
        print(f"{_short_when(e.at)}  {e.tag:<22} {what:<26} by {e.by:<20.20} approved by {e.approved_by or '-'}"
              f"{override}")
    return 0


def _bundle(args: argparse.Namespace, path: Path) -> int:
    from workbench.operations.bundle import build_bundle

    result = build_bundle(path, args.version, Path(args.output) if args.output else None)
    if args.json:
        print_json({"schema": 1, **result.to_json()})
        return 0
    print(f"Bundle of model {result.version} (commit {result.commit[:7]}) in {result.path}")
    print(f"  {', '.join(result.files)}" + ("  (no reviewed model card: a stub)" if result.card == "stub" else ""))
    onnx = result.onnx or {}
    if onnx.get("onnx"):
        print(f"  ONNX: model.onnx matches the skops model on {onnx.get('rows_checked')} test rows "
              f"(max abs difference {onnx.get('max_abs_diff'):.2g}); serve scores with onnxruntime")
    else:
        print(f"  ONNX: none, skops only: {onnx.get('reason')}")
    print(f"Serve it: mlops-workbench serve --bundle {result.path}   or build the image: "
          f"docker build -t model:{result.version} {result.path}")
    return 0
