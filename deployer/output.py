"""Query results printed as a table, JSON (an array of objects) or CSV."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
from typing import Any

from deployer.session import Result


def plain(value: Any) -> Any:
    """A JSON-safe value: numbers stay numbers, times become ISO text."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):  # numpy scalars
        return plain(value.item())
    return value


def format_rows(result: Result, fmt: str) -> str:
    if fmt == "json":
        rows = [{c: plain(v) for c, v in zip(result.columns, row)} for row in result.rows]
        return json.dumps(rows, indent=2, default=str) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([["" if v is None else plain(v) for v in row] for row in result.rows])
        return buffer.getvalue()
    return table(result)


def table(result: Result) -> str:
    if not result.columns:
        return "(statement executed)\n"
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(c.ljust(w) for c, w in zip(result.columns, widths)) + " |", line]
    out += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |" for r in cells]
    out += [line, f"{len(cells)} row{'s' if len(cells) != 1 else ''}"]
    return "\n".join(out) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    text = str(plain(value))
    return text if len(text) <= 80 and "\n" not in text else text.replace("\n", " ")[:77] + "..."
