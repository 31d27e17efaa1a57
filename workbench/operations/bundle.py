"""The serving bundle of a registered version: everything needed to serve it, in one folder.

``model bundle VERSION [--output DIR]`` writes::

    model.skops       the model file of the version's commit (bytes checked against dvc.lock)
    model.onnx        the same model converted with skl2onnx, only when onnxruntime reproduces
                      the skops model on the version's test set (max abs difference < 1e-5);
                      metadata.json's "onnx" says whether, why not, the difference and the rows
    schema.json       the input schema: each training feature with its type (params.yaml),
                      the JSON type a request must use, and a JSON Schema of one record
    metadata.json     version, commit, model digest, metrics, params, library versions,
                      evidence digest and approver at that commit
    model_card.md     the reviewed card of that commit (or a stub saying there is none)
    requirements.txt  the pinned libraries the model was trained with, plus the workbench
    Dockerfile        an image that serves the bundle with ``mlops-workbench serve --bundle``
                      (built by whoever has Docker; not built here); on 0.0.0.0, so it needs a token
    README.md         how to run it (the token: a mounted --token-file or $MLOPS_WORKBENCH_TOKEN)
                      and how to call it

Everything is read from git objects and DVC at the version's commit, never from the
workspace, so a bundle of v1.2.0 is the same whatever is checked out. The folder is built
beside its destination and renamed into place: a reader never sees half a bundle.

``serve`` and ``predict`` use the same bundles, built on demand in the project's
git-ignored cache (``.workbench/cache/bundles/model-<version>``): rebuildable from git and
DVC at any time, so nothing is lost when the cache is removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench import __version__, paths
from workbench.errors import WorkbenchError

BUNDLE_SCHEMA = 1
CACHE_DIR = ".workbench/cache/bundles"
FILES = ("model.skops", "schema.json", "metadata.json", "model_card.md", "requirements.txt", "Dockerfile",
         "README.md")
_PINNED = ("scikit-learn", "skops", "numpy", "scipy", "pandas", "pyarrow")


@dataclass(frozen=True)
class BundleInfo:
    """A bundle as read back: its folder, schema and metadata."""

    path: Path
    schema: dict[str, Any]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class BundleResult:
    """What ``model bundle`` wrote."""

    path: Path
    version: str
    commit: str
    model_digest: str
    files: tuple[str, ...]
    card: str  # reviewed | stub
    onnx: dict[str, Any] | None = None  # the "onnx" record of metadata.json

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "version": self.version, "commit": self.commit,
                "model_digest": self.model_digest, "files": list(self.files), "card": self.card,
                "onnx": self.onnx}


# --- reading ---------------------------------------------------------------------------------


def read_bundle(path: Path) -> BundleInfo:
    """A bundle's schema and metadata (one-line errors when the folder is not a bundle)."""
    path = Path(path)
    try:
        schema = json.loads((path / "schema.json").read_text(encoding="utf-8"))
        metadata = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise WorkbenchError(f"{path} is not a serving bundle (schema.json or metadata.json missing or "
                             "unreadable): make one with 'mlops-workbench model bundle VERSION'") from None
    if not isinstance(schema, dict) or not isinstance(schema.get("features"), list) or not schema["features"]:
        raise WorkbenchError(f"{path}/schema.json lists no features: rebuild the bundle")
    kinds = {"numeric", "categorical", "text", "datetime"}
    for feature in schema["features"]:
        if not isinstance(feature, dict) or feature.get("type") not in kinds or not feature.get("name"):
            raise WorkbenchError(f"{path}/schema.json has a feature without a known type: rebuild the bundle")
    if not (path / "model.skops").is_file():
        raise WorkbenchError(f"{path} has no model.skops: rebuild the bundle")
    return BundleInfo(path, schema, metadata if isinstance(metadata, dict) else {})


# --- the parts ---------------------------------------------------------------------------------


def schema_from_params(params: dict[str, Any]) -> dict[str, Any]:
    """The input schema of a model trained with these params (the training features and types)."""
    from workbench.operations.record_schema import JSON_TYPES, record_adapter

    features = {str(k): str(v) for k, v in (params.get("features") or {}).items()}
    if not features:
        raise WorkbenchError("params.yaml at that commit lists no features: it was not made by "
                             "'mlops-workbench pipeline'; bundle a version trained by the workbench")
    unknown = [k for k, v in features.items() if v not in JSON_TYPES]
    if unknown:
        raise WorkbenchError(f"feature {unknown[0]!r} has type {features[unknown[0]]!r} in params.yaml: "
                             "use numeric, categorical, text or datetime")
    record = record_adapter(features).json_schema()
    one = next(iter(record.get("$defs", {}).values()), record.get("items", {}))
    return {
        "schema": BUNDLE_SCHEMA,
        "task": params.get("task", "classification"),
        "target": params.get("target"),
        "positive_class": params.get("positive_class"),
        "features": [{"name": k, "type": v, "json_type": JSON_TYPES[v], "nullable": True}
                     for k, v in features.items()],
        "record_json_schema": one,
    }


