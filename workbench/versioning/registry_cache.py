"""The registry as gto last read it, remembered against the tags it was read from (issue 19).

Importing gto costs 0.3-0.6 s (pydantic-settings, scmrepo, pygit2), ten times what
``model list`` otherwise does. The registry is a pure function of the repository's tags
(each a name pointing at an immutable object) and gto's settings file ``.gto``, so after
gto has read it, :func:`store` writes it to ``.git/mlops-workbench/registry.json`` with a
digest of (``git for-each-ref refs/tags`` names and objects, ``.gto``, the reader's source),
and :func:`load` returns it while that digest is unchanged: one git call instead of gto.
Any new, moved or deleted tag (a ``git fetch``, ``gto`` run by hand, a register or promote)
changes the digest, and the next read goes through gto again; gto stays the only writer
and the reader of record. A cache that cannot be read or written only costs the gto read.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from workbench.versioning import git

_SOURCES = (Path(__file__).with_name("registry.py"), Path(__file__))
_SCHEMA = 1


def _cache_file(root: Path) -> Path:
    gdir = root / ".git"
    return (gdir if gdir.is_dir() else git.git_dir(root)) / "mlops-workbench" / "registry.json"


def tags_digest(root: Path) -> str:
    """A digest of every tag (name and object), gto's settings and this reader's source."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(git.git_bytes(root, "for-each-ref", "--format=%(refname)%00%(objectname)", "refs/tags"))
    for path in (root / ".gto", *_SOURCES):
        try:
            digest.update(b"\0" + path.read_bytes())
        except OSError:
            digest.update(b"\0-")
    return digest.hexdigest()


def load(root: Path, digest: str) -> dict[str, Any] | None:
    """The stored registry (as :func:`store` got it) if it was read from tags of this digest."""
    try:
        data = json.loads(_cache_file(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != _SCHEMA or data.get("digest") != digest:
        return None
    registry = data.get("registry")
    return registry if isinstance(registry, dict) else None


def store(root: Path, digest: str, registry: dict[str, Any]) -> None:
    """Remember ``registry`` as read from tags of ``digest`` (temp file + rename; best effort)."""
    try:
        path = _cache_file(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"schema": _SCHEMA, "digest": digest, "registry": registry}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
