"""Sniffing a data file before it is read: its format, encoding, delimiter and header.

Bad input is the common case (exports from spreadsheets, wrong delimiters, legacy
encodings), so every problem is one :class:`WorkbenchError` line that says what is wrong
and how to fix it. The decisions are listed in :mod:`workbench.design.data_read`, which
reads the file as sniffed.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import WorkbenchError

SUFFIXES: dict[str, str] = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
}
_DEFAULT_DELIMITER = {"csv": ",", "tsv": "\t"}
_CANDIDATES = (",", "\t", ";", "|")
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_HEAD_BYTES = 256 * 1024
_SNIFF_LINES = 200
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


@dataclass(frozen=True)
class FileFormat:
    """How one data file is read (what the sniffer found) and what it noticed on the way."""

    path: Path
    display: str
    format: str  # csv | tsv | parquet
    encoding: str = "utf-8"
    delimiter: str = ","
    decimal: str = "."
    columns: tuple[str, ...] = ()
    size_bytes: int = 0
    notes: tuple[str, ...] = ()

    def options(self) -> dict[str, str]:
        """The reading options that differ from the defaults (recorded in workbench.yaml)."""
        out: dict[str, str] = {}
        if self.format != "parquet":
            if self.encoding not in ("utf-8", "utf-8-sig"):
                out["encoding"] = self.encoding
            if self.delimiter != _DEFAULT_DELIMITER.get(self.format, ","):
                out["delimiter"] = self.delimiter
            if self.decimal != ".":
                out["decimal"] = self.decimal
        return out


def format_of(path: str | Path) -> str | None:
    """The format a file name implies (``csv``, ``tsv``, ``parquet``), or None."""
    return SUFFIXES.get(Path(path).suffix.lower())


def data_files(path: Path, display: str) -> list[Path]:
    """The data files of a source: the file itself, or a folder's CSV/TSV/Parquet files.

    Hidden files and files of other types in a folder are skipped; a folder with none
    is an error.
    """
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*")
            if p.is_file() and format_of(p) and not any(part.startswith(".") for part in
                                                          p.relative_to(path).parts)
        )
        if not files:
            raise WorkbenchError(
                f"{display} is a folder with no .csv, .tsv or .parquet files: "
                "point at a data file or a folder of them"
            )
        return files
    if not path.exists():
        raise WorkbenchError(f"{display} does not exist: check the path (quote it if it has spaces)")
    if not path.is_file():
        raise WorkbenchError(f"{display} is not a regular file: give a CSV, TSV or Parquet file")
    if format_of(path) is None:
        raise WorkbenchError(
            f"{display} has the suffix {path.suffix or '(none)'!r}: the workbench reads .csv, .tsv "
            "and .parquet files; rename it if it is one of those"
        )
    return [path]


def _decode_head(raw: bytes, display: str, whole: bool) -> tuple[str, str, tuple[str, ...]]:
    """Decode the first bytes; return (text, encoding, notes)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise WorkbenchError(
            f"{display} is UTF-16 text: save it as UTF-8 (in Excel: 'CSV UTF-8') and add it again"
        )
    if b"\x00" in raw:
        raise WorkbenchError(
            f"{display} looks binary (it contains NUL bytes), not a text table: "
            "export the data as CSV, TSV or Parquet"
        )
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8") if whole else codecs.getincrementaldecoder("utf-8")().decode(raw)
        encoding = "utf-8"
        notes: tuple[str, ...] = ()
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        try:
            text, encoding = raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            text, encoding = raw.decode("latin-1"), "latin-1"
        notes = (f"{display} is not UTF-8 (first bad byte on line {line}); read it as {encoding}: "
                 "save it as UTF-8 to be sure characters are right",)
    controls = sum(raw.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13))
    if controls > max(8, len(raw) // 100):
        raise WorkbenchError(
            f"{display} looks binary ({controls} control characters in its first "
            f"{len(raw)} bytes), not a text table: export the data as CSV, TSV or Parquet"
        )
    return text, encoding, notes


def _field_counts(lines: list[str], delimiter: str) -> list[int]:
    try:
        return [len(row) for row in csv.reader(lines, delimiter=delimiter) if row]
    except csv.Error:
        return []


def _sniff_delimiter(lines: list[str], fmt: str) -> str:
    """The delimiter that splits the header into several columns and the rows alike."""
    default = _DEFAULT_DELIMITER[fmt]
    order = [default] + [d for d in _CANDIDATES if d != default]
    best: tuple[float, int, str] | None = None
    for rank, delim in enumerate(order):
        counts = _field_counts(lines, delim)
        if not counts or counts[0] < 2:
            continue
        rows = counts[1:] or [counts[0]]
        consistent = sum(1 for c in rows if c == counts[0]) / len(rows)
        if delim == default and consistent >= 0.9:
            return delim
        key = (consistent, counts[0], -rank)
        if consistent >= 0.9 and (best is None or key > best):
            best = key + (delim,)  # type: ignore[assignment]
    if best is not None:
        return best[-1]
    return default


def sniff(path: Path, display: str, fmt: str | None = None) -> FileFormat:
    """Check one file's head and find how to read it; raise the first problem as one line."""
    fmt = fmt or format_of(path) or "csv"
    size = path.stat().st_size
    if size == 0:
        raise WorkbenchError(f"{display} is empty (0 bytes): export the data again, with a header row")
    with open(path, "rb") as fh:
        raw = fh.read(_HEAD_BYTES)
    if raw[:4] == b"PAR1" and fmt != "parquet":
        raise WorkbenchError(f"{display} is a Parquet file with a .{path.suffix.lstrip('.')} name: "
                             "rename it to .parquet")
    if raw[:2] == b"\x1f\x8b" or raw[:4] == b"PK\x03\x04":
        kind = "gzip" if raw[:2] == b"\x1f\x8b" else "zip (or an Excel workbook)"
        raise WorkbenchError(f"{display} is a {kind} archive, not a text table: "
                             "extract it (or save the sheet as CSV) and add the CSV")
    if fmt == "parquet":
        return _sniff_parquet(path, display, size)
    whole = size <= _HEAD_BYTES
    text, encoding, notes = _decode_head(raw, display, whole)
    lines = text.splitlines()
    if not whole and lines:
        lines = lines[:-1]  # the last line may be cut off
    nonblank = [ln for ln in lines if ln.strip()]
    if not nonblank:
        raise WorkbenchError(f"{display} has only blank lines: export the data again, with a header row")
    sample = nonblank[:_SNIFF_LINES]
    delimiter = _sniff_delimiter(sample, fmt)
    header = next(csv.reader([nonblank[0]], delimiter=delimiter))
    if whole and len(nonblank) == 1:
        raise WorkbenchError(
            f"{display} has a header row ({len(header)} column(s)) but no data rows: export the rows too"
        )
    names: list[str] = []
    seen: dict[str, int] = {}
    renamed = []
    for i, raw_name in enumerate(header, start=1):
        name = raw_name.strip()
        if not name:
            name = f"unnamed_{i}"
            renamed.append(i)
        if name in seen:
            raise WorkbenchError(
                f"{display} has the column name {name!r} twice (columns {seen[name]} and {i}): "
                "rename one so every column name is unique"
            )
        seen[name] = i
        names.append(name)
    if renamed:
        notes += (f"{display}: column(s) {', '.join(map(str, renamed))} had no name and are called "
                  "unnamed_<n>",)
    decimal = "."
    if delimiter != _DEFAULT_DELIMITER[fmt]:
        what = _DELIMITER_NAMES[delimiter]
        if delimiter == ";" and any(
            _DECIMAL_COMMA.match(cell.strip())
            for row in csv.reader(sample[1:50], delimiter=";") for cell in row
        ):
            decimal = ","
            what += " with decimal commas"
        notes += (f"{display} looks {what}-separated; read it that way",)
    return FileFormat(path=path, display=display, format=fmt, encoding=encoding, delimiter=delimiter,
                      decimal=decimal, columns=tuple(names), size_bytes=size, notes=notes)


def _sniff_parquet(path: Path, display: str, size: int) -> FileFormat:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
        raise WorkbenchError(f"{display} is not a readable Parquet file ({_first_line(exc)}): "
                             "write it again or export CSV") from None
    names = [meta.schema.column(i).path.split(".")[0] for i in range(meta.num_columns)]
    names = list(dict.fromkeys(names)) if meta.num_columns else []
    arrow_names = meta.schema.to_arrow_schema().names
    dupes = sorted({n for n in arrow_names if arrow_names.count(n) > 1})
    if dupes:
        raise WorkbenchError(f"{display} has the column name {dupes[0]!r} more than once: "
                             "rename columns so each is unique")
    if not arrow_names:
        raise WorkbenchError(f"{display} has no columns: write the table again")
    if meta.num_rows == 0:
        raise WorkbenchError(f"{display} has {len(arrow_names)} column(s) but no rows: export the rows too")
    return FileFormat(path=path, display=display, format="parquet", columns=tuple(arrow_names),
                      size_bytes=size)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