def _stub_card(version: str, commit: str, metadata: dict[str, Any]) -> str:
    metrics = metadata.get("metrics") or {}
    lines = [f"# Model card: model {version}", "",
             f"No reviewed model card was committed with this version (commit {commit[:7]}).",
             "Write and sign one off with `mlops-workbench review` before production.", "",
             "## What is known", "",
             f"- Task: {metadata.get('task')}; target: {metadata.get('target')}",
             f"- Model: {(metadata.get('params') or {}).get('model')}",
             f"- Model digest (DVC): {metadata.get('model_digest')}"]
    lines += [f"- {k}: {v}" for k, v in metrics.items()]
    return "\n".join(lines) + "\n"


def _requirements(env: dict[str, Any]) -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    lines = [f"mlops-workbench=={__version__}"]
    for pkg in _PINNED:
        got = env.get(pkg)
        if got and got != "not installed":
            lines.append(f"{pkg}=={got}")
    for pkg in ("fastapi", "uvicorn", "onnxruntime"):
        try:
            lines.append(f"{pkg}=={installed(pkg)}")
        except PackageNotFoundError:
            lines.append(pkg)
    return "\n".join(lines) + "\n"


def _dockerfile(version: str, python: str) -> str:
    major_minor = ".".join(python.split(".")[:2]) if python else "3.11"
    return f"""# Serves model {version} with the mlops-workbench prediction service (see README.md).
# Build:  docker build -t model:{version} .
# The container listens on 0.0.0.0, so the service needs a token (it refuses to start without one);
# clients send "Authorization: Bearer <token>" (GET /health stays open). Make one:
#   python -c 'import secrets; print(secrets.token_urlsafe(32))' > model.token
# Run with the token from a file (kept out of the image and of 'docker inspect'):
#   docker run -p 8000:8000 -v "$PWD/model.token:/run/secrets/model.token:ro" model:{version} \\
#       --token-file /run/secrets/model.token
# or from the environment:  docker run -p 8000:8000 -e MLOPS_WORKBENCH_TOKEN="$(cat model.token)" model:{version}
FROM python:{major_minor}-slim
WORKDIR /srv
COPY requirements.txt /srv/requirements.txt
RUN pip install --no-cache-dir -r /srv/requirements.txt
COPY . /srv/bundle
RUN mkdir -p /srv/predictions && chown nobody /srv/predictions
VOLUME /srv/predictions
USER nobody
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
ENTRYPOINT ["mlops-workbench", "serve", "--bundle", "/srv/bundle", "--host", "0.0.0.0", "--port", "8000", \\
            "--log-dir", "/srv/predictions"]
"""


