"""Opening an account connects DuckDB only when a statement needs it, and a PACKAGES query is
answered from the account's cache only when nothing it depends on changed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from deployer.engine import LocalSession
from deployer.engine.session import _PACKAGES_QUERY
from deployer.errors import SQLError

ROWS = [("numpy", "1.26.4", "python", "3.11"), ("numpy", "2.0.0", "python", "3.11"),
        ("pandas", "2.2.3", "python", "3.11"), ("numpy", "1.24.0", "python", "3.10")]
QUERY = ("SELECT PACKAGE_NAME, VERSION FROM SNOWFLAKE.INFORMATION_SCHEMA.PACKAGES WHERE LANGUAGE = 'python' "
         "AND RUNTIME_VERSION = '3.11' AND PACKAGE_NAME IN ('numpy', 'pandas')")


def answers(acct):
    path = acct / "cache" / "packages.json"
    return json.loads(path.read_text())["answers"] if path.exists() else {}


def test_catalog_statements_do_not_load_duckdb(tmp_path):
    """SHOW, LIST and catalog DDL never import DuckDB (a child process starts clean)."""
    acct = tmp_path / "account"
    LocalSession(acct, "ML", "DATA_MODEL").close()  # creates the database: DuckDB is needed
    code = f"""
        import sys
        from pathlib import Path
        from deployer.engine import LocalSession
        with LocalSession(Path({str(acct)!r}), "ML", "DATA_MODEL") as s:
            assert "duckdb" not in sys.modules, "opened"
            s.run("CREATE STAGE ST")
            s.run("SHOW STAGES IN SCHEMA ML.DATA_MODEL")
            s.run("LIST @ST")
            s.run("SHOW USER FUNCTIONS")
            s.run("ALTER SESSION SET QUERY_TAG = 'x'")
            assert "duckdb" not in sys.modules, "catalog"
            assert s.run("SELECT 1 AS X").rows == ((1,),)
            assert "duckdb" in sys.modules
        print("ok")
    """
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0 and child.stdout.strip() == "ok", child.stderr


def test_tables_survive_a_session_that_never_connected(tmp_path):
    acct = tmp_path / "account"
    with LocalSession(acct, "ML", "DATA_MODEL") as s:
        s.run("CREATE TABLE T AS SELECT 2 AS N")
    with LocalSession(acct, "ML", "DATA_MODEL") as s:
        s.run("SHOW SCHEMAS")
    with LocalSession(acct, "ML", "DATA_MODEL") as s:
        s.run("CREATE SCHEMA OTHER")
        s.run("CREATE TABLE U AS SELECT 3 AS N")
    with LocalSession(acct, "ML", "DATA_MODEL") as s:
        assert s.run("SELECT N FROM T").rows == ((2,),)
        assert s.run("SELECT N FROM ML.OTHER.U").rows == ((3,),)


def test_a_corrupt_database_file_fails_the_first_statement_that_needs_it(tmp_path):
    acct = tmp_path / "account"
    with LocalSession(acct, "ML", "DATA_MODEL") as s:
        s.run("CREATE STAGE ST")
    (acct / "data" / "ML.duckdb").write_bytes(b"not a database" * 100)
    with LocalSession(acct, "ML", "DATA_MODEL") as s:
        assert s.run("SHOW STAGES").rows  # the catalog still answers
        with pytest.raises(SQLError, match="cannot open the local account at .*`deployer engine check`"):
            s.run("SELECT 1")


@pytest.mark.parametrize("sql", [
    QUERY,
    "select version from snowflake.information_schema.packages where package_name = 'numpy'",
    "SELECT PACKAGE_NAME FROM SNOWFLAKE.INFORMATION_SCHEMA.PACKAGES WHERE PACKAGE_NAME IN ('it''s')",
])
def test_the_cacheable_shape(sql):
    assert _PACKAGES_QUERY.fullmatch(sql)


@pytest.mark.parametrize("sql", [
    "SELECT CURRENT_DATE FROM SNOWFLAKE.INFORMATION_SCHEMA.PACKAGES WHERE LANGUAGE = 'python'",
    "SELECT VERSION FROM SNOWFLAKE.INFORMATION_SCHEMA.PACKAGES WHERE LANGUAGE = CURRENT_USER",
    "SELECT VERSION FROM SNOWFLAKE.INFORMATION_SCHEMA.PACKAGES WHERE PACKAGE_NAME IN (SELECT X FROM T)",
    "SELECT PREDICT(1, 2) FROM SNOWFLAKE.INFORMATION_SCHEMA.PACKAGES WHERE LANGUAGE = 'python'",
    "SELECT VERSION FROM SNOWFLAKE.INFORMATION_SCHEMA.PACKAGES WHERE LANGUAGE = 'a\\' OR 1=1'",
    "SELECT VERSION FROM SNOWFLAKE.INFORMATION_SCHEMA.PACKAGES WHERE LANGUAGE = 'python' OR LANGUAGE = 'java'",
    "SELECT VERSION FROM SNOWFLAKE.INFORMATION_SCHEMA.PACKAGES, T WHERE LANGUAGE = 'python'",
    "SELECT VERSION FROM SNOWFLAKE.INFORMATION_SCHEMA.PACKAGES",
])
def test_other_queries_are_never_cached(sql):
    assert not _PACKAGES_QUERY.fullmatch(sql)


def test_packages_answers_are_kept_and_keyed_by_the_rows(tmp_path):
    acct = tmp_path / "account"
    with LocalSession(acct, "ML", "DATA_MODEL", packages_rows=ROWS) as s:
        first = s.run(QUERY)
    assert sorted(first.rows) == [("numpy", "1.26.4"), ("numpy", "2.0.0"), ("pandas", "2.2.3")]
    assert len(answers(acct)) == 1
    with LocalSession(acct, "ML", "DATA_MODEL", packages_rows=ROWS) as s:
        again = s.run(QUERY)
        assert s._con is None  # answered from the cache: no DuckDB, no table
    assert again == first and again.types == first.types == ("VARCHAR", "VARCHAR")
    changed = ROWS + [("pandas", "2.3.0", "python", "3.11")]  # another snapshot: never the old answer
    with LocalSession(acct, "ML", "DATA_MODEL", packages_rows=changed) as s:
        assert sorted(s.run(QUERY).rows)[-1] == ("pandas", "2.3.0")
    assert len(answers(acct)) == 2
    with LocalSession(acct, "ML", "DATA_MODEL", packages_rows=ROWS) as s:
        other = QUERY.replace("'3.11'", "'3.10'")  # another query text: its own answer
        assert s.run(other).rows == (("numpy", "1.24.0"),)


def test_a_damaged_or_tampered_cache_costs_a_rerun_only(tmp_path):
    acct = tmp_path / "account"
    with LocalSession(acct, "ML", "DATA_MODEL", packages_rows=ROWS) as s:
        first = s.run(QUERY)
    path = acct / "cache" / "packages.json"
    path.write_text("{not json")
    with LocalSession(acct, "ML", "DATA_MODEL", packages_rows=ROWS) as s:
        assert s.run(QUERY) == first
    data = json.loads(path.read_text())
    (key,) = data["answers"]
    data["answers"][key]["rows"] = [[1, 2]]  # not what the engine ever stores
    path.write_text(json.dumps(data))
    with LocalSession(acct, "ML", "DATA_MODEL", packages_rows=ROWS) as s:
        assert s.run(QUERY) == first


@pytest.mark.parametrize("mtime", [0, 1.5, 951782400.25, 1795000000.999, 4102444799.0])
def test_last_modified_is_rfc_1123_as_email_utils_writes_it(mtime):
    from email.utils import formatdate

    from deployer.engine.shapes import last_modified

    assert last_modified(mtime) == formatdate(mtime, usegmt=True)
