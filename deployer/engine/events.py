"""The local event table: records handlers log, queryable as SNOWFLAKE.TELEMETRY.EVENTS.

Columns follow Snowflake's event table
(https://docs.snowflake.com/en/developer-guide/logging-tracing/event-table-columns):
TIMESTAMP, OBSERVED_TIMESTAMP, RECORD_TYPE ('LOG'), RECORD ({"severity_text": ...}),
RESOURCE_ATTRIBUTES (snow.database.name, snow.schema.name, snow.executable.name ...),
SCOPE ({"name": logger}), RECORD_ATTRIBUTES (code.filepath, code.lineno ...), VALUE
(the message). Three plain local columns, SEVERITY, FUNCTION_NAME and MESSAGE, make
queries easy without JSON paths.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

DATABASE, SCHEMA, TABLE = "SNOWFLAKE", "TELEMETRY", "EVENTS"

DDL = f'''CREATE TABLE IF NOT EXISTS "{DATABASE}"."{SCHEMA}"."{TABLE}" (
    "TIMESTAMP" TIMESTAMP, "OBSERVED_TIMESTAMP" TIMESTAMP, "RECORD_TYPE" VARCHAR,
    "RECORD" JSON, "RESOURCE_ATTRIBUTES" JSON, "SCOPE" JSON, "RECORD_ATTRIBUTES" JSON,
    "VALUE" VARCHAR, "SEVERITY" VARCHAR, "FUNCTION_NAME" VARCHAR, "MESSAGE" VARCHAR)'''

INSERT = f'INSERT INTO "{DATABASE}"."{SCHEMA}"."{TABLE}" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'

# DuckDB reserves the name INFORMATION_SCHEMA, so SNOWFLAKE.INFORMATION_SCHEMA is stored
# under this name and translate.py maps references to it.
INFO_SCHEMA_STORED = "INFORMATION_SCHEMA_LOCAL"

_SEVERITY = {"WARNING": "WARN", "CRITICAL": "FATAL"}


def error_record(text: str) -> dict:
    """A log record for a handler's unhandled exception: its last `Type: message` line."""
    import re
    import time

    lines = [line.strip() for line in text.splitlines() if line.strip()]
    found = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*", line)]
    message = found[-1] if found else (lines[0] if lines else "unhandled exception")
    return {"time": time.time(), "level": "ERROR", "logger": "python_udf", "message": message,
            "file": "", "line": 0, "function": ""}


def rows(function: dict, records: list[dict]) -> list[tuple]:
    """Event rows for log records of one function (`function`: database, schema, name, label)."""
    out = []
    observed = datetime.now(timezone.utc).replace(tzinfo=None)
    resource = json.dumps({
        "snow.database.name": function["database"], "snow.schema.name": function["schema"],
        "snow.executable.name": function["label"], "snow.executable.type": "FUNCTION",
        "telemetry.sdk.language": "python"})
    for r in records:
        severity = _SEVERITY.get(r["level"], r["level"])
        when = datetime.fromtimestamp(r["time"], timezone.utc).replace(tzinfo=None)
        out.append((
            when, observed, "LOG", json.dumps({"severity_text": severity}), resource,
            json.dumps({"name": r["logger"]}),
            json.dumps({"code.filepath": r["file"], "code.lineno": r["line"],
                        "code.function": r["function"]}),
            r["message"], severity, function["name"], r["message"]))
    return out
