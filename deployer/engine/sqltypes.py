"""The SQL types a local Python function can take and return.

Snowflake reports types three ways (https://docs.snowflake.com/en/sql-reference/intro-summary-data-types):
full in DESCRIBE's `returns` (`NUMBER(38,0)`, `VARCHAR(16777216)`), short in
signatures and SHOW's `arguments` (`NUMBER`, `VARCHAR`). Synonyms collapse:
DOUBLE/REAL -> FLOAT, INT -> NUMBER(38,0), STRING/TEXT -> VARCHAR.
"""

from __future__ import annotations

import re

from deployer.errors import NotSupportedError, SQLError

MAX_VARCHAR = 16777216

_FLOAT = {"FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "REAL"}
_NUMBER = {"NUMBER", "NUMERIC", "DECIMAL", "DEC"}
_INT = {"INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"}
_VARCHAR = {"VARCHAR", "STRING", "TEXT", "NVARCHAR", "NVARCHAR2", "CHAR VARYING",
            "NCHAR VARYING", "CHARACTER VARYING"}
_CHAR = {"CHAR", "CHARACTER", "NCHAR"}
_BOOLEAN = {"BOOLEAN", "BOOL"}

_TYPE = re.compile(r"\s*([A-Za-z][A-Za-z0-9 ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")


def normalize(text: str) -> str:
    """The full stored type for `text` as a user wrote it, e.g. 'int' -> 'NUMBER(38,0)'."""
    m = _TYPE.fullmatch(text)
    if not m:
        raise SQLError(f"SQL compilation error: invalid data type '{text}'")
    name = " ".join(m.group(1).upper().split())
    p, s = m.group(2), m.group(3)
    if name in _FLOAT:
        return "FLOAT"
    if name in _INT:
        return "NUMBER(38,0)"
    if name in _NUMBER:
        precision = int(p) if p else 38
        scale = int(s) if s else 0
        if not 1 <= precision <= 38 or scale > precision:
            raise SQLError(f"SQL compilation error: invalid data type '{text}'")
        return f"NUMBER({precision},{scale})"
    if name in _VARCHAR:
        return f"VARCHAR({int(p) if p else MAX_VARCHAR})"
    if name in _CHAR:
        return f"VARCHAR({int(p) if p else 1})"
    if name in _BOOLEAN:
        return "BOOLEAN"
    if name in ("OBJECT", "VARIANT") and p is None:
        return name
    raise NotSupportedError(f"data type {name} for Python functions "
                            "(use FLOAT, NUMBER, VARCHAR, BOOLEAN, OBJECT or VARIANT)")


def short(full: str) -> str:
    """The form used in signatures: the type without its precision."""
    return full.split("(", 1)[0]


def scale(full: str) -> int:
    if full.startswith("NUMBER("):
        return int(full[:-1].split(",")[1])
    return 0


def duckdb_type(full: str) -> str:
    """DuckDB type used to pass values to and from a worker."""
    base = short(full)
    if base == "FLOAT":
        return "DOUBLE"
    if base == "NUMBER":
        return "BIGINT" if scale(full) == 0 else "DOUBLE"
    if base == "VARCHAR":
        return "VARCHAR"
    if base in ("OBJECT", "VARIANT"):  # semi-structured values travel as JSON text
        return "JSON"
    return "BOOLEAN"
