"""Read data files for the data availability step: validate first, then load fast.

Bad input is the common case here (exports from spreadsheets, wrong delimiters, legacy
encodings), so every problem is one :class:`WorkbenchError` line that says what is wrong
and how to fix it, raised before anything is written.

Decisions (tested in ``tests/test_data_bad_input.py``):

* **Encoding** — UTF-8 (with or without BOM) is read as is. Text that is not valid UTF-8
  is read as Windows-1252 (or Latin-1 when cp1252 cannot decode it) *with a warning*,
  because that is what spreadsheet exports on Windows produce. UTF-16 is refused.
* **Delimiter** — sniffed from the first lines: ``,``, tab, ``;`` and ``|`` are tried,
  the one the extension implies first. A semicolon-separated file is read as such with a
  warning, and a decimal comma (``1,5``) is recognised in it.
* **Ragged rows** — refused, naming the first line whose field count differs from the
  header's.
* **Duplicate or empty column names** — duplicates are refused; an empty header cell
  (a pandas index column) is renamed ``unnamed_<n>`` with a warning.

Files are loaded into an Arrow table (strings dictionary-encoded, ISO dates and times
parsed), which the profiler reads column by column.

Speed: a CSV over 2 MB with at most 256 columns is read by pandas' C parser with
``dtype_backend="pyarrow"`` (the columns come out as Arrow arrays, no copy): on the
benchmark file (1M rows x 20) it takes 0.29 s and 0.56 s of CPU, where pyarrow's
multi-threaded reader takes 0.49 s and 1.0 s of CPU, and on two cores the CPU is what the
check waits for. pandas is told pyarrow's list of missing-value markers, and the columns
whose head pyarrow reads as dates are cast as pyarrow would, so the table is the one
pyarrow's reader gives (``tests/test_data_read_paths.py`` compares the two profiles).
Whatever that path cannot vouch for (a parser error, invalid UTF-8, types that change
between pandas' chunks, a row that may be short) is read again by pyarrow's reader, which
words the error. Wider files go to pyarrow's reader straight away.

pyarrow's reader is given the column types of the file's first megabyte. Left to infer
them, it keeps every parsed block of a text column until it has decided the type, which on
the benchmark file costs twice the CPU and 2.3x the memory of the typed read. A later value
that does not fit its hinted type (``1.5`` in a column that started with integers) makes the
reader fail; that column's hint is dropped and the file read again, so the result is what
plain inference gives. Text columns are read as plain strings and dictionary-encoded
afterwards, one dictionary per column, in a small thread pool (Arrow releases the GIL).
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from workbench.design.data_sniff import (
    _DELIMITER_NAMES,
    SUFFIXES,
    FileFormat,
    _first_line,
    data_files,
    format_of,
    sniff,
)
from workbench.errors import CancelledError, WorkbenchError

__all__ = ["SUFFIXES", "FileFormat", "data_files", "format_of", "load_source", "read_table", "sniff",
           "use_fast_memory_pool"]

_HINT_BYTES = 1 << 20  # the head whose column types the full read is given (pyarrow's block size)
# pandas' reader pays per column (5,000 integer columns x 300 rows: 0.60 s against pyarrow's
# 0.23 s; even at 500 to 2,000 float columns it is 5-10% slower): wide files go to pyarrow
_PANDAS_MAX_COLUMNS = 256
_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error")


def _bad_line(fmt: FileFormat) -> tuple[int, int] | None:
    """The first physical line whose field count differs from the header's (slow; error path only)."""
    expected = len(fmt.columns)
    with open(fmt.path, encoding=fmt.encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=fmt.delimiter)
        try:
            for row in reader:
                if row and len(row) != expected:
                    return reader.line_num, len(row)
        except csv.Error:
            return reader.line_num, -1
    return None


_POOL_SET = False


