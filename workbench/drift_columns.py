"""Batch columns read from pyarrow for drift: numbers (or dates as numbers) and category counts.

:mod:`workbench.drift` profiles and compares what these return; the values that do not fit
the declared kind are counted (``junk``) so the report can say what was wrong in the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast


@dataclass(frozen=True)
class Column:
    """A batch column made ready for a profile or a test, with what was wrong in it."""

    values: Any = None  # float64 ndarray (numeric kinds)
    counts: dict[str, int] | None = None  # categorical
    missing: int = 0
    rows: int = 0
    junk: int = 0  # values that are not numbers (dates) in a numeric (datetime) column
    junk_examples: tuple[str, ...] = ()
    found_type: str = ""


def _arrow_type_name(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "date/time"
    if pa.types.is_null(t):
        return "empty"
    return "text"


def _decoded(arr: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        trimmed = pc.utf8_trim_whitespace(arr)
        arr = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, arr.type), arr)
    return arr


def _parse_strings(arr: Any, kind: str) -> tuple[Any, int, tuple[str, ...]]:
    """Text to float64 (numbers, or datetimes as seconds); junk becomes NaN and is counted."""
    import numpy as np
    import pandas as pd

    raw = pd.Series(arr.to_numpy(zero_copy_only=False), dtype="object")
    if kind == "datetime":
        parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
        values = ((parsed - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(
            dtype="float64", na_value=np.nan)
    else:
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = raw.notna().to_numpy() & np.isnan(values)
    examples = tuple(dict.fromkeys(str(v) for v in raw[bad].head(20)))[:3]
    return values, int(bad.sum()), examples


def numeric_column(arr: Any, kind: str = "numeric") -> Column:
    """A pyarrow column as float64 seconds/numbers (``kind``: numeric, datetime or text length)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    found = _arrow_type_name(arr.type)
    arr = _decoded(arr)
    rows = len(arr)
    junk, examples = 0, cast("tuple[str, ...]", ())
    t = arr.type
    if kind == "text":
        values = pc.utf8_length(arr.cast(pa.string())).cast(pa.float64())
        values = values.to_numpy(zero_copy_only=False)
    elif pa.types.is_timestamp(t) or pa.types.is_date(t):
        secs = arr.cast(pa.timestamp("s")) if pa.types.is_date(t) else arr
        unit = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[secs.type.unit]
        values = secs.cast(pa.int64()).cast(pa.float64()).to_numpy(zero_copy_only=False) / unit
    elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_null(t) \
            or pa.types.is_decimal(t):
        values = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
    else:
        values, junk, examples = _parse_strings(arr, "datetime" if kind == "datetime" else "numeric")
    values = np.asarray(values, dtype="float64")
    missing = int(np.count_nonzero(~np.isfinite(values)))
    return Column(values=values, missing=missing, rows=rows, junk=junk, junk_examples=examples,
                  found_type=found)


def _category(value: Any) -> str | None:
    """A category as text, the same whatever the file type: 3 (not 3.0), True, no padding."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    text = str(value).strip()
    return text or None


def categorical_column(arr: Any) -> Column:
    """A pyarrow column's category counts.

    Counted on the column as it is (dictionary indices, integers), and only the distinct
    values are turned into text, so a million rows cost one ``value_counts``.
    """
    import pyarrow.compute as pc

    found = _arrow_type_name(arr.type)
    counted = pc.value_counts(arr)
    counts: dict[str, int] = {}
    missing = 0
    for value, n in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True):
        key = _category(value)
        if key is None:
            missing += int(n)
        else:
            counts[key] = counts.get(key, 0) + int(n)
    return Column(counts=counts, missing=missing, rows=len(arr), found_type=found)
