"""The project: a folder with ``workbench.yaml``, git and DVC.

``Project(path)`` only stores a path (cheap constructor); reading and writing happen
in methods that say so. ``workbench.yaml`` is plain YAML that people may edit by
hand, so loading validates it and reports the first problem as one line.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

CONFIG_NAME = "workbench.yaml"
SCHEMA_VERSION = 1

ROLES: dict[str, str] = {
    "business_owner": "Operationalist / business owner",
    "data_scientist": "Data scientist",
    "ml_engineer": "ML engineer",
    "researcher": "Researcher",
}
TASKS = ("classification", "regression")

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss",
                          # more than two classes: the averages the evaluate stage also writes
                          "precision_macro", "recall_macro", "f1_macro",
                          "precision_weighted", "recall_weighted", "f1_weighted")
REGRESSION_METRICS = ("rmse", "mae", "r2")
METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS
_OPS = (">=", "<=", ">", "<")

DEFAULT_WEIGHTS: dict[str, float] = {
    "business_value": 0.30,
    "feasibility": 0.20,
    "data_readiness": 0.20,
    "risk": 0.15,
    "time_to_value": 0.15,
}
DEFAULT_THRESHOLDS: dict[str, float] = {
    "min_rows": 1000,
    "max_target_missing_share": 0.0,
    "min_positives": 50,
    "max_missing_share": 0.5,
    "leakage_score": 0.98,
}


@dataclass(frozen=True)
class MetricClause:
    """One ``metric op target`` condition, e.g. ``recall >= 0.8``."""

    metric: str
    op: str
    target: float

    def holds(self, value: float) -> bool:
        """Whether ``value`` satisfies the clause."""
        return {
            ">=": value >= self.target,
            "<=": value <= self.target,
            ">": value > self.target,
            "<": value < self.target,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.target:g}"


_CLAUSE = re.compile(r"^\s*([a-z_0-9]+)\s*(>=|<=|>|<)\s*([-+]?\d*\.?\d+)\s*$")


def parse_success_metric(text: str, task: str = "classification") -> tuple[MetricClause, ...]:
    """Parse ``"recall >= 0.80 at precision >= 0.50"`` into clauses; the first is primary.

    Raises a one-line :class:`WorkbenchError` naming the grammar when it does not parse.
    """
    text = (text or "").strip()
    if not text:
        raise WorkbenchError(
            "the success metric is empty: write it like 'recall >= 0.80' "
            "(optionally 'at precision >= 0.50')"
        )
    allowed = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    clauses = []
    for part in re.split(r"\s+(?:at|and)\s+|\s*,\s*", text.lower()):
        match = _CLAUSE.match(part)
        if not match:
            raise WorkbenchError(
                f"success metric {text!r} does not parse at {part.strip()!r}: "
                "write it like 'recall >= 0.80 at precision >= 0.50'"
            )
        metric, op, target = match.group(1), match.group(2), float(match.group(3))
        if metric not in allowed:
            raise WorkbenchError(
                f"success metric uses {metric!r}, which is not a {task} metric: "
                f"use one of {', '.join(allowed)}"
            )
        clauses.append(MetricClause(metric, op, target))
    return tuple(clauses)


@dataclass(frozen=True)
class TeamMember:
    """A person on the project and the role they act in."""

    name: str
    email: str = ""
    role: str = "data_scientist"


@dataclass(frozen=True)
class Charter:
    """What the project is for: the requirements step's record."""

    name: str
    problem: str
    business_owner: str
    success_metric: str
    task: str = "classification"
    constraints: dict[str, Any] = field(default_factory=dict)
    team: tuple[TeamMember, ...] = ()

    def clauses(self) -> tuple[MetricClause, ...]:
        """The parsed success metric."""
        return parse_success_metric(self.success_metric, self.task)

    def missing(self) -> list[str]:
        """Names of the charter fields that are still empty, in form order."""
        out = []
        for key in ("problem", "business_owner", "success_metric"):
            if not str(getattr(self, key) or "").strip():
                out.append(key.replace("_", " "))
        if not self.team:
            out.append("team")
        return out


def validate_name(name: str) -> str:
    """Check a project name; it may become a folder name, so it must not escape one."""
    clean = (name or "").strip()
    if not clean:
        raise WorkbenchError("the project name is empty: give it a short name like 'fraud-detection'")
    if "/" in clean or "\\" in clean or clean in (".", "..") or clean.startswith(".."):
        raise WorkbenchError(
            f"project name {clean!r} would escape the project folder: "
            "use a plain name without '/', '\\' or '..', like 'fraud-detection'"
        )
    if any(ord(ch) < 32 for ch in clean):
        raise WorkbenchError("the project name contains control characters: use plain text")
    if len(clean) > 100:
        raise WorkbenchError("the project name is longer than 100 characters: shorten it")
    return clean


def validate_charter(charter: Charter) -> Charter:
    """Check a charter before anything is written; raise the first problem as one line."""
    validate_name(charter.name)
    if charter.task not in TASKS:
        raise WorkbenchError(
            f"task {charter.task!r} is not supported: use 'classification' or 'regression'"
        )
    if charter.success_metric.strip():
        parse_success_metric(charter.success_metric, charter.task)
    for member in charter.team:
        if not member.name.strip():
            raise WorkbenchError("a team member has no name: give every member a name")
        if member.role not in ROLES:
            raise WorkbenchError(
                f"team member {member.name!r} has role {member.role!r}: "
                f"use one of {', '.join(ROLES)}"
            )
        if member.email and "@" not in member.email:
            raise WorkbenchError(
                f"team member {member.name!r} has email {member.email!r}, which has no '@'"
            )
    latency = charter.constraints.get("latency_ms")
    if latency is not None and (not isinstance(latency, int) or latency <= 0):
        raise WorkbenchError("constraint latency_ms must be a positive whole number of milliseconds")
    return charter


