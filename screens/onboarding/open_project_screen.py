"""Open an existing project: type a path (or pick a folder in the tree) and press enter; or clone
a teammate's project from its shared git remote into a folder you pick.

Cloning is ``clone_project`` (git clone, the experiment refs and notes, then ``dvc pull``) in a
thread worker (:class:`ProjectJobScreen`): its progress streams into the log, a bad URL is
the CLI's one line at the URL field, and the clone opens on its dashboard.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DirectoryTree, Input, Label, Static

from screens.base import make_footer, make_header, notify_error, post_core_result
from screens.onboarding.creating import ProjectJobScreen, folder_from
from screens.onboarding.remote_fields import GIT_PLACEHOLDER, CoreCheck, check_git
from workbench.errors import WorkbenchError


class OpenProjectScreen(ProjectJobScreen):
    """A path field and a folder tree (only a folder with workbench.yaml opens), and a clone form."""

    BINDINGS = [Binding("escape", "back", "Back")]
    PREFIX = "clone"
    JOB_GROUP = "clone-project"
    SUBMIT = "#clone-start"
    CANCEL_NOTE = "cancelling: the partial clone will be removed"

    @dataclass
    class Checked(Message):
        """The folder is a readable workbench project."""

        path: Path

    @dataclass
    class CheckFailed(Message):
        message: str

    def __init__(self, launch_path: Path) -> None:
        super().__init__(launch_path)
        self._auto_folder = ""

    def compose(self) -> ComposeResult:
        yield make_header()
        with Vertical(id="open-box"):
            yield Static("Open an existing project", classes="screen-title")
            yield Label("Project folder (the one with workbench.yaml); enter opens it")
            yield Input(str(self.launch_path), id="open-path")
            yield DirectoryTree(self.launch_path, id="open-tree")
            yield Label("Or clone a teammate's project from its git remote (then dvc pull); enter clones it")
            with Horizontal(id="clone-row"):
                yield Input(placeholder=GIT_PLACEHOLDER.removeprefix("optional: "), id="clone-url", compact=True,
                            validators=[CoreCheck(check_git)], validate_on={"blur", "submitted"})
                yield Input(placeholder="into this folder (new or empty)", id="clone-folder", compact=True)
                yield Button("Clone", id="clone-start", compact=True)
            yield from self.progress_box()
        yield make_footer()

    def on_mount(self) -> None:
        super().on_mount()
        field = self.query_one("#open-path", Input)
        field.focus()
        field.cursor_position = len(field.value)

    # --- open ---------------------------------------------------------------------

    @on(DirectoryTree.DirectorySelected, "#open-tree")
    def _on_directory(self, event: DirectoryTree.DirectorySelected) -> None:
        self.query_one("#open-path", Input).value = str(event.path)
        if (Path(event.path) / "workbench.yaml").is_file():
            self.check(Path(event.path))

    @on(Input.Submitted, "#open-path")
    def _on_submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.check(folder_from(text, self.launch_path) if text else self.launch_path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="open-project",
          description="check a project folder")
    def check(self, path: Path) -> None:
        from workbench.project import Project

        project = Project(path)
        def checked() -> Message:
            if not project.path.is_dir():
                raise WorkbenchError(f"{project.path} is not a folder: give the folder that holds workbench.yaml")
            project.read_config()
            return self.Checked(project.path)

        post_core_result(self, checked, self.CheckFailed)

    def on_open_project_screen_check_failed(self, event: CheckFailed) -> None:
        notify_error(self, event.message)
        self.query_one("#open-path", Input).focus()

    def on_open_project_screen_checked(self, event: Checked) -> None:
        self.app.open_project(event.path)  # type: ignore[attr-defined]

    # --- clone --------------------------------------------------------------------

    @on(Input.Changed, "#clone-url")
    def _follow_url(self, event: Input.Changed) -> None:
        """The folder follows the URL (``.../churn.git`` -> ``<here>/churn``) until the user types one."""
        from workbench.versioning.clone import default_folder

        if event.input.has_class("-invalid") and not event.validation_result:
            event.input.remove_class("-invalid")
        folder = self.query_one("#clone-folder", Input)
        if folder.value in ("", self._auto_folder) and event.value.strip():
            self._auto_folder = str(default_folder(event.value.strip(), self.launch_path))
            folder.value = self._auto_folder

    @on(Input.Submitted, "#clone-url")
    def _url_submitted(self) -> None:
        self.query_one("#clone-folder", Input).focus()

    @on(Input.Submitted, "#clone-folder")
    @on(Button.Pressed, "#clone-start")
    def action_clone(self) -> None:
        if self.creating:
            return
        url = self.query_one("#clone-url", Input).value.strip()
        try:
            if not url:
                raise WorkbenchError("the URL is empty: give the team's git remote, e.g. "
                                     "ssh://git@host/team/project.git")
            check_git(url)
        except WorkbenchError as exc:
            notify_error(self, str(exc))
            self.mark_invalid("#clone-url", str(exc))
            return
        text = self.query_one("#clone-folder", Input).value.strip()
        if not text:
            notify_error(self, "the folder is empty: give a new or empty folder to clone into")
            self.query_one("#clone-folder", Input).focus()
            return
        dest = folder_from(text, self.launch_path)

        def clone(progress: Callable[[str], None], cancel: threading.Event) -> tuple[Path, tuple[str, ...]]:
            from workbench.versioning.clone import clone_project

            made = clone_project(url, dest, progress=progress, cancel=cancel)
            return made.path, made.messages

        self.start_job("clone a project", clone)

    def job_failed(self, message: str) -> None:
        if "git remote" in message or "git clone" in message or "not a workbench project" in message:
            self.mark_invalid("#clone-url", message)
        else:
            self.query_one("#clone-folder", Input).focus()

    def created_note(self, path: Path) -> str:
        return f"Opened the clone at {path}"
