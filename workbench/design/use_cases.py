"""Use-case prioritization: score candidates on weighted criteria, rank them, select one.

Each candidate use case has an id (a slug), a name, a short description and a score
from 1 to 5 on five criteria. Four are "higher is better"; ``risk`` (risk / ethics) is
"lower is better", so it enters the weighted score as ``6 - risk``. The weighted score
is therefore on the same 1-5 scale as the inputs.

Weights are *relative*: any non-negative numbers, not all zero. They are stored as the
user typed them and divided by their sum when ranking, so ``business_value=3,
feasibility=1`` and ``0.75 / 0.25`` rank the same and nobody has to make them add up
to exactly 1 while typing. ``rank`` reports the normalised weights it used.

Data readiness reflects the data, not hope: when ``reports/data_check.json`` (written by
the data availability check) names a use case — or names none and the use case is the
selected one — its ``readiness_score`` replaces the manual data readiness, and the
ranked row says so (``data_readiness_source = "data check"``).

Every change (add, score, weights, select) is one commit of ``workbench.yaml`` as the
``use_cases`` step; a change that changes nothing makes no commit. :func:`rank` is pure
and cheap, so a screen can re-rank on every keystroke with edited weights.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.errors import WorkbenchError
from workbench.project import CONFIG_NAME, DEFAULT_WEIGHTS, Project, dump_config

CRITERIA: tuple[str, ...] = (
    "business_value", "feasibility", "data_readiness", "risk", "time_to_value")
CRITERION_LABELS: dict[str, str] = {
    "business_value": "Business value",
    "feasibility": "Feasibility",
    "data_readiness": "Data readiness",
    "risk": "Risk / ethics (lower is better)",
    "time_to_value": "Time to value",
}
#: Criteria where a lower score is better; they enter the weighted score as ``6 - score``.
INVERTED: frozenset[str] = frozenset({"risk"})
#: The score an unscored criterion starts at when a use case is added.
NEUTRAL_SCORE = 3
DATA_CHECK_REPORT = paths.DATA_CHECK_REPORT
MANUAL, DATA_CHECK = "manual", "data check"

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RankedUseCase:
    """One row of the ranking; ``scores`` are those used (data readiness maybe from the check)."""

    rank: int
    id: str
    name: str
    description: str
    weighted_score: float
    scores: dict[str, int]
    contributions: dict[str, float]
    data_readiness_source: str
    manual_data_readiness: int
    selected: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "id": self.id, "name": self.name, "description": self.description,
            "weighted_score": self.weighted_score, "scores": dict(self.scores),
            "contributions": dict(self.contributions),
            "data_readiness_source": self.data_readiness_source,
            "manual_data_readiness": self.manual_data_readiness, "selected": self.selected,
        }


@dataclass(frozen=True)
class DataCheckResult:
    """What the ranking needs from ``reports/data_check.json``."""

    verdict: str
    use_case: str | None
    readiness_score: int

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "use_case": self.use_case,
                "readiness_score": self.readiness_score}


@dataclass(frozen=True)
class Selection:
    """Who selected which use case, in which role, when and why."""

    id: str
    by: str
    email: str
    role: str
    reason: str
    at: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "by": self.by, "email": self.email, "role": self.role,
                "reason": self.reason, "at": self.at}


@dataclass(frozen=True)
class UseCasesSaved:
    """A use-case change's commit (None if nothing changed) and the ranking after it.

    ``weights`` are the normalised weights the ranking used; ``stored_weights`` are the
    relative weights as kept in workbench.yaml (with any override applied).
    """

    commit: str | None
    summary: str
    ranking: tuple[RankedUseCase, ...]
    weights: dict[str, float]
    stored_weights: dict[str, float]
    selection: Selection | None
    data_check: DataCheckResult | None
    messages: tuple[str, ...] = ()


# --- parsing and validation ------------------------------------------------------------


def _unknown_criterion(name: str) -> WorkbenchError:
    return WorkbenchError(f"unknown criterion {name!r}: use one of {', '.join(CRITERIA)}")


def parse_score(criterion: str, value: Any) -> int:
    """A score: a whole number 1-5 (an int or its text); anything else is a one-line error."""
    if criterion not in CRITERIA:
        raise _unknown_criterion(criterion)
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None:
        raise WorkbenchError(
            f"score {criterion}={value} is not a whole number: give 1, 2, 3, 4 or 5 "
            f"(like {criterion}=4)"
        )
    if not 1 <= number <= 5:
        raise WorkbenchError(f"score {criterion}={number} is out of range: scores run from 1 to 5")
    return number


def parse_weight(criterion: str, value: Any) -> float:
    """A weight: a finite number >= 0 (a number or its text)."""
    if criterion not in CRITERIA:
        raise _unknown_criterion(criterion)
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise WorkbenchError(
            f"weight {criterion}={value} is not a number: give a number like {criterion}=0.3"
        ) from None
    if not math.isfinite(number):
        raise WorkbenchError(
            f"weight {criterion}={value} is not a finite number: give one like 0.3")
    if number < 0:
        raise WorkbenchError(
            f"weight {criterion}={value} is negative: weights are relative importances, 0 or more"
        )
    return number


def parse_pairs(pairs: Sequence[str], what: str = "score") -> dict[str, str]:
    """``["business_value=4", "risk=2"]`` -> ``{"business_value": "4", "risk": "2"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise WorkbenchError(f"{what} {pair!r} does not parse: write it as criterion=value, "
                                 f"like business_value=4")
        if key in out:
            raise WorkbenchError(f"{what} {key!r} is given twice: give each criterion once")
        out[key] = value.strip()
    return out


def validate_slug(use_case_id: str) -> str:
    """A use-case id: lower-case letters, digits and single hyphens, like ``card-fraud-scoring``."""
    clean = str(use_case_id or "").strip()
    if not clean:
        raise WorkbenchError(
            "the use-case id is empty: give a short slug like 'card-fraud-scoring'")
    if len(clean) > 64 or not _SLUG.match(clean):
        raise WorkbenchError(
            f"use-case id {clean!r} is not a slug: use lower-case letters, digits and single "
            "hyphens, at most 64 characters, like 'card-fraud-scoring'"
        )
    return clean


def weights_from_config(config: Mapping[str, Any]) -> dict[str, float]:
    """The stored weights, with defaults for criteria the file leaves out; checked."""
    raw = (config.get("use_cases") or {}).get("weights") or {}
    if not isinstance(raw, Mapping):
        raise WorkbenchError(f"{CONFIG_NAME} use_cases.weights is not a mapping: "
                             "fix it or set weights with 'mlops-workbench usecase weights'")
    weights = dict(DEFAULT_WEIGHTS)
    for key, value in raw.items():
        try:
            weights[str(key)] = parse_weight(str(key), value)
        except WorkbenchError as exc:
            raise WorkbenchError(f"{CONFIG_NAME} use_cases.weights: {exc}") from None
    return weights


def normalise(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights divided by their sum (they then add up to 1); all-zero weights are refused."""
    total = sum(weights.get(c, 0.0) for c in CRITERIA)
    if total <= 0:
        raise WorkbenchError("all weights are zero: give at least one criterion a weight above 0")
    return {c: weights.get(c, 0.0) / total for c in CRITERIA}


def candidates_from_config(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The candidate list from workbench.yaml, checked (hand edits are reported as one line)."""
    raw = (config.get("use_cases") or {}).get("candidates") or []
    if not isinstance(raw, list):
        raise WorkbenchError(f"{CONFIG_NAME} use_cases.candidates is not a list: fix it by hand")
    out = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise WorkbenchError(
                f"{CONFIG_NAME} use_cases.candidates has an entry that is not a mapping")
        try:
            cid = validate_slug(str(item.get("id", "")))
            scores_raw = item.get("scores") or {}
            scores = {c: parse_score(c, scores_raw.get(c, NEUTRAL_SCORE)) for c in CRITERIA}
            for key in scores_raw:
                if key not in CRITERIA:
                    raise _unknown_criterion(str(key))
        except WorkbenchError as exc:
            where = item.get("id") or "an entry"
            raise WorkbenchError(f"{CONFIG_NAME} use case {where}: {exc}") from None
        out.append({"id": cid, "name": str(item.get("name") or cid),
                    "description": str(item.get("description") or ""), "scores": scores})
    return out


def selection_from_config(config: Mapping[str, Any]) -> Selection | None:
    """The recorded selection, if any (a bare id from a hand edit is accepted)."""
    raw = (config.get("use_cases") or {}).get("selected")
    if not raw:
        return None
    if isinstance(raw, str):
        return Selection(id=raw, by="", email="", role="", reason="", at="")
    if isinstance(raw, Mapping) and raw.get("id"):
        keys = ("id", "by", "email", "role", "reason", "at")
        return Selection(**{k: str(raw.get(k) or "") for k in keys})
    return None


def read_data_check(project_path: str | Path) -> DataCheckResult | None:
    """The last data availability check's verdict and readiness, or None if there is no usable one.

    A missing, unreadable or malformed report means "no check": the ranking then uses the
    manual data readiness, which is what it did before any check ran.
    """
    path = Path(project_path) / DATA_CHECK_REPORT
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    score = data.get("readiness_score")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        return None
    use_case = data.get("use_case")
    if use_case is not None and not isinstance(use_case, str):
        return None
    return DataCheckResult(verdict=str(data.get("verdict", "")).upper(), use_case=use_case or None,
                           readiness_score=score)


# --- ranking ---------------------------------------------------------------------------


def rank(
    config: Mapping[str, Any],
    data_check: DataCheckResult | None = None,
    *,
    weights: Mapping[str, Any] | None = None,
) -> list[RankedUseCase]:
    """Rank the candidates by weighted score, best first; ties go to the smaller id.

    ``weights`` overrides the stored ones (a screen re-ranks while the user types);
    ``data_check`` is :func:`read_data_check`'s result. Scores are rounded to 4 decimals
    before ordering, so float noise never decides a tie.
    """
    used = weights_from_config(config)
    for key, value in (weights or {}).items():
        used[key] = parse_weight(key, value)
    norm = normalise(used)
    selection = selection_from_config(config)
    selected_id = selection.id if selection else None
    rows = []
    for cand in candidates_from_config(config):
        scores = dict(cand["scores"])
        manual = scores["data_readiness"]
        source = MANUAL
        if data_check is not None and (
            data_check.use_case == cand["id"]
            or (data_check.use_case is None and selected_id == cand["id"])
        ):
            scores["data_readiness"] = data_check.readiness_score
            source = DATA_CHECK
        points = {c: norm[c] * ((6 - scores[c]) if c in INVERTED else scores[c]) for c in CRITERIA}
        contributions = {c: round(points[c], 4) for c in CRITERIA}
        total = round(sum(points.values()), 4)
        rows.append((cand, scores, contributions, total, source, manual))
    rows.sort(key=lambda r: (-r[3], r[0]["id"]))
    return [
        RankedUseCase(rank=i, id=cand["id"], name=cand["name"], description=cand["description"],
                      weighted_score=total, scores=scores, contributions=contributions,
                      data_readiness_source=source, manual_data_readiness=manual,
                      selected=cand["id"] == selected_id)
        for i, (cand, scores, contributions, total, source, manual) in enumerate(rows, start=1)
    ]


def rank_project(project_path: str | Path, *,
                 weights: Mapping[str, Any] | None = None) -> UseCasesSaved:
    """Read the project and rank its use cases (nothing is written; ``commit`` is None)."""
    project = Project(project_path)
    config = project.read_config()
    check = read_data_check(project.path)
    stored = weights_from_config(config)
    stored.update({k: parse_weight(k, v) for k, v in (weights or {}).items()})
    ranking = tuple(rank(config, check, weights=weights))
    return UseCasesSaved(commit=None, summary="", ranking=ranking,
                         weights=normalise(stored), stored_weights=stored,
                         selection=selection_from_config(config), data_check=check)


def ranking_json(result: UseCasesSaved) -> dict[str, Any]:
    """The ``usecase ... --json`` shape (see ``workbench.cli.design.usecase``)."""
    return {
        "schema": 1,
        "commit": result.commit,
        "summary": result.summary,
        "weights": {c: result.stored_weights[c] for c in CRITERIA},
        "normalised_weights": {c: round(result.weights[c], 6) for c in CRITERIA},
        "selected": result.selection.to_json() if result.selection else None,
        "data_check": result.data_check.to_json() if result.data_check else None,
        "ranking": [r.to_json() for r in result.ranking],
    }


# --- changes (one commit each) ---------------------------------------------------------


def _known(candidates: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(sorted(c["id"] for c in candidates)) or "none yet (add one with 'usecase add')"


def _find(candidates: Sequence[dict[str, Any]], use_case_id: str) -> dict[str, Any]:
    for cand in candidates:
        if cand.get("id") == use_case_id:
            return cand
    raise WorkbenchError(f"there is no use case {use_case_id!r}: use one of {_known(candidates)}")


def _raw_candidates(config: dict[str, Any]) -> list[dict[str, Any]]:
    candidates_from_config(config)  # validates hand edits first
    section = config.setdefault("use_cases", {})
    if not isinstance(section, dict):
        raise WorkbenchError(f"{CONFIG_NAME} use_cases is not a mapping: fix it by hand")
    section.setdefault("weights", dict(DEFAULT_WEIGHTS))
    section.setdefault("selected", None)
    if section.get("candidates") is None:
        section["candidates"] = []
    return section["candidates"]


def _change(project_path: str | Path, role: str | None, edit: Any) -> UseCasesSaved:
    """Run ``edit(config, step) -> summary`` in a ``use_cases`` step; write only if it changed."""
    import copy

    project = Project(project_path)
    project.read_config()
    from workbench.versioning.step import begin_step

    with begin_step(project.path, "use_cases", paths=[CONFIG_NAME], role=role) as step:
        config = project.read_config()
        before = copy.deepcopy(config)
        summary = edit(config, step)
        check = read_data_check(project.path)
        ranking = rank(config, check)  # validates the result before it is written
        if config != before:
            step.summary = summary
            step.write_text(CONFIG_NAME, dump_config(config))
    stored = weights_from_config(config)
    return UseCasesSaved(commit=step.commit, summary=summary, ranking=tuple(ranking),
                         weights=normalise(stored), stored_weights=stored,
                         selection=selection_from_config(config), data_check=check,
                         messages=tuple(step.messages))


def add_use_case(
    project_path: str | Path,
    use_case_id: str,
    name: str,
    *,
    description: str = "",
    scores: Mapping[str, Any] | None = None,
    role: str | None = None,
) -> UseCasesSaved:
    """Add a candidate use case; criteria left unscored start at 3 (neutral). One commit."""
    cid = validate_slug(use_case_id)
    clean_name = " ".join(str(name or "").split())
    if not clean_name:
        raise WorkbenchError(f"use case {cid!r} has no name: give one with --name 'Short name'")
    clean_desc = " ".join(str(description or "").split())
    given = {k: parse_score(k, v) for k, v in (scores or {}).items()}
    full = {c: given.get(c, NEUTRAL_SCORE) for c in CRITERIA}

    def edit(config: dict[str, Any], step: Any) -> str:
        candidates = _raw_candidates(config)
        if any(c.get("id") == cid for c in candidates):
            raise WorkbenchError(f"use case {cid!r} already exists: pick another id, or change its "
                                 f"scores with 'mlops-workbench usecase score {cid} ...'")
        candidates.append({"id": cid, "name": clean_name, "description": clean_desc,
                           "scores": full})
        return f"add use case {cid}"

    return _change(project_path, role, edit)


def score_use_case(project_path: str | Path, use_case_id: str, *, role: str | None = None,
                   **scores: Any) -> UseCasesSaved:
    """Change some of a use case's scores (1-5 each). One commit; none if nothing changed."""
    if not scores:
        raise WorkbenchError(f"no scores given: write them like 'usecase score {use_case_id} "
                             "business_value=4 risk=2'")
    parsed = {k: parse_score(k, v) for k, v in scores.items()}

    def edit(config: dict[str, Any], step: Any) -> str:
        cand = _find(_raw_candidates(config), use_case_id)
        current = cand.setdefault("scores", {})
        changes = []
        for c in CRITERIA:
            if c in parsed and current.get(c) != parsed[c]:
                changes.append(f"{c} {current.get(c, '-')}->{parsed[c]}")
                current[c] = parsed[c]
        cand["scores"] = {c: current.get(c, NEUTRAL_SCORE) for c in CRITERIA}
        return f"score {use_case_id}: " + ", ".join(changes)

    return _change(project_path, role, edit)


def set_weights(project_path: str | Path, *, role: str | None = None,
                **weights: Any) -> UseCasesSaved:
    """Change some weights (relative, >= 0, not all zero); one commit, none if unchanged."""
    if not weights:
        raise WorkbenchError(
            "no weights given: write them like 'usecase weights business_value=0.4 risk=0.2'")
    parsed = {k: parse_weight(k, v) for k, v in weights.items()}

    def edit(config: dict[str, Any], step: Any) -> str:
        _raw_candidates(config)
        current = weights_from_config(config)
        changes = [f"{c} {current[c]:g}->{parsed[c]:g}" for c in CRITERIA
                   if c in parsed and current[c] != parsed[c]]
        current.update(parsed)
        normalise(current)  # all-zero is refused before anything is written
        stored = config["use_cases"]["weights"] or {}
        if changes or any(stored.get(c) != current[c] for c in CRITERIA):
            config["use_cases"]["weights"] = {c: _tidy(current[c]) for c in CRITERIA}
        return "set weights: " + (", ".join(changes) or "fill in defaults")

    return _change(project_path, role, edit)


def _tidy(value: float) -> float | int:
    return int(value) if float(value).is_integer() and abs(value) >= 1 else value


def select_use_case(project_path: str | Path, use_case_id: str, reason: str, *,
                    role: str | None = None) -> UseCasesSaved:
    """Select the use case to pursue, recording who, in which role, when and why. One commit."""
    clean_reason = " ".join(str(reason or "").split())
    if not clean_reason:
        raise WorkbenchError(f"selecting {use_case_id!r} needs a reason: "
                             "add --reason 'why this one' so the decision is on record")
    from workbench.versioning import git

    who = git.identity(Path(project_path).expanduser().absolute())

    def edit(config: dict[str, Any], step: Any) -> str:
        _find(_raw_candidates(config), use_case_id)
        at = datetime.now().astimezone().isoformat(timespec="seconds")
        config["use_cases"]["selected"] = {"id": use_case_id, "by": who.name, "email": who.email,
                                           "role": step.role, "reason": clean_reason, "at": at}
        return f"select {use_case_id}"

    return _change(project_path, role, edit)


# --- chart -----------------------------------------------------------------------------

_PLOT_LOCK = threading.Lock()  # plotext keeps one global figure


def bar_chart(ranked: Sequence[RankedUseCase], width: int = 70, height: int | None = None, *,
              color: bool = False, title: str = "Weighted score (1-5)") -> str:
    """The weighted scores as a horizontal bar chart (text), best at the top.

    Built with ``plotext.build()``, which needs no terminal. ``color=False`` strips ANSI
    codes so the text prints cleanly into pipes and files.
    """
    if not ranked:
        return "No use cases to chart yet."
    import plotext as plt

    rows = list(ranked)[::-1]  # plotext draws the first bar at the bottom
    labels = [f"{r.rank}. {r.id}" for r in rows]
    values = [r.weighted_score for r in rows]
    if height is None:
        height = max(8, 2 * len(rows) + 5)
    with _PLOT_LOCK:
        plt.clear_figure()
        plt.plotsize(max(30, int(width)), max(6, int(height)))
        plt.theme("clear" if not color else "pro")
        plt.bar(labels, values, orientation="horizontal", width=0.6)
        plt.xlim(0, 5)
        plt.xticks([0, 1, 2, 3, 4, 5])
        if title:
            plt.title(title)
        text = plt.build()
        plt.clear_figure()
    if not color:
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return "\n".join(line.rstrip() for line in text.splitlines())
