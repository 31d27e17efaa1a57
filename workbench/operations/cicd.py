"""CI/CD: a generated CI workflow, and ``check``, the headless verdict it runs.

``init_ci`` writes ``.github/workflows/mlops-workbench.yml`` (GitHub Actions format) at the
root of the git repository and commits it as the ``ci_cd`` step. The workflow's steps are
:func:`workflow_steps`: install, pull the data and models, reproduce the pipeline,
validate, check. The same list is what a test runs, in order, on a sample project, so the
workflow cannot name a step that does not work.

``run_check`` is what the workflow's last step (and anyone) runs. Each check is one line
with a severity; the exit code is the worst one:

=========  =====  =====================================================================
severity   exit   meaning
=========  =====  =====================================================================
ok         0      nothing to do
skip       0      the step has not been reached yet (no model, no monitoring report)
action     3      monitoring recommends action (drift, lower performance): retrain
fail       1      a gate fails: the build must fail (stale pipeline, NO-GO or stale data
                  check, failing or missing validation of the current model)
=========  =====  =====================================================================

``check`` reads what the steps recorded and asks DVC whether the pipeline is up to date;
it never writes or commits anything.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench import __version__, paths
from workbench.errors import WorkbenchError
from workbench.progress import Progress
from workbench.project import CONFIG_NAME, Project

WORKFLOW_PATH = ".github/workflows/mlops-workbench.yml"
DEFAULT_INSTALL = f'pip install "mlops-workbench=={__version__}"'
OK, SKIP, ACTION, FAIL = "ok", "skip", "action", "fail"
EXIT_CODES = {OK: 0, SKIP: 0, ACTION: 3, FAIL: 1}
_RANK = {OK: 0, SKIP: 0, ACTION: 1, FAIL: 2}


# --- the workflow ---------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowStep:
    """One step of the generated workflow: ``id`` names it for tests and people."""

    id: str
    name: str
    run: str


def workflow_steps(install: str = DEFAULT_INSTALL) -> list[WorkflowStep]:
    """The steps after checkout and Python setup, in the order CI runs them."""
    return [
        WorkflowStep("install", "Install the workbench (and DVC, GTO)", install),
        WorkflowStep("pull", "Pull data and models from the DVC remote", "dvc pull"),
        WorkflowStep("repro", "Reproduce the pipeline", "dvc repro"),
        WorkflowStep("validate", "Validate the model against the gates", "mlops-workbench validate"),
        WorkflowStep("check", "Check pipeline, data, validation and monitoring",
                     "mlops-workbench check"),
    ]


#: The CI secrets DVC reads for a remote of each scheme (environment variables).
REMOTE_SECRETS = {
    "s3": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    "gs": ("GOOGLE_APPLICATION_CREDENTIALS",),
    "azure": ("AZURE_STORAGE_CONNECTION_STRING",),
    "oss": ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET"),
}
MONITOR_CRON = "0 6 * * 1"  # Mondays 06:00 UTC


def required_secrets(remote: str | None) -> tuple[str, ...]:
    """The secrets the workflow needs for the DVC remote ``remote`` (none for a folder)."""
    if not remote or "://" not in remote:
        return ()
    return REMOTE_SECRETS.get(remote.split("://", 1)[0].lower(), ())


def monitor_steps() -> list[dict[str, Any]]:
    """The scheduled job's steps after install and ``dvc pull``: monitor, and retrain when it says so."""
    return [
        {"id": "monitor", "name": "Monitor the newest production batch (exit 3: action recommended)",
         "run": 'code=0; mlops-workbench monitor || code=$?; '
                'echo "action=$([ "$code" = 3 ] && echo yes || echo no)" >> "$GITHUB_OUTPUT"; '
                '[ "$code" = 0 ] || [ "$code" = 3 ]'},
        {"id": "retrain", "if": "steps.monitor.outputs.action == 'yes'",
         "name": "Open the retrain path: new data, experiment, gates (promotion is proposed, never run)",
         "run": "mlops-workbench retrain && mlops-workbench sync"},
    ]


def render_workflow(install: str = DEFAULT_INSTALL, working_directory: str = ".",
                    secrets: tuple[str, ...] | None = None) -> str:
    """The workflow file's text (YAML), stable for the same inputs.

    ``secrets`` (from :func:`required_secrets`) names the DVC remote's credentials: they reach
    the jobs as ``${{ secrets.NAME }}``. ``None`` means the remote is a local folder.
    """
    import yaml

    steps: list[dict[str, Any]] = [
        {"uses": "actions/checkout@v4", "with": {"fetch-depth": 0}},
        {"uses": "actions/setup-python@v5", "with": {"python-version": "3.11"}},
        {"name": "Set a git identity (validate records its report as a commit)",
         "run": 'git config --global user.name "CI" && git config --global user.email "ci@localhost"'},
    ]
    import copy

    setup = copy.deepcopy(steps)
    # A pull request is checked out as a detached HEAD, where every step refuses to commit
    # (a commit there is on no branch); the check job works on a throwaway branch instead.
    steps.append({"name": "Work on a branch (a pull request's checkout is a detached HEAD)",
                  "run": "git symbolic-ref -q HEAD || git switch -c workbench-ci"})
    steps += [{"id": s.id, "name": s.name, "run": s.run} for s in workflow_steps(install)]
    monitor = setup + [{"id": s.id, "name": s.name, "run": s.run} for s in workflow_steps(install)[:2]] \
        + monitor_steps()
    workflow: dict[str, Any] = {
        "name": "mlops-workbench",
        "on": {"push": {"branches": ["main", "master"]}, "pull_request": {}, "workflow_dispatch": {},
               "schedule": [{"cron": MONITOR_CRON}]},
        "jobs": {"check": {"if": "github.event_name != 'schedule'", "runs-on": "ubuntu-latest", "steps": steps},
                 "monitor": {"if": "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'",
                             "runs-on": "ubuntu-latest", "permissions": {"contents": "write"},
                             "steps": monitor}},
    }
    for job in workflow["jobs"].values():
        if secrets:
            job["env"] = {name: "${{ secrets." + name + " }}" for name in secrets}
        if working_directory not in ("", "."):
            job["defaults"] = {"run": {"working-directory": working_directory}}
    header = (
        "# Generated by `mlops-workbench ci init`. It fails the build when a gate fails:\n"
        "# `mlops-workbench check` exits 1 on a failing gate and 3 when monitoring recommends action.\n"
        f"# The scheduled job ({MONITOR_CRON}, cron, UTC) runs `mlops-workbench monitor` and, when it\n"
        "# recommends action, `mlops-workbench retrain` (which proposes a promotion, never runs it).\n"
    )
    if secrets is None:
        header += ("# `dvc pull` needs a DVC remote CI can reach: the default remote is a folder on your\n"
                   "# machine, so set a shared one with `mlops-workbench remote set --dvc URL` for a real CI.\n")
    elif secrets:
        header += f"# Repository secrets it needs (for the DVC remote): {', '.join(secrets)}.\n"
    else:
        header += "# The DVC remote's credentials must be available to the runner (e.g. an SSH key).\n"
    return header + yaml.safe_dump(workflow, sort_keys=False, width=100)


@dataclass(frozen=True)
class CiInit:
    """What ``ci init`` wrote."""

    commit: str | None
    path: str
    steps: tuple[WorkflowStep, ...]
    messages: tuple[str, ...] = ()


