"""The Snowflake cycle on a real account: skipped unless DEPLOYER_TEST_CONNECTION names a connection.

    DEPLOYER_TEST_CONNECTION=myconn .venv/bin/python -m pytest -q tests/live

The connection (from ~/.snowflake/connections.toml or SNOWFLAKE_HOME) needs a warehouse and a
role that may create a schema in DEPLOYER_TEST_DATABASE (default: the connection's database).
The suite creates a throwaway schema DEPLOYER_TEST_<random>, runs the same cycle as
tests/test_snowflake_e2e.py there, and drops the schema whatever happens.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.cycle import Project, run_cycle

CONNECTION = os.environ.get("DEPLOYER_TEST_CONNECTION")

pytestmark = pytest.mark.skipif(not CONNECTION, reason="set DEPLOYER_TEST_CONNECTION to run the live suite")


@pytest.fixture()
def throwaway_schema():
    from deployer.targets import connections
    from deployer.targets.snowflake import SnowflakeSession

    _, settings = connections.resolve(CONNECTION)
    database = os.environ.get("DEPLOYER_TEST_DATABASE") or settings.get("database")
    if not database:
        pytest.fail("set DEPLOYER_TEST_DATABASE or a database on the connection")
    schema = f"DEPLOYER_TEST_{uuid.uuid4().hex[:8].upper()}"
    session = SnowflakeSession.connect(CONNECTION)
    session.run(f"CREATE SCHEMA {database}.{schema}")
    try:
        yield database.upper(), schema
    finally:
        session.run(f"DROP SCHEMA IF EXISTS {database}.{schema}")
        session.close()


def test_the_whole_cycle_on_a_real_account(tmp_path, throwaway_schema):
    database, schema = throwaway_schema
    home = Path(os.environ.get("SNOWFLAKE_HOME") or Path.home() / ".snowflake")
    project = Project.create(tmp_path / "project", home, CONNECTION, database, schema)
    logs = run_cycle(project, f"{database}.{schema}")
    assert all(r["query_id"] for r in logs["apply1"])  # Snowflake gives every statement a query id
