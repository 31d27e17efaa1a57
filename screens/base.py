"""What every workbench screen shares: the testing switch, the one-line error notification,
how a thread worker reports a core call back to its view, keeping the keyboard focus in
a view while its buttons come and go, and the skeleton of a step view (:class:`StepView`:
its state line, reload, Failed message and the StepEnded message it posts up)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from weakref import WeakKeyDictionary

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen, Screen

from workbench.errors import CancelledError, WorkbenchError
from workbench.textfmt import clip

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.message_pump import MessagePump
    from textual.widget import Widget

    from workbench.status import ProjectStatus


STATE_MARKS: dict[str, tuple[str, str]] = {
    "done": ("✔", "$success"),
    "attention": ("!", "$warning"),
    "todo": ("·", "$text-muted"),
}
STATE_WORDS = {"done": "done", "attention": "needs attention", "todo": "to do"}


def state_line(status: ProjectStatus, step_id: str, *, width: int | None = None) -> Content | None:
    """A view's one-line state ("✔ done  detail"), the detail cut to ``width``; None if no such step."""
    mine = next((s for s in status.steps if s.id == step_id), None)
    if mine is None:
        return None
    mark, style = STATE_MARKS[mine.state]
    detail = mine.detail or ""
    if width is not None:
        detail = clip(detail, width)
    return Content.assemble((f"{mark} {STATE_WORDS[mine.state]}", style), ("  ", ""), (detail, "dim"))


def quiet_cursors(screen: Screen) -> None:
    """Stop blinking cursors when the app runs under test, so screenshots are stable."""
    if getattr(screen.app, "testing", False):
        for widget in screen.query("Input, TextArea"):
            widget.cursor_blink = False  # type: ignore[attr-defined]


def notify_error(screen: Screen, message: str) -> None:
    """Show a core error exactly as the CLI prints it (no markup: paths may hold brackets)."""
    screen.app.notify(message, severity="error", markup=False, timeout=10)


def post_core_result(
    view: MessagePump,
    build: Callable[[], Message],
    failed: Callable[..., Message],
    *,
    cancelled: bool | Callable[[str], Message] = False,
    **flags: Any,
) -> None:
    """Run ``build`` (the core calls, returning the message that says they succeeded) and post its message.

    Called in a thread worker. A :class:`WorkbenchError` posts ``failed(str(exc), **flags)``
    instead. A :class:`CancelledError` is such a failure too, unless ``cancelled`` says
    otherwise: ``True`` posts ``failed(str(exc), cancelled=True, **flags)``, a message class
    posts ``cancelled(str(exc))``. Any other exception is left to the worker.
    """
    try:
        message = build()
    except WorkbenchError as exc:
        if not isinstance(exc, CancelledError) or cancelled is False:
            message = failed(str(exc), **flags)
        elif cancelled is True:
            message = failed(str(exc), cancelled=True, **flags)
        else:
            message = cancelled(str(exc))
    view.post_message(message)


def focus_into(view: Widget, *, skip: tuple[type, ...] = ()) -> None:
    """Put the keyboard focus in ``view``, where its keys work and the footer shows them.

    The view itself when it can take focus (a scrolling view), else its first focusable
    widget that does not take text (tabs, a table) and is not of a type in ``skip``: typing a
    letter then still reaches the view's and the screen's keys.
    """
    from textual.widgets import Input, TextArea

    if view.can_focus:
        view.screen.set_focus(view)  # now, not after the next refresh as Widget.focus does
        return
    for widget in view.query("*"):
        if widget.focusable and not isinstance(widget, (Input, TextArea, *skip)):
            # Scrolled into view after the next layout, not now: a view just shown may not be laid
            # out yet, and scrolling to a widget whose place is not known yet scrolled the view
            # by a varying amount (the use-case table jumped to the top at 80x24 now and then).
            view.screen.set_focus(widget, scroll_visible=False)
            widget.call_after_refresh(widget.scroll_visible, animate=False)
            return


_FOCUS_BACK: WeakKeyDictionary[Widget, tuple[Widget, Widget]] = WeakKeyDictionary()


def set_disabled(view: Widget, states: Mapping[str, bool]) -> None:
    """Disable (True) or enable (False) widgets of ``view`` by selector, keeping the focus in the view.

    Textual moves the focus off a widget that becomes disabled: to a neighbour, often a text
    field that then takes the view's letter keys as text, or to nothing, and the view's keys
    (x to stop the service just started with Enter) stop working. So when the focused widget
    is disabled here, the focus goes to the view (never to another button: a second Enter
    must not cancel what the first one started), and back to that widget when it is enabled
    again while the focus is still where this put it.
    """
    from textual.widgets import Button

    screen = view.screen
    focused = screen.focused
    widgets = [(view.query_one(selector), off) for selector, off in states.items()]
    for widget, off in widgets:
        widget.disabled = off
    if focused is not None and any(widget is focused and off for widget, off in widgets):
        focus_into(view, skip=(Button,))
        if screen.focused is not None and screen.focused is not focused:
            _FOCUS_BACK[view] = (focused, screen.focused)
        return
    back, placed = _FOCUS_BACK.get(view, (None, None))
    if back is not None and any(widget is back and not off for widget, off in widgets):
        del _FOCUS_BACK[view]
        if screen.focused in (None, placed):
            back.focus()


