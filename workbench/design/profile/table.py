"""Profile one table or file: columns in a thread pool, duplicates, target, time range, leakage."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.design.profile.columns import _Col, _duplicate_rows, _profile_column, _replace
from workbench.design.profile.leakage import _leakage_scores, _target
from workbench.design.profile.settings import (
    ColumnStats,
    ProfileSettings,
    SourceProfile,
    TimeSummary,
)
from workbench.errors import CancelledError
from workbench.progress import FractionProgress as Progress

# --- the profiler --------------------------------------------------------------------


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise CancelledError("the data check was cancelled; nothing was written")


def profile_table(
    table: Any,
    *,
    name: str,
    path: str,
    settings: ProfileSettings = ProfileSettings(),
    formats: Sequence[Any] = (),
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> SourceProfile:
    """Profile an Arrow table (see the module docstring for how)."""
    import time

    started = time.monotonic()
    say = progress or (lambda _f, _m: None)
    n_rows = table.num_rows
    names = table.column_names
    cols: dict[str, _Col] = {}
    done = 0
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="profile") as pool:
        futures = {n: pool.submit(_profile_column, n, table.column(i), n_rows, settings)
                   for i, n in enumerate(names)}
        for n in names:
            try:
                cols[n] = futures[n].result()
            except BaseException:
                for f in futures.values():
                    f.cancel()
                raise
            done += 1
            if cancel is not None and cancel.is_set():
                for f in futures.values():
                    f.cancel()
                _check_cancel(cancel)
            say(0.8 * done / max(1, len(names)), f"{name}: profiled {done}/{len(names)} columns")

        # duplicates in the pool while this thread summarises the target and hands the
        # leakage checks to the pool as well: no core waits for the slowest of the three
        duplicates = pool.submit(_duplicate_rows, [cols[n] for n in names], n_rows)
        target = None
        if settings.target and settings.target in cols:
            tcol = cols[settings.target]
            target, ycodes, yvalues = _target(tcol, table.column(settings.target), settings)
            _check_cancel(cancel)
            say(0.85, f"{name}: checking single-feature leakage")
            scores = _leakage_scores(cols, target, ycodes, yvalues, settings, n_rows, pool)
            for n, score in scores.items():
                cols[n].stats = _replace(cols[n].stats, leakage_score=round(score, 6))
        duplicate_rows = duplicates.result()
    _check_cancel(cancel)

    time_summary = None
    time_name = settings.time_column
    if time_name and time_name in cols and cols[time_name].stats.kind == "datetime":
        time_summary = _time_summary(cols[time_name].stats, settings)
    first = formats[0] if formats else None
    notes: list[str] = [note for fmt in formats for note in fmt.notes]
    if time_name and time_name in cols and time_summary is None:
        notes.append(f"{name}: time column {time_name!r} does not hold dates that parse")
    say(1.0, f"{name}: profiled {n_rows:,} rows x {len(names)} columns")
    return SourceProfile(
        name=name, path=path, format=first.format if first else "arrow", files=max(1, len(formats)),
        size_bytes=sum(f.size_bytes for f in formats), rows=n_rows, columns=len(names),
        duplicate_rows=duplicate_rows, encoding=first.encoding if first else "utf-8",
        delimiter=first.delimiter if first and first.format != "parquet" else "",
        column_stats=tuple(cols[n].stats for n in names), target=target, time=time_summary,
        notes=tuple(notes), seconds=round(time.monotonic() - started, 3),
    )


def _time_summary(stats: ColumnStats, settings: ProfileSettings) -> TimeSummary:
    now = settings.now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    start = end = None
    span = fresh = None
    if isinstance(stats.min, str) and isinstance(stats.max, str):
        start, end = stats.min, stats.max
        t0 = datetime.fromisoformat(start).replace(tzinfo=UTC)
        t1 = datetime.fromisoformat(end).replace(tzinfo=UTC)
        span = round((t1 - t0).total_seconds() / 86400, 3)
        fresh = round((now - t1).total_seconds() / 86400, 3)
    return TimeSummary(column=stats.name, start=start, end=end, span_days=span, freshness_days=fresh)


def profile_file(
    path: str | Path,
    *,
    name: str | None = None,
    display: str | None = None,
    settings: ProfileSettings = ProfileSettings(),
    options: dict[str, str] | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> SourceProfile:
    """Validate, load and profile one source (a file or a folder of files)."""
    from workbench.design.data_read import load_source

    path = Path(path)
    display = display or str(path)
    say = progress or (lambda _f, _m: None)
    say(0.0, f"reading {display}")
    table, formats = load_source(path, display, options=options, cancel=cancel)
    _check_cancel(cancel)
    say(0.3, f"read {table.num_rows:,} rows of {display}")

    def inner(fraction: float, message: str) -> None:
        say(0.3 + 0.7 * fraction, message)

    profile = profile_table(table, name=name or path.stem, path=display, settings=settings,
                            formats=formats, progress=inner, cancel=cancel)
    return profile
