"""Deployment commands: the model registry, serving bundles, the prediction service, batch scoring.

The commands only parse and print; the work is in :mod:`workbench.versioning.registry`
(GTO tags), :mod:`workbench.operations.bundle`, :mod:`workbench.operations.serving` and
:mod:`workbench.operations.predict`. Bad input prints one line on stderr and exits 2 with
no tag created and nothing written.

Usage::

    mlops-workbench model register [--version vX.Y.Z] [--role ROLE] [--no-push] [--json]
    mlops-workbench model promote VERSION --stage staging|production [--override-data-check REASON] [--role ROLE]
        [--no-push] [--json]
    mlops-workbench model list [--json]
    mlops-workbench model history [--json]
    mlops-workbench model bundle VERSION [--output DIR] [--json]
    mlops-workbench serve [--stage production | --version V | --bundle DIR] [--host 127.0.0.1] [--port 8000]
        [--log-dir DIR] [--max-body-bytes N] [--token-file PATH] [--cors-origin URL] [--workers N]
    mlops-workbench predict INPUT --output OUTPUT [--version V | --stage S] [--json]

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
    predict --json        {"schema": 1, "input", "output", "rows", "version", "passthrough", "seconds"}
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.cli import EXTENSIONS, _add_project_option, _print_json, _project_path, command


def _short_when(iso: str) -> str:
    return iso.replace("T", " ")[:16]


@command("model")
def cmd_model(args: argparse.Namespace) -> int:
    action = args.model_command or "list"
    path = _project_path(args)
    if action == "register":
        from workbench.versioning.registry import register_model

        done = register_model(path, args.version, role=args.role, push=not args.no_push)
    elif action == "promote":
        from workbench.versioning.registry import promote_model

        done = promote_model(path, args.version, args.stage, role=args.role, push=not args.no_push,
                             override_data_check=args.override_data_check)
    elif action == "bundle":
        return _bundle(args, path)
    elif action == "history":
        return _history(args, path)
    else:
        return _list(args, path)
    if args.json:
        _print_json({"schema": 1, **done.to_json()})
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
        _print_json({"schema": 1, **registry.to_json()})
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
        _print_json({"schema": 1, "events": [e.to_json() for e in registry.events]})
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
        _print_json({"schema": 1, **result.to_json()})
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


@command("serve")
def cmd_serve(args: argparse.Namespace) -> int:
    from workbench.operations.serving import serve

    return serve(_project_path(args), bundle=Path(args.bundle) if args.bundle else None, version=args.version,
                 stage=args.stage, host=args.host, port=args.port,
                 log_dir=Path(args.log_dir) if args.log_dir else None, max_body_bytes=args.max_body_bytes,
                 token_file=Path(args.token_file) if args.token_file else None,
                 cors_origins=tuple(args.cors_origin or ()), workers=args.workers)


@command("predict")
def cmd_predict(args: argparse.Namespace) -> int:
    from workbench.operations.predict import score_file

    progress = None
    if not args.json:
        def progress(done: int, total: int) -> None:
            print(f"  scored {done}/{total} rows", file=sys.stderr)

    result = score_file(_project_path(args), Path(args.input), Path(args.output), version=args.version,
                        stage=args.stage or "production", progress=progress)
    if args.json:
        _print_json({"schema": 1, **result.to_json()})
        return 0
    extra = f"; passed through {', '.join(result.passthrough)}" if result.passthrough else ""
    print(f"Scored {result.rows} rows with model {result.version} in {result.seconds:.1f} s -> {result.output}{extra}")
    return 0


def _port(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number: use 1-65535") from None


def _extend(sub: Any) -> None:
    p = sub.add_parser("model", help="the model registry (GTO tags) and serving bundles")
    inner = p.add_subparsers(dest="model_command", metavar="ACTION")

    s = inner.add_parser("register", help="register the model committed at HEAD as a new version (a git tag)")
    _add_project_option(s)
    s.add_argument("--version", metavar="vX.Y.Z", help="the version (default: v1.0.0, then the next minor)")
    s.add_argument("--role", help="the role you act in (recorded in the tag)")
    s.add_argument("--no-push", action="store_true", help="do not push the tag to origin (pushed when it exists)")
    s.add_argument("--json", action="store_true", help="print the result as JSON")

    s = inner.add_parser("promote", help="assign a stage to a version; production needs validation and approval")
    _add_project_option(s)
    s.add_argument("version", metavar="VERSION", help="a registered version, e.g. v1.0.0")
    s.add_argument("--stage", required=True, choices=["staging", "production"])
    s.add_argument("--override-data-check", metavar="REASON",
                   help="promote to production although the data check of the model's data is NO-GO or "
                        "stale; the reason is recorded in the tag")
    s.add_argument("--role", help="the role you act in (recorded in the tag)")
    s.add_argument("--no-push", action="store_true", help="do not push the tag to origin (pushed when it exists)")
    s.add_argument("--json", action="store_true", help="print the result as JSON")

    s = inner.add_parser("list", help="registered versions and the stages they hold")
    _add_project_option(s)
    s.add_argument("--json", action="store_true", help="print as JSON")

    s = inner.add_parser("history", help="every registration and promotion, newest first")
    _add_project_option(s)
    s.add_argument("--json", action="store_true", help="print as JSON")

    s = inner.add_parser("bundle", help="write a serving bundle: model, schema, card, metadata, Dockerfile")
    _add_project_option(s)
    s.add_argument("version", metavar="VERSION", help="a registered version, e.g. v1.0.0")
    s.add_argument("--output", metavar="DIR", help="where to write it (default: .workbench/cache/bundles/)")
    s.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("serve", help="serve a registered model over HTTP (FastAPI + uvicorn) on 127.0.0.1")
    _add_project_option(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--stage", choices=["staging", "production"], help="serve the version in this stage "
                       "(default: production)")
    which.add_argument("--version", metavar="V", help="serve this registered version")
    which.add_argument("--bundle", metavar="DIR", help="serve a bundle folder (what the Dockerfile runs)")
    p.add_argument("--host", default="127.0.0.1", help="the address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="the port (default: 8000)")
    p.add_argument("--log-dir", metavar="DIR", help="where prediction logs go (default: monitoring/predictions)")
    p.add_argument("--max-body-bytes", type=int, default=1 << 20, metavar="N",
                   help="refuse request bodies larger than this with 413 (default: 1048576)")
    p.add_argument("--token-file", metavar="PATH", help="require 'Authorization: Bearer <token>' with the token "
                   "in this file (or in $MLOPS_WORKBENCH_TOKEN); needed for a --host beyond loopback")
    p.add_argument("--cors-origin", action="append", metavar="URL", help="a web page origin allowed to call "
                   "the service from a browser, e.g. https://dash.example.com (repeatable; default: none)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes sharing the port, "
                   "counters and log (default: 1; 2 uses both cores of a 2-core machine)")

    p = sub.add_parser("predict", help="batch-score a CSV/Parquet file with a registered model")
    _add_project_option(p)
    p.add_argument("input", metavar="INPUT", help="a .csv or .parquet file with the training features")
    p.add_argument("--output", "-o", required=True, metavar="OUTPUT", help="a .csv or .parquet file to write")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--version", metavar="V", help="score with this registered version")
    which.add_argument("--stage", choices=["staging", "production"], help="score with the version in this "
                       "stage (default: production)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


EXTENSIONS.append(_extend)

