"""Requirements: edit the charter after creation, one commit per save.

The charter (problem, business owner, success metric, task, constraints, team) lives in
``workbench.yaml``. :func:`update_charter` merges what the caller gives into the stored
charter, validates the whole result (``validate_charter`` and ``parse_success_metric``)
before anything is written, and commits ``workbench.yaml`` alone as the ``requirements``
step. A save that changes nothing makes no commit, so repeated saves from a form leave
no empty history. The commit subject says what changed ("set success metric to
recall >= 0.80") because the timeline is read from git and must be readable there.

:func:`success_gate` turns the success metric into the default validation gate, so the
validation step checks exactly what the business agreed to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.project import (
    CONFIG_NAME,
    Charter,
    MetricClause,
    Project,
    TeamMember,
    charter_from_config,
    charter_to_dict,
    dump_config,
    parse_member,
    parse_success_metric,
    validate_charter,
)

#: Constraints the form and the CLI know by name; others in workbench.yaml are kept as they are.
KNOWN_CONSTRAINTS = ("latency_ms", "interpretability", "privacy")

#: ``changed_fields`` names, in form order.
FIELDS = ("problem", "business_owner", "success_metric", "task",
          *(f"constraints.{c}" for c in KNOWN_CONSTRAINTS), "team")


@dataclass(frozen=True)
class CharterSaved:
    """The result of a charter save: the commit (None when nothing changed) and the charter."""

    commit: str | None
    charter: Charter
    changed_fields: tuple[str, ...]
    summary: str
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class GateClause:
    """One condition of the success gate, e.g. ``recall >= 0.8``; the first clause is primary."""

    metric: str
    op: str
    target: float
    primary: bool

    def holds(self, value: float) -> bool:
        """Whether a measured ``value`` passes this clause."""
        return MetricClause(self.metric, self.op, self.target).holds(value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.target:g}"

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "op": self.op, "target": self.target,
                "primary": self.primary}


def success_gate(charter: Charter) -> list[GateClause]:
    """The charter's success metric as the default validation gate (empty if no metric is set).

    Raises a one-line :class:`WorkbenchError` when the stored metric does not parse.
    """
    if not charter.success_metric.strip():
        return []
    clauses = parse_success_metric(charter.success_metric, charter.task)
    return [GateClause(c.metric, c.op, c.target, primary=(i == 0)) for i, c in enumerate(clauses)]


def charter_json(charter: Charter) -> dict[str, Any]:
    """The ``charter`` object of ``charter show --json``: workbench.yaml's keys plus the name."""
    return {"name": charter.name, **charter_to_dict(charter)}


# --- validation helpers ----------------------------------------------------------------


def _text(label: str, value: str, hint: str) -> str:
    clean = str(value).strip()
    if not clean:
        raise WorkbenchError(f"the {label} is empty: {hint}")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in clean):
        raise WorkbenchError(f"the {label} contains control characters: use plain text")
    return clean


