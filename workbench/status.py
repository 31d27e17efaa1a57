"""Where a project stands: each lifecycle step's state, the current phase, the next step.

Every state is derived from what the repository holds (workbench.yaml, reports,
pipeline files, registry tags), never from a side database, so a fresh clone
reports the same status. Each step says its own state: :func:`project_status` walks the
lifecycle and calls the step's function in its phase's ``states`` module
(:data:`STEP_STATES`, see :mod:`workbench.step_state`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench import paths
from workbench.design.states import STATES as DESIGN_STATES
from workbench.development.states import STATES as DEVELOPMENT_STATES
from workbench.errors import WorkbenchError
from workbench.lifecycle import PHASES, STEPS
from workbench.operations.states import STATES as OPERATIONS_STATES
from workbench.project import Project, charter_from_config
from workbench.step_state import (
    ATTENTION,
    DONE,
    OTHER_MODEL,
    TODO,
    StateFunction,
    StepContext,
    StepState,
)
from workbench.step_state import read_json as _read_json

STATE_LABELS = {DONE: "done", ATTENTION: "needs attention", TODO: "to do"}
ALL_DONE_ACTION = "Every step is done: keep monitoring new data."
#: step id -> the function that says its state, registered phase by phase in the lifecycle's
#: order (workbench.lifecycle.STEPS).
STEP_STATES: dict[str, StateFunction] = {**DESIGN_STATES, **DEVELOPMENT_STATES, **OPERATIONS_STATES}


@dataclass(frozen=True)
class StepStatus:
    """One step's state and a one-line reason."""

    id: str
    title: str
    phase: str
    state: str
    detail: str
    command: str


@dataclass(frozen=True)
class Maturity:
    """The MLOps maturity level the repository shows, and what the next level still needs.

    0 manual; 1 pipeline automated (pipeline + experiments + registry); 2 CI/CD automated
    (CI workflow + gates + monitoring + retraining policy). Read from files and refs only.
    """

    level: int
    name: str
    have: tuple[str, ...]
    missing: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "name": self.name, "have": list(self.have),
                "missing_for_next": list(self.missing)}


MATURITY_NAMES = ("manual", "pipeline automated", "CI/CD automated")


