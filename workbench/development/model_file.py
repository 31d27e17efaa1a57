"""A model file that is the same bytes for the same model: skops' zip, made canonical.

skops writes a zip whose member names and ``__id__`` fields are Python object ids
(``140234...npy``), a ``uuid4`` name for every ``bytes`` value, each member stamped with
the current time, and sets in hash order. So the same commit, data and seed gave a new
md5 on every ``dvc repro --force``, and a sign-off bound to the model digest never
covered a rebuilt model. :func:`canonical_skops` rewrites the archive so it depends on
the model alone:

- ids are renumbered 1, 2, 3... in the order they first appear in ``schema.json``
  (a bijection, so objects skops shares by id stay shared when loading);
- members that ``schema.json`` names (``.npy``, ``.npz``, ``.bin``) are renamed to that
  number and written after ``schema.json`` in name order;
- every member gets the same timestamp (1980-01-01, zip's epoch) and permissions; a nested
  ``.npz`` (scipy's sparse matrices, itself a zip) is made canonical the same way;
- the content of a set is ordered by its serialised items;
- attributes that only cache a Python object id (scikit-learn's vectorizers keep
  ``_stop_words_id = id(self.stop_words)`` to skip a repeated check) are written as null,
  which makes scikit-learn redo that check once instead of trusting a stale id.

The result is still an ordinary skops file: ``skops.io.load`` reads it with the same
trusted types (a test loads every model family through it and compares predictions).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SCHEMA = "schema.json"
#: Attributes whose value is an ``id()`` of this process (a cache scikit-learn recomputes).
VOLATILE_ATTRS = frozenset({"_stop_words_id"})

#: The types a model file may contain beyond the ones skops trusts by default (skops
#: already trusts scikit-learn's estimators and numpy arrays). These three are what the
#: model families of :mod:`workbench.development.models` need (checked by a test over
#: every family); anything else (a tampered file with ``builtins.eval``, ``os.system``...)
#: is refused before loading.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
)


def _zip(members: list[tuple[str, bytes]], compression: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = compression
            info.create_system = 3
            info.external_attr = 0o644 << 16
            out.writestr(info, data)
    return buffer.getvalue()


def _canonical_npz(data: bytes) -> bytes:
    """A numpy ``.npz`` (a zip of ``.npy``) with fixed timestamps and sorted members."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        infos = src.infolist()
        compression = infos[0].compress_type if infos else zipfile.ZIP_STORED
        members = sorted((i.filename, src.read(i)) for i in infos)
    return _zip(members, compression)


def _without_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_ids(v) for k, v in node.items() if k not in ("__id__", "file")}
    if isinstance(node, list):
        return [_without_ids(v) for v in node]
    return node


def _sort_sets(node: Any) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _sort_sets(value)
        if node.get("__loader__") == "SetNode" and isinstance(node.get("content"), list):
            node["content"].sort(key=lambda item: json.dumps(_without_ids(item), sort_keys=True))
    elif isinstance(node, list):
        for value in node:
            _sort_sets(value)


def canonical_skops(data: bytes) -> bytes:
    """The skops file ``data`` rewritten so the same model always gives the same bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        infos = {i.filename: i for i in src.infolist()}
        schema = json.loads(src.read(SCHEMA).decode("utf-8"))
        blobs = {name: src.read(name) for name in infos if name != SCHEMA}
        compression = infos[SCHEMA].compress_type
    _sort_sets(schema)
    ids: dict[int, int] = {}
    names: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in VOLATILE_ATTRS and isinstance(value, dict) and value.get("__loader__") == "JsonNode":
                    value["content"] = "null"
                if key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
                    node[key] = ids.setdefault(value, len(ids) + 1)
                elif key == "file" and isinstance(value, str) and value in blobs:
                    suffix = Path(value).suffix
                    node[key] = names.setdefault(value, f"{len(names) + 1:06d}{suffix}")
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    members = []
    for old, new in names.items():
        blob = blobs[old]
        members.append((new, _canonical_npz(blob) if new.endswith(".npz") else blob))
    members.sort()
    text = json.dumps(schema, indent=2).encode("utf-8")
    return _zip([(SCHEMA, text), *members], compression)


def write_model(model: Any, path: Path) -> None:
    """Save ``model`` with skops as a canonical file (through a temporary file and a rename)."""
    import skops.io as sio

    from workbench.fsutil import atomic_write_bytes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, canonical_skops(sio.dumps(model)))


def trusted_types(path: Path, *, unreadable: Callable[[Exception], str], refused: Callable[[str], str]) -> list[str]:
    """The types of the skops file ``path`` to pass as ``trusted=``, every one in :data:`TRUSTED_TYPES`.

    One check for every command that opens a model (loading, bundling): a file that cannot be
    read raises ``unreadable(exc)``, one with a type the workbench does not trust raises
    ``refused(", ".join(types))``, both as one-line :class:`WorkbenchError` (the caller
    words them: what it was about to do differs).
    """
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # noqa: BLE001 - a corrupt file is a user-facing problem
        raise WorkbenchError(unreadable(exc)) from None
    bad = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if bad:
        raise WorkbenchError(refused(", ".join(bad)))
    return list(untrusted)