def init_ci(project_path: str | Path, *, install: str | None = None, force: bool = False,
            role: str | None = None) -> CiInit:
    """Write the workflow and commit it (the ``ci_cd`` step). Refuses to overwrite unless ``force``."""
    from workbench.versioning import dvc, git
    from workbench.versioning.step import begin_step

    project = Project(project_path)
    config = project.read_config()
    root = git.repo_root(project.path)
    if root is None:
        raise WorkbenchError(f"{project.path} is not inside a git repository: create the project first")
    install = (install if install is not None else (config.get("ci") or {}).get("install")) or DEFAULT_INSTALL
    if not str(install).strip() or "\n" in str(install):
        raise WorkbenchError("--install must be one shell command on one line, e.g. "
                             "'pip install -r requirements.txt'")
    target = root / WORKFLOW_PATH
    if target.exists() and not force:
        raise WorkbenchError(f"{WORKFLOW_PATH} already exists: pass --force to write it again "
                             "(your edits to it would be replaced)")
    rel_project = project.path.resolve().relative_to(root.resolve()).as_posix()
    messages = []
    remote = dvc.default_remote(project.path)
    local = remote is None or "://" not in remote
    secrets = None if local else required_secrets(remote)
    text = render_workflow(str(install), rel_project, secrets)
    if local:
        messages.append("the DVC remote is a local folder, which CI cannot reach: "
                        "add a shared one with 'mlops-workbench remote set --dvc URL' before relying on the workflow")
    elif secrets:
        messages.append(f"the workflow reads the DVC remote {remote} with the repository secrets "
                        f"{', '.join(secrets)}: add them in the CI's settings (never in the repository)")
    else:
        messages.append(f"the workflow pulls from {remote}: give the runner its credentials (e.g. an SSH key)")
    rel_workflow = Path(WORKFLOW_PATH) if rel_project == "." else Path("../" * len(Path(rel_project).parts)) / WORKFLOW_PATH
    with begin_step(project.path, "ci_cd", paths=[rel_workflow.as_posix()], role=role,
                    summary="generate the CI workflow (install, pull, repro, validate, check)") as step:
        if not (target.exists() and target.read_text(encoding="utf-8") == text):
            step.write_text(rel_workflow.as_posix(), text)
        if install != DEFAULT_INSTALL and (config.get("ci") or {}).get("install") != install:
            from workbench.project import dump_config

            config.setdefault("ci", {})["install"] = str(install)
            step.write_text(CONFIG_NAME, dump_config(config))
    return CiInit(step.commit, str(target), tuple(workflow_steps(str(install))), tuple(messages + step.messages))


# --- check ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckItem:
    name: str
    severity: str
    detail: str


@dataclass(frozen=True)
class CheckReport:
    items: tuple[CheckItem, ...]
    messages: tuple[str, ...] = field(default_factory=tuple)

    @property
    def severity(self) -> str:
        worst = max((i.severity for i in self.items), key=lambda s: _RANK[s], default=OK)
        return OK if worst == SKIP else worst

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.severity]

    def to_json(self) -> dict[str, Any]:
        return {"schema": 1, "severity": self.severity, "exit_code": self.exit_code,
                "checks": [asdict(i) for i in self.items]}


def _check_pipeline(root: Path, progress: Progress | None, cancel: threading.Event | None) -> CheckItem:
    from workbench.development.training import stage_path_env
    from workbench.versioning.dvc_status import pipeline_status

    if not (root / "dvc.yaml").exists():
        return CheckItem("pipeline", SKIP, "no pipeline yet (mlops-workbench pipeline)")
    stage_path_env()
    changed, error = pipeline_status(root, cancel)  # DVC's answer, remembered while nothing changed
    if changed is None:
        return CheckItem("pipeline", FAIL, f"dvc status failed: {error}")
    if changed:
        stages = ", ".join(sorted(changed)[:6])
        return CheckItem("pipeline", FAIL, f"not up to date: {stages} changed (run `dvc repro` and commit dvc.lock)")
    return CheckItem("pipeline", OK, "dvc.lock matches the code, params and data")