def _readme(version: str, schema: dict[str, Any]) -> str:
    """The bundle's README.md: how to serve it and how to call it."""
    features = schema.get("features") or []
    values = {"numeric": 1.0, "categorical": "a", "text": "some words", "datetime": "2024-05-01T12:00:00"}
    example = {f["name"]: values.get(str(f.get("type"))) for f in features[:3]}
    shown = json.dumps([example])[:-2] + (", ...}]" if len(features) > 3 else "}]")
    names = ", ".join(f"`{f['name']}` ({f['type']})" for f in features)
    return f"""# Serving bundle of model {version}

Files: `model.skops` (the model, checked against the registry's digest when loaded),
`schema.json` (the features and the JSON Schema of one record), `metadata.json` (version,
commit, metrics, approver), `model_card.md`, `requirements.txt`, `Dockerfile`, and
`model.onnx` when the model converts to ONNX and onnxruntime reproduces it on the test set
(max absolute difference under 1e-5; `metadata.json`'s `onnx` says whether, or why not).
The service scores with onnxruntime when `model.onnx` is there (`GET /metadata`: `runtime`).

Features: {names}.

## Run it

On this machine (loopback only, no token needed):

    mlops-workbench serve --bundle .

In a container (listens on 0.0.0.0, so a token is required; the service refuses to start
without one):

    docker build -t model:{version} .
    python -c 'import secrets; print(secrets.token_urlsafe(32))' > model.token
    docker run -p 8000:8000 -v "$PWD/model.token:/run/secrets/model.token:ro" model:{version} \\
        --token-file /run/secrets/model.token
    # or: docker run -p 8000:8000 -e MLOPS_WORKBENCH_TOKEN="$(cat model.token)" model:{version}

Every request but `GET /health` then needs `Authorization: Bearer <token>` (401 without it).
Prediction logs go to the volume `/srv/predictions`, one JSON line per scored record.

## Call it

    curl -H 'Content-Type: application/json' -H "Authorization: Bearer $(cat model.token)" \\
        -d '{shown}' http://127.0.0.1:8000/predict

- `POST /predict`: a JSON list of records as `application/json`, or CSV with a header row as
  `text/csv`. Any other Content-Type (also none, `text/plain`, or the form type `curl -d`
  sends by default) is 415. Invalid records are 422 naming the record and field; a body over
  1 MiB is 413.
- `GET /health`: `{{"status": "ok"}}`, or 503 `{{"status": "degraded", "reason": ...}}` while
  the prediction log cannot be written; predictions are then refused with 503, since a
  prediction without its record would be invisible to monitoring.
- `GET /metadata`: version, commit, metrics, features and live counters. `GET /docs`: the spec.

Requests from a web page of another site (an `Origin` header that is not this machine) are
refused with 403 unless the service was started with `--cors-origin https://your.page`. On a loopback bind a `Host` header that
is not this machine is refused with 421 (DNS rebinding).
"""


# --- writing ---------------------------------------------------------------------------------


def _is_bundle(path: Path) -> bool:
    try:
        meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("bundle_schema") == BUNDLE_SCHEMA


def _test_frame(project_path: Path, commit: str, text_at: Any) -> Any | None:
    """The version's test set (data/prepared/test.parquet by dvc.lock at ``commit``), or None."""
    import yaml

    from workbench.development.stages import TEST_FILE
    from workbench.versioning.registry import _cache_file, _file_md5

    try:
        lock = yaml.safe_load(text_at("dvc.lock") or "") or {}
    except yaml.YAMLError:
        return None
    md5 = None
    for stage in (lock.get("stages") or {}).values():
        for out in (stage or {}).get("outs") or []:
            if isinstance(out, dict) and out.get("path") == TEST_FILE:
                md5 = out.get("md5")
    if not md5:
        return None
    for candidate in (Path(project_path) / TEST_FILE, _cache_file(project_path, md5)):
        if _file_md5(candidate) == md5:
            import pandas as pd

            return pd.read_parquet(candidate)
    return None


def build_bundle(project_path: Path, version: str, output: Path | None = None, *,
                 onnx_tolerance: float | None = None) -> BundleResult:
    """Write the serving bundle of a registered ``version`` into ``output`` (see the module docstring).

    ``output`` defaults to the project's bundle cache. An existing folder is replaced only
    when it is a bundle; anything else there is refused, and nothing is written.
    """
    from workbench.development.model_file import TRUSTED_TYPES
    from workbench.versioning.evidence import evidence_at
    from workbench.versioning.outputs import refuse_versioned_output
    from workbench.versioning.registry import ARTIFACT, model_bytes_at, resolve_version, show_file

    project_path = Path(project_path).absolute()
    target, registry = resolve_version(project_path, version)
    out = Path(output).absolute() if output else project_path / CACHE_DIR / f"{ARTIFACT}-{target.version}"
    if output:
        refuse_versioned_output(out)  # a bundle replaces its folder: never one git or DVC keeps
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _is_bundle(out))):
        raise WorkbenchError(f"{out} exists and is not a serving bundle: choose another --output or empty it")
    commit = target.commit

    def text_at(rel: str) -> str | None:
        data = show_file(project_path, commit, rel)
        return None if data is None else data.decode("utf-8", errors="replace")

    params = _params_at(text_at, commit, target.version)
    schema = schema_from_params(params)
    evidence = evidence_at(project_path, commit)
    if evidence.model_digest is None:
        raise WorkbenchError(f"commit {commit[:7]} of {target.version} has no model in dvc.lock: "
                             "it cannot be bundled")
    model = model_bytes_at(project_path, evidence.model_digest, commit)

    def json_at(rel: str) -> dict[str, Any]:
        raw = text_at(rel)
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}

    env = json_at(paths.TRAINING_ENV_FILE)
    metadata = {
        "bundle_schema": BUNDLE_SCHEMA, "artifact": ARTIFACT, "version": target.version,
        "commit": commit, "registered_at": target.registered_at,
        "registered_by": {"name": target.registered_by, "email": target.registered_email},
        "stages_at_bundle_time": list(found.stages) if (found := registry.find(target.version)) else [],
        "model_digest": evidence.model_digest, "evidence_digest": evidence.evidence_digest,
        "approved_by": evidence.approver_line(), "validation": evidence.validation,
        "task": params.get("task"), "target": params.get("target"),
        "params": {"model": params.get("model"), "split": params.get("split"),
                   "preprocessing": params.get("preprocessing")},
        "metrics": json_at("metrics.json"), "training_env": env,
        "trusted_types": list(TRUSTED_TYPES),
        "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "workbench_version": __version__,
    }
    card = text_at(paths.MODEL_CARD)
    card_kind = "reviewed" if card is not None else "stub"
    files: dict[str, bytes] = {
        "model.skops": model,
        "schema.json": (json.dumps(schema, indent=2) + "\n").encode(),
        "metadata.json": (json.dumps(metadata, indent=2, default=str) + "\n").encode(),
        "model_card.md": (card if card is not None else _stub_card(target.version, commit, metadata)).encode(),
        "requirements.txt": _requirements(env).encode(),
        "Dockerfile": _dockerfile(target.version, str(env.get("python") or "")).encode(),
        "README.md": _readme(target.version, schema).encode(),
    }
    onnx_bytes, onnx_record = _publish(out, files, metadata, schema, lambda: _test_frame(project_path, commit, text_at),
                                       onnx_tolerance)
    return BundleResult(path=out, version=target.version, commit=commit, model_digest=evidence.model_digest,
                        files=FILES + (("model.onnx",) if onnx_bytes is not None else ()), card=card_kind,
                        onnx=onnx_record)


