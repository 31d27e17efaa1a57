"""What the three onboarding forms that make a project share (new, sample, clone): a progress
bar and a log under the form, the job in a thread worker, the one-line error, then the project.

Each screen composes its own fields and calls :meth:`ProjectJobScreen.start_job` with the core
call; the job's progress lines stream into the log, a refusal is the core's one line (in the
log and as a notification; :meth:`ProjectJobScreen.job_failed` lets the screen mark its field),
and a made project opens on its dashboard. Escape while the job runs cancels it (the core
commits nothing then), else goes back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Button, Input, Log, ProgressBar
from textual.worker import get_current_worker

from screens.base import WorkbenchScreen, notify_error, post_core_result

#: A job: (progress, cancel) -> (the project's path, the core's messages to show).
Job = Callable[[Callable[[str], None], threading.Event], tuple[Path, tuple[str, ...]]]


def folder_from(text: str, launch_path: Path) -> Path:
    """A typed folder, absolute (relative to the launch folder)."""
    path = Path(text.strip()).expanduser()
    return path if path.is_absolute() else launch_path / path


class ProjectJobScreen(WorkbenchScreen):
    """A form whose job makes a project (see the module docstring).

    ``PREFIX`` names the progress widgets (``#{PREFIX}-progress``, ``-bar``, ``-log``),
    ``JOB_GROUP`` the worker group, ``SUBMIT`` the button the job disables while it runs,
    ``CANCEL_NOTE`` the log line of a cancel.
    """

    PREFIX: ClassVar[str] = "create"
    JOB_GROUP: ClassVar[str] = "create-project"
    SUBMIT: ClassVar[str] = "#create"
    CANCEL_NOTE: ClassVar[str] = "cancelling: nothing will be committed"

    @dataclass
    class Progress(Message):
        """One progress line of the job."""

        line: str

    @dataclass
    class Created(Message):
        """The project exists (and is committed)."""

        path: Path
        messages: tuple[str, ...]

    @dataclass
    class Failed(Message):
        """The core refused or failed; ``message`` is its one-line error."""

        message: str

    def __init__(self, launch_path: Path) -> None:
        super().__init__()
        self.launch_path = launch_path
        self.creating = False

    def progress_box(self) -> ComposeResult:
        with Vertical(id=f"{self.PREFIX}-progress", classes="job-box"):
            yield ProgressBar(total=None, show_eta=False, id=f"{self.PREFIX}-bar")
            yield Log(id=f"{self.PREFIX}-log", auto_scroll=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(f"#{self.PREFIX}-progress").display = False

    @property
    def log_widget(self) -> Log:
        return self.query_one(f"#{self.PREFIX}-log", Log)

    def start_job(self, description: str, job: Job, first_line: str = "") -> None:
        """Show the progress box and run ``job`` in a thread worker (one at a time)."""
        self.creating = True
        box = self.query_one(f"#{self.PREFIX}-progress")
        box.display = True
        self.query_one(f"#{self.PREFIX}-bar").display = True
        self.log_widget.clear()
        if first_line:
            self.log_widget.write_line(first_line)
        self.query_one(self.SUBMIT, Button).disabled = True
        box.scroll_visible()
        self.run_worker(partial(self._run_job, job), thread=True, exclusive=True, exit_on_error=False,
                        group=self.JOB_GROUP, description=description)

    def _run_job(self, job: Job) -> None:
        worker = get_current_worker()

        def made() -> Message:
            path, messages = job(lambda line: self.post_message(self.Progress(line)), worker.cancelled_event)
            return self.Created(path, messages)

        post_core_result(self, made, self.Failed)

    def on_project_job_screen_progress(self, event: Progress) -> None:
        self.log_widget.write_line(event.line.strip())

    def on_project_job_screen_failed(self, event: Failed) -> None:
        self.creating = False
        self.query_one(self.SUBMIT, Button).disabled = False
        self.query_one(f"#{self.PREFIX}-bar").display = False
        self.log_widget.write_line(f"error: {event.message}")
        notify_error(self, event.message)
        self.job_failed(event.message)

    def job_failed(self, message: str) -> None:
        """After a refusal: put the focus where the user fixes it (the screen's own field)."""

    def on_project_job_screen_created(self, event: Created) -> None:
        self.creating = False
        for message in event.messages:
            self.app.notify(message, markup=False)
        self.app.notify(self.created_note(event.path), markup=False)
        self.app.open_project(event.path)  # type: ignore[attr-defined]

    def created_note(self, path: Path) -> str:
        return f"Created project at {path}"

    def action_back(self) -> None:
        if self.creating:
            self.app.workers.cancel_group(self, self.JOB_GROUP)
            self.log_widget.write_line(self.CANCEL_NOTE)
            return
        self.app.pop_screen()

    def mark_invalid(self, selector: str, message: str) -> None:
        """Mark the field the error is about (red, the message as its tooltip) and focus it.

        Nothing typed is cleared: every other field keeps its value (issue 16.9).
        """
        field = self.query_one(selector)
        field.add_class("-invalid")
        field.tooltip = message
        field.focus()

    def on_input_blurred(self, event: Input.Blurred) -> None:
        """A field checked on leaving it (the remote URLs): the CLI's line as its tooltip and in the log."""
        result = event.validation_result
        if result is not None and not result.is_valid and result.failure_descriptions:
            event.input.tooltip = result.failure_descriptions[0]
            self.app.notify(result.failure_descriptions[0], severity="warning", markup=False, timeout=6)
        elif result is not None and result.is_valid:
            event.input.tooltip = None
