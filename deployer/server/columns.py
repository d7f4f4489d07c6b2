"""Snowflake's column metadata (`rowtype`) and the JSON result encoding of values.

The connector converts each JSON cell from a string according to the column's type
(snowflake/connector/converter.py): numbers as decimal text, booleans as "1"/"0", dates
as days since the epoch, timestamps as seconds since the epoch with `scale` digits.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
from typing import Any

_TEXT_LENGTH = 16777216
_EPOCH = dt.datetime(1970, 1, 1)
_NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT"}


def column(name: str, sf_type: str, *, precision: int | None = None, scale: int | None = None,
           length: int | None = None) -> dict[str, Any]:
    return {"name": name, "database": "", "schema": "", "table": "", "nullable": True,
            "type": sf_type, "length": length, "precision": precision, "scale": scale,
            "byteLength": length * 4 if length else None, "collation": None}


def from_engine_type(name: str, duck_type: str) -> dict[str, Any]:
    """A column typed by the engine (DuckDB's type names)."""
    t = duck_type.upper()
    if t in _NUMERIC:
        return column(name, "fixed", precision=38, scale=0)
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if m:
        return column(name, "fixed", precision=int(m.group(1)), scale=int(m.group(2)))
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return column(name, "real")
    if t == "BOOLEAN":
        return column(name, "boolean")
    if t == "DATE":
        return column(name, "date")
    if t.startswith("TIMESTAMP WITH TIME ZONE") or t == "TIMESTAMPTZ":
        return column(name, "timestamp_ltz", scale=9)
    if t.startswith("TIMESTAMP"):
        return column(name, "timestamp_ntz", scale=9)
    if t == "TIME":
        return column(name, "time", scale=9)
    if t == "BLOB":
        return column(name, "binary", length=8388608)
    if t.endswith("[]"):
        return column(name, "array")
    if t.startswith(("STRUCT", "MAP")):
        return column(name, "object")
    if t == "JSON":
        return column(name, "variant")
    return column(name, "text", length=_TEXT_LENGTH)


def from_values(name: str, values: list[Any]) -> dict[str, Any]:
    """A column the engine did not type (SHOW, LIST, PUT shapes): typed by its values."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return column(name, "boolean")
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return column(name, "fixed", precision=38, scale=0)
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return column(name, "real")
    if present and all(isinstance(v, decimal.Decimal) for v in present):
        scale = max(max(-v.as_tuple().exponent, 0) for v in present)
        return column(name, "fixed", precision=38, scale=scale)
    if present and all(isinstance(v, dt.datetime) for v in present):
        return column(name, "timestamp_ltz" if present[0].tzinfo else "timestamp_ntz", scale=9)
    if present and all(isinstance(v, dt.date) for v in present):
        return column(name, "date")
    return column(name, "text", length=_TEXT_LENGTH)


def rowtype(columns: tuple[str, ...], types: tuple[str, ...], rows: tuple[tuple, ...]) -> list[dict]:
    if types and len(types) == len(columns):
        return [from_engine_type(c, t) for c, t in zip(columns, types)]
    return [from_values(c, [r[i] for r in rows]) for i, c in enumerate(columns)]


def encode(value: Any, meta: dict[str, Any]) -> str | None:
    """One cell of a JSON rowset."""
    if value is None:
        return None
    kind = meta["type"]
    if isinstance(value, bool):
        return "1" if value else "0"
    if kind == "date" and isinstance(value, dt.date):
        return str((value - dt.date(1970, 1, 1)).days)
    if kind.startswith("timestamp") and isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        delta = value - _EPOCH
        seconds = delta.days * 86400 + delta.seconds
        return f"{seconds}.{delta.microseconds * 1000:09d}"
    if kind == "time" and isinstance(value, dt.time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        return f"{seconds}.{value.microsecond * 1000:09d}"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str, indent=2)
    return str(value)