def _params_at(text_at: Callable[[str], str | None], commit: str, version: str) -> dict[str, Any]:
    """params.yaml at the version's commit, or the one-line refusal."""
    import yaml

    params_text = text_at("params.yaml")
    if params_text is None:
        raise WorkbenchError(f"commit {commit[:7]} of {version} has no params.yaml: "
                             "bundle a version trained by the workbench pipeline")
    try:
        params = yaml.safe_load(params_text) or {}
    except yaml.YAMLError:
        raise WorkbenchError(f"params.yaml at commit {commit[:7]} is not valid YAML: "
                             "bundle another version") from None
    return params


def _publish(out: Path, files: dict[str, bytes], metadata: dict[str, Any], schema: dict[str, Any],
             test_frame: Callable[[], Any], onnx_tolerance: float | None) -> tuple[bytes | None, dict[str, Any]]:
    """Write the bundle into a temporary folder beside ``out`` (the trusted-types check, the ONNX
    conversion checked on the test set), then swap it in with renames; nothing is left half-made."""
    from workbench.operations import onnx_export

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        _check_model(tmp)
        tolerance = onnx_export.TOLERANCE if onnx_tolerance is None else onnx_tolerance
        onnx_bytes, onnx_record = onnx_export.export(tmp / "model.skops", schema, test_frame(), tolerance)
        metadata["onnx"] = onnx_record
        (tmp / "metadata.json").write_bytes((json.dumps(metadata, indent=2, default=str) + "\n").encode())
        if onnx_bytes is not None:
            (tmp / "model.onnx").write_bytes(onnx_bytes)
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return onnx_bytes, onnx_record


def _check_model(folder: Path) -> None:
    """Refuse a model file holding a type the workbench does not trust (before it is published)."""
    from workbench.development.model_file import trusted_types

    trusted_types(folder / "model.skops",
                  unreadable=lambda exc: f"the model of this version is not a readable skops file ({exc})",
                  refused=lambda types: ("the model of this version contains type(s) the workbench does not "
                                         f"trust: {types}; refusing to bundle it"))


def ensure_bundle(project_path: Path, version: str) -> Path:
    """The cached bundle of ``version``, built when missing or stale (what serve and predict use)."""
    from workbench.versioning.registry import ARTIFACT, resolve_version

    project_path = Path(project_path).absolute()
    target, _ = resolve_version(project_path, version)
    folder = project_path / CACHE_DIR / f"{ARTIFACT}-{target.version}"
    try:
        meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
        digest = hashlib.md5((folder / "model.skops").read_bytes(), usedforsecurity=False).hexdigest()
        fresh = meta.get("commit") == target.commit and meta.get("model_digest") == f"md5:{digest}"
    except (OSError, ValueError, AttributeError):
        fresh = False
    if not fresh:
        build_bundle(project_path, target.version, folder)
    return folder
