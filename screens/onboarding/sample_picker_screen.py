"""Pick a bundled sample and make a real project from it (git, DVC, data pushed) in a worker.

The destination, the optional shared remotes (``new --sample``'s ``--git-remote``,
``--dvc-remote``, ``--dvc-endpoint``) and the job's progress are the wizard's
(:class:`ProjectJobScreen`, :class:`RemoteFields`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from screens.base import make_footer, make_header, notify_error, post_core_result
from screens.onboarding.creating import ProjectJobScreen, folder_from
from screens.onboarding.remote_fields import RemoteFields, field_of


@dataclass(frozen=True)
class SampleRow:
    """What the picker shows of one sample (a copy, so the screen holds no core objects)."""

    id: str
    name: str
    description: str


class SamplePickerScreen(ProjectJobScreen):
    """Choose a sample (arrows, enter), check the destination, enter to create."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+s", "create", "Create"),
    ]

    PREFIX = "sample"
    JOB_GROUP = "create-sample"
    SUBMIT = "#sample-create"
    CANCEL_NOTE = "cancelling: nothing will be kept"

    @dataclass
    class SamplesLoaded(Message):
        samples: tuple[SampleRow, ...]

    def __init__(self, launch_path: Path) -> None:
        super().__init__(launch_path)
        self.samples: tuple[SampleRow, ...] = ()
        self._auto_destination = ""
        self.remotes = RemoteFields(self, "smp")

    def compose(self) -> ComposeResult:
        yield make_header()
        with VerticalScroll(id="sample-box"):
            yield Static("Open a sample project", classes="screen-title")
            yield Static("Each sample is a full project: a charter, candidate use cases and data "
                         "tracked with DVC. Choose one with the arrows, press enter, check the destination "
                         "and press enter again to create it.",
                         classes="hint")
            yield OptionList(id="sample-list")
            yield Label("Destination (a new or empty folder)")
            with Horizontal(id="sample-destination-row"):
                yield Input(id="sample-destination")
                yield Button("Create", variant="primary", id="sample-create")
            with Grid(classes="remote-grid"):
                yield from self.remotes.compose()
            yield from self.progress_box()
        yield make_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#sample-list", OptionList).loading = True
        self.load_samples()

    @work(thread=True, exclusive=True, exit_on_error=False, group="samples",
          description="list the samples")
    def load_samples(self) -> None:
        from workbench.samples import list_samples

        post_core_result(self, lambda: self.SamplesLoaded(
            tuple(SampleRow(s.id, s.name, s.description) for s in list_samples())), self.Failed)

    def on_sample_picker_screen_samples_loaded(self, event: SamplesLoaded) -> None:
        self.samples = event.samples
        options = self.query_one("#sample-list", OptionList)
        options.loading = False
        options.clear_options()
        options.add_options(
            Option(Content.assemble((s.id, "bold"), "  ", s.name, "\n", (f"  {s.description}", "dim")),
                   id=s.id)
            for s in self.samples
        )
        if self.samples:
            options.highlighted = 0
            self._set_destination(self.samples[0].id)
        options.focus()

    def _set_destination(self, sample_id: str) -> None:
        """Follow the highlighted sample unless the user has typed a destination of their own."""
        field = self.query_one("#sample-destination", Input)
        if field.value in ("", self._auto_destination):
            self._auto_destination = str(self.launch_path / sample_id)
            field.value = self._auto_destination

    @on(OptionList.OptionHighlighted, "#sample-list")
    def _on_highlight(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self._set_destination(event.option.id)

    @on(OptionList.OptionSelected, "#sample-list")
    def _on_select(self, event: OptionList.OptionSelected) -> None:
        field = self.query_one("#sample-destination", Input)
        field.focus()
        field.cursor_position = len(field.value)

    def selected_sample(self) -> str | None:
        options = self.query_one("#sample-list", OptionList)
        if options.highlighted is None:
            return None
        return options.get_option_at_index(options.highlighted).id

    @on(Input.Submitted, "#sample-destination")
    @on(Button.Pressed, "#sample-create")
    def action_create(self) -> None:
        if self.creating:
            return
        sample_id = self.selected_sample()
        if sample_id is None:
            notify_error(self, "no sample is selected: choose one from the list")
            return
        text = self.query_one("#sample-destination", Input).value.strip()
        if not text:
            notify_error(self, "the destination is empty: give a new or empty folder")
            self.query_one("#sample-destination", Input).focus()
            return
        bad = self.remotes.first_invalid()
        if bad is not None:
            notify_error(self, bad[1])
            self.remotes.mark(*bad)
            return
        path = folder_from(text, self.launch_path)
        remotes = self.remotes.values()

        def create(progress: Callable[[str], None], cancel: threading.Event) -> tuple[Path, tuple[str, ...]]:
            from workbench.new_project import create_from_sample

            made = create_from_sample(sample_id, path, git_remote=remotes.git, dvc_remote=remotes.dvc,
                                      dvc_endpoint=remotes.endpoint, progress=progress, cancel=cancel)
            return made.path, made.messages

        self.start_job("create a sample project", create, first_line=f"creating {sample_id} in {path}")

    @on(Input.Submitted, ".remote-field")
    def _remote_submitted(self) -> None:
        self.action_create()

    def job_failed(self, message: str) -> None:
        self.query_one("#sample-list", OptionList).loading = False
        field = field_of(message)
        if field in ("git", "dvc", "endpoint"):
            self.remotes.mark(field, message)

    @on(Input.Changed, ".remote-field")
    def _clear_invalid(self, event: Input.Changed) -> None:
        if event.input.has_class("-invalid"):
            event.input.remove_class("-invalid")
            event.input.tooltip = None
