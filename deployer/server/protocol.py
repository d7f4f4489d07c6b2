"""The JSON bodies of Snowflake's REST protocol, as the official clients read them.

Only what the clients look at is filled in: `success`, `code`, `message`, and `data` with
the session token on login, or rowtype/rowset/queryId and the session's final context
on a query. Errors keep HTTP 200, as Snowflake's do, so the connector raises
ProgrammingError with `code` as errno and `data.sqlState` as sqlstate.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from deployer.server import columns
from deployer.session import Result

# statementTypeId: the connector counts rows of DML (0x3000 range) from the result row.
SELECT_ID, DDL_ID = 0x1000, 0x6000
_DML_IDS = {"number of rows inserted": 0x3100, "number of rows updated": 0x3200,
            "number of rows deleted": 0x3300}


@dataclass(frozen=True)
class Failure(Exception):
    """An error answered to the client with Snowflake's code and SQL state."""

    code: str
    message: str
    sql_state: str = "42000"
    http_status: int = 200


def classify(message: str) -> Failure:
    """Snowflake's error code and SQL state for an engine error message."""
    lower = message.lower()
    if "invalid identifier" in lower:
        return Failure("000904", message, "42000")
    if "syntax error" in lower:
        return Failure("001003", message, "42000")
    if "does not exist" in lower or "unknown function" in lower:
        return Failure("002003", message, "02000")
    if "already exists" in lower:
        return Failure("002002", message, "42710")
    if "not supported by the local engine" in lower:
        return Failure("000002", message, "0A000")
    if lower.startswith("sql compilation error"):
        return Failure("002043", message, "42000")
    return Failure("100000", message, "P0000")


def ok(data: dict[str, Any] | None) -> dict[str, Any]:
    return {"data": data, "code": None, "message": None, "success": True}


def error(failure: Failure, query_id: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"sqlState": failure.sql_state, "errorCode": failure.code,
                            "internalError": False}
    if query_id is not None:
        data["queryId"] = query_id
    return {"data": data, "code": failure.code, "message": failure.message, "success": False,
            "headers": None}


def statement_type(result: Result) -> int:
    if len(result.columns) == 1 and result.columns[0] in _DML_IDS:
        return _DML_IDS[result.columns[0]]
    if result.columns == ("status",):
        return DDL_ID
    return SELECT_ID


def result_data(result: Result, query_id: str, context: dict[str, Any],
                parameters: list[dict[str, Any]]) -> dict[str, Any]:
    """`data` of a successful query: a JSON result set with Snowflake's column metadata."""
    meta = columns.rowtype(result.columns, result.types, result.rows)
    rowset = [[columns.encode(v, m) for v, m in zip(row, meta)] for row in result.rows]
    return {
        "parameters": parameters,
        "rowtype": meta,
        "rowset": rowset,
        "total": len(rowset),
        "returned": len(rowset),
        "queryId": query_id,
        "databaseProvider": None,
        "finalDatabaseName": context["database"],
        "finalSchemaName": context["schema"],
        "finalWarehouseName": context["warehouse"],
        "finalRoleName": context["role"],
        "numberOfBinds": 0,
        "arrayBindSupported": False,
        "statementTypeId": statement_type(result),
        "version": 1,
        "sendResultTime": int(time.time() * 1000),
        "queryResultFormat": "json",
    }


def is_gzip(headers: Any) -> bool:
    return "gzip" in (headers.get("Content-Encoding") or "").lower()


_TOKEN = re.compile(r'Snowflake Token="([^"]*)"')


def token_of(authorization: str | None) -> str | None:
    m = _TOKEN.search(authorization or "")
    return m.group(1) if m else None
