"""``dvc status --json`` of the pipeline, remembered while nothing it looks at changed (issue 19).

``mlops-workbench check`` asks DVC whether ``dvc.lock`` matches the code, params and data:
a ``dvc`` process, some 0.5 s, ten times the rest of the check. What DVC compares is the
pipeline files (``dvc.yaml``, ``dvc.lock``, the params files, ``.dvcignore``,
``.dvc/config``, every ``.dvc`` pointer git lists) and every dependency and output the lock
and the pointers name, and DVC itself trusts a
file's (inode, size, mtime) to skip hashing it again (its state database). So after DVC
answers, the answer is stored in ``.git/mlops-workbench/dvc-status.json`` with a digest
of those files' bytes and of every locked path's (inode, size, mtime) (a folder: each file
below it), and a later status whose digest is unchanged reads the answer back. Any edit,
touch, checkout or new file in a locked folder changes the digest and DVC is asked again.

Not remembered, so always asked: a failing ``dvc`` run, a pipeline with a stage that has
its own ``wdir`` or a ``dvc.yaml`` below the root (their paths are not the lock's), a
project that a fresh clone holds (no stored answer: CI always runs DVC).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

_PIPELINE_FILES = ("dvc.yaml", "dvc.lock", ".dvcignore", ".dvc/config", ".dvc/config.local")
_SCHEMA = 1


def _stat_line(path: Path) -> bytes:
    try:
        st = path.stat()
    except OSError:
        return f"{path}\0-\n".encode("utf-8", "surrogateescape")
    return f"{path}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape")


def _digest(root: Path) -> str | None:
    """What a stored answer is valid for, or None when this pipeline is never remembered."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        spec = yaml.load((root / "dvc.yaml").read_bytes(), Loader=loader) or {}  # noqa: S506 (safe)
        lock = yaml.load((root / "dvc.lock").read_bytes(), Loader=loader) or {}  # noqa: S506 (safe)
    except (OSError, yaml.YAMLError):
        return None
    stages = spec.get("stages") if isinstance(spec, dict) else None
    locked = lock.get("stages") if isinstance(lock, dict) else None
    if not isinstance(stages, dict) or not isinstance(locked, dict):
        return None
    if any(not isinstance(s, dict) or "wdir" in s for s in stages.values()):
        return None
    h = hashlib.blake2b(Path(__file__).read_bytes(), digest_size=20)
    params_files = {"params.yaml"}
    paths: set[str] = set()
    for stage in locked.values():
        if not isinstance(stage, dict):
            return None
        params_files |= set((stage.get("params") or {}).keys())
        for entry in [*(stage.get("deps") or []), *(stage.get("outs") or [])]:
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                return None
            paths.add(entry["path"])
    # every .dvc pointer git sees (tracked or not ignored): dvc status reports their outputs too
    from workbench.versioning import git

    listed = git.git_bytes(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                           "*.dvc", check=False)
    for pointer in sorted(p for p in listed.decode("utf-8", "surrogateescape").split("\0") if p):
        try:
            text = (root / pointer).read_bytes()
            outs = (yaml.load(text, Loader=loader) or {}).get("outs") or []  # noqa: S506 (safe)
            outs = [str(Path(pointer).parent / o["path"]) for o in outs]
        except (OSError, yaml.YAMLError, AttributeError, TypeError, KeyError):
            return None
        h.update(f"\0{pointer}\0".encode("utf-8", "surrogateescape") + text)
        paths.update(outs)
    for name in sorted({*_PIPELINE_FILES, *params_files}):
        try:
            h.update(f"\0{name}\0".encode() + (root / name).read_bytes())
        except OSError:
            h.update(f"\0{name}\0-".encode())
    for rel in sorted(paths):
        path = root / rel
        h.update(_stat_line(path))
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                if any(f == "dvc.yaml" for f in files):
                    return None
                for name in sorted(files):
                    h.update(_stat_line(Path(folder) / name))
    return h.hexdigest()


def _store_file(root: Path) -> Path:
    from workbench.versioning import git

    gdir = root / ".git"
    return (gdir if gdir.is_dir() else git.git_dir(root)) / "mlops-workbench" / "dvc-status.json"


def pipeline_status(root: Path, cancel: threading.Event | None = None) -> tuple[dict[str, Any] | None, str]:
    """(the stages ``dvc status --json`` reports changed, or None if it failed; DVC's last error line)."""
    from workbench.versioning.dvc import run_dvc

    digest = _digest(root)
    store = _store_file(root) if digest else None
    if store is not None:
        try:
            known = json.loads(store.read_text(encoding="utf-8"))
            if known.get("schema") == _SCHEMA and known.get("digest") == digest:
                return dict(known["changed"]), ""
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
    run = run_dvc(["status", "--json"], root, cancel=cancel, check=False)
    text = run.output.strip()
    start = text.find("{")
    try:
        changed = json.loads(text[start:]) if start >= 0 else None
    except ValueError:
        changed = None
    if run.returncode != 0 or not isinstance(changed, dict):
        return None, run.last_error_line()
    if store is not None and _digest(root) == digest:  # nothing moved while DVC looked
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
            tmp = store.with_name(f".{store.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"schema": _SCHEMA, "digest": digest, "changed": changed}), encoding="utf-8")
            os.replace(tmp, store)
        except OSError:
            pass
    return changed, ""