@dataclass(frozen=True)
class ProjectStatus:
    """The whole project's position in the lifecycle."""

    name: str
    path: str
    task: str
    success_metric: str
    phase: str
    next_step: StepStatus | None
    next_action: str
    steps: tuple[StepStatus, ...]
    last_step: dict[str, str] | None
    maturity: Maturity | None = None
    blockers: tuple[str, ...] = ()
    #: the experiment the workspace holds, neither promoted nor discarded (HeldExperiment.to_json)
    workspace: dict[str, str] | None = None
    #: who did the last steps and ahead/behind origin from the last fetch (versioning.sync.team_status)
    team: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The documented ``status --json`` shape (schema 1)."""
        return {
            "schema": 1,
            "project": {"name": self.name, "path": self.path, "task": self.task,
                        "success_metric": self.success_metric},
            "phase": self.phase,
            "next_step": None if self.next_step is None else {
                "id": self.next_step.id, "title": self.next_step.title,
                "action": self.next_action, "command": self.next_step.command},
            "steps": [asdict(s) for s in self.steps],
            "last_step": self.last_step,
            "maturity": self.maturity.to_json() if self.maturity else None,
            "blockers": list(self.blockers),
            "workspace": self.workspace,
            "team": self.team,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProjectStatus:
        """The status back from its ``status --json`` shape: ``from_json(s.to_json()) == s``."""
        steps = tuple(StepStatus(**step) for step in data["steps"])
        nxt = data["next_step"]
        m = data["maturity"]
        return cls(
            name=data["project"]["name"], path=data["project"]["path"], task=data["project"]["task"],
            success_metric=data["project"]["success_metric"], phase=data["phase"],
            next_step=None if nxt is None else next(s for s in steps if s.id == nxt["id"]),
            next_action=ALL_DONE_ACTION if nxt is None else nxt["action"], steps=steps,
            last_step=data["last_step"],
            maturity=None if m is None else Maturity(m["level"], m["name"], tuple(m["have"]),
                                                     tuple(m["missing_for_next"])),
            blockers=tuple(data["blockers"]), workspace=data.get("workspace"), team=data.get("team"),
        )

    def counts(self) -> dict[str, int]:
        out = {DONE: 0, ATTENTION: 0, TODO: 0}
        for s in self.steps:
            out[s.state] += 1
        return out


def _tags(project: Project) -> list[str]:
    from workbench.versioning import git

    root = git.repo_root(project.path)
    if root is None:
        return []
    return git.tag_names(root)


def _has_experiments(root: Path) -> bool:
    from workbench.versioning.exp_refs import experiment_refs

    if (root / "dvc.lock").exists():
        return True

    return bool(experiment_refs(root))


def maturity(project: Project, config: dict[str, Any], tags: list[str]) -> Maturity:
    """Level 0/1/2 from what the repository holds (see :class:`Maturity`)."""
    root = project.path
    level1 = {
        "pipeline": (root / "dvc.yaml").exists() and (root / "params.yaml").exists(),
        "experiments": _has_experiments(root),
        "registry": any("@v" in t for t in tags),
    }
    monitoring: dict[str, Any] = config["monitoring"] if isinstance(config.get("monitoring"), dict) else {}
    retraining: dict[str, Any] = config["retraining"] if isinstance(config.get("retraining"), dict) else {}
    level2 = {
        "CI workflow": (root / ".github" / "workflows" / "mlops-workbench.yml").exists(),
        "validation gates": bool(config.get("gates")) or (root / paths.VALIDATION_REPORT).exists(),
        "monitoring": (root / "monitoring").is_dir() and any((root / "monitoring").glob("*.json")),
        "retraining policy": bool(retraining.get("policy") or monitoring.get("retrain_policy")),
    }
    have = tuple(k for k, v in {**level1, **level2}.items() if v)
    if not all(level1.values()):
        return Maturity(0, MATURITY_NAMES[0], have, tuple(k for k, v in level1.items() if not v))
    if not all(level2.values()):
        return Maturity(1, MATURITY_NAMES[1], have, tuple(k for k, v in level2.items() if not v))
    return Maturity(2, MATURITY_NAMES[2], have, ())


def blockers(project: Project, steps: list[StepStatus]) -> list[str]:
    """What stands between the project and a healthy model in production, one line each."""
    from workbench.versioning.dvc import pointer_md5

    root = project.path
    out: list[str] = []
    by_id = {s.id: s for s in steps}
    check = _read_json(root / paths.DATA_CHECK_REPORT)
    if check is not None:
        if str(check.get("verdict", "")).upper() != "GO":
            out.append("data check is NO-GO" + (f": {check['reasons'][0]}" if check.get("reasons") else ""))
        for src in check.get("sources") or []:
            path, md5 = src.get("path"), src.get("dvc_md5")
            now = pointer_md5(root / f"{path}.dvc") if path else None
            if md5 and now and now != md5:
                out.append(f"stale data check: {path} changed since it was checked "
                           "(run `mlops-workbench data check`)")
    if by_id["validation"].detail == OTHER_MODEL["validation"]:
        out.append("the validation report is for another model than the current one "
                   "(run `mlops-workbench validate`)")
    elif by_id["validation"].state == ATTENTION:
        report = _read_json(root / paths.VALIDATION_REPORT) or {}
        failed = [g.get("name", "?") for g in report.get("gates") or [] if g.get("passed") is False]
        out.append("validation fails" + (f": {', '.join(failed)}" if failed else ""))
    if by_id["review"].detail == OTHER_MODEL["review"]:
        out.append("the sign-off is for another model than the current one "
                   "(run `mlops-workbench review approve|reject`)")
    elif by_id["review"].state == ATTENTION:
        out.append("the model was rejected in review")
    if by_id["monitoring"].state == ATTENTION:
        out.append("monitoring recommends action: drift or lower performance on new data")
    return out


def project_status(path: str | Path) -> ProjectStatus:
    """Compute the status of the project at ``path``."""
    from workbench.development.workspace import workspace_experiment
    from workbench.versioning.evidence import model_digest
    from workbench.versioning.timeline import read_timeline

    project = Project(path)
    config = project.read_config()
    tags = _tags(project)
    model = functools.cache(lambda: model_digest(project.path))  # dvc.lock read once, when needed
    held = workspace_experiment(project.path)
    context = StepContext(project, config, tags, model, held)
    steps = []
    for step in STEPS:
        state_of = STEP_STATES.get(step.id)
        got = state_of(context) if state_of is not None else StepState(TODO, "")
        steps.append(StepStatus(step.id, step.title, step.phase, got.state, got.detail,
                                step.command if got.command is None else got.command))
    pending = [s for s in steps if s.state != DONE]
    nxt = pending[0] if pending else None
    if nxt is None:
        phase, action = PHASES[-1], ALL_DONE_ACTION
    else:
        # The phase the project has reached: a model in production with a stale data check is
        # in Operations (its next step is still the earliest one that is not done).
        reached = max((PHASES.index(s.phase) for s in steps if s.state == DONE), default=0)
        phase = PHASES[max(reached, PHASES.index(nxt.phase))]
        verb = "Fix" if nxt.state == ATTENTION else "Start"
        action = f"{verb} {nxt.title}: {nxt.detail}."
    charter = charter_from_config(config)
    try:
        last = read_timeline(project.path, limit=1, kinds=("step",))
    except WorkbenchError:
        last = []
    return ProjectStatus(
        name=charter.name, path=str(project.path), task=charter.task,
        success_metric=charter.success_metric, phase=phase, next_step=nxt, next_action=action,
        steps=tuple(steps), last_step=last[0].to_json() if last else None,
        maturity=maturity(project, config, tags),
        blockers=tuple(blockers(project, steps)) + ((
            f"the workspace holds experiment {held.name}, not committed: `{held.promote_command}` "
            f"commits it, `{held.discard_command}` puts HEAD's pipeline files back",) if held else ()),
        workspace=held.to_json() if held else None,
        team=_team(project.path),
    )


def _team(path: Path) -> dict[str, Any] | None:
    from workbench.versioning.sync import team_status

    try:
        return team_status(path) or None
    except WorkbenchError:
        return None


def project_status_in_child(path: str | Path) -> ProjectStatus:
    """:func:`project_status`, computed by ``mlops-workbench status --json`` in a child process.

    For the TUI's launch, which wants the status while it imports Textual: in a thread of
    the same process the status (PyYAML's import, reading git's output) competes with those
    imports for the interpreter, in a child it runs beside them on another core. If the
    child fails in any way the status is computed here, so an error reads exactly as it does
    from :func:`project_status`.
    """
    import os

    from workbench import jobs

    # The same code as this process (its package first on the path), never a module that
    # happens to sit in the current folder (-P).
    package_root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH"))
                                                       if p)}
    args = ["-P", "-m", "workbench", "status", "--json", "-C", str(Path(path).absolute())]
    try:
        done = jobs.run_python(args, env=env, timeout=60)
        if done.returncode == 0:
            return ProjectStatus.from_json(json.loads(done.stdout))
    except (OSError, jobs.SubprocessError, ValueError, KeyError, TypeError, StopIteration):
        pass
    return project_status(path)


def project_overview(path: str | Path) -> tuple[ProjectStatus, tuple[Any, ...]]:
    """The status and the whole timeline together.

    The TUI does not use this for its first paint: the dashboard needs only
    :func:`project_status`, and the timeline (one entry per experiment ref, thousands in a
    busy project) is read after the dashboard is on screen.
    """
    from workbench.versioning.timeline import read_timeline

    return project_status(path), tuple(read_timeline(Path(path)))
