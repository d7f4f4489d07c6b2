import pytest

pytest.importorskip("snowflake.connector")

from tests.snowserver import snow_server, snowflake_home  # noqa: E402


@pytest.fixture
def served(tmp_path):
    with snow_server(tmp_path / "account", database="ML", schema="DATA_MODEL") as s:
        yield s


@pytest.fixture
def home(served, tmp_path):
    """SNOWFLAKE_HOME holding a connection named 'local' to the served engine."""
    folder = served.write_connections(tmp_path / "sfhome", "local")
    with snowflake_home(folder):
        yield folder


@pytest.fixture
def connect(home):
    import snowflake.connector

    opened = []

    def open_one(**kwargs):
        con = snowflake.connector.connect(connection_name="local", **kwargs)
        opened.append(con)
        return con

    yield open_one
    for con in opened:
        con.close()
