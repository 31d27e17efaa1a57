"""What a ``sync`` found and did (:class:`SyncResult`), its races, and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.errors import WorkbenchError
from workbench.versioning.remote import s3_error_line

NS = "refs/workbench/origin"
NOTES_REF = "refs/notes/workbench"


class SyncError(WorkbenchError):
    """Something to resolve before the project is in sync (exit 1)."""

    exit_code = 1


@dataclass
class Race:
    """A registry tag made here that conflicts with one someone else pushed first."""

    tag: str
    kind: str  # "version" or "stage"
    theirs: str  # the remote tag that won
    by: str  # "Name <email>" of the remote tag's tagger
    when: str
    redo: str

    def line(self) -> str:
        what = "registered" if self.kind == "version" else "assigned"
        return (f"{self.tag} was not pushed: {self.by} {what} {self.theirs} first ({self.when}); "
                f"redo it: {self.redo}")

    def to_json(self) -> dict[str, Any]:
        return {"tag": self.tag, "kind": self.kind, "theirs": self.theirs, "by": self.by, "when": self.when,
                "redo": self.redo}


@dataclass
class SyncResult:
    branch: str
    remote: str
    dry_run: bool
    ahead: int = 0
    behind: int = 0
    exps_here: list[str] = field(default_factory=list)
    exps_there: list[str] = field(default_factory=list)
    tags_here: list[str] = field(default_factory=list)
    tags_there: list[str] = field(default_factory=list)
    notes: str = "in sync"  # in sync | only here | only there | ahead | behind | diverged
    dvc_missing_remote: list[str] = field(default_factory=list)
    dvc_missing_local: list[str] = field(default_factory=list)
    dvc_checked: bool = False
    pulled: str | None = None  # "fast-forward" | "rebase"
    pulled_files: list[str] = field(default_factory=list)
    pipeline: str | None = None  # after a pull that changed the pipeline: "up to date" or what to run
    pushed: list[str] = field(default_factory=list)
    races: list[Race] = field(default_factory=list)
    conflict_files: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not self.races and not self.conflict_files

    @property
    def exit_code(self) -> int:
        return 0 if self.in_sync else 1

    found: dict[str, Any] | None = None  # the three-way status as fetched, before any change

    def status_json(self) -> dict[str, Any]:
        return {
                "commits": {"ahead": self.ahead, "behind": self.behind},
                "experiments": {"only_here": self.exps_here, "only_there": self.exps_there},
                "registry_tags": {"only_here": self.tags_here, "only_there": self.tags_there},
                "notes": self.notes,
                "dvc": {"checked": self.dvc_checked, "missing_on_remote": self.dvc_missing_remote,
                        "missing_locally": self.dvc_missing_local},
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": 1, "branch": self.branch, "remote": self.remote, "dry_run": self.dry_run,
            "in_sync": self.in_sync, "status": self.found or self.status_json(),
            "pulled": self.pulled, "pulled_files": self.pulled_files, "pipeline": self.pipeline,
            "pushed": self.pushed, "races": [r.to_json() for r in self.races],
            "conflicts": self.conflict_files, "messages": self.messages,
        }


def _dvc_failure(what: str, output: str, remotes: Any) -> WorkbenchError:
    line = s3_error_line(output, remotes)
    if line and "refused the credentials" in line:
        return WorkbenchError(line)
    if line:
        return SyncError(line)
    last = next((ln.strip().removeprefix("ERROR:").strip() for ln in reversed(output.splitlines())
                 if ln.strip().startswith("ERROR")), output.strip().splitlines()[-1] if output.strip() else "")
    return SyncError(f"dvc {what} failed ({last}); nothing more was pushed: run sync again when the DVC remote "
                     "answers")
