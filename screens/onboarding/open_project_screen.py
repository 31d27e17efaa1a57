"""Open an existing project: type a path (or pick a folder in the tree) and press enter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DirectoryTree, Input, Label, Static

from screens.base import WorkbenchScreen, make_footer, make_header, notify_error, post_core_result
from workbench.errors import WorkbenchError


class OpenProjectScreen(WorkbenchScreen):
    """A path field and a folder tree; only a folder with workbench.yaml opens."""

    BINDINGS = [Binding("escape", "back", "Back")]

    @dataclass
    class Checked(Message):
        """The folder is a readable workbench project."""

        path: Path

    @dataclass
    class Failed(Message):
        message: str

    def __init__(self, launch_path: Path) -> None:
        super().__init__()
        self.launch_path = launch_path

    def compose(self) -> ComposeResult:
        yield make_header()
        with Vertical(id="open-box"):
            yield Static("Open an existing project", classes="screen-title")
            yield Label("Project folder (the one with workbench.yaml); enter opens it")
            yield Input(str(self.launch_path), id="open-path")
            yield DirectoryTree(self.launch_path, id="open-tree")
        yield make_footer()

    def on_mount(self) -> None:
        field = self.query_one("#open-path", Input)
        field.focus()
        field.cursor_position = len(field.value)

    @on(DirectoryTree.DirectorySelected, "#open-tree")
    def _on_directory(self, event: DirectoryTree.DirectorySelected) -> None:
        self.query_one("#open-path", Input).value = str(event.path)
        if (Path(event.path) / "workbench.yaml").is_file():
            self.check(Path(event.path))

    @on(Input.Submitted, "#open-path")
    def _on_submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        path = Path(text).expanduser() if text else self.launch_path
        if not path.is_absolute():
            path = self.launch_path / path
        self.check(path)

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

        post_core_result(self, checked, self.Failed)

    def on_open_project_screen_failed(self, event: Failed) -> None:
        notify_error(self, event.message)
        self.query_one("#open-path", Input).focus()

    def on_open_project_screen_checked(self, event: Checked) -> None:
        self.app.open_project(event.path)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self.app.pop_screen()
