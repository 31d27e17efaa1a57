"""The sync view: the three-way status with the team's remote, then ``sync`` on a confirmation.

Opening it (``S`` anywhere, or the palette) runs ``sync --dry-run`` in a thread worker: git fetch
into a private namespace and ``dvc status -c``, nothing changed. The table shows what is only
here (it would be pushed) and only there (it would be pulled): commits, experiments, registry
tags, notes and DVC objects, and the registry races sync would refuse. ``S`` again asks first,
in a modal naming what will be pulled and pushed (enter or y syncs, escape or n leaves
everything), then runs the real sync in a worker with its stages shown; ``x`` stops it.
Refusals are the core's one lines, the same the CLI prints (a registry race, uncommitted edits
in files the pull would change, a conflict). All git and DVC work is the core's
(:mod:`workbench.versioning.sync`), in workers, never on the event loop.

A project without a shared git remote says so, and the form under the table sets the remotes
with the core of ``remote set`` (git URL, DVC URL, S3 endpoint and credentials; one commit of
``.dvc/config``, credentials only in ``.dvc/config.local``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Static
from textual.worker import get_current_worker

from screens.base import StepEnded, notify_error, post_core_result
from screens.onboarding.remote_fields import RemoteFields, field_of
from screens.project.progress import JobProgress

if TYPE_CHECKING:
    from workbench.versioning.remote import Remotes
    from workbench.versioning.sync import SyncResult

SYNC_KEY = "S"
NO_REMOTE = ("This project has no shared git remote yet, so there is nobody to sync with. Add one in the form "
             "below (the same as 'mlops-workbench remote set --git URL --dvc URL'), then press S.")


def _some(items: list[str], limit: int = 3) -> str:
    if not items:
        return ""
    shown = ", ".join(items[:limit]) + (f" +{len(items) - limit}" if len(items) > limit else "")
    return f"{len(items)}: {shown}"


def status_rows(r: SyncResult) -> list[tuple[str, str, str]]:
    """(what, only here -> pushed, only there -> pulled) for the table."""
    notes_here = "yes" if r.notes in ("only here", "ahead", "diverged") else ""
    notes_there = "yes" if r.notes in ("only there", "behind", "diverged") else ""
    if r.dvc_checked:
        dvc_here, dvc_there = _some(r.dvc_missing_remote), _some(r.dvc_missing_local)
    else:
        dvc_here = dvc_there = "not checked (no DVC remote)"
    return [
        ("Commits", str(r.ahead) if r.ahead else "", str(r.behind) if r.behind else ""),
        ("Experiments", _some(r.exps_here), _some(r.exps_there)),
        ("Registry tags", _some(r.tags_here), _some(r.tags_there)),
        ("Notes", notes_here + (" (merged)" if r.notes == "diverged" else ""),
         notes_there + (" (merged)" if r.notes == "diverged" else "")),
        ("DVC objects", dvc_here, dvc_there),
    ]


def plan(r: SyncResult) -> tuple[list[str], list[str]]:
    """(what a sync would pull, what it would push), as phrases, from a dry run."""
    raced = {race.tag for race in r.races}
    pull: list[str] = []
    push: list[str] = []
    if r.behind:
        pull.append(f"{r.behind} commit(s) on {r.branch}" + (" (your commits rebased on them)" if r.ahead else ""))
    if r.exps_there:
        pull.append(f"experiments {', '.join(r.exps_there)}")
    if r.tags_there:
        pull.append(f"registry tags {', '.join(r.tags_there)}")
    if r.notes in ("only there", "behind", "diverged"):
        pull.append("notes" + (" (merged with yours)" if r.notes == "diverged" else ""))
    if r.dvc_missing_local:
        pull.append(f"the data of {len(r.dvc_missing_local)} DVC output(s)")
    if r.ahead:
        push.append(f"{r.ahead} commit(s) on {r.branch}")
    if r.exps_here:
        push.append(f"experiments {', '.join(r.exps_here)}")
    tags = [t for t in r.tags_here if t not in raced]
    if tags:
        push.append(f"registry tags {', '.join(tags)}")
    if r.notes in ("only here", "ahead", "diverged"):
        push.append("notes")
    if r.dvc_missing_remote:
        push.append(f"the data of {len(r.dvc_missing_remote)} DVC output(s)")
    return pull, push


def outcome_lines(r: SyncResult) -> list[tuple[str, str]]:
    """(line, style) of what a sync did: the CLI's lines, refusals last and marked."""
    lines: list[tuple[str, str]] = []
    if r.pulled:
        lines.append((f"pulled ({r.pulled}): {len(r.pulled_files)} file(s) changed", ""))
    if r.pipeline:
        lines.append((f"pipeline: {r.pipeline}", "$warning" if not r.pipeline.startswith("up to date") else ""))
    lines += [(f"pushed {item}", "") for item in r.pushed]
    lines += [(f"refused: {race.line()}", "$error") for race in r.races]
    lines += [(f"note: {message}", "$warning" if r.in_sync else "$error") for message in r.messages]
    if r.in_sync:
        lines.append(("in sync with origin", "$success"))
    return lines