def parse_latency(value: Any) -> int | None:
    """A latency constraint in milliseconds: a positive whole number, or None/"" to clear it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        value = "x"
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not text.isdigit():
            raise WorkbenchError(
                f"latency {value!r} is not a whole number of milliseconds: "
                "give it like --latency-ms 50"
            )
        number = int(text)
    if number <= 0:
        raise WorkbenchError(f"latency {number} ms is not positive: give it like --latency-ms 50")
    return number


def _member(value: TeamMember | str) -> TeamMember:
    member = parse_member(value) if isinstance(value, str) else value
    return TeamMember(name=member.name.strip(), email=member.email.strip(),
                      role=member.role.strip())


def _same_name(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


# --- the save --------------------------------------------------------------------------


def _merge(
    charter: Charter,
    *,
    problem: str | None,
    business_owner: str | None,
    success_metric: str | None,
    task: str | None,
    constraints: Mapping[str, Any] | None,
    team: Sequence[TeamMember | str] | None,
    add_members: Iterable[TeamMember | str],
    remove_members: Iterable[str],
) -> tuple[Charter, list[str]]:
    """The edited charter and the summary phrases for the team changes."""
    team_notes: list[str] = []
    changes: dict[str, Any] = {}
    if problem is not None:
        changes["problem"] = _text("problem statement", problem,
                                   "say in a sentence or two what goes wrong today")
    if business_owner is not None:
        changes["business_owner"] = _text("business owner", business_owner,
                                          "name the person who owns the outcome")
    if success_metric is not None:
        changes["success_metric"] = " ".join(
            _text("success metric", success_metric,
                  "write it like 'recall >= 0.80 at precision >= 0.50'").split())
    if task is not None:
        changes["task"] = str(task).strip()
    if constraints is not None:
        merged = dict(charter.constraints)
        for key, value in constraints.items():
            if key == "latency_ms":
                merged[key] = parse_latency(value)
            elif value is None:
                merged[key] = "" if key in KNOWN_CONSTRAINTS else None
            else:
                merged[key] = str(value).strip()
        changes["constraints"] = merged
    members = list(charter.team)
    if team is not None:
        members = [_member(m) for m in team]
    for name in remove_members:
        keep = [m for m in members if not _same_name(m.name, name)]
        if len(keep) == len(members):
            known = ", ".join(m.name for m in members) or "nobody yet"
            raise WorkbenchError(f"{name!r} is not on the team: remove one of {known}")
        members = keep
        team_notes.append(f"remove team member {name.strip()}")
    for value in add_members:
        member = _member(value)
        if not member.name:
            raise WorkbenchError("a team member has no name: write it as 'Name,email,role'")
        existing = next((i for i, m in enumerate(members) if _same_name(m.name, member.name)), None)
        if existing is None:
            members.append(member)
            team_notes.append(f"add team member {member.name} ({member.role})")
        elif members[existing] != member:
            members[existing] = member
            team_notes.append(f"update team member {member.name} ({member.role})")
    names = [m.name.casefold() for m in members]
    duplicate = next((m.name for m in members if names.count(m.name.casefold()) > 1), None)
    if duplicate is not None:
        raise WorkbenchError(
            f"team member {duplicate!r} is listed twice: give each person one entry")
    changes["team"] = tuple(members)
    return replace(charter, **changes), team_notes


def _changed(old: Charter, new: Charter) -> list[str]:
    before, after = charter_to_dict(old), charter_to_dict(new)
    out = [key for key in ("problem", "business_owner", "success_metric", "task")
           if before[key] != after[key]]
    for key in KNOWN_CONSTRAINTS:
        if before["constraints"].get(key) != after["constraints"].get(key):
            out.append(f"constraints.{key}")
    others = {k for k in (*before["constraints"], *after["constraints"])
              if k not in KNOWN_CONSTRAINTS}
    if any(before["constraints"].get(k) != after["constraints"].get(k) for k in others):
        out.append("constraints")
    if before["team"] != after["team"]:
        out.append("team")
    return out


def _summary(old: Charter, new: Charter, changed: list[str], team_notes: list[str]) -> str:
    parts: list[str] = []
    for key in changed:
        if key == "problem":
            parts.append("update the problem statement")
        elif key == "business_owner":
            parts.append(f"set business owner to {new.business_owner}")
        elif key == "success_metric":
            parts.append(f"set success metric to {new.success_metric}")
        elif key == "task":
            parts.append(f"set task to {new.task}")
        elif key == "constraints.latency_ms":
            latency = new.constraints.get("latency_ms")
            parts.append(f"set latency limit to {latency} ms" if latency
                         else "clear the latency limit")
        elif key.startswith("constraints"):
            name = key.partition(".")[2] or "other"
            parts.append(f"update the {name} constraint" if new.constraints.get(name, "")
                         else f"clear the {name} constraint")
        elif key == "team":
            parts.extend(team_notes or ["update the team"])
    text = "; ".join(parts)
    if len(text) > 120:  # keep the commit subject readable in 'git log --oneline'
        labels = {"constraints.latency_ms": "latency limit", "constraints": "other constraints"}
        text = "update " + ", ".join(
            labels.get(k, k.replace("constraints.", "").replace("_", " ")) for k in changed)
    return text


def update_charter(
    project_path: str | Path,
    *,
    problem: str | None = None,
    business_owner: str | None = None,
    success_metric: str | None = None,
    task: str | None = None,
    constraints: Mapping[str, Any] | None = None,
    team: Sequence[TeamMember | str] | None = None,
    add_members: Iterable[TeamMember | str] = (),
    remove_members: Iterable[str] = (),
    role: str | None = None,
) -> CharterSaved:
    """Edit the charter and commit ``workbench.yaml`` as the ``requirements`` step.

    ``None`` leaves a field as it is. ``constraints`` is merged key by key (``None`` or
    ``""`` clears one); ``team`` replaces the whole team, then ``remove_members`` (names)
    and ``add_members`` (``TeamMember`` or ``"Name,email,role"``; an existing name is
    updated) apply on top. Everything is validated before anything is written; a save
    that changes nothing returns ``commit=None`` and makes no commit.
    """
    project = Project(project_path)
    project.read_config()  # a one-line error when this is not a project, before taking the lock
    from workbench.versioning.step import begin_step

    with begin_step(project.path, "requirements", paths=[CONFIG_NAME], role=role) as step:
        config = project.read_config()
        old = charter_from_config(config)
        new, team_notes = _merge(
            old, problem=problem, business_owner=business_owner, success_metric=success_metric,
            task=task, constraints=constraints, team=team, add_members=list(add_members),
            remove_members=list(remove_members),
        )
        validate_charter(new)
        changed = _changed(old, new)
        summary = _summary(old, new, changed, team_notes)
        if changed:
            config["charter"] = charter_to_dict(new)
            step.summary = summary
            step.write_text(CONFIG_NAME, dump_config(config))
    return CharterSaved(commit=step.commit, charter=new, changed_fields=tuple(changed),
                        summary=summary, messages=tuple(step.messages))


def add_member(project_path: str | Path, member: TeamMember | str, *,
               role: str | None = None) -> CharterSaved:
    """Add a team member (or update the one with the same name); one commit."""
    return update_charter(project_path, add_members=[member], role=role)


def remove_member(project_path: str | Path, name: str, *, role: str | None = None) -> CharterSaved:
    """Remove a team member by name; one commit. Unknown names are refused with the known ones."""
    return update_charter(project_path, remove_members=[name], role=role)
