"""Find connection names the way the Snowflake CLI and connector do.

`connections.toml` (sections `[name]`) or `config.toml` (`[connections.name]`,
`default_connection_name`) under $SNOWFLAKE_HOME, else ~/.snowflake/
(https://docs.snowflake.com/en/developer-guide/python-connector/python-connector-connect).
Only names are read here; the connector reads the secrets itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from deployer.errors import DeployerError


def snowflake_home(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("SNOWFLAKE_HOME") or Path.home() / ".snowflake").expanduser()


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DeployerError(f"{path}: cannot read connections: {exc}") from None


def available(environ: Mapping[str, str] | None = None) -> tuple[dict[str, dict], str | None]:
    """All connection names with their (non-secret) settings, and the default name."""
    home = snowflake_home(environ)
    environ = os.environ if environ is None else environ
    config = _read(home / "config.toml")
    found: dict[str, dict] = dict(config.get("connections") or {})
    found.update(_read(home / "connections.toml"))
    default = environ.get("SNOWFLAKE_DEFAULT_CONNECTION_NAME") or config.get("default_connection_name")
    return found, default or ("default" if "default" in found else None)


def resolve(name: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The connection name to use, or a clear error naming the ones that exist."""
    found, default = available(environ)
    chosen = name or default
    home = snowflake_home(environ)
    if chosen is None:
        raise DeployerError(
            f"no Snowflake connection named in the target and no default connection in {home} "
            "(set targets.<name>.connection or SNOWFLAKE_DEFAULT_CONNECTION_NAME)")
    if chosen not in found:
        listed = ", ".join(sorted(found)) or "none"
        raise DeployerError(
            f"Snowflake connection '{chosen}' is not defined in {home}/connections.toml or config.toml "
            f"(connections found: {listed})")
    return chosen
