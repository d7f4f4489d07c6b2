"""Queries translated from Snowflake SQL: names, case, column labels, context.

Identifier rules: https://docs.snowflake.com/en/sql-reference/identifiers-syntax
GENERATOR: https://docs.snowflake.com/en/sql-reference/functions/generator
"""

from __future__ import annotations

import pytest

from deployer.engine import LocalSession
from deployer.errors import SQLError


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    with LocalSession(tmp_path_factory.mktemp("sql") / "account", "ML", "DATA_MODEL") as s:
        yield s


def test_result_column_names_follow_snowflake(s):
    assert s.run("SELECT 1 AS x, 2 AS \"y\", 3").columns == ("X", "y", "3")
    s.run("CREATE TABLE houses (size float, \"Rooms\" int)")
    s.run("INSERT INTO houses VALUES (10.5, 3), (20.0, 4)")
    r = s.run("SELECT size, \"Rooms\", sum(size) over () FROM houses ORDER BY size")
    assert r.columns == ("SIZE", "Rooms", "SUM(SIZE) OVER ()")
    assert r.rows == ((10.5, 3, 30.5), (20.0, 4, 30.5))
    assert s.run("SELECT * FROM HOUSES LIMIT 1").columns == ("SIZE", "Rooms")


def test_unquoted_names_are_stored_upper_case(s):
    s.run("create table lower_t (a int)")
    s.run("insert into LOWER_T values (1)")
    assert s.run("select a from Lower_T").rows == ((1,),)
    assert s.run("SELECT A FROM \"LOWER_T\"").rows == ((1,),)


def test_quoted_names_keep_their_case(s):
    s.run('CREATE TABLE "MixedCase" ("Value" FLOAT)')
    s.run('INSERT INTO "MixedCase" VALUES (1.5)')
    r = s.run('SELECT "Value" FROM "MixedCase"')
    assert r.columns == ("Value",) and r.rows == ((1.5,),)


def test_generator_uniform_seq4_and_joins(s):
    s.run("CREATE OR REPLACE TABLE T AS SELECT SEQ4() AS ID, UNIFORM(0::FLOAT, 1::FLOAT, RANDOM()) AS A "
          "FROM TABLE(GENERATOR(ROWCOUNT => 1000))")
    (n, lo, hi, ids), = s.run("SELECT COUNT(*), MIN(A), MAX(A), COUNT(DISTINCT ID) FROM T").rows
    assert n == 1000 and 0 <= lo <= hi <= 1 and ids == 1000
    s.run("CREATE OR REPLACE TABLE U AS SELECT ID, ID * 2 AS TWICE FROM T WHERE ID < 10")
    r = s.run("SELECT COUNT(*) AS N, SUM(U.TWICE) AS S FROM T JOIN U ON T.ID = U.ID")
    assert r.rows == ((10, 90),)
    r = s.run("WITH small AS (SELECT id FROM t WHERE id < 3) SELECT count(*) AS n FROM small")
    assert r.rows == ((3,),)


def test_three_part_names_and_use(s):
    s.run("CREATE DATABASE IF NOT EXISTS OTHER")
    s.run("CREATE SCHEMA IF NOT EXISTS OTHER.RAW")
    s.run("CREATE TABLE OTHER.RAW.EVENTS_T (ID INT)")
    s.run("INSERT INTO OTHER.RAW.EVENTS_T VALUES (1), (2)")
    s.run("USE SCHEMA ML.DATA_MODEL")
    assert s.run("SELECT COUNT(*) AS N FROM OTHER.RAW.EVENTS_T").rows == ((2,),)
    s.run("USE SCHEMA OTHER.RAW")
    assert s.run("SELECT COUNT(*) AS N FROM EVENTS_T").rows == ((2,),)
    with pytest.raises(SQLError, match=r"Object '(OTHER\.)?DATA_MODEL\.HOUSES' does not exist or not authorized"):
        s.run("SELECT COUNT(*) AS N FROM DATA_MODEL.HOUSES")  # resolved in the current database
    s.run("USE DATABASE ML")
    s.run("USE SCHEMA DATA_MODEL")
    assert s.run("SELECT COUNT(*) AS N FROM HOUSES").rows == ((2,),)
    names = [r[1] for r in s.run("SHOW DATABASES").rows]
    assert "ML" in names and "OTHER" in names
    with pytest.raises(SQLError, match="does not exist"):
        s.run("USE SCHEMA NOPE")


def test_statement_results(s):
    assert s.run("CREATE TABLE R (A INT)").rows == (("Table R successfully created.",),)
    assert s.run("INSERT INTO R VALUES (1), (2)").dicts() == [{"number of rows inserted": 2}]
    assert s.run("DROP TABLE R").rows == (("R successfully dropped.",),)
    assert s.run("CREATE SCHEMA IF NOT EXISTS ML.DATA_MODEL").rows == (
        ("DATA_MODEL already exists, statement succeeded.",),)


def test_errors_are_clear_and_the_session_goes_on(s):
    for bad, pattern in [("SELECT FROM WHERE", "SQL compilation error"),
                         ("SELECT 1; SELECT 2", "one statement at a time"),
                         ("SELECT NOPE FROM HOUSES", "SQL compilation error"),
                         ("SELECT 1/0::INT", "")]:
        try:
            s.run(bad)
        except SQLError as exc:
            assert pattern in str(exc)
    assert s.run("SELECT 1 AS OK").rows == ((1,),)


def test_no_current_database(tmp_path):
    with LocalSession(tmp_path / "acct") as s:
        with pytest.raises(SQLError, match="current database"):
            s.run("CREATE TABLE T (A INT)")
        s.run("CREATE DATABASE D")  # becomes current, with schema PUBLIC
        s.run("CREATE TABLE T (A INT)")
        assert s.run("SELECT COUNT(*) AS N FROM D.PUBLIC.T").rows == ((0,),)


def test_information_schema_packages_answers_from_the_channel_snapshot(s):
    # https://docs.snowflake.com/en/sql-reference/info-schema/packages
    from deployer import channel

    r = s.run("SELECT package_name, version FROM snowflake.information_schema.packages "
              "WHERE language = 'python' AND package_name = 'pandas' AND runtime_version = '3.11'")
    assert r.columns == ("PACKAGE_NAME", "VERSION")
    assert sorted(v for _, v in r.rows) == sorted(channel.load_snapshot().offering("3.11").of("pandas"))


def test_information_schema_packages_answers_the_resolver_query(s):
    """deployer.channel's one query for every package at once; packages the snapshot does not
    list come from this Python (click is installed, never in the snapshot)."""
    import importlib.metadata

    from deployer import channel

    sql = channel.query(["scikit-learn", "tensorflow", "click", "no-such-package-xyz"], "3.12")
    offering = channel.read(s, ["scikit-learn", "tensorflow", "click", "no-such-package-xyz"], "3.12", "t")
    snapshot = channel.load_snapshot().offering("3.12")
    assert "PACKAGE_NAME IN ('click', 'no-such-package-xyz', 'scikit-learn', 'tensorflow')" in sql
    assert offering.of("scikit-learn") == snapshot.of("scikit-learn") != ()
    assert offering.of("tensorflow") == snapshot.of("tensorflow") != ()
    assert offering.of("click") == (importlib.metadata.version("click"),)
    assert offering.of("no-such-package-xyz") == ()
