"""The journal of a run (a killed ``retrain`` is finished by the next), putting the workspace back,
and the rejection commit."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.operations.retrain.results import NewDataVersion
from workbench.progress import Progress
from workbench.versioning.git import TRAILER_MONITORING_REPORT


def _journal_path(root: Path) -> Path:
    from workbench.versioning import git

    return git.git_dir(root) / "mlops-workbench" / "retrain.json"


def write_journal(root: Path, data: dict[str, Any]) -> None:
    import json

    from workbench.fsutil import atomic_write_text

    path = _journal_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1))


def drop_journal(root: Path) -> None:
    _journal_path(root).unlink(missing_ok=True)


def restore_workspace(root: Path, files: list[str], existed: dict[str, bool], pointer: str,
                       progress: Progress | None = None) -> list[str]:
    """The source's pointer and data, and the pipeline's files, back as HEAD has them."""
    from workbench.versioning.workspace import restore_to_head

    created = [f for f in files if not existed.get(f, True)]
    targets = [pointer] + (["dvc.yaml"] if (root / "dvc.yaml").is_file() else [])
    return restore_to_head(root, files, created, targets, progress=progress)


def reject(root: Path, experiment: str, base: str, failed: list[str], kept: list[str], *,
            role: str | None, report_id: str | None) -> str | None:
    """The ``monitoring`` step that puts back the validation report HEAD's model had at ``base``."""
    from workbench.versioning.evidence import VALIDATION_FILE, VALIDATION_REPORT, commit_reader
    from workbench.versioning.step import begin_step

    read = commit_reader(root, base)
    paths = [VALIDATION_FILE, VALIDATION_REPORT]
    summary = (f"retraining candidate {experiment} rejected ({', '.join(failed) or 'a gate fails'}); "
               "the current model's validation report put back")
    with begin_step(root, "monitoring", paths=paths, role=role, summary=summary) as step:
        for rel in paths:
            old = read(rel)
            if old is None:
                step.protect(rel)
                (root / rel).unlink(missing_ok=True)
                step.include(rel)
            else:
                step.write_bytes(rel, old)
        step.body = "\n".join(["Kept for inspection:", *(f"- {k}" for k in kept),
                               *([f"From monitoring report {report_id}."] if report_id else [])])
        if report_id:
            step.trailers[TRAILER_MONITORING_REPORT] = report_id
    return step.commit


def kept_for_inspection(root: Path, data: NewDataVersion, experiment: str, exp_commit: str | None,
          validation_commit: str | None) -> list[str]:
    from workbench.versioning.evidence import VALIDATION_REPORT

    where = "the DVC cache and the remote" if data.in_remote else "the local DVC cache"
    kept = [f"experiment {experiment}" + (f" (commit {exp_commit[:7]}, refs/exps)" if exp_commit else "")
            + f": its {data.pointer}, dvc.lock, metrics and model (mlops-workbench exp list; dvc exp show)",
            f"the data version {data.source} md5 {data.md5} ({data.rows_before + data.rows_added:,} rows) in {where}"]
    if validation_commit:
        kept.append(f"its failed validation report in commit {validation_commit[:7]} "
                    f"(git show {validation_commit[:7]}:{VALIDATION_REPORT})")
    kept.append(f"discard the candidate with: mlops-workbench retrain discard {shlex.quote(experiment)}")
    return kept


def recover_interrupted_retrain(project_path: str | Path, progress: Progress | None = None) -> list[str]:
    """Finish what a killed ``retrain`` left (see the module docstring); one message per repair."""
    import json

    from workbench.versioning.locks import _pid_alive

    root = Path(project_path).absolute()
    try:
        path = _journal_path(root)
        journal = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, WorkbenchError):
        return []
    if not isinstance(journal, dict):
        path.unlink(missing_ok=True)
        return []
    if _pid_alive(int(journal.get("pid", -1)), journal.get("started")):
        return []  # still running in another process
    from workbench.versioning import git
    from workbench.versioning.locks import recover_stale_locks
    from workbench.versioning.run_journal import recover_interrupted_run

    experiment = str(journal.get("experiment") or "")
    messages = [f"a retrain ({experiment}) was interrupted (its process was killed); finishing it"]
    messages += recover_interrupted_run(root)
    messages += recover_stale_locks(root, git.git_dir(root))
    files = [str(f) for f in journal.get("files") or []]
    existed = {str(k): bool(v) for k, v in (journal.get("existed") or {}).items()}
    pointer = str(journal.get("pointer") or "")
    if journal.get("phase") in ("data", "experiment") and pointer:
        changed = restore_workspace(root, files, existed, pointer, progress)
        messages.append("the data pointer, the data and the pipeline's files put back as they were before the "
                        "retrain (HEAD's)" + (f": {', '.join(changed)}" if changed else ""))
    elif journal.get("phase") == "validation":
        from workbench.versioning.evidence import VALIDATION_FILE, read_json

        base = str(journal.get("head") or "")
        report = read_json(root, VALIDATION_FILE) or {}
        ours = (report.get("model") or {}).get("experiment") == experiment
        if ours and report.get("passed") is False and base and git.head(root) != base:
            failed = [str(g.get("name")) for g in report.get("gates") or [] if g.get("passed") is False]
            commit = reject(root, experiment, base, failed,
                             [f"experiment {experiment} (refs/exps)",
                              f"discard the candidate with: mlops-workbench retrain discard {shlex.quote(experiment)}"],
                             role=journal.get("role"), report_id=journal.get("from_report"))
            messages.append(f"its failed validation got the rejection commit {(commit or '')[:7]}: HEAD's "
                            "validation report is the current model's again")
    path.unlink(missing_ok=True)
    return messages
