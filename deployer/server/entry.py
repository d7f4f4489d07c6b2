"""The connections.toml entry that points a Snowflake client at a served engine."""

from __future__ import annotations

import json
from typing import Any


def connection_entry(host: str, port: int, database: str | None,
                     schema: str | None) -> dict[str, Any]:
    # account, user and password are required by the clients but not checked by the server.
    entry: dict[str, Any] = {"host": host, "port": port, "protocol": "http", "account": "local",
                             "user": "local", "password": "local"}
    if database:
        entry["database"] = database
    if schema:
        entry["schema"] = schema
    return entry


def toml_section(name: str, entry: dict[str, Any]) -> str:
    lines = [f"[{json.dumps(name) if not name.replace('_', '').isalnum() else name}]"]
    for key, value in entry.items():
        # JSON strings and integers are valid TOML values
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