class SyncView(VerticalScroll):
    """The three-way status, the sync on a confirmation, and the shared-remotes form."""

    BINDINGS = [
        Binding("x", "stop", "Stop sync"),
        Binding("ctrl+s", "save_remotes", "Save remotes"),
    ]

    @dataclass
    class Progress(Message):
        line: str

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, SyncView.Progress)

    @dataclass
    class RemotesRead(Message):
        remotes: Remotes

    @dataclass
    class Previewed(Message):
        result: SyncResult

    @dataclass
    class Synced(Message):
        result: SyncResult

    @dataclass
    class RemotesSaved(Message):
        remotes: Remotes

    @dataclass
    class Failed(Message, bubble=False):
        message: str
        during: str = "preview"  # preview | sync | remotes

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)
        self.remotes: Remotes | None = None
        self.preview: SyncResult | None = None
        self.running = False
        self.fetching = False
        self.form = RemoteFields(self, "sync", credentials=True)

    def compose(self) -> ComposeResult:
        yield Static("Sync with the team", classes="view-title")
        yield Static("Reading the remotes…", id="sync-remotes", markup=False)
        table: DataTable[str] = DataTable(id="sync-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("", "Only here: pushed", "Only there: pulled")
        yield table
        yield Static("", id="sync-plan")
        yield JobProgress(id="sync-progress")
        yield Static("", id="sync-result")
        yield Static("Shared remotes (mlops-workbench remote set): ctrl+s saves, one commit of .dvc/config",
                     classes="sync-form-title", markup=False)
        with Grid(classes="remote-grid", id="sync-form"):
            yield from self.form.compose()
        with Horizontal(classes="uc-modal-buttons"):
            yield Button("Save remotes", id="sync-save", compact=True)

    def on_mount(self) -> None:
        if getattr(self.app, "testing", False):
            for widget in self.query(Input):
                widget.cursor_blink = False
        self.refresh_preview()

    def refresh_preview(self) -> None:
        """Read the remotes and the three-way status again (a dry run: nothing is changed)."""
        if self.running:
            return
        self.fetching = True
        self.load()

    # --- workers ------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync-load",
          description="fetch the three-way status")
    def load(self) -> None:
        """The remotes, then ``sync --dry-run`` when there is a git remote (git fetch, dvc status -c)."""
        from workbench.versioning.remote import read_remotes
        from workbench.versioning.sync import sync

        worker = get_current_worker()

        def preview() -> Message:
            remotes = read_remotes(self.path)
            self.post_message(self.RemotesRead(remotes))
            if not remotes.git_url:
                return self.Progress("")  # nothing to fetch: RemotesRead said it all
            return self.Previewed(sync(self.path, dry_run=True, cancel=worker.cancelled_event))

        post_core_result(self, preview, self.Failed, during="preview")

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync", description="sync with the team")
    def run_sync(self) -> None:
        from workbench.versioning.sync import sync

        worker = get_current_worker()
        post_core_result(self, lambda: self.Synced(sync(
            self.path, progress=lambda line: self.post_message(self.Progress(line)),
            cancel=worker.cancelled_event)), self.Failed, during="sync")

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync-remotes",
          description="set the shared remotes")
    def save(self, values: dict[str, str | None]) -> None:
        from workbench.versioning.remote import set_remotes

        post_core_result(self, lambda: self.RemotesSaved(set_remotes(self.path, **values)), self.Failed,
                         during="remotes")

    # --- showing ------------------------------------------------------------------

    def on_sync_view_remotes_read(self, event: RemotesRead) -> None:
        r = self.remotes = event.remotes
        dvc = f"{r.dvc_url}" + (f" (endpoint {r.dvc_endpoint})" if r.dvc_endpoint else "") if r.dvc_url else "none"
        self.query_one("#sync-remotes", Static).update(
            f"git origin: {r.git_url or 'none'}\nDVC remote: {dvc}; credentials: {r.credentials}")
        for name, value in (("git", r.git_url), ("dvc", r.dvc_url), ("endpoint", r.dvc_endpoint)):
            field = self.form.input(name)
            if not field.has_focus:
                field.value = value or ""
        if not r.git_url:
            self.fetching = False
            self.preview = None
            self.query_one("#sync-table", DataTable).clear()
            self.query_one("#sync-plan", Static).update(Content.assemble((NO_REMOTE, "$warning")))
        else:
            self.query_one("#sync-plan", Static).update(Content.assemble(("fetching from origin…", "dim")))
        self.screen.refresh_bindings()

    def on_sync_view_previewed(self, event: Previewed) -> None:
        self.preview = r = event.result
        self.fetching = False
        table = self.query_one("#sync-table", DataTable)
        table.clear()
        for what, here, there in status_rows(r):
            table.add_row(what, here, there, key=what)
        pull, push = plan(r)
        parts: list[str | tuple[str, str]] = [(f"{r.branch} vs origin ({r.remote})", "bold"), "\n"]
        if not pull and not push and not r.races:
            parts.append(("In sync: nothing to pull or push.", "$success"))
        else:
            parts.append(f"S syncs: pulls {'; '.join(pull) or 'nothing'}; pushes {'; '.join(push) or 'nothing'}.")
        for race in r.races:
            parts += ["\n", (f"will not push: {race.line()}", "$error")]
        self.query_one("#sync-plan", Static).update(Content.assemble(*parts))
        self.screen.refresh_bindings()

    def on_sync_view_progress(self, event: Progress) -> None:
        if not event.line:
            return
        progress = self.query_one(JobProgress)
        line = event.line.strip()
        if line.startswith(("fetching", "pushing", "pulling")):
            progress.stage(line.split(" from ")[0].split(" to ")[0])
        elif progress.stage_name:
            progress.stage(f"{progress.stage_name.split(': ')[0]}: {line}")

    def on_sync_view_synced(self, event: Synced) -> None:
        self._stopped()
        lines = outcome_lines(event.result)
        self.query_one("#sync-result", Static).update(Content.assemble(
            *[part for i, (line, style) in enumerate(lines) for part in (("\n" if i else ""), (line, style))]))
        for line, style in lines:
            if style == "$error":
                notify_error(self.screen, line)
        if event.result.in_sync:
            self.app.notify("In sync with origin.", markup=False)
        self.post_message(StepEnded())
        self.refresh_preview()

    def on_sync_view_failed(self, event: Failed) -> None:
        if event.during == "remotes":
            field = field_of(event.message)
            if field is not None:
                self.form.mark(field, event.message)
        elif event.during == "sync":
            self._stopped()
            self.query_one("#sync-result", Static).update(Content.assemble((event.message, "$error")))
            self.refresh_preview()
        else:
            self.fetching = False
            self.query_one("#sync-plan", Static).update(Content.assemble((event.message, "$error")))
        notify_error(self.screen, event.message)

    def on_sync_view_remotes_saved(self, event: RemotesSaved) -> None:
        for message in event.remotes.messages:
            self.app.notify(message, markup=False)
        self.form.input("key").value = self.form.input("secret").value = ""
        self.post_message(StepEnded())
        self.refresh_preview()

    # --- actions ------------------------------------------------------------------

    def ask_to_sync(self) -> None:
        """``S`` on the view: with a fresh preview, name what will be pulled and pushed and ask first."""
        from screens.base import ConfirmScreen

        if self.running:
            return
        if self.remotes is not None and not self.remotes.git_url:
            notify_error(self.screen, "this project has no shared git remote: set one in the form (git remote), "
                         "then sync")
            self.form.input("git").focus()
            return
        r = self.preview
        if self.fetching or r is None:
            self.app.notify("Fetching the status from origin: press S again when it is shown.", markup=False)
            if not self.fetching:
                self.refresh_preview()
            return
        pull, push = plan(r)
        if not pull and not push and not r.races:
            self.app.notify("In sync with origin: nothing to pull or push.", markup=False)
            return
        body = [f"Pulls: {'; '.join(pull) or 'nothing'}.", f"Pushes: {'; '.join(push) or 'nothing'}."]
        body += [f"Not pushed: {race.line()}" for race in r.races]
        body.append("Enter or y syncs; escape or n leaves everything as it is.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.start_sync()

        self.app.push_screen(ConfirmScreen(f"Sync {r.branch} with origin?", "\n".join(body), "Sync"), answered)

    def start_sync(self) -> None:
        self.running = True
        self.query_one("#sync-result", Static).update("")
        self.query_one(JobProgress).start("sync", "fetching")
        self.screen.refresh_bindings()
        self.run_sync()

    def _stopped(self) -> None:
        self.running = False
        self.query_one(JobProgress).finish()
        self.screen.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.running
        return True

    def action_stop(self) -> None:
        if self.running:
            self.app.workers.cancel_group(self, "sync")
            self.query_one(JobProgress).stage("stopping (what was pushed stays; run sync again to finish)")

    @on(Button.Pressed, "#sync-save")
    @on(Input.Submitted, ".remote-field")
    def action_save_remotes(self) -> None:
        bad = self.form.first_invalid()
        if bad is not None:
            notify_error(self.screen, bad[1])
            self.form.mark(*bad)
            return
        v = self.form.values()
        now = self.remotes
        values: dict[str, str | None] = {
            "git_url": v.git if v.git and (now is None or v.git != now.git_url) else None,
            "dvc_url": v.dvc if v.dvc and (now is None or v.dvc != now.dvc_url) else None,
            "endpoint": v.endpoint if v.endpoint and (now is None or v.endpoint != now.dvc_endpoint) else None,
            "access_key_id": v.access_key_id, "secret_access_key": v.secret_access_key,
        }
        if values["endpoint"] and not values["dvc_url"] and v.dvc:
            values["dvc_url"] = v.dvc
        if not any(values.values()):
            self.app.notify("The remotes are as shown: nothing to change.", markup=False)
            return
        self.save(values)

    @on(Input.Changed, ".remote-field")
    def _clear_invalid(self, event: Input.Changed) -> None:
        if event.input.has_class("-invalid"):
            event.input.remove_class("-invalid")
            event.input.tooltip = None
