"""Pilot tests of the Data availability view on real sample projects (real git, real DVC).

The check and the add run the real core in the view's workers and make real commits; the
tests wait for the workers (never a blind sleep), then read git and the screen.
"""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable, Input, ProgressBar

from screens.app import make_app
from screens.design.data_check_view import AddSourceScreen, DataCheckView, big_word
from tests.conftest import git
from tests.tui_helpers import SIZE, commit_count, notifications, open_step, settle, text
from workbench.design.data_check import REPORT_JSON, check_data
from workbench.design.data_sources import add_data
from workbench.errors import WorkbenchError

pytestmark = pytest.mark.anyio


async def open_view(app, pilot) -> DataCheckView:
    view = await open_step(app, pilot, "data_availability")
    assert isinstance(view, DataCheckView)
    view.query_one("#dc-columns", DataTable).focus()
    await settle(app, pilot)
    return view


def plot_text(view: DataCheckView) -> str:
    return view.query_one("#dc-plot").render().plain


async def move_to(pilot, view: DataCheckView, column: str) -> None:
    table = view.query_one("#dc-columns", DataTable)
    table.move_cursor(row=table.get_row_index(f"transactions\x1f{column}"))
    await pilot.pause()


# --- the verdict --------------------------------------------------------------------------------


async def test_opens_on_the_last_check_no_go_with_reasons_version_and_flags(make_sample):
    path = make_sample("fraud_detection")
    report = check_data(path)
    assert report.verdict == "NO-GO"
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_view(app, pilot)
        assert text(view.query_one("#dc-big")) == big_word("NO-GO")
        assert view.query_one("#dc-verdict").has_class("-nogo")
        meta = text(view.query_one("#dc-meta"))
        assert "NO-GO  readiness 3/5" in meta
        assert f"commit {report.commit[:7]}" in meta
        reasons = text(view.query_one("#dc-reasons"))
        assert "✘ transactions.chargeback_flag predicts is_fraud almost perfectly" in reasons
        assert "! transactions: 40 duplicate rows" in reasons
        sources = text(view.query_one("#dc-sources"))
        assert f"md5 {report.sources[0].dvc_md5[:12]}" in sources
        assert "✔ checked" in sources
        table = view.query_one("#dc-columns", DataTable)
        assert table.row_count == 15
        flags = table.get_row("transactions\x1fchargeback_flag")[4].plain
        assert flags.startswith("leakage 0.99")
        assert "personal: email" in table.get_row("transactions\x1fcustomer_email")[4].plain

        # At 120x40 the verdict is on screen whole, and no two parts of the view overlap.
        view.scroll_home(animate=False)
        await pilot.pause()
        box = view.query_one("#dc-verdict")
        assert box.region.height == box.outer_size.height and box.region.y > 0
        assert view.query_one("#dc-big").region.width >= len(big_word("NO-GO").splitlines()[0])
        parts = [w for w in view.children if w.display]
        for a, b in zip(parts, parts[1:], strict=False):
            assert a.virtual_region.bottom <= b.virtual_region.y, (a, b)
            assert a.virtual_region.right <= view.scrollable_content_region.width + 1, a
        assert view.query_one("#dc-plot").region.width > 40


async def test_a_changed_data_file_marks_the_check_stale(make_sample):
    path = make_sample("fraud_detection")
    check_data(path)
    pointer = path / "data" / "transactions.csv.dvc"
    pointer.write_text(pointer.read_text().replace("md5: ", "md5: 0", 1))  # a new data version
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_view(app, pilot)
        assert "! changed since the check" in text(view.query_one("#dc-sources"))
        assert "the data changed since this check (data/transactions.csv)" in text(
            view.query_one("#dc-reasons"))


# --- table and plot -------------------------------------------------------------------------------


