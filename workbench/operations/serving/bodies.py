"""Reading a ``text/csv`` body: as records (the field-by-field path that names a bad line)
or, for a big body, column-wise as a frame.
"""

from typing import Any


def csv_records(body: bytes, features: dict[str, str]) -> list[dict[str, Any]] | str:
    """The records of a CSV body (header row, then one record per line), or the one-line reason it is not one.

    Values are typed by the features' kinds so the same schema check as for JSON applies:
    numeric fields become numbers (text that is not one stays text, and the check names
    the field), an empty field is missing. Columns that are not features (an id, the
    target) are left out, as batch ``predict`` passes them through, so the file a team
    scores in batch can be posted as it is; a misspelt feature is still named as missing.
    A row with more or fewer fields than the header is refused with its line number rather
    than guessed at.
    """
    import csv
    import io

    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return f"the CSV body is not UTF-8 (byte {exc.start}): send it as UTF-8 text"
    short = object()
    reader = csv.DictReader(io.StringIO(text, newline=""), restval=short)  # type: ignore[call-overload]
    records: list[dict[str, Any]] = []
    try:
        names = reader.fieldnames or []
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            return (f"the CSV header row names the column(s) {', '.join(repr(n) for n in twice)} more than once: "
                    "give each column once")
        for row in reader:
            if None in row or short in row.values():
                return (f"CSV line {reader.line_num} has {'more' if None in row else 'fewer'} fields than "
                        "the header row: one value per column, empty for a missing one")
            record: dict[str, Any] = {}
            for name, raw in row.items():
                if name not in features:
                    continue
                value: Any = None if raw == "" else raw
                if value is not None and features.get(name) == "numeric":
                    try:
                        value = float(value)
                    except ValueError:
                        pass  # the schema check names the field
                record[name] = value
            records.append(record)
    except csv.Error as exc:
        return f"the CSV body could not be read (line {reader.line_num}: {exc}): send plain CSV text"
    if reader.fieldnames is None:
        return "the CSV body is empty: send a header row of feature names, then one record per line"
    if not records:
        return "the CSV body has a header row but no records: send one record per line after the header"
    return records


#: CSV bodies of at least this many lines are read by pyarrow into columns and scored as a frame
CSV_FRAME_LINES = 1000


def csv_frame(body: bytes, features: dict[str, str]) -> tuple[Any, list[dict[str, Any]]] | None:
    """A big CSV body as (feature frame, records), read column-wise by pyarrow; None to take the record path.

    Only a body the record path would accept comes out of here: any doubt (a missing,
    doubled or unreadable column, a short row, a value that is not a number, NaN or
    infinity, a magnitude over the schema's bound, a datetime feature) returns None, and
    :func:`csv_records` then names the line or field as for a small body.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    from workbench.operations.record_schema import MAX_ABS

    if "datetime" in features.values():
        return None
    import io

    types = {n: pa.float64() if k == "numeric" else pa.string() for n, k in features.items()}
    try:
        table = pcsv.read_csv(io.BytesIO(body), read_options=pcsv.ReadOptions(use_threads=False),
                              convert_options=pcsv.ConvertOptions(
                                  column_types=types, include_columns=list(features), null_values=[""],
                                  strings_can_be_null=True, quoted_strings_can_be_null=False))
        header = pcsv.read_csv(io.BytesIO(body.split(b"\n", 1)[0] + b"\n"),
                               convert_options=pcsv.ConvertOptions(column_types={})).column_names \
            if table.num_rows else []
    except (pa.ArrowInvalid, pa.ArrowKeyError, pa.ArrowTypeError, UnicodeDecodeError):
        return None
    if not table.num_rows or len(set(header)) != len(header):
        return None
    cols: dict[str, Any] = {}
    for name, kind in features.items():
        column = table.column(name)
        if kind == "numeric":
            values = column.to_numpy(zero_copy_only=False).astype(np.float64)
            present = ~np.asarray(pc.is_null(column).to_numpy(zero_copy_only=False))
            if not np.all(np.isfinite(values[present])) or np.any(np.abs(values[present]) > MAX_ABS):
                return None
            cols[name] = values
        else:
            texts = column.to_pylist()
            cols[name] = np.array([("" if v is None else v) if kind == "text" else (float("nan") if v is None else v)
                                   for v in texts], dtype=object)
    import pandas as pd

    return pd.DataFrame(cols), table.to_pylist()