def use_fast_memory_pool() -> None:
    """Prefer jemalloc (else the system allocator) to pyarrow's default mimalloc, once.

    A command reads its data once, in a fresh process: there mimalloc's first large
    allocations cost more than the read itself (1M x 20 CSV: first read 0.8-1.3 s with
    mimalloc, 0.57 s with jemalloc, 0.60 s with the system allocator; later reads the
    same 0.48 s). Set before any table is made, so no buffer changes pool.
    """
    global _POOL_SET
    if _POOL_SET:
        return
    _POOL_SET = True
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return  # the user chose
    for make in (getattr(pa, "jemalloc_memory_pool", None), pa.system_memory_pool):
        try:
            if make is not None:
                pa.set_memory_pool(make())
                return
        except (NotImplementedError, pa.ArrowException):
            continue


def _read_parquet(fmt: FileFormat) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(fmt.path)
    except Exception as exc:  # noqa: BLE001
        raise WorkbenchError(f"{fmt.display} could not be read as Parquet ({_first_line(exc)}): "
                             "write it again or export CSV") from None


def _csv_options(fmt: FileFormat, encoding: str, newlines: bool, types: dict[str, Any]) -> dict[str, Any]:
    """pyarrow's CSV options for ``fmt`` (the sniffed header is given, so it is skipped)."""
    import pyarrow.csv as pacsv

    return {
        "read_options": pacsv.ReadOptions(column_names=list(fmt.columns), skip_rows=1,
                                          encoding=encoding),
        "parse_options": pacsv.ParseOptions(delimiter=fmt.delimiter, newlines_in_values=newlines),
        "convert_options": pacsv.ConvertOptions(strings_can_be_null=True, column_types=types,
                                                decimal_point=fmt.decimal),
    }


def _refuse_bad_row(fmt: FileFormat) -> None:
    """Raise naming the first row whose field count differs from the header's, if there is one."""
    bad = _bad_line(fmt)
    if bad is not None:
        line, got = bad
        got_text = "an unclosed quote" if got < 0 else f"{got} field(s)"
        raise WorkbenchError(
            f"{fmt.display} line {line} has {got_text} but the header has "
            f"{len(fmt.columns)}: fix or remove that row (an extra "
            f"{_DELIMITER_NAMES[fmt.delimiter]} or a missing quote)"
        ) from None


