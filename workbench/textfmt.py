"""Text helpers every report and table uses: a number, a cut cell, a Markdown table.

Each report had its own ``_fmt`` with its own digits and width; the parameters of
:func:`fmt` keep every one of those outputs to the byte, so a report reads the same
whichever module writes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["clip", "fmt", "md_table"]


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the last one an ellipsis when it was cut."""
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def fmt(value: Any, *, digits: int = 4, none: str = "-", ints: bool = False, nan: str | None = None,
        fixed_below: float | None = None, grouped_from: float | None = None, width: int | None = None) -> str:
    """A value for a report or a table cell: floats to ``digits`` significant digits.

    ``None`` is ``none``; a float (and an int too when ``ints``; never a bool) is written
    ``{:.<digits>g}``, or ``nan`` when it is NaN and ``nan`` is given, or with thousands
    separators and no decimals from ``grouped_from`` up, or with ``digits`` decimals below
    ``fixed_below``; anything else is ``str``. ``width`` clips the result (:func:`clip`).
    """
    if value is None:
        text = none
    elif isinstance(value, float) or (ints and isinstance(value, int) and not isinstance(value, bool)):
        if nan is not None and math.isnan(value):
            text = nan
        elif grouped_from is not None and abs(value) >= grouped_from:
            text = f"{value:,.0f}"
        elif fixed_below is not None and abs(value) < fixed_below:
            text = f"{value:.{digits}f}"
        else:
            text = f"{value:.{digits}g}"
    else:
        text = str(value)
    return text if width is None else clip(text, width)


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, align: str = "", compact: bool = False,
             cell: Callable[[Any], str] = str) -> list[str]:
    """The lines of a Markdown table: the header, the rule, one line a row.

    ``align`` has one letter a column (``l`` or ``r``; missing columns are left-aligned);
    ``compact`` writes the rule ``|---|---:|`` instead of ``| --- | ---: |``; ``cell`` turns
    each value into its text (escaping is the caller's: reports differ in what they escape).
    """
    rule = ["---:" if align[i:i + 1] == "r" else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |",
             ("|" + "|".join(rule) + "|") if compact else ("| " + " | ".join(rule) + " |")]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines
