"""Open a session on a manifest's target: the local engine or a Snowflake account."""

from __future__ import annotations

import json
from pathlib import Path

from deployer import __version__
from deployer.codegen import sql_string
from deployer.desired import DesiredState
from deployer.session import Session


def query_tag(state: DesiredState, command: str, fingerprint: str | None = None) -> str:
    """JSON naming the tool, its version, the command, the target and the plan, so a
    deployment's statements can be found in QUERY_HISTORY."""
    tag = {"tool": "deployer", "version": __version__, "command": command, "target": state.target.name}
    if fingerprint:
        tag["plan"] = fingerprint
    return json.dumps(tag, separators=(",", ":"))


def set_query_tag(session: Session, state: DesiredState, command: str, fingerprint: str | None) -> None:
    session.run(f"ALTER SESSION SET QUERY_TAG = {sql_string(query_tag(state, command, fingerprint))}")


def open_session(state: DesiredState, command: str = "sql", log_sql: str | Path | None = None) -> Session:
    target = state.target
    if target.type == "local":
        from deployer.engine import LocalSession

        session: Session = LocalSession(target.path, database=state.database, schema=state.schema, command=command,
                                        udf_timeout=target.timeout())
        session.run(f"ALTER SESSION SET QUERY_TAG = {sql_string(query_tag(state, command))}")
    elif target.type == "snowflake":
        from deployer.targets.snowflake import SnowflakeSession

        session = SnowflakeSession.connect(target.connection, database=state.database, schema=state.schema,
                                           warehouse=target.warehouse, role=target.role,
                                           query_tag=query_tag(state, command))
    else:
        raise ValueError(f"unknown target type {target.type!r}")  # the schema rules this out
    if log_sql:
        from deployer.sqllog import LoggedSession

        try:
            session = LoggedSession(session, Path(log_sql), target=target.name, command=command, root=state.root)
        except BaseException:
            session.close()
            raise
    return session
