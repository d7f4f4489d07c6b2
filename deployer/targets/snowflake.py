"""The Snowflake target: the session interface over Snowpark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deployer.errors import DeployerError, SQLError
from deployer.identifiers import quote
from deployer.session import Result
from deployer.targets import connections


class SnowflakeSession:
    def __init__(self, snowpark_session: Any):
        self._session = snowpark_session

    @classmethod
    def connect(cls, connection: str | None, *, database: str | None = None,
                schema: str | None = None) -> "SnowflakeSession":
        name = connections.resolve(connection)
        try:
            from snowflake.snowpark import Session
        except ImportError:
            raise DeployerError("the snowflake target needs Snowpark: pip install 'deployer[snowflake]'") from None
        try:
            session = Session.builder.config("connection_name", name).create()
        except Exception as exc:  # the connector raises many types; all mean "cannot connect"
            raise DeployerError(f"cannot connect with Snowflake connection '{name}': {_first_line(exc)}") from None
        self = cls(session)
        # The manifest's context, as a worksheet would have it; absent objects are fine (apply creates the stage only).
        for kind, value in (("DATABASE", database), ("SCHEMA", schema)):
            if value:
                try:
                    self.run(f"USE {kind} {quote(value)}")
                except SQLError:
                    pass
        return self

    def run(self, sql: str) -> Result:
        try:
            frame = self._session.sql(sql)
            rows = frame.collect()
            columns = tuple(field.name for field in frame.schema.fields) if rows or frame.schema else ()
        except Exception as exc:
            raise SQLError(_first_line(exc)) from None
        return Result(tuple(_unquote(c) for c in columns), tuple(tuple(row) for row in rows))

    def put(self, local_path: Path, stage_dir: str, *, overwrite: bool = True) -> Result:
        try:
            results = self._session.file.put(str(local_path), stage_dir, auto_compress=False, overwrite=overwrite)
        except Exception as exc:
            raise SQLError(f"PUT {local_path} to {stage_dir} failed: {_first_line(exc)}") from None
        columns = ("source", "target", "source_size", "target_size", "status")
        return Result(columns, tuple((r.source, r.target, r.source_size, r.target_size, r.status) for r in results))

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "SnowflakeSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _unquote(column: str) -> str:
    # Snowpark reports case-sensitive column names in double quotes.
    return column[1:-1].replace('""', '"') if len(column) > 1 and column[0] == column[-1] == '"' else column


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split("\n")[:3])
