"""The Snowflake target: the session interface over one connector cursor of a Snowpark session.

Statements go through `session.connection.cursor()`: one round trip each, column names from
`cursor.description`, the query id from `cursor.sfqid`. `session.sql(...).collect()` followed
by `.schema` would send describe-only round trips of its own (snowflake-semantics.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from deployer.codegen import sql_string
from deployer.errors import DeployerError, SQLError
from deployer.identifiers import quote
from deployer.session import Progress, Result
from deployer.targets import connections, putprogress

# The connector's error numbers that say what to check, beyond its own message.
_HINTS = {
    250001: "that the account identifier is right and its host is reachable from here",
    250003: "the host and port of the connection and the network between them",
    251005: "that the connection names a user",
    251006: "that the connection has a password, or the authenticator it needs",
    390100: "the user and password (or authenticator) of the connection",
    390144: "private_key_file and its passphrase (key-pair authentication)",
    390189: "the role: it must exist and be granted to the user",
    390201: "the database, schema or warehouse named in the connection",
}


def _connect_error(name: str, settings: dict, exc: BaseException) -> DeployerError:
    errno = getattr(exc, "errno", None)
    sqlstate = getattr(exc, "sqlstate", None)
    message = str(getattr(exc, "msg", None) or exc).strip().splitlines()
    text = " ".join(message[:3]) or type(exc).__name__
    where = ", ".join(f"{k} {settings[k]}" for k in ("account", "host") if settings.get(k)) or "no account set"
    code = f"{errno} ({sqlstate}): " if errno and sqlstate else f"{errno}: " if errno else ""
    hint = _HINTS.get(errno if isinstance(errno, int) else -1,
                      "the account, user, authenticator and role of the connection")
    detail = f"cannot connect with Snowflake connection '{name}' ({where}): {code}{text}. Check {hint}."
    return DeployerError(connections.scrub(detail, connections.secrets_of(settings)))


class SnowflakeSession:
    """A Snowpark session's connection behind the small session interface."""

    def __init__(self, connection: Any, *, snowpark: Any = None, secrets: list[str] | None = None):
        self._connection = connection
        self._snowpark = snowpark
        self._secrets = secrets or []

    @classmethod
    def connect(cls, connection: str | None, *, database: str | None = None, schema: str | None = None,
                warehouse: str | None = None, role: str | None = None,
                query_tag: str | None = None) -> "SnowflakeSession":
        name, settings = connections.resolve(connection)
        try:
            from snowflake.snowpark import Session
        except ImportError:
            raise DeployerError("the snowflake target needs Snowpark: pip install 'deployer[snowflake]'") from None
        configs = dict(settings)
        # The target's role and warehouse win over the connection's (USE ROLE/WAREHOUSE at connect).
        configs.update({k: v for k, v in (("role", role), ("warehouse", warehouse)) if v})
        if query_tag:
            configs["session_parameters"] = {**dict(configs.get("session_parameters") or {}),
                                             "QUERY_TAG": query_tag}
        try:
            snowpark = Session.builder.configs(configs).create()
        except Exception as exc:  # the connector raises many types; all mean "cannot connect"
            raise _connect_error(name, settings, exc) from exc
        self = cls(snowpark.connection, snowpark=snowpark, secrets=connections.secrets_of(settings))
        # The manifest's context, as a worksheet would have it; an absent schema is reported
        # by the readiness check before anything is written.
        for kind, value in (("DATABASE", database), ("SCHEMA", schema)):
            if value:
                try:
                    self.run(f"USE {kind} {quote(value)}")
                except SQLError:
                    pass
        return self

    def run(self, sql: str, **options: Any) -> Result:
        """`options`: the connector's own execute arguments (a PUT's progress class)."""
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, **options)
            description = cursor.description or ()
            rows = cursor.fetchall() if description else []
            query_id = getattr(cursor, "sfqid", None)
        except Exception as exc:
            raise SQLError(self._message(exc)) from exc
        finally:
            try:
                cursor.close()
            except Exception:
                pass
        return Result(tuple(d[0] for d in description), tuple(tuple(r) for r in rows), query_id=query_id)

    def put(self, local_path: Path, stage_dir: str, *, overwrite: bool = True,
            progress: Progress | None = None) -> Result:
        path = Path(local_path).resolve().as_posix()
        statement = (f"PUT {sql_string('file://' + path)} {sql_string(stage_dir.rstrip('/') + '/')} "
                     f"AUTO_COMPRESS = FALSE OVERWRITE = {'TRUE' if overwrite else 'FALSE'}")
        options: dict[str, Any] = {}
        counter = None
        if progress is not None:
            counter = putprogress.Counter(progress, Path(local_path).stat().st_size)
            putprogress.report_chunks()
            options = {"_put_callback": counter.progress_class(), "_put_callback_output_stream": sys.stderr,
                       "_show_progress_bar": False}
        try:
            result = self.run(statement, **options)
        except SQLError as exc:
            raise SQLError(f"PUT {local_path} to {stage_dir} failed: {exc}") from exc.__cause__
        if counter is not None and any(str(r.get("status", "")).upper() == "UPLOADED" for r in result.dicts()):
            counter.finish()  # whatever the connector reported, the file is all there now
        return result

    def close(self) -> None:
        # An expired session can fail to close: never let that mask the command's result.
        try:
            if self._snowpark is not None:
                self._snowpark.close()
            else:
                self._connection.close()
        except Exception as exc:
            print(f"warning: closing the Snowflake session failed: {self._message(exc)}", file=sys.stderr)

    def _message(self, exc: BaseException) -> str:
        text = " ".join((str(exc).strip() or type(exc).__name__).split("\n")[:3])
        return connections.scrub(text, self._secrets)

    def __enter__(self) -> "SnowflakeSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
