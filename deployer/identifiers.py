"""Snowflake identifiers: normalise what users write, quote what we emit.

Unquoted identifiers are stored upper-case; quoted ones keep their case
(https://docs.snowflake.com/en/sql-reference/identifiers-syntax). The product
accepts only names made of letters, digits, `_` and `$` (quoted or not), so no
user text is ever pasted into SQL beyond that alphabet.
"""

from __future__ import annotations

import re

MAX_LENGTH = 255

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_BARE_STORED = re.compile(r"[A-Z_][A-Z0-9_$]*")

# Snowflake's reserved keywords: a stored name equal to one must be quoted.
RESERVED = frozenset(
    """ACCOUNT ALL ALTER AND ANY AS BETWEEN BY CASE CAST CHECK COLUMN CONNECT
    CONNECTION CONSTRAINT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME
    CURRENT_TIMESTAMP CURRENT_USER DATABASE DELETE DISTINCT DROP ELSE EXISTS
    FALSE FOLLOWING FOR FROM FULL GRANT GROUP GSCLUSTER HAVING ILIKE IN
    INCREMENT INNER INSERT INTERSECT INTO IS ISSUE JOIN LATERAL LEFT LIKE
    LOCALTIME LOCALTIMESTAMP MINUS NATURAL NOT NULL OF ON OR ORDER ORGANIZATION
    QUALIFY REGEXP REVOKE RIGHT RLIKE ROW ROWS SAMPLE SCHEMA SELECT SET SOME
    START TABLE TABLESAMPLE THEN TO TRIGGER TRUE TRY_CAST UNION UNIQUE UPDATE
    USING VALUES VIEW WHEN WHENEVER WHERE WITH""".split()
)


class IdentifierError(ValueError):
    """A name that is not a plain Snowflake identifier."""


def normalize(raw: str) -> str:
    """Return the stored form of `raw`: upper-cased unless written in double quotes."""
    if not isinstance(raw, str):
        raise IdentifierError(f"{raw!r} is not a string")
    quoted = len(raw) >= 2 and raw.startswith('"') and raw.endswith('"')
    body = raw[1:-1] if quoted else raw
    if not body:
        raise IdentifierError("an identifier cannot be empty")
    if len(body) > MAX_LENGTH:
        raise IdentifierError(
            f"identifier is {len(body)} characters long; Snowflake allows at most {MAX_LENGTH}"
        )
    if not _PLAIN.fullmatch(body):
        bad = _first_bad_char(body)
        raise IdentifierError(
            f"{raw!r} is not a plain Snowflake identifier (contains {bad}); "
            "use letters, digits, '_' and '$', starting with a letter or '_'"
        )
    return body if quoted else body.upper()


def _first_bad_char(body: str) -> str:
    if not (body[0].isascii() and (body[0].isalpha() or body[0] == "_")):
        return f"{body[0]!r} at the start"
    for ch in body:
        if not (ch.isascii() and (ch.isalnum() or ch in "_$")):
            names = {" ": "a space", ";": "a semicolon", '"': "a quote", "\t": "a tab"}
            return names.get(ch, repr(ch))
    return "an invalid character"  # pragma: no cover - _PLAIN and this agree


def is_valid(raw: str) -> bool:
    try:
        normalize(raw)
    except IdentifierError:
        return False
    return True


def quote(stored: str) -> str:
    """SQL text for a stored name: bare when Snowflake would read it back unchanged."""
    if _BARE_STORED.fullmatch(stored) and stored not in RESERVED:
        return stored
    return '"' + stored.replace('"', '""') + '"'


def qualified(*parts: str) -> str:
    """`DB.SCHEMA.NAME` from stored parts, each quoted only where needed."""
    return ".".join(quote(p) for p in parts)
