"""The schema checks of :mod:`workbench.config`, remembered per content (issue 19, command floors).

Checking ``workbench.yaml`` or ``params.yaml`` means importing pydantic and building the
schema's models: some 90-200 ms of every command that reads either file (``status``,
``history``, ``review``, ``check``), several times what the command itself does. The check
is a pure function of the loaded data and the schema, so a content that passed once passes
again: after a pass, an empty marker file named by a digest of (the schema's source, the
check, the data) is left in the user's cache folder (``$XDG_CACHE_HOME/mlops-workbench/checked``,
else ``~/.cache/...``), and a later check of the same content with the same schema finds it
and skips pydantic. A failure is never remembered, so its one-line message is always the
schema's own; a schema edit (a new workbench) changes the digest. The cache is best effort:
a folder that cannot be written only costs the check.

The project's files are only read, never written (``reading never rewrites a file``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

_SCHEMA = Path(__file__).with_name("config.py")


def cache_dir() -> Path:
    """Where the markers of passed checks live."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlops-workbench" / "checked"


def _marker(kind: str, data: dict[str, Any]) -> Path | None:
    try:
        schema = _SCHEMA.read_bytes()
    except OSError:
        return None
    digest = hashlib.blake2b(schema, digest_size=20)
    digest.update(f"\0{kind}\0{type(data).__name__}\0{data!r}".encode("utf-8", "surrogatepass"))
    return cache_dir() / digest.hexdigest()


def _checked(kind: str, data: dict[str, Any], name: str) -> None:
    marker = _marker(kind, data)
    if marker is not None and marker.exists():
        return
    from workbench import config

    getattr(config, kind)(data, name)  # raises the one-line WorkbenchError
    if marker is None:
        return
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass


def check_workbench_config(data: dict[str, Any], name: str = "workbench.yaml") -> None:
    """:func:`workbench.config.check_workbench_config`, skipped for a content that passed before."""
    _checked("check_workbench_config", data, name)


def check_params(data: dict[str, Any], name: str = "params.yaml") -> None:
    """:func:`workbench.config.check_params`, skipped for a content that passed before."""
    _checked("check_params", data, name)
