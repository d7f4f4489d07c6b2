"""Open a session on a manifest's target: the local engine or a Snowflake account."""

from __future__ import annotations

from deployer.desired import DesiredState
from deployer.session import Session


def open_session(state: DesiredState) -> Session:
    target = state.target
    if target.type == "local":
        from deployer.engine import LocalSession

        return LocalSession(target.path, database=state.database, schema=state.schema)
    if target.type == "snowflake":
        from deployer.targets.snowflake import SnowflakeSession

        return SnowflakeSession.connect(target.connection, database=state.database, schema=state.schema)
    raise ValueError(f"unknown target type {target.type!r}")  # the schema rules this out
