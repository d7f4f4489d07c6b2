"""`deployer serve`: run the server in the foreground and say how to reach it."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Callable

from deployer.server.entry import connection_entry, toml_section
from deployer.server.http import Server, is_loopback


def serve(path: Path, database: str, schema: str, host: str, port: int,
          echo: Callable[..., None]) -> None:
    if not is_loopback(host):
        echo(f"warning: serving on {host}: anyone who can reach this address can run SQL and "
             "Python functions on this machine, with any user and password", err=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    server = Server(Path(path), host=host, port=port, database=database, schema=schema)
    # SIGTERM ends the server as Ctrl-C does, so the engine's lock is released either way.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        shown_host = server.host if host not in ("0.0.0.0", "::") else "127.0.0.1"
        entry = connection_entry(shown_host, server.port, database, schema)
        echo(f"Serving the local engine at {path} on http://{server.host}:{server.port}")
        echo("Add this to ~/.snowflake/connections.toml (mode 0600), then connect with "
             "connection_name=\"local\":\n")
        echo(toml_section("local", entry))
        echo("Press Ctrl-C to stop.", err=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            echo("stopping", err=True)
    finally:
        server.close()
