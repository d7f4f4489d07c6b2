"""Shared fixtures for the local engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.engine import LocalSession

VECTOR_ADD = """
import pandas, _snowflake
@_snowflake.vectorized(input=pandas.DataFrame, max_batch_size={batch})
def add(df):
    return df[0] + df[1]
"""


def create_function(s: LocalSession, sql_name: str, body: str, *, args: str = "A FLOAT, B FLOAT",
                    returns: str = "FLOAT", handler: str = "add", extra: str = "") -> None:
    s.run(f"""CREATE OR REPLACE FUNCTION {sql_name}({args}) RETURNS {returns} LANGUAGE PYTHON
              {extra} RUNTIME_VERSION = '3.11' HANDLER = '{handler}' AS $${body}$$""")


@pytest.fixture
def session(tmp_path: Path):
    with LocalSession(tmp_path / "account", "ML", "DATA_MODEL", udf_timeout=30) as s:
        yield s


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One session for tests that only add objects (cheaper: workers stay warm)."""
    path = tmp_path_factory.mktemp("shared") / "account"
    with LocalSession(path, "ML", "DATA_MODEL", udf_timeout=30) as s:
        yield s
