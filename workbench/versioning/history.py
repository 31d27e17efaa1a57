"""Reading the project's git history as domain questions: who last committed a file, a file at a commit.

The screens and the step modules ask these instead of running ``git log`` / ``git show``
with their own arguments (issue 17: no raw git arguments above ``versioning``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.versioning import git


@dataclass(frozen=True)
class LastCommit:
    """The last commit that touched a path: short id, author date (ISO 8601) and author name."""

    short: str
    when: str
    author: str


def last_commit(project_path: Path, rel_path: str) -> LastCommit | None:
    """The last commit that changed ``rel_path`` (relative to ``project_path``); None outside a repo or if none."""
    if git.repo_root(project_path) is None:
        return None
    out = git.run_git(project_path, "log", "-1", "--format=%h%x1f%aI%x1f%an", "--",
                      rel_path, check=False).strip()
    parts = out.split("\x1f")
    if len(parts) != 3:
        return None
    return LastCommit(*parts)


def file_at(project_path: Path, rev: str, rel_path: str) -> str:
    """The text of ``rel_path`` (relative to ``project_path``) at commit ``rev``; "" when it is not there."""
    return git.run_git(project_path, "show", f"{rev}:./{rel_path}", check=False)


def repo_root_or_self(path: Path) -> Path:
    """The repository root of ``path``, or ``path`` itself when it is not in a repository."""
    return git.repo_root(path) or path


def commit_from_report(project_path: Path, report_id: str) -> str | None:
    """``"<short id> <subject>"`` of the last commit made from monitoring report ``report_id``.

    Read from the commit's ``Workbench-Monitoring-Report`` trailer (retraining writes it, and
    ``exp promote`` carries it over from the experiment's note), so a commit whose text merely
    mentions the report is not taken for it. Commits made before the trailer existed are found by
    the sentence retraining has always written into the body.
    """
    key = git.TRAILER_MONITORING_REPORT
    out = git.run_git(project_path, "log", "--format=%h %s%x1f%(trailers:key=" + key + ",valueonly,separator=%x1e)",
                      "--fixed-strings", f"--grep={key}: {report_id}", check=False)
    for line in out.splitlines():
        commit, _, values = line.partition("\x1f")
        if report_id in (v.strip() for v in values.split("\x1e")):
            return commit
    return _older_retrain_commit(project_path, f"From monitoring report {report_id}.")


def _older_retrain_commit(project_path: Path, sentence: str) -> str | None:
    """The last retraining commit (a monitoring or training step) written before the trailer
    existed whose body has ``sentence``; a commit of any other step that quotes it does not count."""
    key, step = git.TRAILER_MONITORING_REPORT, git.TRAILER_STEP
    fmt = (f"%h %s%x1f%(trailers:key={key},valueonly,separator=%x1e)"
           f"%x1f%(trailers:key={step},valueonly,separator=%x1e)")
    out = git.run_git(project_path, "log", f"--format={fmt}", "--fixed-strings", f"--grep={sentence}", check=False)
    for line in out.splitlines():
        commit, _, rest = line.partition("\x1f")
        has_report, _, steps = rest.partition("\x1f")
        if not has_report.strip() and steps.strip() in ("monitoring", "training"):
            return commit.strip() or None
    return None


def commit_mentioning(project_path: Path, text: str) -> str | None:
    """``"<short id> <subject>"`` of the last commit whose message holds ``text`` (a fixed string); None if none."""
    out = git.run_git(project_path, "log", "-1", "--format=%h %s", "--fixed-strings",
                      f"--grep={text}", check=False).strip()
    return out or None
