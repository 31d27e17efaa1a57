"""Pick a bundled sample and make a real project from it (git, DVC, data pushed) in a worker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, Label, Log, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from screens.base import WorkbenchScreen, make_footer, make_header, notify_error, post_core_result


@dataclass(frozen=True)
class SampleRow:
    """What the picker shows of one sample (a copy, so the screen holds no core objects)."""

    id: str
    name: str
    description: str


class SamplePickerScreen(WorkbenchScreen):
    """Choose a sample (arrows, enter), check the destination, enter to create."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+s", "create", "Create"),
    ]

    @dataclass
    class SamplesLoaded(Message):
        samples: tuple[SampleRow, ...]

    @dataclass
    class Progress(Message):
        line: str

    @dataclass
    class Created(Message):
        path: Path
        messages: tuple[str, ...]

    @dataclass
    class Failed(Message):
        message: str

    def __init__(self, launch_path: Path) -> None:
        super().__init__()
        self.launch_path = launch_path
        self.samples: tuple[SampleRow, ...] = ()
        self.creating = False
        self._auto_destination = ""

    def compose(self) -> ComposeResult:
        yield make_header()
        with Vertical(id="sample-box"):
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
            with Vertical(id="sample-progress"):
                yield ProgressBar(total=None, show_eta=False, id="sample-bar")
                yield Log(id="sample-log", auto_scroll=True)
        yield make_footer()

    def on_mount(self) -> None:
        self.query_one("#sample-progress").display = False
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
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = self.launch_path / path
        self.creating = True
        self.query_one("#sample-create", Button).disabled = True
        self.query_one("#sample-progress").display = True
        self.query_one("#sample-bar").display = True
        log = self.query_one("#sample-log", Log)
        log.clear()
        log.write_line(f"creating {sample_id} in {path}")
        self.create(sample_id, path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="create-sample",
          description="create a sample project")
    def create(self, sample_id: str, path: Path) -> None:
        from workbench.new_project import create_from_sample

        worker = get_current_worker()
        def created() -> Message:
            made = create_from_sample(sample_id, path,
                                      progress=lambda line: self.post_message(self.Progress(line)),
                                      cancel=worker.cancelled_event)
            return self.Created(made.path, made.messages)

        post_core_result(self, created, self.Failed)

    def on_sample_picker_screen_progress(self, event: Progress) -> None:
        self.query_one("#sample-log", Log).write_line(event.line.strip())

    def on_sample_picker_screen_failed(self, event: Failed) -> None:
        self.creating = False
        self.query_one("#sample-list", OptionList).loading = False
        self.query_one("#sample-create", Button).disabled = False
        self.query_one("#sample-bar").display = False
        self.query_one("#sample-log", Log).write_line(f"error: {event.message}")
        notify_error(self, event.message)

    def on_sample_picker_screen_created(self, event: Created) -> None:
        self.creating = False
        for message in event.messages:
            self.app.notify(message, markup=False)
        self.app.notify(f"Created project at {event.path}", markup=False)
        self.app.open_project(event.path)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        if self.creating:
            self.app.workers.cancel_group(self, "create-sample")
            self.query_one("#sample-log", Log).write_line("cancelling: nothing will be kept")
            return
        self.app.pop_screen()
