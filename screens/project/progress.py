"""One progress style for every job (issue 16.10): a bar and the stage the job is in.

A job the core reports only as lines (validation, a retrain, a monitoring check) shows
its latest line as the stage, beside an indeterminate bar; a job that can count its
stages (training) gives ``done`` and ``total``. The widget shows only while a job runs.
"""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from workbench.textfmt import clip


class JobProgress(Horizontal):
    """``start(job)``, then ``stage(name, done, total)`` as the job goes, ``finish()`` at the end."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.job = ""
        self.stage_name = ""
        self.started = 0.0

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, show_eta=False, show_percentage=False)
        yield Static("", classes="job-stage", markup=False)

    def start(self, job: str, stage: str = "starting") -> None:
        self.job = job
        self.started = time.monotonic()
        self.add_class("-running")
        bar = self.query_one(ProgressBar)
        bar.update(total=None, progress=0)
        self.stage(stage)

    def stage(self, name: str, done: int | None = None, total: int | None = None) -> None:
        """The stage the job is in now; with ``total``, the bar counts ``done`` of ``total``."""
        self.stage_name = " ".join(name.split())
        if total:
            self.query_one(ProgressBar).update(total=total, progress=done or 0)
        counted = f" ({done}/{total})" if total else ""
        self.query_one(".job-stage", Static).update(clip(f"{self.job}: {self.stage_name}{counted}", 200))

    def finish(self) -> None:
        self.remove_class("-running")
        self.stage_name = ""
