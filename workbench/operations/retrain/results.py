"""What ``retrain`` returns: the new data version, the run's result, a discarded candidate (their JSON)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

SCHEMA = 1


@dataclass(frozen=True)
class NewDataVersion:
    """The new version of the training source that the appended rows made (in the experiment)."""

    source: str  # project-relative data file
    pointer: str  # its .dvc file
    version: int
    md5_before: str
    md5: str
    rows_before: int
    rows_added: int
    rows_unlabelled: int
    display: str  # the new data, as given
    from_report: str | None
    commit: str | None = None  # never on the branch: the data version lives in the experiment
    messages: tuple[str, ...] = ()
    rows_duplicate: int = 0  # incoming rows already in the source (left out unless --allow-duplicates)
    in_remote: bool = False  # the data object was pushed to the DVC remote

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "pointer": self.pointer, "version": self.version,
                "md5_before": self.md5_before, "md5": self.md5, "rows_before": self.rows_before,
                "rows_added": self.rows_added, "rows_unlabelled": self.rows_unlabelled,
                "rows_duplicate": self.rows_duplicate, "from": self.display,
                "from_report": self.from_report, "commit": self.commit, "in_remote": self.in_remote}


@dataclass(frozen=True)
class RetrainResult:
    """What ``retrain`` did: the data version, the experiment, its validation, the proposal."""

    data: NewDataVersion
    experiment: str
    metrics: dict[str, float]
    passed: bool
    gates: tuple[Any, ...]  # validation.GateResult
    validation_commit: str | None
    proposal: tuple[str, ...]
    messages: tuple[str, ...] = ()
    experiment_commit: str | None = None
    rejected_commit: str | None = None  # the step that put HEAD's validation report back
    kept: tuple[str, ...] = ()  # what a rejection keeps, and where (for people)

    @property
    def failed_gates(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.gates if g.passed is False)

    @property
    def exit_code(self) -> int:
        """0 the candidate passes the gates, 1 a gate fails."""
        return 0 if self.passed else 1

    @property
    def discard(self) -> str:
        return f"mlops-workbench retrain discard {shlex.quote(self.experiment)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "data": self.data.to_json(),
            "experiment": self.experiment,
            "experiment_commit": self.experiment_commit,
            "metrics": self.metrics,
            "validation": {"passed": self.passed, "failed_gates": list(self.failed_gates),
                           "commit": self.validation_commit,
                           "gates": [{"name": g.name, "passed": g.passed, "why": g.why} for g in self.gates]},
            "proposal": list(self.proposal),
            "rejected": None if self.passed else {"commit": self.rejected_commit, "kept": list(self.kept),
                                                  "discard": self.discard},
            "messages": list(self.messages),
        }


@dataclass(frozen=True)
class Discarded:
    """``retrain discard EXP``: the experiment removed."""

    experiment: str
    commit: str
    messages: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "experiment": self.experiment, "commit": self.commit,
                "messages": list(self.messages)}
