"""Rows of SHOW, DESCRIBE and LIST exactly as Snowflake prints them.

Pure functions from catalog records to (columns, rows). Formats follow
https://docs.snowflake.com/en/sql-reference/sql/show-user-functions,
https://docs.snowflake.com/en/sql-reference/sql/desc-function,
https://docs.snowflake.com/en/sql-reference/sql/show-stages and
https://docs.snowflake.com/en/sql-reference/sql/list.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from fnmatch import fnmatchcase

from deployer import stagepath
from deployer.engine import sqltypes
from deployer.identifiers import quote
from deployer.engine.catalog import Function, Stage
from deployer.engine.stages import StagedFile

SHOW_FUNCTIONS_COLUMNS = (
    "created_on", "name", "schema_name", "is_builtin", "is_aggregate", "is_ansi",
    "min_num_arguments", "max_num_arguments", "arguments", "description", "catalog_name",
    "is_table_function", "valid_for_clustering", "is_secure", "secrets",
    "external_access_integrations", "is_external_function", "language", "is_memoizable",
    "is_data_metric",
)
SHOW_STAGES_COLUMNS = (
    "created_on", "name", "database_name", "schema_name", "url", "has_credentials",
    "has_encryption_key", "owner", "comment", "region", "type", "cloud",
    "notification_channel", "storage_integration", "endpoint", "owner_role_type",
    "directory_enabled",
)
SHOW_DATABASES_COLUMNS = (
    "created_on", "name", "is_default", "is_current", "origin", "owner", "comment", "options",
    "retention_time", "kind", "budget", "owner_role_type",
)
SHOW_SCHEMAS_COLUMNS = (
    "created_on", "name", "is_default", "is_current", "database_name", "owner", "comment",
    "options", "retention_time", "owner_role_type", "budget",
)
DESCRIBE_COLUMNS = ("property", "value")
PARAMETERS_COLUMNS = ("key", "value", "default", "level", "description", "type")
# The account's parameters as a new account has them: handlers' records go to the default event
# table (https://docs.snowflake.com/en/developer-guide/logging-tracing/event-table-setting-up).
ACCOUNT_PARAMETERS = (("EVENT_TABLE", "SNOWFLAKE.TELEMETRY.EVENTS",
                       "Event table of the account: where handlers' log records and traces go"),)
LIST_COLUMNS = ("name", "size", "md5", "last_modified")
PUT_COLUMNS = ("source", "target", "source_size", "target_size", "source_compression",
               "target_compression", "status", "message")
REMOVE_COLUMNS = ("name", "result")
GET_COLUMNS = ("file", "size", "status", "message")


def yn(flag: bool) -> str:
    return "Y" if flag else "N"


def like(pattern: str | None, name: str) -> bool:
    """SQL LIKE as SHOW applies it: case-insensitive, % and _ wildcards."""
    if pattern is None:
        return True
    glob = "".join("*" if c == "%" else "?" if c == "_" else "[" + c + "]" if c in "[]*?" else c
                   for c in pattern.upper())
    return fnmatchcase(name.upper(), glob)


def ts(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def arguments(fn: Function) -> str:
    """`PREDICT(FLOAT, DEFAULT FLOAT) RETURN FLOAT`: short types, defaults marked; a table
    function reads `... RETURN TABLE (LABEL VARCHAR, PROBA_YES FLOAT)`."""
    args = ", ".join(("DEFAULT " if d is not None else "") + sqltypes.short(t)
                     for t, d in zip(fn.arg_types, fn.arg_defaults))
    return f"{fn.name}({args}) RETURN {returns_short(fn)}"


def returns_short(fn: Function) -> str:
    """The return type as SHOW and DESCRIBE print it: `FLOAT`, or `TABLE (LABEL VARCHAR, ...)`."""
    if not fn.is_table:
        return sqltypes.short(fn.returns)
    return "TABLE (" + ", ".join(f"{quote(n)} {sqltypes.short(t)}" for n, t in fn.columns) + ")"


def _list_text(items) -> str | None:
    return "[" + ",".join(items) + "]" if items else None


def show_functions(fns: list[Function]) -> tuple[tuple, list[tuple]]:
    rows = []
    for fn in sorted(fns, key=lambda f: (f.name, f.schema, f.database, f.short_types)):
        required = sum(1 for d in fn.arg_defaults if d is None)
        rows.append((
            ts(fn.created_on), fn.name, fn.schema, "N", "N", "N", required, len(fn.arg_types),
            arguments(fn), fn.comment if fn.comment is not None else "user-defined function",
            fn.database, yn(fn.is_table), "N", yn(fn.secure),
            json.dumps(dict(fn.secrets)) if fn.secrets else None,
            _list_text(fn.external_access_integrations), "N", "PYTHON", "N", "N",
        ))
    return SHOW_FUNCTIONS_COLUMNS, rows


def describe_function(fn: Function) -> tuple[tuple, list[tuple]]:
    signature = "(" + ", ".join(f"{n} {sqltypes.short(t)}"
                                for n, t in zip(fn.arg_names, fn.arg_types)) + ")"
    rows = [
        ("signature", signature),
        ("returns", returns_short(fn) if fn.is_table else fn.returns),
        ("language", "PYTHON"),
        ("null handling", "RETURNS NULL ON NULL INPUT" if fn.strict else "CALLED ON NULL INPUT"),
        ("volatility", fn.volatility),
        ("body", None if fn.secure else fn.body),
        ("imports", None if fn.secure else "[" + ",".join(map(rewritten_import, fn.imports)) + "]"),
        ("handler", fn.handler),
        ("runtime_version", fn.runtime_version),
        ("packages", "[" + ",".join(f"'{p}'" for p in fn.packages) + "]"),
        ("installed_packages", "[" + ",".join(f"'{p}'" for p in fn.installed_packages) + "]"),
        ("external_access_integrations", _list_text(fn.external_access_integrations)),
        ("secrets", json.dumps(dict(fn.secrets)) if fn.secrets else None),
    ]
    return DESCRIBE_COLUMNS, rows


def show_parameters(pattern: str | None, scope: str, session: dict) -> tuple[tuple, list[tuple]]:
    """SHOW PARAMETERS [LIKE ...] [IN ACCOUNT | IN SESSION]; `session`: what ALTER SESSION set."""
    if scope == "ACCOUNT":
        rows = [(k, v, v, "", about, "STRING") for k, v, about in ACCOUNT_PARAMETERS]
    else:
        rows = [(k, str(v), "", "SESSION", "", "STRING") for k, v in sorted(session.items())]
    return PARAMETERS_COLUMNS, [r for r in rows if like(pattern, r[0])]


def show_stages(stages: list[Stage]) -> tuple[tuple, list[tuple]]:
    rows = []
    for s in sorted(stages, key=lambda s: (s.name, s.schema, s.database)):
        kind = "INTERNAL NO CSE" if s.encryption == "SNOWFLAKE_SSE" else "INTERNAL"
        rows.append((ts(s.created_on), s.name, s.database, s.schema, "", "N", "N", None,
                     s.comment or "", None, kind, None, None, None, None, None, "N"))
    return SHOW_STAGES_COLUMNS, rows


def show_databases(databases: dict, current: str | None) -> tuple[tuple, list[tuple]]:
    rows = [(ts(d["created_on"]), name, "N", yn(name == current), "", None, "", "", 1,
             "STANDARD", None, None) for name, d in sorted(databases.items())]
    return SHOW_DATABASES_COLUMNS, rows


def show_schemas(items: list[tuple[str, str, str]], current: tuple) -> tuple[tuple, list[tuple]]:
    """items: (database, schema, created_on)."""
    rows = [(ts(c), s, "N", yn((d, s) == current), d, None, "", "", 1, None, None)
            for d, s, c in sorted(items, key=lambda x: (x[1], x[0]))]
    return SHOW_SCHEMAS_COLUMNS, rows


def last_modified(mtime: float) -> str:
    """'Thu, 26 Nov 2026 14:03:18 GMT', the RFC 1123 form LIST prints (what
    email.utils.formatdate(mtime, usegmt=True) writes, without importing the email package)."""
    t = datetime.fromtimestamp(mtime, timezone.utc)
    return (f"{_DAYS[t.weekday()]}, {t.day:02d} {_MONTHS[t.month - 1]} {t.year:04d} "
            f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} GMT")


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rewritten_import(canonical: str) -> str:
    """An import as DESCRIBE FUNCTION echoes it: Snowflake rewrites the stage reference with the
    database and schema always quoted (`@"DB"."SCHEMA".STAGE/x.jar`), whatever was written."""
    loc = stagepath.parse(canonical)
    scope = "".join(f'"{part.replace(chr(34), chr(34) * 2)}".' for part in (loc.database, loc.schema) if part)
    return f"@{scope}{quote(loc.stage)}/{loc.path}"


def stored_size(stage: Stage, size: int) -> int:
    """LIST's size: on SNOWFLAKE_FULL stages the stored (encrypted) file is padded to the next
    16-byte block, so it never equals the local size; SNOWFLAKE_SSE stores it as it is."""
    return size if stage.encryption == "SNOWFLAKE_SSE" else (size // 16 + 1) * 16


def list_rows(stage: Stage, files: list[StagedFile]) -> tuple[tuple, list[tuple]]:
    base = stage.name.lower()
    return LIST_COLUMNS, [(f"{base}/{f.path}", stored_size(stage, f.size), f.md5, last_modified(f.mtime))
                          for f in files]


def remove_rows(stage_name: str, removed: list[str]) -> tuple[tuple, list[tuple]]:
    base = stage_name.lower()
    return REMOVE_COLUMNS, [(f"{base}/{p}", "removed") for p in removed]
