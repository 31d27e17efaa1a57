"""The ``mlops-workbench`` command: the headless CLI plus the two faces that open a project.

:mod:`workbench.cli` parses and runs every command and knows nothing of the UI; this entry
point hands it the openers (the terminal app, the browser face) and runs it. ``python -m
workbench`` is the same CLI without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def open_tui(path: Path, *, debug: bool = False, **_: object) -> int:
    """Run the terminal app on ``path`` (a checked folder) until the user quits."""
    import gc

    # Importing Textual and the screens makes objects that live as long as the process
    # (modules, classes, Textual's tables): the collector has nothing to find in them, yet
    # left on it runs dozens of times during the imports, and its first full pass lands in
    # the first frame (about 10 ms). So it is off while they import; then they are frozen
    # out of its sight (gc.freeze) and it is back on for what the app makes.
    gc.disable()
    try:
        prefetched = None
        if (path / "workbench.yaml").is_file():
            # Read git while Textual imports: the dashboard's first paint then needs no wait.
            # Only the status: the timeline is read once the dashboard is on screen. The work
            # runs in a child process (the thread only waits for it), off the interpreter that
            # imports Textual.
            from concurrent.futures import ThreadPoolExecutor

            from workbench.status import project_status_in_child

            pool = ThreadPoolExecutor(1, thread_name_prefix="prefetch")
            prefetched = pool.submit(project_status_in_child, path)
            pool.shutdown(wait=False)
        from screens.app import make_app
    finally:
        gc.freeze()
        gc.enable()
    app = make_app(path, prefetched=prefetched)
    app.run()
    return app.return_code or 0


def open_web(path: Path, *, host: str = "127.0.0.1", port: int = 8000, **_: object) -> int:
    """Serve the app to a browser (textual-serve) until Ctrl+C."""
    from screens.web import serve_web

    return serve_web(path, host=host, port=port)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mlops-workbench``."""
    from workbench import cli

    cli.OPENERS.update(tui=open_tui, web=open_web)
    return cli.main(argv)
