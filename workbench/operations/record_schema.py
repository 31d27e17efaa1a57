"""The input contract of a registered model: one JSON record per row, checked field by field.

Built from the training features in ``params.yaml`` and their types (see
:mod:`workbench.operations.predict` for the rules). The bundle writes this schema into
``schema.json`` and the scorer validates records with it, so it lives apart from both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

MAX_ABS = 1e15  # the largest magnitude a numeric feature may have (10 trillion dollars in cents)
NAN = float("nan")
JSON_TYPES = {"numeric": "number", "categorical": "string", "text": "string", "datetime": "string"}


def to_seconds(value: str | None) -> float:
    """An ISO 8601 text as seconds since the epoch (UTC when no offset), as training does; NaN for None."""
    if value is None:
        return NAN
    when = datetime.fromisoformat(value.strip())
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _check_iso(value: str | None) -> str | None:
    """Keep the text (the prediction log shows what was sent) once it parses as a date-time."""
    try:
        to_seconds(value)
    except (ValueError, OverflowError):
        raise ValueError("Input should be an ISO 8601 date-time such as 2024-05-01T13:30:00") from None
    return value


def record_adapter(features: dict[str, str]) -> Any:
    """A pydantic TypeAdapter for a non-empty list of records with exactly these features.

    There is no record count limit in the schema: the service's body size limit bounds it,
    and a schema limit the size limit can pre-empt would make the spec say one thing (422)
    while the service does another (413).
    """
    from typing import Annotated

    from annotated_types import Len
    from pydantic import (
        AfterValidator,
        ConfigDict,
        Field,
        StrictBool,
        StrictFloat,
        StrictInt,
        StrictStr,
        TypeAdapter,
    )
    from typing_extensions import TypedDict

    kinds: dict[str, Any] = {
        # strict: "1.5" and true are refused, 3 is 3.0; bounded so no feature overflows a scaler
        "numeric": Annotated[StrictFloat, Field(ge=-MAX_ABS, le=MAX_ABS)] | None,
        "categorical": StrictStr | StrictInt | StrictBool | None,
        "text": StrictStr | None,
        "datetime": Annotated[StrictStr | None, AfterValidator(_check_iso)],
    }
    record = TypedDict("Record", {name: kinds[kind] for name, kind in features.items()})  # type: ignore[misc]
    record.__pydantic_config__ = ConfigDict(extra="forbid", allow_inf_nan=False)  # type: ignore[attr-defined]
    return TypeAdapter(Annotated[list[record], Len(min_length=1)])


def error_lines(exc: Any, limit: int = 20) -> tuple[list[dict[str, Any]], str]:
    """A pydantic ValidationError as FastAPI-style ``detail`` items and one line naming the field."""
    details: list[dict[str, Any]] = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False)[:limit]:
        loc = list(err.get("loc") or ())
        details.append({"loc": ["body", *loc], "msg": err.get("msg", ""), "type": err.get("type", "")})
    first: dict[str, Any] = details[0] if details else {"loc": ["body"], "msg": "invalid body", "type": "value_error"}
    loc = first["loc"][1:]
    kind = first["type"]
    if kind == "json_invalid":
        line = f"the body is not valid JSON ({str(first['msg']).removeprefix('Invalid JSON: ')})"
    elif not loc:
        line = f"the body must be a JSON list of one or more records: {first['msg']}"
    elif len(loc) == 1:
        line = f"record {loc[0]} must be a JSON object with the feature fields: {first['msg']}"
    else:
        what = {"missing": "is missing", "extra_forbidden": "is not a feature of this model"}.get(kind, "")
        line = f"record {loc[0]}, field {loc[1]!r}: " + (what or first["msg"])
    more = len(exc.errors()) - 1
    return details, line + (f" (and {more} more problem{'s' * (more > 1)})" if more > 0 else "")