def read_table(fmt: FileFormat, *, cancel: threading.Event | None = None) -> tuple[Any, FileFormat]:
    """Load one file as a ``pyarrow.Table`` (columns named as the sniffer found them).

    Returns the table and the format as finally used (the encoding may have changed, with a
    note, when invalid UTF-8 shows up past the sniffed head).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    use_fast_memory_pool()

    if cancel is not None and cancel.is_set():
        raise CancelledError("the data check was cancelled; nothing was written")
    if fmt.format == "parquet":
        return _read_parquet(fmt), fmt

    def options(encoding: str, newlines: bool, types: dict[str, Any]) -> dict[str, Any]:
        return _csv_options(fmt, encoding, newlines, types)

    encoding, newlines, notes = fmt.encoding, False, fmt.notes
    hints = _column_types(fmt, options(encoding, False, {}))
    if hints and encoding == "utf-8" and len(fmt.columns) <= _PANDAS_MAX_COLUMNS:
        table = _read_with_pandas(fmt, hints)
        if table is not None:
            if cancel is not None and cancel.is_set():
                raise CancelledError("the data check was cancelled; nothing was written")
            return _encode_strings(table), fmt
    misfits = 0
    for _ in range(8):
        try:
            table = pacsv.read_csv(fmt.path, **options(encoding, newlines, hints))
            if encoding == "utf-8" and any(pa.types.is_binary(t) for t in table.schema.types):
                # an inferred text column that is not valid UTF-8 comes back as bytes
                raise pa.ArrowInvalid("CSV conversion error to string: invalid UTF8 data")
            break
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            message = str(exc)
            if ("UTF8" in message or isinstance(exc, UnicodeDecodeError)) and encoding == "utf-8":
                encoding = "cp1252"
                notes += (f"{fmt.display} is not UTF-8 further down; read it as cp1252: "
                          "save it as UTF-8 to be sure characters are right",)
                hints = _column_types(fmt, options(encoding, False, {}))
                continue
            misfit = _CONVERSION.search(message)
            if misfit and hints:
                # a value further down does not fit the type of the head: let pyarrow infer
                # that column (all of them after a second misfit) and read again
                misfits += 1
                index = int(misfit.group(1))
                column = fmt.columns[index] if index < len(fmt.columns) else None
                if misfits >= 2 or column not in hints:
                    hints = {}
                else:
                    hints = {k: v for k, v in hints.items() if k != column}
                continue
            if "Expected" in message and "columns" in message:
                if not newlines and '"' in message:
                    newlines = True  # a quoted value may span lines; let the slower parser decide
                    continue
                _refuse_bad_row(replace(fmt, encoding=encoding))
            if not newlines:
                newlines = True
                continue
            raise WorkbenchError(f"{fmt.display} could not be read as {fmt.format.upper()}: "
                                 f"{_first_line(exc)}") from None
    else:  # pragma: no cover - the loop always breaks or raises
        raise WorkbenchError(f"{fmt.display} could not be read")
    table = _encode_strings(table)
    if table.num_rows == 0:
        raise WorkbenchError(f"{fmt.display} has a header row but no data rows: export the rows too")
    return table, replace(fmt, encoding=encoding, notes=notes)


# pyarrow's default null_values: the pandas reader is told the same, so both agree on "missing"
_NULLS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
          "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"]


def _read_with_pandas(fmt: FileFormat, hints: dict[str, Any]) -> Any:
    """A large, well-formed UTF-8 file read by pandas' C parser into Arrow; None to read it the other way.

    Why, and the figures: the module docstring. The result must be what :func:`read_table`'s pyarrow path gives, so anything this path
    cannot vouch for returns None and the file is read the other way, which also words the
    errors: a parser error (a long row), a decode error (non-UTF-8 further down), a column of
    mixed types across pandas' chunks, an index column, a cast that fails, and a possible
    short row (pandas fills a short row's missing fields with nulls silently; see
    :func:`_no_short_rows`). Columns whose head pyarrow read as dates or times are cast the
    same way here; pandas leaves them text.
    """
    import warnings

    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        with warnings.catch_warnings(record=True):  # DtypeWarning: checked below instead
            warnings.simplefilter("always")
            frame = pd.read_csv(fmt.path, sep=fmt.delimiter, decimal=fmt.decimal, header=0,
                                encoding="utf-8", dtype_backend="pyarrow", keep_default_na=False,
                                na_values=_NULLS, skip_blank_lines=True)
    except Exception:  # noqa: BLE001 - every parser complaint is worded by the pyarrow path
        return None
    if (frame.shape[1] != len(fmt.columns) or not isinstance(frame.index, pd.RangeIndex)
            or not all(isinstance(dtype, pd.ArrowDtype) for dtype in frame.dtypes)):
        return None
    frame.columns = list(fmt.columns)
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    del frame
    if table.num_rows and table.column(table.num_columns - 1).null_count:
        if not _no_short_rows(fmt, table.num_rows):
            return None
    for i, (name, typ) in enumerate(zip(table.column_names, table.schema.types, strict=False)):
        hint = hints.get(name)
        text = pa.types.is_string(typ) or pa.types.is_large_string(typ)
        if hint is not None and pa.types.is_temporal(hint) and text:
            try:
                table = table.set_column(i, name, pc.cast(table.column(i), hint))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return None
    return table


def _no_short_rows(fmt: FileFormat, rows: int) -> bool:
    """True when no row can have fewer fields than the header (so pandas filled none).

    Without quotes in the file every delimiter separates two fields, so the file holds
    exactly ``(rows + 1) * (columns - 1)`` of them (blank lines hold none) unless a row is
    short (a long one made pandas fail already). With quotes this cannot be told cheaply.
    """
    import mmap

    import numpy as np

    with open(fmt.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if mm.find(b'"') != -1:
            return False
        data = np.frombuffer(mm, dtype=np.uint8)
        delimiter = ord(fmt.delimiter)
        step = 1 << 24
        count = sum(int(np.count_nonzero(data[i:i + step] == delimiter))
                    for i in range(0, data.size, step))
        del data
    return count == (rows + 1) * (len(fmt.columns) - 1)


def _column_types(fmt: FileFormat, options: dict[str, Any]) -> dict[str, Any]:
    """The column types pyarrow infers from the file's first megabyte (none for small files).

    Columns that are empty in the head get no type (the full read infers them); text
    columns get ``string``, which is what makes the full read cheap (see the module
    docstring). Any trouble with the head (a quoted line break cut in half, say) means no
    hints, not an error: the full read reports problems itself.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if fmt.size_bytes <= 2 * _HINT_BYTES:
        return {}
    with open(fmt.path, "rb") as fh:
        raw = fh.read(_HINT_BYTES)
    cut = raw.rfind(b"\n")
    if cut <= 0:
        return {}
    try:
        head = pacsv.read_csv(pa.BufferReader(raw[: cut + 1]), **options)
    except (pa.ArrowInvalid, UnicodeDecodeError, LookupError):
        return {}
    if head.num_rows < 2:
        return {}
    return {name: typ for name, typ in zip(head.column_names, head.schema.types, strict=False)
            if not pa.types.is_null(typ)}


def _encode_strings(table: Any) -> Any:
    """Text columns dictionary-encoded, one dictionary per column (columns in a thread pool)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = [i for i, typ in enumerate(table.schema.types)
            if pa.types.is_string(typ) or pa.types.is_large_string(typ)]
    if not text:
        return table

    def encode(i: int) -> Any:
        # one chunk: a chunked dictionary array repeats the whole dictionary in every chunk,
        # and unifying those costs seconds for a column of a million distinct values
        return pa.chunked_array([pc.dictionary_encode(table.column(i).combine_chunks())])

    if len(text) == 1 or table.num_rows < 100_000:
        encoded = [encode(i) for i in text]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(text), os.cpu_count() or 1)) as pool:
            encoded = list(pool.map(encode, text))
    for i, column in zip(text, encoded, strict=False):
        table = table.set_column(i, table.field(i).name, column)
    return table


def load_source(path: Path, display: str, *, options: dict[str, str] | None = None,
                cancel: threading.Event | None = None) -> tuple[Any, tuple[FileFormat, ...]]:
    """Validate and load a source (a file, or a folder whose files share their columns)."""
    import pyarrow as pa

    files = data_files(path, display)
    formats: list[FileFormat] = []
    tables: list[Any] = []
    for file in files:
        name = display if file == path else f"{display}/{file.relative_to(path).as_posix()}"
        fmt = sniff(file, name)
        fmt = _apply_options(fmt, options or {})
        table, fmt = read_table(fmt, cancel=cancel)
        if tables and table.column_names != tables[0].column_names:
            raise WorkbenchError(
                f"{name} has other columns than {formats[0].display}: the files of a folder source "
                "must share their columns; add them as separate sources"
            )
        formats.append(fmt)
        tables.append(table)
    if len(tables) == 1:
        return tables[0], tuple(formats)
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise WorkbenchError(f"the files in {display} do not fit together ({_first_line(exc)}): "
                             "add them as separate sources") from None
    return table, tuple(formats)


def _apply_options(fmt: FileFormat, options: dict[str, str]) -> FileFormat:
    """Reading options recorded in workbench.yaml win over the sniffer's guesses."""
    if fmt.format == "parquet" or not options:
        return fmt
    changes: dict[str, Any] = {}
    if options.get("delimiter") and options["delimiter"] != fmt.delimiter:
        changes["delimiter"] = options["delimiter"]
        with open(fmt.path, encoding=fmt.encoding, errors="replace", newline="") as fh:
            header = next(csv.reader(io.StringIO(fh.readline().lstrip("\ufeff")),
                                     delimiter=options["delimiter"]))
        changes["columns"] = tuple(h.strip() or f"unnamed_{i}" for i, h in enumerate(header, 1))
    if options.get("encoding"):
        changes["encoding"] = options["encoding"]
    if options.get("decimal"):
        changes["decimal"] = options["decimal"]
    return replace(fmt, **changes) if changes else fmt
