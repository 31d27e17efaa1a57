"""Deployment: ``mlops-workbench serve`` (the prediction service over HTTP, FastAPI + uvicorn).

The command only parses; the work is in :mod:`workbench.operations.serving`. Bad input
prints one line on stderr and exits 2.

Usage::

    mlops-workbench serve [--stage production | --version V | --bundle DIR] [--host 127.0.0.1] [--port 8000]
        [--log-dir DIR] [--max-body-bytes N] [--token-file PATH] [--cors-origin URL] [--workers N]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli.options import add_project_option, project_path

NAME = "serve"


def _port(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number: use 1-65535") from None



def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="serve a registered model over HTTP (FastAPI + uvicorn) on 127.0.0.1")
    add_project_option(p)
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


def run(args: argparse.Namespace) -> int:
    from workbench.operations.serving import serve

    return serve(project_path(args), bundle=Path(args.bundle) if args.bundle else None, version=args.version,
                 stage=args.stage, host=args.host, port=args.port,
                 log_dir=Path(args.log_dir) if args.log_dir else None, max_body_bytes=args.max_body_bytes,
                 token_file=Path(args.token_file) if args.token_file else None,
                 cors_origins=tuple(args.cors_origin or ()), workers=args.workers)
