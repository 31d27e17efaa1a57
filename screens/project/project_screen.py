"""The main screen of a project: the lifecycle sidebar and the dashboard, timeline or a step.

Status and timeline come from git, so they are computed in thread workers and arrive
as messages; the sidebar marks, the dashboard and any open step view are updated from
the status. The status comes first (the CLI starts computing it while Textual imports);
the timeline — one row per experiment ref, a thousand or more in a busy project — is
read only after the dashboard has painted, so it never delays the first screen, and its
view (:mod:`screens.project.timeline_view`) is built the first time it is opened. Step views
come from :mod:`screens.project.step_views`, never named here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import ContentSwitcher, Static, Tree

from screens.base import (
    STATE_MARKS,
    STATE_WORDS,
    WorkbenchScreen,
    focus_into,
    make_footer,
    make_header,
    notify_error,
    post_core_result,
)
from screens.project.commands import WorkbenchCommands
from screens.project.step_views import make_step_view
from workbench.errors import ProjectBusyError, WorkbenchError
from workbench.lifecycle import PHASES, STEP_BY_ID, steps_in

if TYPE_CHECKING:
    from concurrent.futures import Future

    from textual.widget import Widget

    from screens.project.sync_view import SyncView
    from screens.project.timeline_view import TimelineView
    from workbench.status import ProjectStatus
    from workbench.versioning.timeline import TimelineEntry

#: Below this many columns the sidebar hides by itself (issue 16.11).
NARROW_WIDTH = 100

TREE_MARKS = {"done": ("✔", "green"), "attention": ("!", "yellow"), "todo": ("·", "grey50")}


def short_when(iso: str) -> str:
    """``2024-01-15T10:00:00+01:00`` -> ``2024-01-15 10:00`` (the author's local time, as git shows it)."""
    return iso.replace("T", " ")[:16]


class LifecycleSidebar(Tree[tuple[str, str]]):
    """Dashboard, Timeline, then Design / Development / Operations with their steps and marks."""

    def __init__(self) -> None:
        # Labels are Text, not markup strings: no markup to parse, and rich's emoji table
        # (which parsing a markup string imports) stays out of the first paint.
        super().__init__(Text("lifecycle"), id="sidebar")
        self.show_root = False
        self.guide_depth = 2
        self.nodes_by_key: dict[str, object] = {}

    def on_mount(self) -> None:
        self.nodes_by_key["dashboard"] = self.root.add_leaf(Text("◆ Dashboard"), data=("view", "dashboard"))
        self.nodes_by_key["timeline"] = self.root.add_leaf(Text("◷ Timeline"), data=("view", "timeline"))
        self.nodes_by_key["sync"] = self.root.add_leaf(Text("⇅ Sync"), data=("view", "sync"))
        for phase in PHASES:
            branch = self.root.add(Text(phase, style="bold"), data=("phase", phase), expand=True)
            for step in steps_in(phase):
                self.nodes_by_key[step.id] = branch.add_leaf(self._label(step.title, None),
                                                              data=("step", step.id))
        self.root.expand()

    @staticmethod
    def _label(title: str, state: str | None, is_next: bool = False) -> Text:
        mark, colour = TREE_MARKS.get(state or "", ("…", "grey50"))
        return Text.assemble((mark, f"bold {colour}"), " ", (title, "bold" if is_next else ""))

    def show_status(self, status: ProjectStatus) -> None:
        next_id = status.next_step.id if status.next_step else None
        for step in status.steps:
            node = self.nodes_by_key.get(step.id)
            if node is not None:
                node.set_label(self._label(step.title, step.state, step.id == next_id))  # type: ignore[attr-defined]

    def point_at(self, key: str) -> None:
        """Put the cursor on the entry for ``key`` (dashboard, timeline or a step id)."""
        node = self.nodes_by_key.get(key)
        if node is not None:
            self.move_cursor(node)  # type: ignore[arg-type]


def team_content(team: dict[str, Any] | None) -> Content | None:
    """The dashboard's team block (issue 18): the shared remote with ahead/behind from the last fetch
    (no network), who pushed what this clone has fetched but not yet pulled, and who did the last
    steps. None for a project with no remote that one person works on (the block would only repeat
    "Last versioned step")."""
    if not team:
        return None
    remote = team.get("remote") or {}
    steps = team.get("last_steps") or []
    people = {s.get("author") for s in steps if s.get("author")}
    if not remote.get("url") and len(people) < 2:
        return None
    parts: list[Content | str | tuple[str, str]] = [("Team", "bold")]
    if not remote.get("url"):
        parts += ["\n", ("No shared remote: ", "$warning"), "S opens Sync, where you can set one"]
    elif not remote.get("fetched"):
        parts += ["\n", ("origin ", "dim"), str(remote["url"]), ("  not fetched yet: S shows the status", "dim")]
    else:
        ahead, behind = int(remote.get("ahead") or 0), int(remote.get("behind") or 0)
        where = "in sync" if not ahead and not behind else f"{ahead} ahead, {behind} behind"
        parts += ["\n", ("origin ", "dim"), str(remote["url"]), "  ",
                  (where, "$success" if where == "in sync" else "bold $warning"), ("  (as of the last fetch; S syncs)", "dim")]
        theirs = remote.get("teammates_since_sync") or []
        if theirs:
            parts += ["\n", ("Pushed since your last sync by: ", "dim"), ", ".join(theirs)]
    for s in steps[:3]:
        role = f" ({s['role']})" if s.get("role") else ""
        parts += ["\n", (short_when(str(s.get("when", ""))) + "  ", "dim"), f"{s.get('author', '')}{role}  ",
                  str(s.get("summary", ""))]
    return Content.assemble(*parts)


class Dashboard(VerticalScroll):
    """Where the project stands and the next step to take."""

    def compose(self) -> ComposeResult:
        yield Static("Reading the project…", id="dash-title", classes="view-title")
        yield Static("", id="dash-meta")
        yield Static("", id="dash-counts", classes="dash-block")
        yield Static("", id="dash-next", classes="dash-block")
        yield Static("", id="dash-blockers", classes="dash-block")
        yield Static("", id="dash-maturity", classes="dash-block")
        yield Static("", id="dash-last", classes="dash-block")
        yield Static("", id="dash-team", classes="dash-block")

    def show_status(self, status: ProjectStatus) -> None:
        self.query_one("#dash-title", Static).update(Content.from_markup("[b]$name[/b]", name=status.name))
        self.query_one("#dash-meta", Static).update(Content.assemble(
            ("Task: ", "dim"), status.task, ("   Success metric: ", "dim"),
            status.success_metric or "not set",
        ))
        counts = status.counts()
        phase_parts: list[Content | str | tuple[str, str]] = []
        for phase in PHASES:
            steps = [s for s in status.steps if s.phase == phase]
            done = sum(s.state == "done" for s in steps)
            phase_parts += [("  " if phase_parts else ""), (phase, "bold" if phase == status.phase else "dim"),
                            f" {done}/{len(steps)}"]
        self.query_one("#dash-counts", Static).update(Content.assemble(
            ("Current phase: ", "dim"), (status.phase, "bold"), "\n",
            (f"{STATE_MARKS['done'][0]} {counts['done']} done", STATE_MARKS["done"][1]), "   ",
            (f"{STATE_MARKS['attention'][0]} {counts['attention']} {STATE_WORDS['attention']}",
             STATE_MARKS["attention"][1]), "   ",
            (f"{STATE_MARKS['todo'][0]} {counts['todo']} {STATE_WORDS['todo']}", STATE_MARKS["todo"][1]),
            "\n", *phase_parts,
        ))
        if status.next_step is None:
            nxt = Content.assemble(("Next step: ", "bold"), status.next_action)
        else:
            nxt = Content.assemble(
                ("Next step: ", "bold"), (status.next_step.title, "bold $accent"), "\n",
                status.next_action, "\n", ("Headless: ", "dim"), (f"$ {status.next_step.command}", "$accent"),
            )
        self.query_one("#dash-next", Static).update(nxt)
        blockers = self.query_one("#dash-blockers", Static)
        blockers.display = bool(status.blockers)
        blockers.update(Content.assemble(
            ("Blockers", "bold $warning"),
            *[part for line in status.blockers for part in ("\n", ("! ", "$warning"), line)],
        ))
        m = status.maturity
        if m is not None:
            level_parts: list[Content | str | tuple[str, str]] = [("MLOps maturity: ", "bold"),
                                                                  (f"level {m.level}", "bold $accent"),
                                                                  f" — {m.name}"]
            if m.missing:
                level_parts += ["\n", (f"For level {m.level + 1}: ", "dim"), ", ".join(m.missing)]
            self.query_one("#dash-maturity", Static).update(Content.assemble(*level_parts))
        last = status.last_step
        if last:
            role = f" ({last.get('role')})" if last.get("role") else ""
            text = Content.assemble(
                ("Last versioned step: ", "bold"), last.get("step_title", ""), " — ", last.get("summary", ""),
                "\n", ("by ", "dim"), f"{last.get('author', '')}{role}", ("  on ", "dim"),
                short_when(last.get("when", "")), ("  commit ", "dim"), last.get("short", ""),
            )
        else:
            text = Content.from_markup("[b]Last versioned step:[/b] none yet")
        self.query_one("#dash-last", Static).update(text)
        team = self.query_one("#dash-team", Static)
        shown = team_content(status.team)
        team.display = shown is not None
        team.update(shown or "")

    def show_error(self, message: str) -> None:
        self.query_one("#dash-title", Static).update(Content.assemble(("Cannot read the project", "bold $error")))
        self.query_one("#dash-meta", Static).update(message)


class ProjectScreen(WorkbenchScreen):
    """The project: lifecycle sidebar on the left, the chosen view on the right."""

    COMMANDS = {WorkbenchCommands}
    BINDINGS = [
        Binding("d", "dashboard", "Dashboard"),
        Binding("t", "timeline", "Timeline"),
        Binding("r", "refresh", "Refresh"),
        Binding("n", "next_step", "Next step"),
        # Sync (issue 18): one key for it across the app; again on the sync view: sync, after asking.
        Binding("S", "sync", "Sync", key_display="S"),
        Binding("backslash", "toggle_sidebar", "Sidebar", key_display="\\"),
        # Jumping (issue 16.4): 1 the sidebar, 2 the view on show, 3 the next panel in it.
        Binding("1", "jump_sidebar", "Sidebar", show=False),
        Binding("2", "jump_view", "View", show=False),
        Binding("3", "jump_panel", "Next panel", show=False),
    ]

    @dataclass
    class StatusLoaded(Message):
        """Every step's state, computed from the repository."""

        status: ProjectStatus

    @dataclass
    class TimelineLoaded(Message):
        """The history read from git (step commits, registry tags, experiment refs)."""

        timeline: tuple[TimelineEntry, ...]

    @dataclass
    class StatusFailed(Message):
        message: str

    @dataclass
    class LocksChecked(Message):
        """What lock recovery cleared; ``busy`` is the one-line busy message, if any."""

        messages: tuple[str, ...]
        busy: str | None = None

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.status: ProjectStatus | None = None
        #: The last timeline read from git, kept for the timeline view (built on first open).
        self.timeline: tuple[TimelineEntry, ...] | None = None
        self._announce_refresh = False
        self._closed_by_key = False

    def compose(self) -> ComposeResult:
        yield make_header()
        with Horizontal(id="project-body"):
            yield LifecycleSidebar()
            with ContentSwitcher(initial="dashboard", id="content"):
                yield Dashboard(id="dashboard")
        yield make_footer()

    def on_mount(self) -> None:
        self.app.sub_title = self.path.name
        sidebar = self.query_one(LifecycleSidebar)
        sidebar.point_at("dashboard")  # the cursor shows from the start
        if self.narrow:
            self.query_one(Dashboard).focus()
        else:
            sidebar.focus()
        # After the first paint: a stale lock is reported (and cleared) a frame later, and
        # its worker thread does not compete with the first frame for the interpreter.
        self.call_after_refresh(self.check_locks)
        prefetched = getattr(self.app, "take_prefetched", lambda _path: None)(self.path)
        if prefetched is not None and prefetched.done() and prefetched.exception() is None:
            # The CLI computed the status while Textual imported: show it in the first frame
            # rather than painting an empty dashboard and then the whole screen again.
            self._show_status(prefetched.result())
        else:
            self.load_status(prefetched)

    # --- workers ------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="locks",
          description="recover stale locks")
    def check_locks(self) -> None:
        from workbench.versioning import git
        from workbench.versioning.locks import recover_stale_locks

        try:
            root = git.repo_root(self.path)
            git_dir = git.git_dir(root) if root is not None else None
            messages = recover_stale_locks(self.path, git_dir)
        except ProjectBusyError as exc:
            self.post_message(self.LocksChecked((), busy=str(exc)))
            return
        except WorkbenchError as exc:
            self.post_message(self.StatusFailed(str(exc)))
            return
        self.post_message(self.LocksChecked(tuple(messages)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="status",
          description="compute the project status")
    def load_status(self, prefetched: Future[ProjectStatus] | None = None) -> None:
        from workbench.status import project_status

        post_core_result(self, lambda: self.StatusLoaded(
            prefetched.result() if prefetched is not None else project_status(self.path)), self.StatusFailed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="timeline",
          description="read the timeline from git")
    def load_timeline(self) -> None:
        from workbench.versioning.timeline import read_timeline

        post_core_result(self, lambda: self.TimelineLoaded(tuple(read_timeline(self.path))), self.StatusFailed)

    # --- messages -----------------------------------------------------------------

    def on_project_screen_locks_checked(self, event: LocksChecked) -> None:
        for message in event.messages:
            self.app.notify(message, title="Recovered", markup=False)
        if event.busy:
            self.app.notify(event.busy, severity="warning", markup=False, timeout=10)

    def on_step_ended(self, event: object) -> None:
        """A view's step ended: the sidebar, the dashboard's phase and next step follow (issue 16.13)."""
        self.load_status()

    def on_project_screen_status_loaded(self, event: StatusLoaded) -> None:
        self._show_status(event.status)

    def _show_status(self, status: ProjectStatus) -> None:
        self.status = status
        self.app.sub_title = status.name
        self.query_one(LifecycleSidebar).show_status(status)
        self.query_one(Dashboard).show_status(status)
        self.refresh_bindings()  # n (open the next step) depends on the status
        for view in self.query(".step-view"):
            if hasattr(view, "show_status"):
                view.show_status(status)
        # After the paint: with many experiment refs the timeline is the slow part.
        self.call_after_refresh(self.load_timeline)

    def on_project_screen_timeline_loaded(self, event: TimelineLoaded) -> None:
        self.timeline = event.timeline
        view = self._timeline_view()
        if view is not None:
            view.show_timeline(event.timeline)
        if self._announce_refresh:
            self._announce_refresh = False
            self.app.notify("Status refreshed from the repository.", timeout=3)

    def on_project_screen_status_failed(self, event: StatusFailed) -> None:
        self._announce_refresh = False
        self.query_one(Dashboard).show_error(event.message)
        notify_error(self, event.message)

    # --- navigation ---------------------------------------------------------------

    @property
    def current_view(self) -> str | None:
        """The id of the view on show: dashboard, timeline or step-<id>."""
        return self.query_one("#content", ContentSwitcher).current

    @property
    def narrow(self) -> bool:
        """Under 100 columns the sidebar hides unless asked for (\\ or 1), so the view has the room."""
        return self.app.size.width < NARROW_WIDTH

    def _sidebar_open(self, shown: bool) -> None:
        self.set_class(shown, "-sidebar-open")
        self.set_class(not shown, "-sidebar-closed")

    def on_resize(self, event: events.Resize) -> None:
        # The event's size, not the app's: the app's may not be updated yet when this arrives.
        if event.size.width >= NARROW_WIDTH and self.has_class("-sidebar-closed") and not self._closed_by_key:
            self._sidebar_open(True)

    def action_toggle_sidebar(self) -> None:
        """Show or hide the sidebar (hidden by itself under 100 columns)."""
        sidebar = self.query_one(LifecycleSidebar)
        shown = sidebar.display and sidebar.region.width > 0
        self._closed_by_key = shown
        self._sidebar_open(not shown)
        if not shown:
            self.set_focus(sidebar)
        elif sidebar.has_focus:
            self.action_jump_view()

    def action_jump_sidebar(self) -> None:
        self._closed_by_key = False
        self._sidebar_open(True)
        self.set_focus(self.query_one(LifecycleSidebar))

    def action_jump_view(self) -> None:
        switcher = self.query_one("#content", ContentSwitcher)
        if switcher.current is not None:
            if self.narrow:
                self._sidebar_open(False)
            self._focus_view(switcher.get_child_by_id(switcher.current))

    def action_jump_panel(self) -> None:
        """The next panel of the view on show: its tables, logs, trees and scrolling boxes, in turn."""
        from textual.containers import ScrollableContainer
        from textual.widgets import DataTable, Log, RichLog, Tabs, TextArea

        switcher = self.query_one("#content", ContentSwitcher)
        if switcher.current is None:
            return
        view = switcher.get_child_by_id(switcher.current)
        panels = [w for w in [view, *view.query("*")]
                  if w.focusable and isinstance(w, (DataTable, Log, RichLog, Tabs, Tree, ScrollableContainer))
                  and not isinstance(w, TextArea)]
        if not panels:
            return
        focused = self.focused
        here = next((i for i, w in enumerate(panels) if focused is not None
                     and (focused is w or w in focused.ancestors)), -1)
        self.set_focus(panels[(here + 1) % len(panels)])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_step":
            # the dashboard's key: open the step it recommends
            return self.current_view == "dashboard" and self.status is not None \
                and self.status.next_step is not None
        return True

    async def action_next_step(self) -> None:
        if self.status is not None and self.status.next_step is not None:
            await self.show_step(self.status.next_step.id)

    def _show_view(self, view: Widget) -> None:
        """Make ``view`` the one on show and put the focus in it.

        A hidden view keeps no focus: the focus chain is where Textual looks for bindings, so
        a focused widget left in the view just hidden kept its keys live (``a`` opened the
        use-case dialog from the dashboard) and the footer still listed them.
        """
        self.query_one("#content", ContentSwitcher).current = view.id
        if self.narrow and self.has_class("-sidebar-open"):
            # Only a sidebar opened by hand closes again; otherwise the breakpoint class
            # decides (at start the app may think it is 80x24 before the terminal says 120).
            self._sidebar_open(False)
        self._focus_view(view)
        self.refresh_bindings()

    def on_descendant_focus(self, event: object) -> None:
        """Whatever moves the focus into a hidden view (Textual refocuses after a hide), it goes to the view on show."""
        focused = self.focused
        switcher = self.query_one("#content", ContentSwitcher)
        if focused is None or switcher.current is None:
            return
        for child in switcher.children:
            if child.id != switcher.current and (focused is child or child in focused.ancestors):
                shown = switcher.get_child_by_id(switcher.current)
                self.call_later(self._focus_view, shown)
                return

    def action_dashboard(self) -> None:
        self.query_one(LifecycleSidebar).point_at("dashboard")
        self._show_view(self.query_one(Dashboard))

    def _timeline_view(self) -> TimelineView | None:
        views = self.query_one("#content", ContentSwitcher).query_children("#timeline")
        return views.first() if views else None  # type: ignore[return-value]

    async def action_timeline(self) -> None:
        """Show the timeline, building its view the first time (with the timeline read so far)."""
        switcher = self.query_one("#content", ContentSwitcher)
        self.query_one(LifecycleSidebar).point_at("timeline")
        view = self._timeline_view()
        if view is None:
            from screens.project.timeline_view import TimelineView

            view = TimelineView(id="timeline")
            await switcher.add_content(view, set_current=True)
            if self.timeline is not None:
                view.show_timeline(self.timeline)
        self._show_view(view)

    def _sync_view(self) -> SyncView | None:
        views = self.query_one("#content", ContentSwitcher).query_children("#sync")
        return views.first() if views else None  # type: ignore[return-value]

    async def action_sync(self) -> None:
        """``S``: show the sync view with a fresh three-way status; on the sync view, sync (it asks first)."""
        view = self._sync_view()
        if view is not None and self.current_view == "sync":
            view.ask_to_sync()
            return
        self.query_one(LifecycleSidebar).point_at("sync")
        if view is None:
            from screens.project.sync_view import SyncView

            view = SyncView(self.path, id="sync")
            await self.query_one("#content", ContentSwitcher).add_content(view, set_current=True)
        else:
            view.refresh_preview()
        self._show_view(view)

    async def action_set_remotes(self) -> None:
        """The sync view with the focus in its remotes form (the palette's "Set the shared remotes")."""
        if self.current_view != "sync":
            await self.action_sync()
        view = self._sync_view()
        if view is not None:
            view.form.input("git").focus()

    def action_refresh(self) -> None:
        self._announce_refresh = True
        for view in self.query(".step-view"):
            if hasattr(view, "reload"):
                view.reload()
        sync_view = self._sync_view()
        if sync_view is not None and self.current_view == "sync":
            sync_view.refresh_preview()
        self.load_status()

    async def show_step(self, step_id: str) -> None:
        """Show the view of one lifecycle step, building it the first time."""
        if step_id not in STEP_BY_ID:
            return
        switcher = self.query_one("#content", ContentSwitcher)
        view_id = f"step-{step_id}"
        self.query_one(LifecycleSidebar).point_at(step_id)
        if switcher.query(f"#{view_id}"):
            self._show_view(switcher.query_one(f"#{view_id}"))
            return
        view = make_step_view(step_id, self.path)
        view.id = view_id
        view.add_class("step-view")
        await switcher.add_content(view, set_current=True)
        if self.status is not None and hasattr(view, "show_status"):
            view.show_status(self.status)
        self._show_view(view)

    def _focus_view(self, view: Widget) -> None:
        """Move the focus into the opened view, so its keys work and the footer shows them.

        Shift+tab (or a click) goes back to the sidebar.
        """
        if view.display and view.is_attached:
            focus_into(view)

    @on(Tree.NodeSelected, "#sidebar")
    async def _on_sidebar(self, event: Tree.NodeSelected) -> None:
        kind, key = event.node.data or ("", "")
        if kind == "view":
            if key == "dashboard":
                self.action_dashboard()
            elif key == "sync":
                await self.action_sync()
            else:
                await self.action_timeline()
        elif kind == "step":
            await self.show_step(key)