EDITOR_HINT = "set $EDITOR to edit files from the workbench, e.g. export EDITOR=nano"
EDIT_KEY = "ctrl+o"  # one key across the app: open the file the view shows in $EDITOR
EDIT_TOOLTIP = "Open the file in $EDITOR (the workbench waits, then reads it again; nothing is committed)"


def editor_command(file: Path, env: Mapping[str, str] | None = None) -> list[str] | None:
    """``$EDITOR`` (else ``$VISUAL``) split as a shell would, plus ``file``; None when neither is set."""
    env = os.environ if env is None else env
    raw = (env.get("EDITOR") or "").strip() or (env.get("VISUAL") or "").strip()
    return [*shlex.split(raw), str(file)] if raw else None


def uncommitted_note(root: Path, file: Path) -> str | None:
    """``"workbench.yaml: changed, not committed"`` when git sees ``file`` differ from HEAD."""
    from workbench.versioning.git import changed_paths

    try:
        rel = file.resolve().relative_to(root.resolve()).as_posix()
        code = changed_paths(root, [rel]).get(rel)
    except (WorkbenchError, OSError, ValueError):
        return None
    if code is None:
        return None
    return f"{rel}: {'new, not committed' if code == '??' else 'changed, not committed'} (git status {code.strip()})"


def edit_in_editor(view: Widget, file: Path) -> bool:
    """Open ``file`` in ``$EDITOR`` with the app suspended, then reload ``view``.

    Nothing is committed: the edit is the user's. Without ``$EDITOR``/``$VISUAL``, where the
    app cannot suspend (the headless test driver, the browser), or when the editor does not
    start, a one-line error says so and the file is left alone. True when the editor ran.
    """
    from textual.app import SuspendNotSupported

    command = editor_command(file)
    if command is None:
        notify_error(view.screen, EDITOR_HINT)
        return False
    if not file.is_file():
        notify_error(view.screen, f"{file.name} does not exist yet: nothing to edit")
        return False
    from workbench.jobs import run_in_terminal

    try:
        with view.app.suspend():
            code = run_in_terminal(command)
    except SuspendNotSupported:
        notify_error(view.screen, f"this terminal cannot hand over to {command[0]}: edit {file} outside the workbench")
        return False
    except OSError as exc:
        notify_error(view.screen, f"could not start {command[0]}: {exc.strerror or exc}")
        return False
    if code:
        view.app.notify(f"{command[0]} exited {code}", severity="warning", markup=False)
    view.reload()  # type: ignore[attr-defined]
    return True


class StepEnded(Message):
    """A view's step ended (a commit, a run, a report): the project screen reads the status again.

    Posted by :func:`step_ended`; it bubbles up to the project screen, which recomputes the
    sidebar marks, the dashboard's phase and next step (issue 16.13).
    """


def step_ended(view: Widget) -> None:
    """Tell the project screen that a step ended, so the dashboard and the sidebar follow."""
    if isinstance(view, StepView):
        view.edit_note = None  # a commit since the edit: the status line that follows says what is true now
    view.post_message(StepEnded())


