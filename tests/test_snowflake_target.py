"""The Snowflake target, without an account: connection names and the Snowpark adapter."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from deployer.errors import DeployerError, SQLError
from deployer.targets import connections
from deployer.targets.snowflake import SnowflakeSession


def home(tmp_path, connections_toml="", config_toml=""):
    (tmp_path / "connections.toml").write_text(connections_toml)
    (tmp_path / "config.toml").write_text(config_toml)
    return {"SNOWFLAKE_HOME": str(tmp_path)}


def test_names_from_both_files_and_default(tmp_path):
    env = home(tmp_path, '[prod]\naccount = "x"\n', 'default_connection_name = "dev"\n[connections.dev]\naccount = "y"\n')
    found, default = connections.available(env)
    assert sorted(found) == ["dev", "prod"] and default == "dev"
    assert connections.resolve(None, env) == "dev"
    assert connections.resolve("prod", env) == "prod"


def test_environment_picks_the_default(tmp_path):
    env = home(tmp_path, '[a]\naccount = "x"\n[b]\naccount = "y"\n')
    assert connections.resolve(None, {**env, "SNOWFLAKE_DEFAULT_CONNECTION_NAME": "b"}) == "b"


def test_unknown_connection_lists_the_known_ones(tmp_path):
    env = home(tmp_path, '[prod]\naccount = "x"\n')
    with pytest.raises(DeployerError, match=r"connection 'qa' is not defined in .* \(connections found: prod\)"):
        connections.resolve("qa", env)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DeployerError, match="no default connection"):
        connections.resolve(None, home(empty))


def test_broken_toml_is_one_clear_error(tmp_path):
    with pytest.raises(DeployerError, match="cannot read connections"):
        connections.available(home(tmp_path, "[prod\n"))


class FakeFrame:
    def __init__(self, columns, rows, error=None):
        self.schema = SimpleNamespace(fields=[SimpleNamespace(name=c) for c in columns])
        self._rows, self._error = rows, error

    def collect(self):
        if self._error:
            raise self._error
        return self._rows


class FakeSnowpark:
    def __init__(self):
        self.statements, self.puts, self.closed = [], [], False
        self.file = SimpleNamespace(put=self._put)

    def sql(self, text):
        self.statements.append(text)
        if text.startswith("SELEC "):
            return FakeFrame([], [], RuntimeError("000904 (42000): SQL compilation error:\nsyntax error line 1"))
        return FakeFrame(['"name"', "SIZE"], [("a", 1), ("b", 2)])

    def _put(self, local, stage, auto_compress, overwrite):
        self.puts.append((local, stage, auto_compress, overwrite))
        return [SimpleNamespace(source="m.h5", target="m.h5", source_size=3, target_size=3, status="UPLOADED")]

    def close(self):
        self.closed = True


def test_run_maps_rows_and_column_names():
    fake = FakeSnowpark()
    with SnowflakeSession(fake) as session:
        result = session.run("LIST @S")
    assert result.columns == ("name", "SIZE") and result.rows == (("a", 1), ("b", 2))
    assert fake.closed


def test_errors_become_sql_errors():
    with pytest.raises(SQLError, match="SQL compilation error"):
        SnowflakeSession(FakeSnowpark()).run("SELEC 1")


def test_put_never_compresses():
    fake = FakeSnowpark()
    result = SnowflakeSession(fake).put(Path("/tmp/m.h5"), "@ML.S.STAGE/PREDICT/abc", overwrite=True)
    assert fake.puts == [("/tmp/m.h5", "@ML.S.STAGE/PREDICT/abc", False, True)]
    assert result.dicts()[0]["status"] == "UPLOADED"


def test_connect_uses_the_connection_name_and_sets_context(tmp_path, monkeypatch):
    from snowflake.snowpark import Session

    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path))
    (tmp_path / "connections.toml").write_text('[prod]\naccount = "x"\n')
    fake = FakeSnowpark()
    configs = {}

    class Builder:
        def config(self, key, value):
            configs[key] = value
            return self

        def create(self):
            return fake

    monkeypatch.setattr(Session, "builder", Builder())
    SnowflakeSession.connect("prod", database="ML", schema="DATA_MODEL")
    assert configs == {"connection_name": "prod"}
    assert fake.statements == ["USE DATABASE ML", "USE SCHEMA DATA_MODEL"]


def test_connect_failure_is_one_message(tmp_path, monkeypatch):
    from snowflake.snowpark import Session

    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path))
    (tmp_path / "connections.toml").write_text('[prod]\naccount = "x"\n')

    class Builder:
        def config(self, key, value):
            return self

        def create(self):
            raise RuntimeError("250001: Could not connect to Snowflake backend")

    monkeypatch.setattr(Session, "builder", Builder())
    with pytest.raises(DeployerError, match="cannot connect with Snowflake connection 'prod': 250001"):
        SnowflakeSession.connect("prod")
