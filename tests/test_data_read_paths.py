"""The two ways a large CSV is read give the same profile, and bad rows are still caught.

A file over 2 MB whose head reads cleanly is read by pandas' C parser into Arrow
(``data_read._read_with_pandas``, the fast way); anything that path cannot vouch for goes
to pyarrow's reader, which also words the errors. These tests write real files of a few
megabytes (so the fast path is taken) and compare the profile of each with the profile the
pyarrow reader alone gives (the fast path switched off with ``monkeypatch``).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.test_data_bad_input import assert_refused, snapshot
from workbench.design import data_read
from workbench.design.profile import ProfileSettings, profile_file
from workbench.errors import WorkbenchError

ROWS = 40_000  # about 3 MB with the columns below: over the 2 MB where the fast path starts
HEADER = "id,amount,count,city,seen_at,day,flag,empty,note,label\n"


def row(i: int) -> str:
    amount = "" if i % 97 == 0 else f"{(i * 37) % 1000 / 8:.3f}"
    count = "NA" if i % 31 == 0 else str(i % 17)
    city = ("Zürich", "Oslo", "Lyon", "Porto", "")[i % 5]
    seen = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00"
    day = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
    flag = ("true", "false")[i % 3 == 0]
    note = ("ok", "n/a", "late payment", "null", "None")[i % 5]
    label = "" if i % 53 == 0 else str(int(i % 7 == 0))
    return f"{i},{amount},{count},{city},{seen},{day},{flag},,{note},{label}\n"


def write(path: Path, rows: list[str], header: str = HEADER, encoding: str = "utf-8") -> Path:
    path.write_bytes((header + "".join(rows)).encode(encoding))
    assert path.stat().st_size > 2 * data_read._HINT_BYTES
    return path


SETTINGS = ProfileSettings(target="label", time_column="seen_at")


def comparable(value):
    """A profile's JSON without timings, floats rounded (the two parsers may differ in the last bit)."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, (list, tuple)):
        return [comparable(v) for v in value]
    if isinstance(value, float) and math.isfinite(value):
        return round(value, 9)
    return value


def both_ways(path: Path, monkeypatch, settings: ProfileSettings = SETTINGS):
    fast = profile_file(path, settings=settings)
    with monkeypatch.context() as m:
        m.setattr(data_read, "_read_with_pandas", lambda fmt, hints: None)
        slow = profile_file(path, settings=settings)
    return fast, slow


def took_fast_path(path: Path, monkeypatch) -> bool:
    """Whether reading ``path`` went the pandas way (watched, not replaced)."""
    taken: list[bool] = []
    real = data_read._read_with_pandas

    def watch(fmt, hints):
        table = real(fmt, hints)
        taken.append(table is not None)
        return table

    with monkeypatch.context() as m:
        m.setattr(data_read, "_read_with_pandas", watch)
        data_read.read_table(data_read.sniff(path, path.name))
    return taken == [True]


def test_fast_path_profile_equals_pyarrow_profile(tmp_path, monkeypatch):
    path = write(tmp_path / "mixed.csv", [row(i) for i in range(ROWS)])
    assert took_fast_path(path, monkeypatch)
    fast, slow = both_ways(path, monkeypatch)
    assert comparable(fast.to_json()) == comparable(slow.to_json())
    kinds = {c.name: c.kind for c in fast.column_stats}
    assert kinds == {"id": "integer", "amount": "numeric", "count": "integer", "city": "categorical",
                     "seen_at": "datetime", "day": "datetime", "flag": "boolean", "empty": "empty",
                     "note": "categorical", "label": "integer"}
    assert fast.column("count").missing == len(range(0, ROWS, 31))
    assert fast.column("note").missing == 2 * ROWS // 5  # "n/a", "null"; not "None" (as pyarrow)
    assert fast.target is not None and fast.target.missing == len(range(0, ROWS, 53))
    assert fast.time is not None and fast.time.start.startswith("2025-01-01")


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "with-quotes"])
def test_short_row_far_down_is_refused_with_its_line(tmp_path, quoted):
    rows = [row(i) for i in range(ROWS)]
    if quoted:
        rows[5] = rows[5].replace("late payment", '"late, payment"')
    rows[30_000] = "30000,1.5,3,Oslo\n"  # 4 fields where the header has 10
    path = write(tmp_path / "short.csv", rows)
    with pytest.raises(WorkbenchError, match=r"line 30002 has 4 field\(s\) but the header has 10"):
        profile_file(path, settings=SETTINGS)


