"""Serve a local engine folder to the real Snowflake clients, for tests.

    from tests.snowserver import snow_server

    with snow_server(tmp_path / "account", database="ML", schema="PUBLIC") as served:
        home = served.write_connections(tmp_path / "sfhome", "local")  # connections.toml, 0600
        monkeypatch.setenv("SNOWFLAKE_HOME", str(home))
        con = snowflake.connector.connect(connection_name="local")
        session = Session.builder.config("connection_name", "local").create()

`snow_server(path, database=None, schema=None)` starts `deployer.server.Server` on
127.0.0.1 and a free port in a background thread and yields a `Served` with `.host`,
`.port`, `.server` (the Server; `.server.engine` is the LocalSession behind it),
`.connection(**extra)` (the connection entry as a dict) and
`.write_connections(folder, name="local", **extra) -> Path` (writes `folder/connections.toml`
with a `[name]` section, mode 0600, and returns the folder for SNOWFLAKE_HOME). On exit the
server stops and the engine is closed, releasing the folder's lock.

The connector reads SNOWFLAKE_HOME once, when it is imported. A subprocess started with
SNOWFLAKE_HOME in its environment (e.g. `deployer apply`) needs nothing more; inside the
test process use `with snowflake_home(folder):`, which sets the variable and re-points the
connector's configuration manager at that folder for the block.
The pytest fixture `snow_server_factory` in tests/conftest.py wraps `snow_server`.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from deployer.server import Server
from deployer.server.entry import connection_entry, toml_section


@dataclass
class Served:
    server: Server
    host: str
    port: int

    def connection(self, **extra: Any) -> dict[str, Any]:
        """The connections.toml entry for this server (user and password are placeholders)."""
        db, schema = self.server.engine.database, self.server.engine.schema
        return {**connection_entry(self.host, self.port, db, schema), **extra}

    def write_connections(self, folder: Path, name: str = "local", **extra: Any) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "connections.toml"
        path.write_text(toml_section(name, self.connection(**extra)), encoding="utf-8")
        os.chmod(path, 0o600)  # the connector refuses (or warns about) readable credential files
        return folder


@contextmanager
def snowflake_home(folder: Path) -> Iterator[Path]:
    """SNOWFLAKE_HOME=folder for this process, the already imported connector included."""
    from snowflake.connector.config_manager import CONFIG_MANAGER

    folder = Path(folder)
    old_env = os.environ.get("SNOWFLAKE_HOME")
    old_file, old_slices = CONFIG_MANAGER.file_path, list(CONFIG_MANAGER._slices)

    def point_at(config: Path, slices: list) -> None:
        CONFIG_MANAGER.file_path = config
        CONFIG_MANAGER._slices[:] = slices
        CONFIG_MANAGER.conf_file_cache = None
        CONFIG_MANAGER.read_config()

    os.environ["SNOWFLAKE_HOME"] = str(folder)
    point_at(folder / "config.toml",
             [s._replace(path=folder / "connections.toml") if s.section == "connections" else s
              for s in old_slices])
    try:
        yield folder
    finally:
        if old_env is None:
            os.environ.pop("SNOWFLAKE_HOME", None)
        else:
            os.environ["SNOWFLAKE_HOME"] = old_env
        point_at(old_file, old_slices)


@contextmanager
def snow_server(path: Path, *, database: str | None = None,
                schema: str | None = None) -> Iterator[Served]:
    server = Server(Path(path), host="127.0.0.1", port=0, database=database, schema=schema)
    server.start()
    try:
        yield Served(server, server.host, server.port)
    finally:
        server.close()
