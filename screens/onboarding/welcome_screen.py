"""The first screen in a folder that is not a workbench project: three ways to start."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from screens.base import WorkbenchScreen, make_footer, make_header

CHOICES: tuple[tuple[str, str, str], ...] = (
    ("new", "New project", "a short wizard: charter, team, then git + DVC and a first commit"),
    ("sample", "Open a sample project", "fraud, maintenance, tickets or diagnosis, with real data in DVC"),
    ("open", "Open an existing project", "a folder that already has a workbench.yaml"),
)


class WelcomeScreen(WorkbenchScreen):
    """Onboarding: new project, sample project or existing project (arrows + enter, or n/s/o)."""

    BINDINGS = [
        Binding("n", "choose('new')", "New project"),
        Binding("s", "choose('sample')", "Sample"),
        Binding("o", "choose('open')", "Open existing"),
    ]

    def __init__(self, launch_path: Path) -> None:
        super().__init__()
        self.launch_path = launch_path

    def compose(self) -> ComposeResult:
        yield make_header()
        with Vertical(id="welcome-box"):
            yield Static(Content.from_markup("[b]Welcome to mlops-workbench[/b]"), id="welcome-title")
            yield Static(
                Content.from_markup(
                    "From an idea to a monitored model. Every step is a git commit; "
                    "data and models live in DVC.\n[dim]The folder '$name' is not a workbench project yet.[/dim]",
                    name=self.launch_path.name,
                ),
                id="welcome-intro",
            )
            yield OptionList(
                *(
                    Option(Content.assemble((title, "bold"), (f"  ({key[0]})", "$text-muted"), "\n",
                                            (f"  {hint}", "dim")), id=key)
                    for key, title, hint in CHOICES
                ),
                id="welcome-choices",
            )
        yield make_footer()

    def on_mount(self) -> None:
        self.query_one("#welcome-choices", OptionList).highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.action_choose(event.option.id)

    def action_choose(self, choice: str) -> None:
        if choice == "new":
            from screens.onboarding.new_project_screen import NewProjectScreen

            self.app.push_screen(NewProjectScreen(self.launch_path))
        elif choice == "sample":
            from screens.onboarding.sample_picker_screen import SamplePickerScreen

            self.app.push_screen(SamplePickerScreen(self.launch_path))
        elif choice == "open":
            from screens.onboarding.open_project_screen import OpenProjectScreen

            self.app.push_screen(OpenProjectScreen(self.launch_path))
