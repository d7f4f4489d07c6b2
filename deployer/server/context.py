"""Per-client session state, and the statements about it that never reach the engine.

Each login gets its own context: database and schema (switched on the shared engine around
each of its statements), warehouse and role (accepted and echoed: the engine has neither),
and session parameters such as QUERY_TAG set by ALTER SESSION.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from deployer import __version__
from deployer.session import Result

ACCOUNT = "LOCAL"
_STATUS = "Statement executed successfully."
# Defaults of the session parameters SHOW PARAMETERS lists; set ones are shown at SESSION level.
DEFAULT_PARAMETERS = {"QUERY_TAG": "", "TIMEZONE": "UTC", "AUTOCOMMIT": "true",
                      "QUERY_RESULT_FORMAT": "JSON", "STATEMENT_TIMEOUT_IN_SECONDS": "172800"}


@dataclass
class ClientContext:
    session_id: int
    user: str
    database: str | None = None
    schema: str | None = None
    warehouse: str | None = None
    role: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # typed, as the clients read them
    last_seen: float = field(default_factory=time.monotonic)

    def snapshot(self) -> dict[str, Any]:
        return {"database": self.database, "schema": self.schema,
                "warehouse": self.warehouse, "role": self.role}

    def info(self) -> dict[str, Any]:
        """`sessionInfo` of the login response."""
        return {"databaseName": self.database, "schemaName": self.schema,
                "warehouseName": self.warehouse, "roleName": self.role}

    def parameter_list(self) -> list[dict[str, Any]]:
        merged = {**DEFAULT_PARAMETERS, **self.parameters}
        return [{"name": k, "value": v} for k, v in merged.items()]


def _ident(text: str) -> str:
    text = text.strip()
    if len(text) > 1 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text.upper()


def _value(text: str) -> Any:
    """A parameter value typed as Snowflake echoes it: quoted text, number or boolean."""
    text = text.strip()
    if len(text) > 1 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'").replace("\\'", "'")
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    return text


_ALTER_SET = re.compile(r"^\s*ALTER\s+SESSION\s+SET\s+(.*?)\s*;?\s*$", re.I | re.S)
_ALTER_UNSET = re.compile(r"^\s*ALTER\s+SESSION\s+UNSET\s+(.*?)\s*;?\s*$", re.I | re.S)
_ASSIGN = re.compile(r"\s*([A-Za-z_][\w$]*)\s*=\s*('(?:[^']|'')*'|[^\s,]+)\s*(?:,|$)", re.S)
_USE_OTHER = re.compile(r"^\s*USE\s+(WAREHOUSE|ROLE|SECONDARY\s+ROLES)\s+(.+?)\s*;?\s*$", re.I | re.S)
_SHOW_PARAMETERS = re.compile(
    r"^\s*SHOW\s+PARAMETERS(?:\s+LIKE\s+'((?:[^']|'')*)')?(?:\s+IN\s+SESSION)?\s*;?\s*$", re.I | re.S)
_SELECT = re.compile(r"^\s*SELECT\s+(.*?)\s*;?\s*$", re.I | re.S)
_CURRENT = re.compile(r'^(CURRENT_[A-Z_]+)\s*\(\s*\)(?:\s+(?:AS\s+)?("(?:[^"]|"")+"|[A-Za-z_][\w$]*))?$',
                      re.I)
_CANCEL = re.compile(r"^\s*SELECT\s+SYSTEM\$CANCEL_ALL_QUERIES\s*\(\s*\d*\s*\)\s*;?\s*$", re.I)


def _current_values(ctx: ClientContext) -> dict[str, str | None]:
    return {"CURRENT_DATABASE": ctx.database, "CURRENT_SCHEMA": ctx.schema,
            "CURRENT_WAREHOUSE": ctx.warehouse, "CURRENT_ROLE": ctx.role,
            "CURRENT_USER": ctx.user, "CURRENT_SESSION": str(ctx.session_id),
            "CURRENT_ACCOUNT": ACCOUNT, "CURRENT_ACCOUNT_NAME": ACCOUNT,
            "CURRENT_ORGANIZATION_NAME": ACCOUNT, "CURRENT_REGION": ACCOUNT,
            "CURRENT_VERSION": __version__, "CURRENT_SECONDARY_ROLES": '{"roles":"","value":""}'}


def _select_current(ctx: ClientContext, sql: str) -> Result | None:
    """`SELECT CURRENT_DATABASE(), CURRENT_ROLE() ...` with nothing else: the context's values."""
    m = _SELECT.match(sql)
    if not m or re.search(r"\bFROM\b", m.group(1), re.I):
        return None
    values = _current_values(ctx)
    cols, row = [], []
    for item in m.group(1).split(","):
        c = _CURRENT.match(item.strip())
        if c is None or c.group(1).upper() not in values:
            return None
        cols.append(_ident(c.group(2)) if c.group(2) else c.group(1).upper() + "()")
        row.append(values[c.group(1).upper()])
    return Result(tuple(cols), (tuple(row),), ("VARCHAR",) * len(cols))


def _show_parameters(ctx: ClientContext, like: str | None) -> Result:
    pattern = None
    if like is not None:
        like = like.replace("''", "'")
        pattern = re.compile("".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
                                     for ch in like), re.I | re.S)
    rows = []
    for key, default in {**DEFAULT_PARAMETERS, **{k: "" for k in ctx.parameters}}.items():
        if pattern is not None and not pattern.fullmatch(key):
            continue
        value = ctx.parameters.get(key, default)
        level = "SESSION" if key in ctx.parameters else ""
        kind = "BOOLEAN" if isinstance(value, bool) else "NUMBER" if isinstance(value, int) else "STRING"
        text = str(value).lower() if isinstance(value, bool) else str(value)
        rows.append((key, text, default, level, "", kind))
    return Result(("key", "value", "default", "level", "description", "type"), tuple(rows))


def session_statement(ctx: ClientContext, sql: str) -> Result | None:
    """The answer to a statement about the session itself, or None for the engine."""
    m = _ALTER_SET.match(sql)
    if m:
        body, pos, sets = m.group(1), 0, {}
        while pos < len(body):
            a = _ASSIGN.match(body, pos)
            if a is None or a.end() == pos:
                return None  # not a form we know: the engine reports the syntax error
            sets[a.group(1).upper()] = _value(a.group(2))
            pos = a.end()
        ctx.parameters.update(sets)
        return Result(("status",), ((_STATUS,),), ("VARCHAR",))
    m = _ALTER_UNSET.match(sql)
    if m:
        for name in m.group(1).split(","):
            ctx.parameters.pop(name.strip().upper(), None)
        return Result(("status",), ((_STATUS,),), ("VARCHAR",))
    m = _USE_OTHER.match(sql)
    if m:
        kind = m.group(1).upper()
        if kind == "WAREHOUSE":
            ctx.warehouse = _ident(m.group(2))
        elif kind == "ROLE":
            ctx.role = _ident(m.group(2))
        return Result(("status",), ((_STATUS,),), ("VARCHAR",))
    m = _SHOW_PARAMETERS.match(sql)
    if m:
        return _show_parameters(ctx, m.group(1))
    if _CANCEL.match(sql):
        # Snowpark's session.close(); every statement here runs to its end before answering.
        return Result(("status",), (("0 queries cancelled.",),), ("VARCHAR",))
    return _select_current(ctx, sql)