def _check_data(root: Path) -> CheckItem:
    from workbench.versioning.dvc import pointer_md5
    from workbench.versioning.evidence import read_json

    report = read_json(root, paths.DATA_CHECK_REPORT)
    if report is None:
        return CheckItem("data", FAIL, "no data check on record (mlops-workbench data check)")
    for src in report.get("sources") or []:
        path, md5 = src.get("path"), src.get("dvc_md5")
        now = pointer_md5(root / f"{path}.dvc") if path else None
        if md5 and now and now != md5:
            return CheckItem("data", FAIL, f"{path} changed since the last data check (mlops-workbench data check)")
    if str(report.get("verdict", "")).upper() != "GO":
        reasons = report.get("reasons") or []
        return CheckItem("data", FAIL, "NO-GO" + (f": {reasons[0]}" if reasons else ""))
    return CheckItem("data", OK, f"GO ({report.get('rows', '?')} rows, checked {report.get('checked_at', '?')[:10]})")


def _check_validation(root: Path) -> CheckItem:
    """The validation of the model HEAD holds (its dvc.lock), not of a candidate validated since.

    ``validate EXPERIMENT`` (and ``retrain``) commit a report about an experiment that is not
    on the branch yet; the report that counts is then the newest committed one for HEAD's model.
    """
    from workbench.versioning.evidence import (
        VALIDATION_FILE,
        _json_of,
        commit_reader,
        model_digest,
        model_digest_at,
        read_json,
    )
    from workbench.versioning.git import has_head
    from workbench.versioning.workspace import file_history

    model = (model_digest_at(root, "HEAD") if has_head(root) else None) or model_digest(root)
    if model is None:
        return CheckItem("validation", SKIP, "no trained model yet")
    report = read_json(root, VALIDATION_FILE)
    if report is None:
        return CheckItem("validation", FAIL, "the current model has not been validated (mlops-workbench validate)")
    note = ""
    if (report.get("model") or {}).get("digest") != model:
        other = (report.get("model") or {}).get("experiment")
        for commit in file_history(root, VALIDATION_FILE):
            older = _json_of(commit_reader(root, commit)(VALIDATION_FILE))
            if older and (older.get("model") or {}).get("digest") == model:
                report = older
                note = (f" (report of commit {commit[:7]}; the newest report is for "
                        f"{'experiment ' + other if other else 'another model'}, not on the branch)")
                break
        else:
            return CheckItem("validation", FAIL, "the validation report is for another model (mlops-workbench validate)")
    if not report.get("passed"):
        failed = [g.get("name", "?") for g in report.get("gates") or [] if g.get("passed") is False]
        return CheckItem("validation", FAIL, "failing gates: " + (", ".join(failed) or "see reports/validation.md")
                         + note)
    gates = report.get("gates") or []
    return CheckItem("validation", OK, f"{sum(g.get('passed') is True for g in gates)} gate(s) pass{note}")


def _check_monitoring(root: Path) -> CheckItem:
    from workbench.operations.monitoring import latest_report
    from workbench.versioning.evidence import read_json

    newest = latest_report(root)
    if newest is None:
        return CheckItem("monitoring", SKIP, "no monitoring report yet (mlops-workbench monitor)")
    reports = [newest]
    latest = read_json(root, f"monitoring/{newest.name}") or {}
    if latest.get("action_recommended"):
        why = latest.get("reasons") or latest.get("summary") or "drift or lower performance"
        if isinstance(why, list):
            why = "; ".join(str(w) for w in why[:3])
        return CheckItem("monitoring", ACTION, f"{reports[-1].name}: action recommended: {why} "
                         "(mlops-workbench retrain)")
    return CheckItem("monitoring", OK, f"{reports[-1].name}: healthy")


def run_check(project_path: str | Path, *, progress: Progress | None = None,
              cancel: threading.Event | None = None) -> CheckReport:
    """Every check, in the order the lifecycle reaches them; writes nothing."""
    project = Project(project_path)
    project.read_config()
    root = project.path
    say = progress or (lambda _line: None)
    items = []
    for name, fn in (("pipeline", lambda: _check_pipeline(root, progress, cancel)),
                     ("data", lambda: _check_data(root)),
                     ("validation", lambda: _check_validation(root)),
                     ("monitoring", lambda: _check_monitoring(root))):
        say(f"checking {name}")
        items.append(fn())
    return CheckReport(tuple(items))