class StepView:
    """The skeleton every step view shares, mixed in before its container class.

    ``class ReviewView(StepView, VerticalScroll)``: a mixin rather than a widget base, so each
    view keeps its own container (the training view is a ``Vertical``) and its CSS type names.

    - ``__init__(path)``: the ``step-view`` class (the project screen finds the views by it)
      and ``self.path``;
    - :meth:`show_status`: the step's state line in ``STATE_ID`` (cut to ``STATE_WIDTH``),
      called by the project screen whenever the status is (re)computed; nothing without
      ``STATE_ID``;
    - :meth:`reload`: ``r`` reads the view again (its ``load`` worker);
    - :class:`Failed`: a core call's one-line error, posted by :func:`post_core_result`
      (handled as ``on_step_view_failed``; a view whose failures carry more defines its own);
    - :meth:`quiet_inputs`: no blinking cursors under test (stable screenshots);
    - a commit or a run that changed the project calls :func:`step_ended`: the
      :class:`StepEnded` message goes up to the project screen, which reads the status again.
    """

    STEP_ID: ClassVar[str] = ""
    STATE_ID: ClassVar[str] = ""  # the selector of the state line's Static ("#rv-state")
    STATE_WIDTH: ClassVar[int | None] = None

    @dataclass
    class Failed(Message, bubble=False):
        """A one-line error from the core (not bubbling: only the view that asked handles it)."""

        message: str

    def __init__(self, path: Path) -> None:
        super().__init__(classes="step-view")  # type: ignore[call-arg]
        self.path = Path(path)

    edit_note: str | None = None  # "<file>: changed, not committed" after the user edited it in $EDITOR
    _state: Content | None = None

    def show_status(self, status: ProjectStatus) -> None:
        if self.STATE_ID and (line := state_line(status, self.STEP_ID, width=self.STATE_WIDTH)) is not None:
            self.set_state(line)

    def set_state(self, line: Content, selector: str = "") -> None:
        """Show ``line`` in the state line, with the edit note under it while git sees the file changed."""
        self._state = line
        if self.edit_note:
            line = Content.assemble(line, "\n", (self.edit_note, "$warning"))
        self.query_one(selector or self.STATE_ID).update(line)  # type: ignore[attr-defined]

    def edit_file(self, file: Path, selector: str = "") -> None:
        """``ctrl+o``: ``file`` in ``$EDITOR`` (app suspended), the view read again, git's word on it shown."""
        if not edit_in_editor(self, file):  # type: ignore[arg-type]
            return
        from workbench.versioning.history import repo_root_or_self

        self.edit_note = uncommitted_note(repo_root_or_self(self.path), file)
        self.app.notify(self.edit_note or f"{file.name}: unchanged", markup=False)  # type: ignore[attr-defined]
        if self._state is not None:
            self.set_state(self._state, selector)

    def reload(self) -> None:
        self.load()  # type: ignore[attr-defined]

    def quiet_inputs(self, selector: str = "Input") -> None:
        """Stop the cursors of ``selector`` blinking when the app runs under test."""
        if getattr(self.app, "testing", False):  # type: ignore[attr-defined]
            for widget in self.query(selector):  # type: ignore[attr-defined]
                widget.cursor_blink = False


class WorkbenchScreen(Screen):
    """A full screen of the workbench."""

    def on_mount(self) -> None:
        quiet_cursors(self)


class WorkbenchModal(ModalScreen[None]):
    """A modal of the workbench."""

    def on_mount(self) -> None:
        quiet_cursors(self)


class ConfirmScreen(ModalScreen[bool]):
    """Ask before a key makes a commit that is more than a note: enter or y goes ahead, escape or n does not.

    ``title`` says what will happen, ``body`` what it will change (a sentence or two).
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, title: str, body: str, action: str) -> None:
        super().__init__()
        self.title_text, self.body, self.action_label = title, body, action

    def compose(self) -> ComposeResult:
        from textual.containers import Horizontal, Vertical
        from textual.widgets import Button, Static

        with Vertical(classes="uc-modal confirm-box"):
            yield Static(self.title_text, classes="view-title", markup=False)
            yield Static(self.body, markup=False)
            with Horizontal(classes="uc-modal-buttons"):
                yield Button(self.action_label, variant="primary", id="confirm-yes", compact=True)
                yield Button("Cancel", id="confirm-no", compact=True)

    def on_mount(self) -> None:
        quiet_cursors(self)
        self.query_one("#confirm-yes").focus()

    def on_button_pressed(self, event: Any) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


#: The header's icon: a glyph every terminal and browser font has (Textual's ⭘, U+2B58, shows
#: as a missing glyph in the browser face, issue 16.14).
HEADER_ICON = "◆"


def make_header() -> Any:
    from textual.widgets import Header

    return Header(icon=HEADER_ICON)


#: Keys the footer shows first, so a narrow terminal never cuts them (issue 16.11).
ESSENTIAL_KEYS = ("q", "question_mark")


def make_footer() -> Any:
    """The workbench's footer: the keys that work now, quit and help first."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    class WorkbenchFooter(Footer):
        def bindings_changed(self, screen: Any) -> None:
            """Recompose even while the app has no focus: in a browser (--web) the page often
            does not have it yet, and Textual's footer then never showed a key (issue 16.14)."""
            self._bindings_ready = True
            if self.is_attached and screen is self.screen:
                self.call_after_refresh(self.recompose)

        def compose(self) -> ComposeResult:
            if not self._bindings_ready:
                return
            active = self.screen.active_bindings
            by_action: dict[str, tuple[Any, bool, str]] = {}
            for _node, binding, enabled, tooltip in active.values():
                if binding.show and binding.action not in by_action:
                    by_action[binding.action] = (binding, enabled, tooltip)
            shown = sorted(by_action.values(), key=lambda item: item[0].key not in ESSENTIAL_KEYS)
            self.styles.grid_size_columns = len(shown)
            for binding, enabled, tooltip in shown:
                yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description,
                                binding.action, disabled=not enabled,
                                tooltip=tooltip).data_bind(compact=Footer.compact)
            if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
                found = active.get(self.app.COMMAND_PALETTE_BINDING)
                if found is not None:
                    _node, binding, enabled, _tooltip = found
                    yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description,
                                    binding.action, classes="-command-palette", disabled=not enabled,
                                    tooltip=binding.tooltip or binding.description)

    return WorkbenchFooter()
