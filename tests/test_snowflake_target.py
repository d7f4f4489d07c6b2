"""The Snowflake target's adapter and connection lookup, without a server.

The end-to-end proof with the real connector and Snowpark is tests/test_snowflake_e2e.py.
"""

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from deployer.errors import DeployerError, SQLError
from deployer.targets import connections
from deployer.targets.snowflake import SnowflakeSession


def home(tmp_path, monkeypatch, connections_toml=None, config_toml=None):
    for name, text in (("connections.toml", connections_toml), ("config.toml", config_toml)):
        if text is not None:
            (tmp_path / name).write_text(text)
            os.chmod(tmp_path / name, 0o600)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path))
    for var in ("SNOWFLAKE_CONNECTIONS", "SNOWFLAKE_DEFAULT_CONNECTION_NAME"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_config_toml_connections_and_its_default(tmp_path, monkeypatch):
    home(tmp_path, monkeypatch, config_toml='default_connection_name = "dev"\n[connections.dev]\naccount = "y"\n')
    assert connections.resolve(None) == ("dev", {"account": "y"})


def test_connections_toml_replaces_config_toml_connections(tmp_path, monkeypatch):
    # As the connector does: connections.toml is not merged into config.toml's [connections].
    home(tmp_path, monkeypatch, '[prod]\naccount = "x"\n', '[connections.dev]\naccount = "y"\n')
    found, _, _ = connections.available()
    assert sorted(found) == ["prod"]
    with pytest.raises(DeployerError, match=r"connection 'dev' is not defined in .*\(connections found: prod\)"):
        connections.resolve("dev")


def test_environment_picks_the_default_and_can_hold_the_document(tmp_path, monkeypatch):
    home(tmp_path, monkeypatch, '[a]\naccount = "x"\n[b]\naccount = "y"\n')
    monkeypatch.setenv("SNOWFLAKE_DEFAULT_CONNECTION_NAME", "b")
    assert connections.resolve(None)[0] == "b"
    monkeypatch.setenv("SNOWFLAKE_CONNECTIONS", '[envconn]\naccount = "z"\n')
    assert connections.resolve("envconn") == ("envconn", {"account": "z"})


def test_platform_folder_when_snowflake_home_is_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path / "absent"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SNOWFLAKE_CONNECTIONS", raising=False)
    folder = tmp_path / "xdg" / "snowflake"
    folder.mkdir(parents=True)
    (folder / "connections.toml").write_text('[plat]\naccount = "p"\n')
    os.chmod(folder / "connections.toml", 0o600)
    assert connections.resolve("plat")[0] == "plat"


def test_missing_default_and_unknown_names_are_one_clear_error(tmp_path, monkeypatch):
    home(tmp_path, monkeypatch, '[prod]\naccount = "x"\n')
    with pytest.raises(DeployerError, match="default connection 'default' is not defined"):
        connections.resolve(None)
    with pytest.raises(DeployerError, match=r"'qa' is not defined .*connections found: prod"):
        connections.resolve("qa")


def test_files_writable_by_others_are_refused_as_the_connector_does(tmp_path, monkeypatch):
    home(tmp_path, monkeypatch, '[prod]\naccount = "x"\n')
    os.chmod(tmp_path / "connections.toml", 0o666)
    with pytest.raises(DeployerError, match="writable by group or others"):
        connections.resolve("prod")


def test_broken_toml_is_one_clear_error(tmp_path, monkeypatch):
    home(tmp_path, monkeypatch, "[prod\n")
    with pytest.raises(DeployerError, match="cannot read Snowflake connections"):
        connections.resolve("prod")


class FakeCursor:
    def __init__(self, conn):
        self.conn, self.description, self.sfqid = conn, None, None

    def execute(self, sql):
        self.conn.statements.append(sql)
        if sql.startswith("SELEC "):
            raise RuntimeError("001003 (42000): SQL compilation error:\nsyntax error line 1")
        self.description = [("name",), ("SIZE",)]
        self.sfqid = f"q{len(self.conn.statements)}"

    def fetchall(self):
        return [("a", 1), ("b", 2)]

    def close(self):
        self.conn.cursors_closed += 1


class FakeConnection:
    def __init__(self):
        self.statements, self.cursors_closed, self.closed = [], 0, False

    def cursor(self):
        return FakeCursor(self)

    def close(self):
        self.closed = True


def test_run_is_one_cursor_round_trip_with_names_and_query_id():
    conn = FakeConnection()
    with SnowflakeSession(conn) as session:
        result = session.run("LIST @S")
    assert conn.statements == ["LIST @S"]  # one statement, no describe round trip
    assert result.columns == ("name", "SIZE") and result.rows == (("a", 1), ("b", 2))
    assert result.query_id == "q1" and conn.cursors_closed == 1 and conn.closed


def test_errors_become_sql_errors_and_close_errors_only_warn(capsys):
    class Broken(FakeConnection):
        def close(self):
            raise RuntimeError("390112: session expired")

    session = SnowflakeSession(Broken())
    with pytest.raises(SQLError, match="SQL compilation error"):
        session.run("SELEC 1")
    session.close()
    assert "warning: closing the Snowflake session failed: 390112" in capsys.readouterr().err


def test_put_never_compresses_and_overwrites():
    conn = FakeConnection()
    SnowflakeSession(conn).put(Path("/tmp/m.h5"), "@ML.S.STAGE/PREDICT/abc", overwrite=True)
    assert conn.statements == ["PUT 'file:///tmp/m.h5' '@ML.S.STAGE/PREDICT/abc/' AUTO_COMPRESS = FALSE OVERWRITE = TRUE"]


def _builder(monkeypatch, create):
    from snowflake.snowpark import Session

    seen = {}

    class Builder:
        def configs(self, options):
            seen.update(options)
            return self

        def create(self):
            return create()

    monkeypatch.setattr(Session, "builder", Builder())
    return seen


def test_connect_passes_the_connection_role_warehouse_and_query_tag(tmp_path, monkeypatch):
    home(tmp_path, monkeypatch, '[prod]\naccount = "x"\nuser = "u"\npassword = "hunter2-secret"\nrole = "R0"\n')
    conn = FakeConnection()
    seen = _builder(monkeypatch, lambda: SimpleNamespace(connection=conn, close=lambda: None))
    SnowflakeSession.connect("prod", database="ML", schema="DATA_MODEL", role="DEPLOYER", warehouse="WH",
                             query_tag='{"tool":"deployer"}')
    assert seen["account"] == "x" and seen["role"] == "DEPLOYER" and seen["warehouse"] == "WH"
    assert seen["session_parameters"] == {"QUERY_TAG": '{"tool":"deployer"}'}
    assert conn.statements == ["USE DATABASE ML", "USE SCHEMA DATA_MODEL"]


def test_connect_failure_names_connection_account_code_and_hides_secrets(tmp_path, monkeypatch):
    home(tmp_path, monkeypatch, '[prod]\naccount = "xy12345"\nuser = "u"\npassword = "hunter2-secret"\n'
                                'private_key_file_pwd = "keypass-secret"\n')

    def fail():
        from snowflake.connector.errors import DatabaseError

        raise DatabaseError(msg="Incorrect username or password was specified (hunter2-secret, keypass-secret).",
                            errno=390100, sqlstate="08004")

    _builder(monkeypatch, fail)
    with pytest.raises(DeployerError) as caught:
        SnowflakeSession.connect("prod")
    text = str(caught.value)
    assert "connection 'prod' (account xy12345)" in text and "390100 (08004)" in text
    assert "Check the user and password" in text
    assert "hunter2-secret" not in text and "keypass-secret" not in text
