"""The browser face: the same app served to a browser with textual-serve.

Each browser tab gets its own workbench process (``python -m screens open PATH``) whose
terminal output textual-serve streams to xterm.js over a websocket. The server binds to
127.0.0.1 unless told otherwise: the workbench commits as the git identity of whoever runs
it, so it must not be reachable by other machines by accident.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve_web(path: Path, *, host: str = "127.0.0.1", port: int = 8000) -> int:
    """Serve the workbench on ``http://host:port`` until Ctrl+C."""
    from textual_serve.server import Server

    command = shlex.join([sys.executable, "-m", "screens", "open", str(path)])
    if host not in LOOPBACK:
        print(f"mlops-workbench: warning: serving on {host}: anyone who can reach this address "
              "can act as you in this project", file=sys.stderr)
    server = Server(command, host=host, port=port, title=f"mlops-workbench — {path.name}")
    server.serve()
    return 0
