"""`deployer logs`: a function's log records and errors, from the target's event table.

Snowflake writes what handlers log to the account's active event table (found with SHOW
PARAMETERS LIKE 'EVENT_TABLE' IN ACCOUNT); the local engine to SNOWFLAKE.TELEMETRY.EVENTS.
One query reads either, with Snowflake's column names and JSON paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from deployer.codegen import sql_string
from deployer.desired import DesiredState
from deployer.errors import DeployerError, SQLError
from deployer.session import Session

DEFAULT_TABLE = "SNOWFLAKE.TELEMETRY.EVENTS"
# Severity order as OpenTelemetry and Snowflake's LOG_LEVEL name them.
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Record:
    time: Any  # datetime (UTC) as the target returns it
    severity: str
    function: str  # snow.executable.name: PREDICT(FEATURE_1 FLOAT, ...):FLOAT
    message: str

    def to_json(self) -> dict:
        when = self.time.isoformat() if hasattr(self.time, "isoformat") else str(self.time)
        return {"time": when, "severity": self.severity, "function": self.function, "message": self.message}


def parse_since(text: str) -> timedelta:
    """`90s`, `15m`, `1h`, `2d`, `1w` (as `logs --since` and `docker logs --since` take them)."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text or "")
    if not match:
        raise DeployerError(f"--since: expected a duration such as 30m, 1h or 2d, got {text!r}")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


def parse_level(text: str) -> str:
    level = _ALIASES.get(text.upper(), text.upper())
    if level not in LEVELS:
        raise DeployerError(f"--level: expected one of {', '.join(l.lower() for l in LEVELS)}, got {text!r}")
    return level


def event_table(session: Session) -> str:
    """The account's active event table, asked the same way of either target (the local
    engine answers SNOWFLAKE.TELEMETRY.EVENTS)."""
    try:
        rows = session.run("SHOW PARAMETERS LIKE 'EVENT_TABLE' IN ACCOUNT").dicts()
    except SQLError:
        rows = []  # a role that may not read account parameters: Snowflake's default event table
    values = [str(r.get("value") or "") for r in rows if str(r.get("key", "")).upper() == "EVENT_TABLE"]
    if not values:
        return DEFAULT_TABLE
    value = values[0].strip()
    if not value or value.upper() == "NONE":
        raise DeployerError("the account has no active event table, so handlers' logs are not kept: an "
                            "administrator can set one with ALTER ACCOUNT SET EVENT_TABLE = "
                            "SNOWFLAKE.TELEMETRY.EVENTS (or a table made with CREATE EVENT TABLE)")
    return value


def query(state: DesiredState, table: str, models: list[str], *, after: datetime, level: str | None,
          limit: int) -> str:
    """Records of `models`' functions (not their candidates) newer than `after` (UTC)."""
    attr = 'RESOURCE_ATTRIBUTES:"{}"::STRING'.format
    # STARTSWITH, not LIKE: whether LIKE escapes with a backslash by default differs between
    # databases, and function names often hold underscores. Names are stored as SHOW prints them.
    names = " OR ".join(f"STARTSWITH({attr('snow.executable.name')}, {sql_string(m + '(')})" for m in models)
    where = [
        "RECORD_TYPE IN ('LOG', 'SPAN_EVENT')",
        f"{attr('snow.database.name')} = {sql_string(state.database)}",
        f"{attr('snow.schema.name')} = {sql_string(state.schema)}",
        f"({names})",
        f"TIMESTAMP > {sql_string(after.strftime('%Y-%m-%d %H:%M:%S.%f'))}::TIMESTAMP_NTZ",
    ]
    if level is not None:
        wanted = ", ".join(sql_string(l) for l in LEVELS[LEVELS.index(level):])
        where.append(f"COALESCE(RECORD:severity_text::STRING, 'ERROR') IN ({wanted})")
    return ("SELECT TIMESTAMP, COALESCE(RECORD:severity_text::STRING, RECORD_TYPE) AS SEVERITY, "
            f"{attr('snow.executable.name')} AS FUNCTION_LABEL, "
            # A SPAN_EVENT (an unhandled exception) carries its message in an attribute, not VALUE.
            'COALESCE(VALUE::STRING, RECORD_ATTRIBUTES:"exception.message"::STRING, RECORD:name::STRING) AS MESSAGE '

            f"FROM {table} WHERE {' AND '.join(where)} ORDER BY TIMESTAMP LIMIT {int(limit)}")


def read(session: Session, state: DesiredState, table: str, models: list[str], *, after: datetime,
         level: str | None, limit: int) -> list[Record]:
    rows = session.run(query(state, table, models, after=after, level=level, limit=limit)).rows
    return [Record(r[0], str(r[1] or ""), str(r[2] or ""), str(r[3] or "")) for r in rows]


# How late Snowflake may make a record visible in the event table, and so how far back each
# read of --follow looks again (the local engine writes records as they happen).
INGEST_DELAY = timedelta(minutes=3)


class Tail:
    """What --follow has not shown yet. Each read after the first starts `lookback` before the
    newest record seen, since a late record can carry an older TIMESTAMP; records already shown
    are dropped."""

    def __init__(self, after: datetime, lookback: timedelta):
        self.after, self.lookback = after, lookback
        self._shown: set[Record] = set()

    def since(self) -> datetime:
        return self.after - self.lookback

    def new(self, records: list[Record]) -> list[Record]:
        fresh = [r for r in records if r not in self._shown]
        self._shown.update(fresh)
        if records:
            self.after = max(self.after, max(r.time for r in records))
        cutoff = self.since()
        self._shown = {r for r in self._shown if r.time >= cutoff}  # older ones are never read again
        return fresh


def since(delta: timedelta) -> datetime:
    """The UTC time `delta` ago, naive as event tables store TIMESTAMP (TIMESTAMP_NTZ in UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None) - delta


def line(record: Record, color: bool = False) -> str:
    when = record.time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if hasattr(record.time, "strftime") else str(record.time)
    severity = f"{record.severity:<5}"
    if color:
        from deployer.console import style

        severity = style(severity, {"WARN": "yellow", "ERROR": "bold red", "FATAL": "bold red",
                                    "DEBUG": "dim", "TRACE": "dim"}.get(record.severity, ""))
    name = record.function.split("(", 1)[0]
    return f"{when} {severity} {name}: {record.message}"
