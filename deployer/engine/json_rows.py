"""A long run of literal rows handed to DuckDB as one JSON string instead of SQL rows.

DuckDB parses and binds each literal of a VALUES list on its own (a 300-row synthetic
batch of two features: ~11 of a query's ~14 ms); one string literal read by its JSON
reader costs ~2 ms. Every value travels as its literal's text and is cast by DuckDB's own
text conversion, so it is the value the literal would have been, and each column gets the
type DuckDB's VALUES would give it. Only the cases where that type is certain are taken:
the first row's CAST or literal decides it, and every other row's literal is one that
cannot widen it; anything else keeps the rows as SQL (deployer.engine.translate).

The rows become a temporary table named by their content (`Rows`), which the statement
reads: models of one shape are tested on the same synthetic batch, and reading a table is
a third of the time of parsing and reading its JSON again (the session creates each once).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache

# The literals a lifted run may hold (deployer.engine.translate): written the same in both
# dialects (a string without backslashes).
NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
STRING = r"'(?:[^'\\]|'')*'"
LITERAL = rf"{NUMBER}|NULL|TRUE|FALSE|{STRING}"
_TYPE = r"DOUBLE|BIGINT|INTEGER|VARCHAR|TEXT|BOOLEAN|DECIMAL\(\s*\d+\s*,\s*0\s*\)"
# One item of the first row as sqlglot writes it for DuckDB: a literal, or a CAST of one.
_ITEM = re.compile(rf"\s*(?:CAST\(\s*(?P<cast>{LITERAL})\s+AS\s+(?P<type>{_TYPE})\s*\)|(?P<bare>{LITERAL}))\s*(?:,|$)",
                   re.IGNORECASE)
# The literals a column of each type takes without changing type, whose text casts to the
# value the literal has: integers of at most 9 digits stay INTEGER (10 might not); DOUBLE
# takes integers below 2**53 and decimals of at most 15 digits (a DECIMAL literal that
# short converts to the same DOUBLE as its text does), but not a negative zero (-0 and -0.0
# are an INTEGER and a DECIMAL 0, while the text '-0' casts to the DOUBLE -0.0), and any
# exponent of two digits.
_VALUES = {
    "INTEGER": r"-?\d{1,9}(?![\d.e])",
    "BIGINT": r"-?\d{1,18}(?![\d.e])",
    "DECIMAL": r"-?\d{1,18}(?![\d.e])",  # of 19 digits or more: neither INTEGER nor BIGINT widens it
    "DOUBLE": r"-?\d{1,20}(?:\.\d{1,20})?e[-+]?\d{1,2}"
              r"|(?!-0+(?:\.0+)?(?![\d.e]))(?:-?\d{1,15}(?![\d.e])|-?(?=[\d.]{3,16}(?![\d.e]))\d+\.\d+)",
    "VARCHAR": STRING,
    "TEXT": STRING,
    "BOOLEAN": r"TRUE|FALSE",
}
_SPACE = re.compile(r"\s+")
_TOKEN = re.compile(rf"(?P<str>{STRING})|(?P<null>NULL)|(?P<open>\()|(?P<close>\))|{NUMBER}|TRUE|FALSE",
                    re.IGNORECASE)


@dataclass(frozen=True)
class Rows:
    """A temporary table the statement reads: `name`, made by `select` (the rows from JSON)."""

    name: str  # temp.main."deployer_rows_<digest of select>"
    select: str

    def create(self) -> str:
        return f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.name} AS {self.select}"


def relation(duck: str, sentinel: str, rows: str) -> tuple[str, Rows] | None:
    """`duck` with `(VALUES (<first row>), (<stand-in>))` made a subquery of a table holding the
    first row and `rows` (read from JSON), and that table; None when the types would not
    certainly be VALUES' own."""
    stand_in = "('" + sentinel + "'"
    at = duck.find(stand_in)
    start = duck.rfind("(VALUES (", 0, at)
    if at < 0 or start < 0 or duck.find(stand_in, at + 1) >= 0:
        return None
    first = duck[start + len("(VALUES ("):at].rstrip()
    end = duck.find(")", at + len(stand_in))
    if not first.endswith("),") or end < 0 or \
            duck[at + len(stand_in):end].replace("NULL", "").replace(",", "").strip() or \
            not duck[end + 1:].lstrip().startswith(")"):
        return None
    head = _first_row(first[:-2])
    if head is None:
        return None
    types, values = head
    body = _rows_json(tuple(t.split("(")[0] for t in types), rows)
    if body is None:
        return None
    text = "[" + json.dumps(values, ensure_ascii=False) + "," + body + "]"
    columns = ", ".join(f"CAST(r[{i + 1}] AS {t}) AS col{i}" for i, t in enumerate(types))
    source = f"from_json('{text.replace(chr(39), chr(39) * 2)}', '[[\"VARCHAR\"]]')"
    select = f"SELECT {columns} FROM (SELECT unnest({source}) AS r)"
    table = Rows(f'temp.main."deployer_rows_{hashlib.sha256(select.encode()).hexdigest()[:24]}"', select)
    close = duck.index(")", end + 1)  # the one that closes VALUES' parenthesis
    return duck[:start] + f"(SELECT * FROM {table.name})" + duck[close + 1:], table


