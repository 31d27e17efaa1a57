"""The model card: ``reports/model_card.md``, generated from what the project knows, kept when edited.

:func:`write_card` generates ``reports/model_card.md`` (in ``skops.card.Card``'s layout) from what
the project already knows — the charter (intended use, constraints), ``params.yaml``
(model family, features, split), ``dvc.lock`` (the DVC md5 of the data the model was
trained on), ``reports/data_check.json``, ``metrics.json``, ``reports/training_env.json``
and ``reports/validation.json`` (slices, fairness, gates) — and commits it as the
``review`` step. The model is not loaded (its class is read from the skops file's
``schema.json``), so the card imports no model library.

The card is meant to be edited before sign-off. Its first line is an HTML comment with
the model and validation digests it was made for and a hash of every section as
generated; on a refresh, a ``Limitations`` or ``Ethical considerations`` section whose
text no longer matches its hash was edited by a person and is kept as it is, sections a
person added are kept at the end, and an edit to a generated section (metrics, data...)
is refused rather than silently overwritten. Refreshing may commit those edits even when
they are not committed yet: merging them is what the step is for.

The sign-off recorded on a card is :mod:`workbench.development.review`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.errors import WorkbenchError
from workbench.textfmt import fmt, md_table
from workbench.versioning.evidence import (
    CARD_FILE,
    VALIDATION_FILE,
    file_digest,
    model_digest,
    read_json,
)

SECTIONS = ("Model details", "Intended use", "Data", "Metrics", "Slices", "Fairness", "Validation",
            "Limitations", "Ethical considerations")
#: Sections whose edits survive a refresh.
EDITABLE = ("Limitations", "Ethical considerations")
_MARKER = re.compile(r"^<!--\s*mlops-workbench-card\s+(\{.*\})\s*-->\s*$")
_EDIT_HINT = ("_Edit this section before sign-off (reports/model_card.md); your text is kept when "
              "the card is refreshed._")


@dataclass(frozen=True)
class CardResult:
    """The card written by :func:`write_card`."""

    commit: str | None
    path: str
    text: str
    kept: tuple[str, ...]
    model_digest: str
    messages: tuple[str, ...] = field(default_factory=tuple)


# --- parsing a card --------------------------------------------------------------------


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().splitlines())


def _hash(text: str) -> str:
    return hashlib.sha256(_norm(text).encode("utf-8")).hexdigest()[:16]


def parse_card(text: str) -> tuple[dict[str, Any], str, list[tuple[str, str]]]:
    """(marker data, title line, [(section title, body)]) of a card; sections are ``## `` headings."""
    lines = text.replace("\r\n", "\n").split("\n")
    meta: dict[str, Any] = {}
    title = ""
    sections: list[tuple[str, list[str]]] = []
    preamble: list[str] = []
    fence = False
    for line in lines:
        if not meta and not title and not sections:
            match = _MARKER.match(line.strip())
            if match:
                try:
                    meta = json.loads(match.group(1))
                except ValueError:
                    meta = {}
                continue
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        if not fence and line.startswith("# ") and not title and not sections:
            title = line[2:].strip()
            continue
        if not fence and line.startswith("## "):
            sections.append((line[3:].strip(), []))
            continue
        (sections[-1][1] if sections else preamble).append(line)
    parsed = [(name, "\n".join(body).strip()) for name, body in sections]
    if preamble and "\n".join(preamble).strip():
        parsed.insert(0, ("", "\n".join(preamble).strip()))
    return meta if isinstance(meta, dict) else {}, title, parsed


# --- what the card says ----------------------------------------------------------------


def _fmt(value: Any) -> str:
    return fmt(value, ints=True)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    return "\n".join(md_table(header, rows, cell=lambda c: _fmt(c).replace("|", "\\|").replace("\n", " ")))


