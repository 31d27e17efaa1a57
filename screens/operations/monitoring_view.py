"""The Monitoring & triggering step: the latest drift report, each feature's histograms, drift over time.

The reports are the files ``mlops-workbench monitor`` commits (``monitoring/<date>-<n>.json``);
reading them is plain JSON, done in a thread worker with
:func:`workbench.operations.monitoring.list_reports` and ``read_report``. Each feature in a
report already carries the reference and current shares per bin (or category), so the
overlaid histograms need neither the batch nor pandas.

A check (``m``) and retraining (``t``) run the CLI itself as a subprocess
(``mlops-workbench monitor PATH --json``, ``mlops-workbench retrain --json``): scoring the
batch imports scikit-learn, pandas and pyarrow, and retraining runs DVC, none of which may
hold the TUI's GIL; the subprocess also makes the commit exactly as the command would. Its
stderr streams into the log under the table, its exit code and JSON decide the
notification, and an error is the one line the CLI printed. ``x`` interrupts a run
(SIGINT: the command stops cleanly and commits nothing). ``r`` (the project screen's
refresh) reloads the reports.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Log, Static

from screens.base import StepView, notify_error, step_ended
from screens.operations.monitoring_format import (
    CURRENT_COLOR,
    FEATURE_COLUMNS,
    METHOD_LONG,
    METHOD_NAMES,
    PREDICTIONS_FOLDER,
    PSI_STYLES,
    REFERENCE_COLOR,
    REFERENCE_FILE,
    REPORT_COLUMNS,
    cli_line,
    edge_label,
    gate_name,
    json_of,
    largest_shifts,
    number,
    pct,
    psi_band,
    severity_order,
    short_when,
)
from workbench import jobs
from workbench.errors import WorkbenchError
from workbench.textfmt import clip

if TYPE_CHECKING:
    from workbench.operations.monitoring import ReportSummary

class MonitoringView(StepView, VerticalScroll):
    """The verdict of the latest check, features by severity with their histograms, drift over time."""

    STEP_ID = "monitoring"

    BINDINGS = [
        Binding("m", "check", "Check batch"),
        # not "t": that opens the timeline everywhere else, and a retrain commits data and runs
        # an experiment; a control key, like Run in the training view
        Binding("ctrl+r", "retrain", "Retrain"),
        Binding("x", "cancel", "Cancel run"),
    ]

    @dataclass
    class Loaded(Message):
        """The project's reports (oldest first), the one on show (parsed JSON), and what is missing."""

        reports: list[ReportSummary]
        report: dict[str, Any] | None
        has_reference: bool
        has_log: bool
        suggestion: str | None = None  # a file in incoming/ to offer when there is no prediction log
        retrained: str | None = None  # "abc1234 <subject>": the retrain commit made from this report's batch

    @dataclass
    class Line(Message):
        """One line a running command printed on stderr."""

        text: str

    @dataclass
    class Finished(Message):
        """A command ended: which, its exit code, stdout (JSON) and the lines of stderr."""

        what: str  # monitor | retrain
        code: int
        stdout: str
        stderr: list[str] = field(default_factory=list)

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reports: list[ReportSummary] = []
        self.report: dict[str, Any] | None = None
        self.shown_id: str | None = None  # a past report chosen in the history table (None: the latest)
        self.features: dict[str, dict[str, Any]] = {}
        self.plotted: str | None = None
        self.running: str | None = None  # monitor | retrain
        self.process: jobs.Popen[str] | None = None
        self.has_reference = True
        self.has_log = False
        self.retrained: str | None = None
        self.suggested = False  # the batch field was prefilled once (never again over the user's text)

    # --- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Content.from_markup("[b]Monitoring & triggering[/b]  [dim]Operations[/dim]"),
                     classes="view-title")
        yield Static(Content.from_markup("[dim]Reading the monitoring reports…[/dim]"), id="mon-verdict")
        with Horizontal(id="mon-actions"):
            yield Input(id="mon-batch", compact=True,
                        placeholder="batch file to check (empty: the prediction log in monitoring/predictions/)")
            yield Button("Check  m", id="mon-check", variant="primary", compact=True)
            yield Button("Retrain  ctrl+r", id="mon-retrain", compact=True)
        from screens.project.progress import JobProgress

        yield JobProgress(id="mon-progress")
        yield Log(id="mon-log", max_lines=500)
        with Vertical(id="mon-report-body"):
            yield Static("Features by severity", classes="mon-section", id="mon-features-title")
            yield DataTable(id="mon-features", cursor_type="row", zebra_stripes=True)
            yield Static("", id="mon-feature-detail")
            yield Vertical(id="mon-plot-box")
            yield Static("Drift over time", classes="mon-section")
            with Horizontal(id="mon-history"):
                yield Vertical(id="mon-trend-box")
                yield DataTable(id="mon-reports", cursor_type="row", zebra_stripes=True)
        yield Static(Content.assemble(
            "Headless: ", ("$ mlops-workbench monitor [BATCH]", "bold"), " (exit 0 healthy, 3 action recommended)"
            " · ", ("monitor --history", "bold"), " · ", ("retrain", "bold")), id="mon-headless")

    def on_mount(self) -> None:
        table = self.query_one("#mon-features", DataTable)
        for key, label in FEATURE_COLUMNS:
            table.add_column(label, key=key)
        reports = self.query_one("#mon-reports", DataTable)
        for key, label in REPORT_COLUMNS:
            reports.add_column(label, key=key)
        self.quiet_inputs("#mon-batch")
        self.add_class("-empty")
        self.load()

    def on_unmount(self) -> None:
        self._interrupt()

    # --- reading the reports ----------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitoring-load",
          description="read the monitoring reports")
    def load(self) -> None:
        from workbench.operations.monitoring import list_reports, read_report

        try:
            reports = list_reports(self.path)
            wanted = self.shown_id if self.shown_id in {r.id for r in reports} else None
            chosen = wanted or (reports[-1].id if reports else None)
            report = read_report(self.path, chosen) if chosen else None
        except (WorkbenchError, OSError, ValueError) as exc:
            self.post_message(self.Failed(str(exc)))
            return
        log = self.path / PREDICTIONS_FOLDER
        has_log = log.is_dir() and any(p.suffix in (".jsonl", ".ndjson") for p in log.iterdir())
        incoming = self.path / "incoming"
        found = sorted(incoming.glob("*.csv")) if not has_log and incoming.is_dir() else []
        suggestion = found[0].relative_to(self.path).as_posix() if found else None
        retrained = None
        if report is not None and report.get("action_recommended") and report.get("id"):
            from workbench.versioning.history import commit_from_report

            retrained = commit_from_report(self.path, str(report["id"]))
        self.post_message(self.Loaded(reports, report, (self.path / REFERENCE_FILE).is_file(), has_log,
                                      suggestion, retrained))

    def on_monitoring_view_loaded(self, event: Loaded) -> None:
        self.reports = event.reports
        self.report = event.report
        self.has_reference = event.has_reference
        self.has_log = event.has_log
        self.retrained = event.retrained
        self.query_one("#mon-batch", Input).placeholder = (
            "batch file to check (empty: the new lines of the prediction log)" if event.has_log else
            "batch file to check: a CSV, TSV or Parquet file with the model's features")
        batch_input = self.query_one("#mon-batch", Input)
        if event.suggestion and not batch_input.value and not self.suggested:
            # no prediction log to default to: offer a file that arrived for scoring, as Deployment does
            batch_input.value = event.suggestion
        self.suggested = True
        self.set_class(event.report is None, "-empty")
        self._show_verdict()
        if event.report is None:
            return
        self._show_features(event.report)
        self._show_history()

    def _show_verdict(self) -> None:
        verdict = self.query_one("#mon-verdict", Static)
        retrain = self.query_one("#mon-retrain", Button)
        report = self.report
        if report is None:
            retrain.variant = "default"
            if not self.has_reference:
                verdict.update(Content.assemble(
                    ("No reference statistics yet. ", "bold"),
                    f"A check compares new data with {REFERENCE_FILE}, which the evaluate stage writes when "
                    "the model is trained: run the pipeline first (the Training step, or ",
                    ("$ dvc repro", "bold $accent"), ")."))
                return
            verdict.update(Content.assemble(
                ("No monitoring report yet. ", "bold"),
                "Check a batch of new data against the training reference: give a file below and press ",
                ("m", "bold $accent"),
                (" (empty: the prediction log the service writes)" if self.has_log else ""),
                ", or from a terminal:\n  ", ("$ mlops-workbench monitor [BATCH]", "bold $accent")))
            return
        action = bool(report.get("action_recommended"))
        retrain.variant = "warning" if action else "default"
        batch = report.get("batch") or {}
        dd = report.get("dataset_drift") or {}
        latest = bool(self.reports) and report.get("id") == self.reports[-1].id
        head: list[Any] = [
            ("ACTION RECOMMENDED" if action else "HEALTHY", f"bold {'$warning' if action else '$success'}"),
            (f"   report {report.get('id')}{'' if latest else ' (an earlier report)'} · checked "
             f"{short_when(str(report.get('checked_at') or ''))}", "dim"), "\n",
            ("Batch ", "dim"), str(batch.get("path") or batch.get("display") or "-"),
            ("  rows ", "dim"), f"{int(batch.get('rows') or 0):,}",
            ("  dataset drift ", "dim"),
            (f"{float(dd.get('share') or 0):.0%}", "bold $warning" if dd.get("detected") else "bold"),
            f" ({dd.get('drifted', 0)} of {dd.get('compared', 0)} features; threshold "
            f"{float(dd.get('threshold') or 0):.0%})",
        ]
        for reason in report.get("reasons") or []:
            head += ["\n", ("  ! ", "bold $warning"), str(reason)]
        if not self.has_reference:
            head += ["\n", ("  ! ", "bold $error"), f"{REFERENCE_FILE} is missing: run the pipeline "
                     "(dvc repro) before the next check"]
        if action and self.retrained:
            head += ["\n", ("Retrained on this batch: ", "bold $success"), self.retrained,
                     ("  (the candidate's gates: Testing & validation)", "dim")]
        elif action:
            head += ["\n", ("Retrain through the same gates: press ", ""), ("ctrl+r", "bold $accent"),
                     " (or ", ("$ mlops-workbench retrain", "bold $accent"), ")"]
        verdict.update(Content.assemble(*head))

    def _show_features(self, report: dict[str, Any]) -> None:
        thresholds = report.get("thresholds") or {}
        moderate = float(thresholds.get("psi_moderate", 0.1))
        significant = float(thresholds.get("psi_significant", 0.25))
        rows = severity_order([f for f in report.get("features") or [] if isinstance(f, dict)])
        outputs = [f for f in (report.get("prediction_drift") or {}).get("outputs") or [] if isinstance(f, dict)]
        table = self.query_one("#mon-features", DataTable)
        previous = self.highlighted_name()
        table.clear()
        self.features = {}
        for f in [*rows, *outputs]:
            name = str(f.get("name"))
            self.features[name] = f
            table.add_row(*self._cells(f, moderate, significant), key=name)
        shown = len(rows)
        title = f"Features by severity ({shown})" + (" and the model's outputs" if outputs else "")
        self.query_one("#mon-features-title", Static).update(title)
        if table.row_count:
            target = previous if previous in self.features else next(iter(self.features))
            table.move_cursor(row=table.get_row_index(target), animate=False)
            self._show_selected(force=True)

    def _cells(self, f: dict[str, Any], moderate: float, significant: float) -> list[Any]:
        method = str(f.get("method") or "none")
        p_value = f.get("p_value")
        threshold = f.get("threshold")
        if f.get("statistic") is None:
            statistic = Text("-", style="dim")
        elif p_value is not None:  # KS / chi-squared decide by the p-value (the statistic is in the detail)
            statistic = Text(f"p={number(p_value, 2)}")
        else:
            statistic = Text(number(f["statistic"], 3))
        name = METHOD_NAMES.get(method, method)
        if threshold is None:
            test = Text(name, style="dim")
        elif method in ("ks", "chi_squared"):
            test = Text.assemble(name, (f" p<{number(threshold)}", "dim"))
        else:
            test = Text.assemble(name, (f" ≥{number(threshold)}", "dim"))
        psi = f.get("psi")
        band = f.get("psi_band") or psi_band(psi, moderate, significant)
        psi_cell = Text("-", style="dim") if psi is None else Text.assemble(
            f"{float(psi):.3f} ", (str(band), PSI_STYLES.get(str(band), "")))
        drifted = f.get("drifted")
        mark = (Text("- n/a", style="dim") if drifted is None else
                Text("! yes", style="bold red") if drifted else Text("✔ no", style="green"))
        return [str(f.get("name")), mark, statistic, test, psi_cell]

    def highlighted_name(self) -> str | None:
        table = self.query_one("#mon-features", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)

    @on(DataTable.RowHighlighted, "#mon-features")
    def _feature_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_selected()

    @on(DataTable.RowSelected, "#mon-features")
    def _feature_selected(self, event: DataTable.RowSelected) -> None:
        self._show_selected()
        self.scroll_to_widget(self.query_one("#mon-plot-box"), animate=False)

    def _show_selected(self, force: bool = False) -> None:
        name = self.highlighted_name()
        f = self.features.get(name or "")
        if f is None or (name == self.plotted and not force):
            return
        method = str(f.get("method") or "none")
        parts: list[Any] = [(str(name), "bold"), f"  {f.get('kind')}",
                            (f" · {METHOD_LONG.get(method, METHOD_NAMES.get(method, method))} · "
                             f"{int(f.get('reference_rows') or 0):,} reference rows, "
                             f"{int(f.get('current_rows') or 0):,} in the batch", "dim")]
        if f.get("p_value") is not None and f.get("statistic") is not None:
            parts += [("  statistic ", "dim"), number(f["statistic"], 4), ("  p-value ", "dim"),
                      number(f["p_value"], 3)]
        ref_missing, cur_missing = f.get("reference_missing_share"), f.get("current_missing_share")
        if ref_missing or cur_missing:
            parts += [("  missing ", "dim"), pct(ref_missing), " -> ", pct(cur_missing)]
        hist = f.get("histogram") or {}
        if hist.get("reference"):
            ref_rgb, cur_rgb = (f"rgb{c}".replace(" ", "") for c in (REFERENCE_COLOR, CURRENT_COLOR))
            parts += ["\n", ("■", ref_rgb), " reference  ", ("■", cur_rgb), " current"]
            shifts = largest_shifts(hist)
            if shifts:
                parts += [("   largest shifts: ", "dim"), shifts]
        for note in f.get("notes") or []:
            parts += ["\n", ("note: ", "$warning"), str(note)]
        self.query_one("#mon-feature-detail", Static).update(Content.assemble(*parts))
        self._draw_histogram(str(name), f)

    # --- plots ----------------------------------------------------------------------------------

    def _plot(self, box_id: str, plot_id: str) -> Any:
        """The plot in ``box_id``, mounted the first time (textual-plotext is imported only then)."""
        from textual_plotext import PlotextPlot

        box = self.query_one(f"#{box_id}", Vertical)
        plots = box.query(PlotextPlot)
        if plots:
            return plots.first()
        plot = PlotextPlot(id=plot_id)
        box.mount(plot)
        return plot

    def _draw_histogram(self, name: str, f: dict[str, Any]) -> None:
        """Reference and current shares side by side: per category, or per reference bin (the test's bins)."""
        plot = self._plot("mon-plot-box", "mon-hist")
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        self.plotted = name
        hist = f.get("histogram") or {}
        ref = [float(v) for v in hist.get("reference") or []]
        cur = [float(v) for v in hist.get("current") or []]
        if not ref or len(ref) != len(cur):
            why = (f.get("notes") or ["not compared"])[0]
            plt.title(f"{name}: nothing to plot ({why})")
            plot.refresh()
            return
        positions = list(range(1, len(ref) + 1))
        plt.multiple_bar(positions, [ref, cur], color=[REFERENCE_COLOR, CURRENT_COLOR], width=0.8)
        if "categories" in hist:
            labels = [str(c) for c in hist["categories"]]
            width = plot.size.width or max(self.size.width - 4, 60)
            room = max(3, min(14, (width - 8) // max(len(labels), 1) - 1))
            plt.xticks(positions, [clip(label, room) for label in labels])
            plt.title(f"{name}: share of rows per category")
        else:
            edges = [float(e) for e in hist.get("edges") or []]
            kind = str(f.get("kind") or "numeric")
            if len(edges) == len(ref) + 1:
                # tick k sits between bar k and bar k+1: the cut point there
                picks = sorted({0, len(edges) // 4, len(edges) // 2, 3 * len(edges) // 4, len(edges) - 1})
                plt.xticks([i + 0.5 for i in picks], [edge_label(edges[i], kind) for i in picks])
            plt.title(f"{name}: share of rows per reference bin")
        plt.ylim(0, max(max(ref), max(cur)) * 1.1 or 1)
        plot.refresh()

    def _show_history(self) -> None:
        reports = self.query_one("#mon-reports", DataTable)
        reports.clear()
        for r in reversed(self.reports):  # newest on top
            status = Text("! action", style="bold yellow") if r.action_recommended else Text("✔ healthy",
                                                                                           style="green")
            reports.add_row(r.id, r.checked_at[11:16] or "-", status, f"{r.drift_share:.0%}", key=r.id)
        shown = (self.report or {}).get("id")
        if shown in {r.id for r in self.reports}:
            reports.move_cursor(row=reports.get_row_index(shown), animate=False)
        self._draw_trend()

    def _draw_trend(self) -> None:
        plot = self._plot("mon-trend-box", "mon-trend")
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if not self.reports:
            plt.title("No reports yet")
            plot.refresh()
            return
        xs = list(range(1, len(self.reports) + 1))
        shares = [r.drift_share * 100 for r in self.reports]
        plt.plot(xs, shares, marker="braille", color=CURRENT_COLOR)
        plt.scatter(xs, shares, marker="●", color=CURRENT_COLOR)
        threshold = float(((self.report or {}).get("thresholds") or {}).get("drift_share", 0.5)) * 100
        plt.horizontal_line(threshold, color=(220, 60, 60))
        plt.ylim(0, 100)
        plt.xlim(0.5, len(xs) + 0.5)
        step = max(1, len(xs) // 6)
        picks = xs[::step] if xs[-1] in xs[::step] else [*xs[::step], xs[-1]]
        plt.xticks(picks, [self.reports[i - 1].id[5:] for i in picks])
        plt.title("% of features drifted, per report")
        plot.refresh()

    @on(DataTable.RowSelected, "#mon-reports")
    def _report_selected(self, event: DataTable.RowSelected) -> None:
        """Show a past report's features and verdict (Enter on a row of the history)."""
        chosen = str(event.row_key.value)
        latest = self.reports[-1].id if self.reports else None
        self.shown_id = None if chosen == latest else chosen
        self.load()

    # --- running the CLI ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Cancel shows in the footer only while a command runs."""
        if action == "cancel":
            return self.running is not None
        return True

    @on(Button.Pressed, "#mon-check")
    @on(Input.Submitted, "#mon-batch")
    def action_check(self) -> None:
        batch = self.query_one("#mon-batch", Input).value.strip()
        args = ["monitor", *([batch] if batch else []), "--json"]
        self._start("monitor", args, f"checking {batch or 'the prediction log'}…")

    @on(Button.Pressed, "#mon-retrain")
    def action_retrain(self) -> None:
        """A retrain commits data and runs an experiment: asked first (issue 16.9)."""
        from screens.base import ConfirmScreen

        if self.running is not None:
            self._start("retrain", [], "")  # says what is running
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._start("retrain", ["retrain", "--json"], "retraining through the gates…")

        self.app.push_screen(ConfirmScreen(
            "Retrain now?",
            "Commits the labelled batch as training data (tracked with DVC), then runs an experiment "
            "and the gates on it; x interrupts the run. Enter or y retrains, escape or n changes nothing.",
            "Retrain"), answered)

    def action_cancel(self) -> None:
        if self.running is not None and self._interrupt():
            self._log("interrupting… (the command stops cleanly and commits nothing)")

    def _start(self, what: str, args: list[str], say: str) -> None:
        if self.running is not None:
            self.app.notify(f"Please wait: {self.running} is running (x interrupts it)", markup=False, timeout=3)
            return
        self.running = what
        self.refresh_bindings()
        log = self.query_one("#mon-log", Log)
        log.clear()
        log.add_class("-shown")
        log.border_title = f"$ mlops-workbench {' '.join(args)}"
        self._log(say)
        self.query_one("#mon-progress").start("retrain" if what == "retrain" else "monitoring check",
                                              say.rstrip("…"))
        self._run(what, args)

    def _log(self, line: str) -> None:
        self.query_one("#mon-log", Log).write_line(line)

    def _interrupt(self) -> bool:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return False
        try:
            proc.send_signal(signal.SIGINT)
        except OSError:
            return False
        return True

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitoring-run",
          description="run mlops-workbench")
    def _run(self, what: str, args: list[str]) -> None:
        import tempfile

        try:
            with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
                # stdout (the JSON) to a file, stderr (progress, notes, the error) streamed line by line
                proc = self.process = jobs.start_command(args, cwd=self.path, stdout=out, stderr=jobs.PIPE,
                                                         text=True, new_session=True)
                lines: list[str] = []
                assert proc.stderr is not None
                for raw in proc.stderr:
                    line = raw.rstrip("\n")
                    if line.strip():
                        lines.append(line)
                        self.post_message(self.Line(line))
                code = proc.wait()
                out.seek(0)
                stdout = out.read()
        except OSError as exc:
            self.post_message(self.Failed(f"could not run mlops-workbench {what}: {exc}"))
            return
        finally:
            self.process = None
        self.post_message(self.Finished(what, code, stdout, lines))

    def on_monitoring_view_line(self, event: Line) -> None:
        self._log(event.text)
        if event.text.strip():
            self.query_one("#mon-progress").stage(event.text.strip())

    def on_monitoring_view_finished(self, event: Finished) -> None:
        self.running = None
        self.query_one("#mon-progress").finish()
        self.refresh_bindings()
        data = json_of(event.stdout)
        if event.what == "monitor":
            self._monitor_done(event, data)
        else:
            self._retrain_done(event, data)

    def _monitor_done(self, event: Finished, data: dict[str, Any] | None) -> None:
        if event.code in (0, 3) and data is not None:
            summary = str(data.get("summary") or "checked")
            where = f" -> monitoring/{data.get('id')}.md" if data.get("id") else ""
            commit = f" (commit {str(data['commit'])[:7]})" if data.get("commit") else ""
            text = f"{summary[0].upper()}{summary[1:]}{where}{commit}"
            self._log(text)
            self.app.notify(text, severity="warning" if event.code == 3 else "information", markup=False,
                            timeout=10)
            self.shown_id = None
            self.load()
            step_ended(self)
            return
        self._log(f"(exit code {event.code})")
        notify_error(self.screen, cli_line(event.stderr, event.code))

    def _retrain_done(self, event: Finished, data: dict[str, Any] | None) -> None:
        if event.code in (0, 1) and data is not None:
            experiment = str(data.get("experiment") or "the candidate")
            validation = data.get("validation") or {}
            failed = [gate_name(g) for g in validation.get("failed_gates") or []]
            proposal = [str(c) for c in data.get("proposal") or []]
            if event.code == 0:
                message = f"Retrained {experiment}: it passes the gates"
                if proposal:
                    message += f"; to promote it: {proposal[0]}" + (" …" if len(proposal) > 1 else "")
                severity = "information"
            else:
                message = f"Retrained {experiment}: a gate fails ({', '.join(failed) or 'see the log'})"
                severity = "warning"
            self._log(message)
            for command in proposal:
                self._log(f"  $ {command}")
            self.app.notify(message, severity=severity, markup=False, timeout=15)
            self.load()  # the verdict now names the retrain commit
            step_ended(self)
            return
        self._log(f"(exit code {event.code})")
        notify_error(self.screen, cli_line(event.stderr, event.code))

    def on_step_view_failed(self, event: StepView.Failed) -> None:
        self.running = None
        self.refresh_bindings()
        if self.report is None:
            self.query_one("#mon-verdict", Static).update("")
        notify_error(self.screen, event.message)