def _first_row(text: str) -> tuple[list[str], list[str | None]] | None:
    """Each column's type as the first row decides it, and the row's values as text."""
    types: list[str] = []
    values: list[str | None] = []
    pos = 0
    while pos < len(text):
        m = _ITEM.match(text, pos)
        if m is None:
            return None
        pos = m.end()
        literal = m.group("cast") or m.group("bare")
        kind = _SPACE.sub("", m.group("type").upper()) if m.group("type") else _bare_type(literal)
        if kind is None or kind.startswith("DECIMAL(") and int(kind[8:].split(",")[0]) < 19:
            return None
        if literal.upper() != "NULL" and not re.fullmatch(_VALUES[kind.split("(")[0]], literal, re.IGNORECASE):
            return None
        types.append(kind)
        values.append(None if literal.upper() == "NULL" else
                      literal[1:-1].replace("''", "'") if literal.startswith("'") else literal)
    return (types, values) if types else None


def _bare_type(literal: str) -> str | None:
    """The type DuckDB gives a literal alone, among those taken here."""
    if literal.startswith("'"):
        return "VARCHAR"
    if literal.upper() in ("TRUE", "FALSE"):
        return "BOOLEAN"
    if re.fullmatch(_VALUES["INTEGER"], literal):
        return "INTEGER"
    return None


@lru_cache(maxsize=64)
def _run(types: tuple[str, ...]) -> re.Pattern:
    """Rows of literals that fit `types`, one per column."""
    row = r"\(\s*" + r"\s*,\s*".join(f"(?:{_VALUES[t]}|NULL)" for t in types) + r"\s*\)"
    return re.compile(rf"\s*{row}(?:\s*,\s*{row})*\s*", re.IGNORECASE)


@lru_cache(maxsize=8)
def _rows_json(types: tuple[str, ...], rows: str) -> str | None:
    """`rows` as JSON when every literal fits `types`, else None. Remembered: candidates of one
    shape are tested on the same synthetic rows (deployer.smoke.synthetic_rows)."""
    return _as_json(rows) if _run(types).fullmatch(rows) else None


def _as_json(rows: str) -> str:
    """Rows already checked by _run as JSON arrays of strings and nulls."""
    if "'" in rows:
        return _TOKEN.sub(_json, rows)
    # No string: only numbers, NULL, TRUE and FALSE between the parentheses and commas, so
    # plain replacements do it (a tenth of the time of one call per literal).
    text = _SPACE.sub("", rows).upper().replace(",", '","').replace("(", '["').replace(")", '"]')
    return text.replace(']","[', "],[").replace('"NULL"', "null")


def _json(m: re.Match) -> str:
    """Rows already checked by _run, one token at a time: a row's parentheses as a JSON array's
    brackets, a literal as a JSON string of its text (a string's value), NULL as null."""
    if m.group("str") is not None:
        return json.dumps(m.group("str")[1:-1].replace("''", "'"), ensure_ascii=False)
    if m.group("open"):
        return "["
    if m.group("close"):
        return "]"
    if m.group("null"):
        return "null"
    return '"' + m.group(0) + '"'