async def test_sorting_by_header_and_key_and_the_plot_follows_the_cursor(make_sample):
    path = make_sample("fraud_detection")
    check_data(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_view(app, pilot)
        table = view.query_one("#dc-columns", DataTable)
        file_order = view.sorted_keys()
        assert file_order[0] == "transactions\x1ftransaction_id"

        # Click the "Missing" header: largest first, then (again) smallest first.
        x = sum(c.get_render_width(table) for c in table.ordered_columns[:2]) + 2
        await pilot.click("#dc-columns", offset=(x, 0))
        await pilot.pause()
        assert view.sort_column == "missing" and view.sort_reverse
        shares = [view.rows[k].missing_share for k in view.sorted_keys()]
        assert shares == sorted(shares, reverse=True) and shares[0] > 0.03
        assert view.sorted_keys()[0] == "transactions\x1fdistance_from_home_km"
        assert table.columns["missing"].label.plain == "Missing▼"
        await pilot.click("#dc-columns", offset=(x, 0))
        await pilot.pause()
        shares = [view.rows[k].missing_share for k in view.sorted_keys()]
        assert shares == sorted(shares) and not view.sort_reverse

        # The key cycles file order -> column -> type -> missing -> distinct -> flags.
        view.sort_by(None, reverse=False)
        assert view.sorted_keys() == file_order
        await pilot.press("o")
        names = [view.rows[k].column for k in view.sorted_keys()]
        assert names == sorted(names, key=str.casefold)
        await pilot.press("o", "o", "o", "o")
        assert view.sort_column == "flags"
        assert view.sorted_keys()[0] == "transactions\x1fchargeback_flag"  # the leak comes first

        # Numeric column: a histogram from the report's bins.
        await move_to(pilot, view, "amount")
        assert view.plotted == "transactions\x1famount"
        drawn = plot_text(view)
        assert "amount: 10,040 values in 20 bins" in drawn
        assert "min 1.48" in text(view.query_one("#dc-column-detail"))

        # Categorical column: bars of the top categories, the missing values as their own bar.
        await move_to(pilot, view, "merchant_category")
        assert view.plotted == "transactions\x1fmerchant_category"
        drawn = plot_text(view)
        assert "merchant_category: top 10 of 10 values" in drawn
        assert "groc" in drawn and "(mis" in drawn
        assert "amount:" not in drawn


async def test_a_report_without_histograms_computes_the_plot_from_the_data_file(make_sample):
    path = make_sample("fraud_detection")
    check_data(path)
    report_file = path / REPORT_JSON
    data = json.loads(report_file.read_text())
    wanted = {}
    for col in data["sources"][0]["column_stats"]:
        wanted[col["name"]] = col.pop("histogram")
    report_file.write_text(json.dumps(data))  # as an older workbench wrote it
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_view(app, pilot)
        for column in ("amount", "channel", "timestamp"):
            await move_to(pilot, view, column)
            await settle(app, pilot)
            key = f"transactions\x1f{column}"
            assert view.plotted == key
            got = view.computed[key]
            assert got["kind"] == wanted[column]["kind"]
            assert got["counts"] == wanted[column]["counts"], column
        assert "timestamp: 10,040 values in 20 bins" in plot_text(view)
        assert "2026-01-01" in plot_text(view)


# --- actions --------------------------------------------------------------------------------------


async def test_run_check_from_the_view_makes_exactly_one_commit(make_sample):
    path = make_sample("fraud_detection")
    before = commit_count(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_view(app, pilot)
        assert "no check" in text(view.query_one("#dc-big"))
        assert "· not checked yet" in text(view.query_one("#dc-sources"))
        await pilot.press("c")
        await settle(app, pilot)
        assert view.busy is None and not view.has_class("-busy")
        # The core's progress reached the bar; the bar hides again once the check is done.
        assert view.query_one("#dc-progress", ProgressBar).percentage == 1.0
        assert not view.query_one("#dc-progress-box").display
        assert commit_count(path) == before + 1
        changed = git(path, "show", "--name-only", "--format=", "HEAD").split()
        assert REPORT_JSON in changed and "reports/data_check.md" in changed
        assert git(path, "log", "-1", "--format=%(trailers:key=Workbench-Step,valueonly)").strip() \
            == "data_availability"
        assert git(path, "status", "--porcelain").strip() == ""
        assert text(view.query_one("#dc-big")) == big_word("NO-GO")
        short = git(path, "rev-parse", "--short=7", "HEAD").strip()
        assert f"commit {short}" in text(view.query_one("#dc-meta"))
        assert view.query_one("#dc-columns", DataTable).row_count == 15
        assert any(m.startswith("Data check: NO-GO: transactions.chargeback_flag") and sev == "warning"
                   for m, sev in notifications(app))


async def test_add_source_errors_are_one_line_and_commit_nothing_then_a_good_file_is_added(
        make_sample, tmp_path):
    path = make_sample("fraud_detection")
    empty = tmp_path / "sales.csv"
    empty.write_text("")
    with pytest.raises(WorkbenchError) as empty_error:
        add_data(path, empty)  # the core's own message, which the view must show as is
    before = commit_count(path)
    app = make_app(path, testing=True)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_view(app, pilot)

        async def add(path_text: str) -> None:
            await pilot.press("a")
            await pilot.pause()
            assert isinstance(app.screen, AddSourceScreen)
            app.screen.query_one("#dc-add-path", Input).value = path_text
            await pilot.press("enter")
            await settle(app, pilot)

        missing = tmp_path / "no such dir" / "data.csv"
        await add(str(missing))
        expected = f"{missing} does not exist: check the path (quote it if it has spaces)"
        assert (expected, "error") in notifications(app)
        await add(str(empty))
        assert (str(empty_error.value), "error") in notifications(app)
        assert commit_count(path) == before
        assert git(path, "status", "--porcelain").strip() == ""
        assert not (path / "data" / "sales.csv").exists()
        assert view.busy is None

        good = tmp_path / "extra customers.csv"  # a space in the name must work
        good.write_text("customer_id,segment\n" + "".join(f"C{i:05d},s{i % 4}\n" for i in range(40)))
        await add(str(good))
        assert commit_count(path) == before + 1
        assert git(path, "log", "-1", "--format=%s").startswith("Data availability: add source extra customers")
        sources = text(view.query_one("#dc-sources"))
        assert "extra customers  data/extra customers.csv" in sources
        assert "· not checked yet" in sources