@functools.cache
def _template() -> Any:
    """The model card's template module (its macros, one a section), loaded once.

    ``workbench/templates/model_card.md.j2`` holds every sentence of the card; this module
    decides what goes in. Jinja2 is imported here, not at module import (``review show``
    stays light).
    """
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("workbench", "templates"), autoescape=False,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined,
                             bytecode_cache=jinja2.FileSystemBytecodeCache())  # compiled once per source (per user, tmp)
    return env.get_template("model_card.md.j2").module


def _body(rendered: Any) -> str:
    """A macro's output as the section's text: each template line is a line, the last newline dropped."""
    text = str(rendered)
    return text[:-1] if text.endswith("\n") else text


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.load(path.read_text(encoding="utf-8"),  # noqa: S506 (safe; libyaml's when there)
                         Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _data_versions(root: Path, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Each source with the md5 the model was trained on (dvc.lock), else its .dvc pointer's."""
    lock = _read_yaml(root / "dvc.lock")
    trained: dict[str, str] = {}
    for stage in (lock.get("stages") or {}).values():
        for dep in (stage or {}).get("deps") or []:
            if isinstance(dep, dict) and dep.get("md5"):
                trained[str(dep.get("path"))] = str(dep["md5"])
    out = []
    for source in params.get("sources") or []:
        path = str(source.get("path") if isinstance(source, dict) else source)
        md5 = trained.get(path)
        pointer = None
        probe = Path(path)
        while str(probe) not in (".", ""):
            candidate = root / f"{probe.as_posix()}.dvc"
            if candidate.is_file():
                outs = _read_yaml(candidate).get("outs") or [{}]
                pointer = str((outs[0] or {}).get("md5") or "") or None if probe == Path(path) else None
                break
            probe = probe.parent
        out.append({"path": path, "md5": md5 or pointer, "pointer_md5": pointer,
                    "changed_since_training": bool(md5 and pointer and md5 != pointer)})
    return out


def _gate(validation: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    for gate in (validation or {}).get("gates") or []:
        if gate.get("name") == name:
            return gate
    return None


def _data_check_overrides(root: Path, digest: str) -> list[str]:
    """Lines for every production promotion of this model that overrode its data check (registry tags)."""
    from workbench.versioning.registry import read_registry

    try:
        events = read_registry(root).events
    except WorkbenchError:
        return []
    return [f"- Data check overridden to promote {e.version} to {e.stage} by {e.by} on {e.at[:10]} "
            f"(tag `{e.tag}`): {e.data_check_override}"
            for e in events if e.model_digest == digest and e.data_check_override]


def _model_details(card: Any, digest: str, params: dict[str, Any], estimator_name: str, env: dict[str, Any],
                   task: Any) -> str:
    hyper = (params.get("model") or {}).get("params") or {}
    family = (params.get("model") or {}).get("name") or estimator_name
    features = dict(params.get("features") or {})
    kinds: dict[str, int] = {}
    for kind in features.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    return _body(card.model_details(
        digest, family, estimator_name, list(hyper.items()), task, params.get("target"),
        params.get("positive_class"), len(features), sorted(kinds.items()),
        list((params.get("flagged_features") or {}).items()),
        [(k, v) for k, v in env.items() if v != "not installed"], (params.get("split") or {}).get("seed")))


def _intended_use(card: Any, config: dict[str, Any], charter: Any) -> str:
    selected = (config.get("use_cases") or {}).get("selected") or {}
    candidates = (config.get("use_cases") or {}).get("candidates") or []
    chosen = next((c for c in candidates if c.get("id") == selected.get("id")), None)
    others = [c.get("name") or c.get("id") for c in candidates if chosen and c is not chosen]
    return _body(card.intended_use(
        charter.problem.strip(), chosen, charter.business_owner, charter.success_metric, charter.constraints or {},
        others))


def _data(card: Any, root: Path, digest: str, params: dict[str, Any], config: dict[str, Any],
          check: dict[str, Any] | None) -> str:
    split = params.get("split") or {}
    versions = _data_versions(root, params)
    rows_by_source = {str(s.get("name")): s.get("rows") for s in (check or {}).get("sources") or []}
    table = _table(["source", "DVC md5 (trained on)", "rows"],
                   [[f"`{v['path']}`", f"`{v['md5']}`" if v["md5"] else "not tracked",
                     rows_by_source.get(Path(v["path"]).name, rows_by_source.get(v["path"]))]
                    for v in versions])
    return _body(card.data(
        table, [(v["path"], v["pointer_md5"]) for v in versions if v["changed_since_training"]], split,
        _fmt(split.get("test_size")), config.get("data") or {}, check, str((check or {}).get("checked_at", ""))[:10],
        len((check or {}).get("warnings") or []), _data_check_overrides(root, digest)))


def _metrics(card: Any, metrics: dict[str, Any], validation: dict[str, Any] | None) -> str:
    test_rows = ((validation or {}).get("data") or {}).get("test_rows")
    baseline = {d.get("metric"): d.get("baseline") for d in (_gate(validation, "baseline") or {}).get("details")
                or []}
    header = ["metric", "model"] + (["dummy baseline"] if baseline else [])
    rows = [[k, v] + ([baseline.get(k)] if baseline else []) for k, v in metrics.items()]
    return _body(card.metrics(test_rows, _table(header, rows)))


def _slices(card: Any, validation: dict[str, Any] | None, slices: dict[str, Any] | None) -> str:
    if validation is None or slices is None:
        return _body(card.not_validated())
    if slices.get("passed") is None and not slices.get("details"):
        return _body(card.not_checked(slices.get("why")))
    thr = slices.get("threshold") or {}
    return _body(card.slices(
        thr.get("metric"), thr.get("column"), _fmt(thr.get("floor")), slices.get("why"), _table(
            ["group", "rows", str(thr.get("metric")), "result"],
            [[d.get("group"), d.get("rows"), d.get("value"),
              {True: "pass", False: "fail", None: d.get("note") or "-"}[d.get("passed")]]
             for d in slices.get("details") or []])))


def _fairness(card: Any, validation: dict[str, Any] | None, fairness: dict[str, Any] | None) -> str:
    if validation is None or fairness is None:
        return _body(card.not_validated())
    if fairness.get("passed") is None and not fairness.get("details"):
        return _body(card.not_checked(fairness.get("why")))
    thr = fairness.get("threshold") or {}
    return _body(card.fairness(
        thr.get("metric"), thr.get("column"), _fmt(thr.get("max_difference")), fairness.get("why"),
        _table(["group", "rows", str(thr.get("metric")), "note"],
               [[d.get("group"), d.get("rows"), d.get("value"), d.get("note") or ""]
                for d in fairness.get("details") or []])))


def _validation(card: Any, validation: dict[str, Any] | None) -> str:
    if validation is None:
        return _body(card.not_validated())
    words = {True: "pass", False: "FAIL", None: "skipped"}
    return _body(card.validation(
        validation.get("passed"), str(validation.get("validated_at", ""))[:19],
        [(g.get("title", g.get("name")), words[g.get("passed")], g.get("why"))
         for g in validation.get("gates") or []]))


def _limitations(card: Any, params: dict[str, Any], validation: dict[str, Any] | None,
                 slices: dict[str, Any] | None, check: dict[str, Any] | None) -> str:
    return _body(card.limitations(
        (params.get("split") or {}).get("method"), ((validation or {}).get("data") or {}).get("test_rows"),
        [(g.get("title", g.get("name")), g.get("why")) for g in (validation or {}).get("gates") or []
         if g.get("passed") is False],
        [f"{d.get('group')} ({d.get('rows')} rows)" for d in (slices or {}).get("details") or []
         if d.get("passed") is None],
        ((check or {}).get("warnings") or [])[:5], _EDIT_HINT))


def _ethics(card: Any, config: dict[str, Any], charter: Any, fairness: dict[str, Any] | None,
            check: dict[str, Any] | None) -> str:
    constraints = charter.constraints or {}
    return _body(card.ethics(
        constraints.get("privacy"), [str(c) for c in (config.get("data") or {}).get("sensitive_columns") or []],
        bool(fairness and fairness.get("passed") is not None),
        sorted({str(f.get("column")) for f in (check or {}).get("personal_data") or []}),
        bool(fairness and fairness.get("passed") is False), (fairness or {}).get("why"),
        constraints.get("interpretability"), _EDIT_HINT))


def _sections(root: Path, digest: str, validation: dict[str, Any] | None) -> tuple[str, str, dict[str, str]]:
    """(card title, intro, section bodies as generated)."""
    from workbench.development.stages import ENV_FILE, MODEL_FILE, read_params
    from workbench.project import Project, charter_from_config

    config = Project(root).read_config()
    charter = charter_from_config(config)
    params = read_params(root)
    estimator_name = _estimator_name(root / MODEL_FILE)  # read from the file, not loaded: no scikit-learn
    metrics = read_json(root, "metrics.json") or {}
    env = read_json(root, ENV_FILE) or {}
    check = read_json(root, paths.DATA_CHECK_REPORT)
    task = params.get("task") or charter.task
    card = _template()
    slices, fairness = _gate(validation, "slices"), _gate(validation, "fairness")
    bodies = {
        "Model details": _model_details(card, digest, params, estimator_name, env, task),
        "Intended use": _intended_use(card, config, charter),
        "Data": _data(card, root, digest, params, config, check),
        "Metrics": _metrics(card, metrics, validation),
        "Slices": _slices(card, validation, slices),
        "Fairness": _fairness(card, validation, fairness),
        "Validation": _validation(card, validation),
        "Limitations": _limitations(card, params, validation, slices, check),
        "Ethical considerations": _ethics(card, config, charter, fairness, check),
    }
    title = _body(card.title(charter.name or root.name))
    intro = _body(card.intro(digest))
    return title, intro, bodies


def _estimator_name(path: Path) -> str:
    """The class of the model's final estimator, read from the skops file's ``schema.json``.

    Nothing is loaded (no scikit-learn import): the card only names the class. Loading, and
    refusing untrusted types, is for the commands that use the model (validate, predict, serve).
    """
    import zipfile

    if not path.is_file():
        raise WorkbenchError(f"{path} is missing: run 'dvc repro' or 'mlops-workbench train' first")
    try:
        with zipfile.ZipFile(path) as archive:
            node = json.loads(archive.read("schema.json"))
        if node.get("__class__") == "Pipeline" and str(node.get("__module__", "")).startswith("sklearn."):
            node = node["content"]["content"]["steps"]["content"][-1]["content"][1]
        return str(node["__class__"])
    except (OSError, KeyError, IndexError, TypeError, ValueError, zipfile.BadZipFile) as exc:
        raise WorkbenchError(f"{path} is not a readable skops model ({exc}): retrain with 'dvc repro'") from None


def _render(title: str, intro: str, bodies: list[tuple[str, str]]) -> str:
    """The card's markdown, as skops' ``Card(template=None).render()`` writes it: our sections, in order.

    ``# title``, the intro, then ``## name`` and its body per section, a blank line between
    each, an empty body leaving only its heading (written here so the card needs no skops).
    """
    lines = [f"# {title}", intro]
    for name, body in bodies:
        lines += [f"## {name.replace('/', '∕')}", body]
    return "\n".join("\n" + line for line in lines if line).strip() + "\n"


def build_card(project_path: str | Path) -> tuple[str, tuple[str, ...]]:
    """The refreshed card text and the sections kept from a person's edits (nothing is written)."""
    root = Path(project_path).absolute()
    digest = model_digest(root)
    if digest is None:
        raise WorkbenchError("there is no trained model yet: run 'mlops-workbench train' first, "
                             "then write its card")
    validation = read_json(root, VALIDATION_FILE)
    if validation is not None and (validation.get("model") or {}).get("digest") != digest:
        validation = None  # a report about another model says nothing about this one
    title, intro, generated = _sections(root, digest, validation)
    existing = root / CARD_FILE
    kept: list[str] = []
    final = dict(generated)
    extra: list[tuple[str, str]] = []
    if existing.is_file():
        meta, _old_title, old_sections = parse_card(existing.read_text(encoding="utf-8"))
        hashes: dict[str, Any] = meta["sections"] if isinstance(meta.get("sections"), dict) else {}
        for name, body in old_sections:
            recorded = hashes.get(name)
            edited = recorded is None or _hash(body) != recorded
            if name in EDITABLE:
                if edited and _norm(body) != _norm(generated[name]):
                    final[name] = body
                    kept.append(name)
            elif name in generated:
                if recorded is not None and edited and _norm(body) != _norm(generated[name]):
                    raise WorkbenchError(
                        f"the '{name}' section of {CARD_FILE} was edited, but the workbench writes it: "
                        "move your text to 'Limitations' or 'Ethical considerations' (or undo it with "
                        f"'git checkout -- {CARD_FILE}') and refresh again")
            elif name and name != "":
                extra.append((name, body))
    meta_out = {"model": digest, "validation": file_digest(root / VALIDATION_FILE) if validation else None,
                "sections": {name: _hash(body) for name, body in generated.items()}}
    ordered = [(name, final[name]) for name in SECTIONS] + extra
    text = _render(title, intro, ordered)
    marker = f"<!-- mlops-workbench-card {json.dumps(meta_out, sort_keys=True)} -->"
    return marker + "\n" + text, tuple(kept)


def card_is_current(root: Path) -> bool:
    """Whether the card was made for the current model and the current validation report."""
    path = root / CARD_FILE
    if not path.is_file():
        return False
    meta, _title, _sections = parse_card(path.read_text(encoding="utf-8"))
    validation = read_json(root, VALIDATION_FILE)
    current_validation = (file_digest(root / VALIDATION_FILE)
                          if validation and (validation.get("model") or {}).get("digest") == model_digest(root)
                          else None)
    return meta.get("model") == model_digest(root) and meta.get("validation") == current_validation


# --- writing ---------------------------------------------------------------------------


class CardWriter:
    """Writes the card inside a step, even over a person's uncommitted edits (which it merged).

    A clean card goes through ``step.write_text`` (the step's own backup and rollback); a card
    with uncommitted edits is written atomically and restored here if the step fails.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.original: bytes | None = None
        self.wrote_dirty = False

    def write(self, step: Any, text: str) -> None:
        from workbench.fsutil import atomic_write_text
        from workbench.versioning.git import changed_paths

        path = self.root / CARD_FILE
        if not changed_paths(step.root, [step.rel(CARD_FILE)]):
            step.write_text(CARD_FILE, text)
            return
        self.original = path.read_bytes() if path.exists() else None
        self.wrote_dirty = True
        atomic_write_text(path, text)
        step.include(CARD_FILE)

    def include_if_dirty(self, step: Any) -> None:
        from workbench.versioning.git import changed_paths

        if changed_paths(step.root, [step.rel(CARD_FILE)]):
            step.include(CARD_FILE)

    def restore(self) -> None:
        from workbench.fsutil import atomic_write_bytes

        if self.wrote_dirty:
            path = self.root / CARD_FILE
            if self.original is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write_bytes(path, self.original)


def write_card(project_path: str | Path, *, role: str | None = None) -> CardResult:
    """Write or refresh ``reports/model_card.md`` and commit it (none when nothing changed)."""
    from workbench.project import Project
    from workbench.versioning.step import begin_step

    project = Project(project_path)
    project.read_config()
    root = project.path
    text, kept = build_card(root)
    digest = model_digest(root) or ""
    writer = CardWriter(root)
    summary = f"model card for model {digest[4:12]}" + (f" (kept edits to {', '.join(kept)})" if kept else "")
    try:
        with begin_step(root, "review", role=role, summary=summary) as step:
            writer.write(step, text)
    except BaseException:
        writer.restore()
        raise
    messages = list(step.messages)
    if kept:
        messages.append(f"kept your edits to {', '.join(kept)}")
    return CardResult(commit=step.commit, path=CARD_FILE, text=text, kept=kept, model_digest=digest,
                      messages=tuple(messages))
