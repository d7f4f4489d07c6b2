"""One engine per served folder, shared by every client under a lock.

The engine keeps one current database and schema; each statement runs with the client's
own context switched in, and whatever the statement changed (USE, CREATE DATABASE) is
read back into that client's context.
"""

from __future__ import annotations

import copy
import re
import threading
from pathlib import Path
from typing import Any

from deployer.engine import LocalSession, stages
from deployer.engine import statements as st
from deployer.server.context import ClientContext, session_statement
from deployer.session import Result

_TRANSFER = re.compile(r"^\s*(PUT|GET)\s", re.I)


class Backend:
    def __init__(self, engine: LocalSession):
        self.engine = engine
        self.lock = threading.Lock()

    @property
    def default_context(self) -> tuple[str | None, str | None]:
        return self.engine.database, self.engine.schema

    def has_database(self, db: str) -> bool:
        return self.engine.catalog.has_database(db)

    def has_schema(self, db: str, schema: str) -> bool:
        return self.engine.catalog.has_schema(db, schema)

    def execute(self, ctx: ClientContext, sql: str, describe_only: bool = False) -> Result | dict[str, Any]:
        """A Result, or for PUT/GET the transfer instructions the client carries out itself."""
        target = copy.deepcopy(ctx.parameters) if describe_only else None
        if target is not None:  # a describe-only request must leave the session as it was
            scratch = copy.copy(ctx)
            scratch.parameters = target
            answered = session_statement(scratch, sql)
        else:
            answered = session_statement(ctx, sql)
        if answered is not None:
            return Result(answered.columns, (), answered.types) if describe_only else answered
        with self.lock:
            engine = self.engine
            engine.database, engine.schema = ctx.database, ctx.schema
            try:
                if _TRANSFER.match(sql) and not describe_only:
                    return self._transfer(st.parse(sql))
                return engine.describe(sql) if describe_only else engine.run(sql)
            finally:
                if not describe_only:
                    ctx.database, ctx.schema = engine.database, engine.schema

    def _transfer(self, stmt: Any) -> dict[str, Any]:
        """The `data` of a PUT/GET answer: a LOCAL_FS stage the connector copies files to or from."""
        if isinstance(stmt, st.Put):
            root, rel = self.engine.stage_folder("@" + _location_text(stmt.target))
            folder = root / rel if rel else root
            return _transfer_data("UPLOAD", [stmt.local], folder, overwrite=stmt.overwrite,
                                  autoCompress=stmt.auto_compress, sourceCompression="auto_detect")
        root, rel = self.engine.stage_folder("@" + _location_text(stmt.source))
        files = [f.path for f in stages.list_files(root, rel, stmt.pattern, md5=False)]
        local = Path(stmt.local_dir).expanduser()
        return _transfer_data("DOWNLOAD", files, root, localLocation=str(local))

    def close(self) -> None:
        with self.lock:
            self.engine.close()


def _location_text(loc: st.Location) -> str:
    name = ".".join('"' + p.replace('"', '""') + '"' for p in loc.stage)
    return f"{name}/{loc.path}" if loc.path else name


def _transfer_data(command: str, sources: list[str], folder: Path, **extra: Any) -> dict[str, Any]:
    return {
        "command": command,
        "src_locations": sources,
        "parallel": 1,
        "stageInfo": {"locationType": "LOCAL_FS", "location": str(folder), "path": "",
                      "region": None, "storageAccount": None, "isClientSideEncrypted": False,
                      "creds": {}, "endPoint": None},
        "encryptionMaterial": None,
        **extra,
    }