def test_short_row_far_down_through_the_cli(project, tmp_path):
    rows = [row(i) for i in range(ROWS)]
    rows[-1] = "1,2\n"
    path = write(tmp_path / "outside.csv", rows)
    before = snapshot(project)
    result = run_cli("data", "add", str(path), "-C", str(project))
    assert_refused(project, result, before, f"line {ROWS + 1}", "2 field(s)", "header has 10")


def test_long_row_far_down_is_refused_with_its_line(tmp_path):
    rows = [row(i) for i in range(ROWS)]
    rows[25_000] = rows[25_000].rstrip("\n") + ",extra\n"
    path = write(tmp_path / "long.csv", rows)
    with pytest.raises(WorkbenchError, match=r"line 25002 has 11 field\(s\)"):
        profile_file(path, settings=SETTINGS)


def test_missing_values_in_the_last_column_are_not_short_rows(tmp_path, monkeypatch):
    path = write(tmp_path / "last.csv", [row(i) for i in range(ROWS)])
    assert took_fast_path(path, monkeypatch)  # the label column has gaps; the delimiter count clears them
    fast, slow = both_ways(path, monkeypatch)
    assert fast.target.missing == slow.target.missing > 0


def test_non_utf8_far_down_is_read_as_cp1252_with_a_note(tmp_path, monkeypatch):
    rows = [row(i) for i in range(ROWS)]
    rows[35_000] = rows[35_000].replace("Oslo", "Zurich").replace("Lyon", "Zurich")
    rows[35_000] = rows[35_000].replace(",ok,", ",caf\xe9,").replace(",late payment,", ",caf\xe9,")
    path = tmp_path / "legacy.csv"
    path.write_bytes(HEADER.encode() + "".join(rows[:35_000]).encode("utf-8")
                     + rows[35_000].encode("cp1252") + "".join(rows[35_001:]).encode("utf-8"))
    fast, slow = both_ways(path, monkeypatch)
    assert any("cp1252" in note for note in fast.notes)
    assert comparable(fast.to_json()) == comparable(slow.to_json())


def test_numbers_then_text_far_down_is_a_text_column(tmp_path, monkeypatch):
    rows = [row(i) for i in range(ROWS)]
    rows[-3] = rows[-3].replace(f"{ROWS - 3},", "A-17,", 1)  # the id column turns out to be text
    path = write(tmp_path / "ids.csv", rows)
    fast, slow = both_ways(path, monkeypatch)
    assert fast.column("id").kind == "categorical"
    assert comparable(fast.to_json()) == comparable(slow.to_json())


def test_a_date_that_does_not_parse_far_down(tmp_path, monkeypatch):
    rows = [row(i) for i in range(ROWS)]
    rows[-10] = rows[-10].replace(",2024-", ",sometime in 2024-", 1)  # the day column
    path = write(tmp_path / "dates.csv", rows)
    fast, slow = both_ways(path, monkeypatch)
    assert fast.column("day").kind == "categorical"
    assert comparable(fast.to_json()) == comparable(slow.to_json())


def test_times_of_day_and_semicolons_with_decimal_commas(tmp_path, monkeypatch):
    header = "id;at;price;label\n"
    rows = [f"{i};{i % 24:02d}:{i % 60:02d}:00;{i % 1000},{i % 10};{i % 2}\n" for i in range(150_000)]
    path = write(tmp_path / "euro.csv", rows, header=header)
    fast, slow = both_ways(path, monkeypatch, ProfileSettings(target="label"))
    assert fast.column("price").kind == "numeric"
    assert comparable(fast.to_json()) == comparable(slow.to_json())
