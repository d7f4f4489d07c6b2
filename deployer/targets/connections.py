"""Connection names resolved exactly as the Snowflake connector resolves them.

The connector's own configuration manager decides: `config.toml` and `connections.toml`
under $SNOWFLAKE_HOME, else ~/.snowflake/ when it exists, else the platform folder
(~/.config/snowflake on Linux); `connections.toml` replaces config.toml's whole
[connections] section; a whole TOML document in $SNOWFLAKE_CONNECTIONS; the default name
from $SNOWFLAKE_DEFAULT_CONNECTION_NAME or `default_connection_name`; files writable by
others refused. So any connection the connector and the Snowflake CLI accept works here,
and none that they reject. The settings (secrets included) go straight to the connector;
only names, account and host are ever shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deployer.errors import DeployerError

# Keys whose values never appear in output, logs or errors.
SECRET_KEYS = ("password", "private_key_file_pwd", "private_key_passphrase", "passcode", "token",
               "private_key", "oauth_client_secret", "client_secret")


def _manager() -> tuple[Any, Path]:
    """A fresh copy of the connector's CONFIG_MANAGER, for the environment as it is now.

    The connector builds its paths once at import; building them per call keeps the answer
    right in a long-lived process (tests, a server) when SNOWFLAKE_HOME changes.
    """
    try:
        import tomlkit
        from snowflake.connector import config_manager as cm
        from snowflake.connector.sf_dirs import _resolve_platform_dirs
    except ImportError:
        raise DeployerError("the snowflake target needs the Snowflake connector: "
                            "pip install 'deployer[snowflake]'") from None
    folder = Path(_resolve_platform_dirs().user_config_path)
    manager = cm.ConfigManager(
        name="CONFIG_MANAGER", file_path=folder / "config.toml",
        _slices=[cm.ConfigSlice(folder / "connections.toml", cm.ConfigSliceOptions(check_permissions=True),
                                "connections")])
    manager.add_option(name="connections", parse_str=tomlkit.parse, default=dict())
    manager.add_option(name="default_connection_name", default="default")
    return manager, folder


def available() -> tuple[dict[str, dict], str, Path]:
    """All connections with their settings, the default name, and the folder they come from."""
    manager, folder = _manager()
    try:
        found = manager["connections"]
        default = manager["default_connection_name"]
    except Exception as exc:  # ConfigSourceError, TOML errors: the connector's own words
        cause = f"{exc}: {exc.__cause__}" if exc.__cause__ else str(exc)
        raise DeployerError(f"cannot read Snowflake connections in {folder}: {cause}") from None
    return {str(k): dict(v) for k, v in dict(found).items()}, str(default), folder


def resolve(name: str | None) -> tuple[str, dict]:
    """(name, settings) of the connection to use, or one clear error naming the ones that exist."""
    found, default, folder = available()
    chosen = name or default
    if chosen not in found:
        listed = ", ".join(sorted(found)) or "none"
        if name is None:
            raise DeployerError(
                f"no Snowflake connection named in the target and the default connection '{default}' "
                f"is not defined in {folder} (connections found: {listed}); set targets.<name>.connection "
                "or SNOWFLAKE_DEFAULT_CONNECTION_NAME")
        raise DeployerError(f"Snowflake connection '{chosen}' is not defined in {folder}/connections.toml, "
                            f"config.toml or SNOWFLAKE_CONNECTIONS (connections found: {listed})")
    return chosen, found[chosen]


def secrets_of(settings: dict) -> list[str]:
    """The secret values in a connection's settings, to scrub from any text shown."""
    return [str(settings[k]) for k in SECRET_KEYS if settings.get(k) not in (None, "")]


def scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text