def parse_member(text: str) -> TeamMember:
    """Parse the CLI form ``"Name,email,role"`` (email may be left out: ``"Name,role"``)."""
    parts = [p.strip() for p in text.split(",")]
    if not parts[0] or len(parts) > 3:
        raise WorkbenchError(
            f"team member {text!r} does not parse: write it as 'Name,email,role' "
            f"with role one of {', '.join(ROLES)}"
        )
    email = next((p for p in parts[1:] if "@" in p), "")
    role = next((p for p in parts[1:] if p and "@" not in p), "data_scientist")
    return TeamMember(name=parts[0], email=email, role=role)


def charter_to_dict(charter: Charter) -> dict[str, Any]:
    """The ``charter:`` section of workbench.yaml."""
    return {
        "problem": charter.problem,
        "business_owner": charter.business_owner,
        "success_metric": charter.success_metric,
        "task": charter.task,
        "constraints": {
            "latency_ms": charter.constraints.get("latency_ms"),
            "interpretability": charter.constraints.get("interpretability", ""),
            "privacy": charter.constraints.get("privacy", ""),
            **{
                k: v
                for k, v in charter.constraints.items()
                if k not in ("latency_ms", "interpretability", "privacy")
            },
        },
        "team": [asdict(m) for m in charter.team],
    }


def default_config(charter: Charter, description: str = "") -> dict[str, Any]:
    """A complete workbench.yaml for a new project."""
    return {
        "schema_version": SCHEMA_VERSION,
        "project": {"name": charter.name, "description": description},
        "charter": charter_to_dict(charter),
        "use_cases": {"weights": dict(DEFAULT_WEIGHTS), "candidates": [], "selected": None},
        "data": {
            "sources": [],
            "target": None,
            "time_column": None,
            "id_columns": [],
            "sensitive_columns": [],
            "thresholds": dict(DEFAULT_THRESHOLDS),
        },
    }


def dump_config(config: dict[str, Any]) -> str:
    """YAML text for workbench.yaml: keys in the order given, block style, UTF-8."""
    import yaml

    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=88)


_CONFLICT_MARKER = re.compile(r"^(<{7}|>{7})(?: |$)", re.MULTILINE)


def refuse_conflict_markers(name: str, text: str) -> None:
    """A file left with git's conflict markers by a merge, rebase or stash pop: say how to resolve it.

    ``git checkout -- FILE`` does not work on an unmerged file, so the hint is the one that does.
    """
    match = _CONFLICT_MARKER.search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        raise WorkbenchError(
            f"{name} has unresolved merge conflict markers (line {line}): resolve the conflict in "
            f"{name} (keep the lines you want, delete the <<<<<<< ======= >>>>>>> lines), then "
            f"git add {name}"
        )


class Project:
    """A workbench project rooted at ``path`` (nothing is read until a method asks)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().absolute()

    def __repr__(self) -> str:
        return f"Project({str(self.path)!r})"

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_NAME

    def is_project(self) -> bool:
        """Whether the folder holds a workbench.yaml."""
        return self.config_path.is_file()

    def read_config(self) -> dict[str, Any]:
        """Load and minimally validate workbench.yaml."""
        import yaml

        if not self.config_path.is_file():
            raise WorkbenchError(
                f"{self.path} is not a workbench project (no {CONFIG_NAME}): "
                "run 'mlops-workbench new PATH' or open the folder that has it"
            )
        try:
            text = self.config_path.read_text(encoding="utf-8")
            refuse_conflict_markers(CONFIG_NAME, text)
            # libyaml's loader when PyYAML has it: ten times faster, and this runs before the first paint
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            data = yaml.load(text, Loader=loader)  # noqa: S506 (safe)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" at line {where.line + 1}" if where is not None else ""
            raise WorkbenchError(
                f"{CONFIG_NAME} is not valid YAML{line}: fix it by hand or restore it with "
                f"'git checkout -- {CONFIG_NAME}'"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("charter"), dict):
            raise WorkbenchError(
                f"{CONFIG_NAME} has no 'charter' section: restore it with "
                f"'git checkout -- {CONFIG_NAME}'"
            )
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION and isinstance(version, int) and not isinstance(version, bool):
            raise WorkbenchError(
                f"{CONFIG_NAME} has schema_version {version}, this workbench reads "
                f"{SCHEMA_VERSION}: upgrade mlops-workbench"
            )
        from workbench.config_check import check_workbench_config

        check_workbench_config(data, CONFIG_NAME)  # every key the workbench reads, typed (one line)
        return data

    def read_charter(self) -> Charter:
        """The charter from workbench.yaml."""
        return charter_from_config(self.read_config())


def charter_from_config(config: dict[str, Any]) -> Charter:
    """Build a :class:`Charter` from a loaded workbench.yaml."""
    raw = config.get("charter") or {}
    team = tuple(
        TeamMember(
            name=str(m.get("name", "")),
            email=str(m.get("email", "") or ""),
            role=str(m.get("role", "data_scientist")),
        )
        for m in raw.get("team") or []
        if isinstance(m, dict)
    )
    return Charter(
        name=str((config.get("project") or {}).get("name", "")),
        problem=str(raw.get("problem", "") or ""),
        business_owner=str(raw.get("business_owner", "") or ""),
        success_metric=str(raw.get("success_metric", "") or ""),
        task=str(raw.get("task", "classification")),
        constraints=dict(raw.get("constraints") or {}),
        team=team,
    )
