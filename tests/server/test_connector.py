"""The served engine through the real snowflake-connector-python."""

import datetime as dt
import decimal
import os
import stat
import threading
import time

import pytest
from snowflake.connector import ProgrammingError
from snowflake.connector.constants import FIELD_NAME_TO_ID


def test_connections_toml_is_private_and_names_the_server(served, home):
    text = (home / "connections.toml").read_text()
    assert stat.S_IMODE(os.stat(home / "connections.toml").st_mode) == 0o600
    assert f"port = {served.port}" in text and 'protocol = "http"' in text


def test_login_sets_context_and_query_returns_typed_columns(connect):
    con = connect(warehouse="wh")
    cur = con.cursor()
    assert cur.execute("SELECT CURRENT_DATABASE(), CURRENT_SCHEMA(), CURRENT_WAREHOUSE()").fetchone() \
        == ("ML", "DATA_MODEL", "WH")
    cur.execute("CREATE TABLE t (a INT, b FLOAT, c VARCHAR, d BOOLEAN, e DATE, f TIMESTAMP_NTZ, g NUMBER(10,2))")
    cur.execute("INSERT INTO t VALUES (1, 2.5, 'x', TRUE, '2020-01-02', '2020-01-01 01:02:03.5', 3.25), "
                "(NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
    assert cur.rowcount == 2
    rows = cur.execute("SELECT * FROM t ORDER BY a").fetchall()
    assert rows[0] == (1, 2.5, "x", True, dt.date(2020, 1, 2), dt.datetime(2020, 1, 1, 1, 2, 3, 500000),
                       decimal.Decimal("3.25"))
    assert rows[1] == (None,) * 7
    described = {d.name: d for d in cur.description}
    assert list(described) == ["A", "B", "C", "D", "E", "F", "G"]
    assert described["A"].type_code == FIELD_NAME_TO_ID["FIXED"] and described["A"].scale == 0
    assert described["B"].type_code == FIELD_NAME_TO_ID["REAL"]
    assert described["C"].type_code == FIELD_NAME_TO_ID["TEXT"]
    assert described["D"].type_code == FIELD_NAME_TO_ID["BOOLEAN"]
    assert described["E"].type_code == FIELD_NAME_TO_ID["DATE"]
    assert described["F"].type_code == FIELD_NAME_TO_ID["TIMESTAMP_NTZ"]
    assert (described["G"].precision, described["G"].scale) == (10, 2)


def test_engine_errors_raise_programming_error_with_code_and_sqlstate(connect):
    cur = connect().cursor()
    with pytest.raises(ProgrammingError) as missing:
        cur.execute("SELECT * FROM no_such_table")
    assert (missing.value.errno, missing.value.sqlstate) == (2003, "02000")
    assert "does not exist" in missing.value.msg
    with pytest.raises(ProgrammingError) as syntax:
        cur.execute("SELEC 1")
    assert (syntax.value.errno, syntax.value.sqlstate) == (1003, "42000")
    with pytest.raises(ProgrammingError) as identifier:
        cur.execute("SELECT nope FROM (SELECT 1 AS a)")
    assert (identifier.value.errno, identifier.value.sqlstate) == (904, "42000")
    assert "invalid identifier 'NOPE'" in identifier.value.msg
    assert cur.execute("SELECT 1 AS ok").fetchone() == (1,)  # the session survives its errors


def test_two_clients_keep_their_own_context_and_query_tag(connect):
    first, second = connect(), connect()
    first.cursor().execute("CREATE SCHEMA OTHER")  # also makes OTHER current for `first`
    first.cursor().execute("ALTER SESSION SET QUERY_TAG = 'first'")
    second.cursor().execute("alter session set query_tag='second', timezone = 'UTC'")
    assert first.cursor().execute("SELECT CURRENT_SCHEMA()").fetchone() == ("OTHER",)
    assert second.cursor().execute("SELECT CURRENT_SCHEMA()").fetchone() == ("DATA_MODEL",)
    first.cursor().execute("CREATE TABLE only_in_other (x INT)")
    with pytest.raises(ProgrammingError):
        second.cursor().execute("SELECT * FROM only_in_other")
    tag = "SHOW PARAMETERS LIKE 'QUERY_TAG' IN SESSION"
    assert first.cursor().execute(tag).fetchone()[:2] == ("QUERY_TAG", "first")
    assert second.cursor().execute(tag).fetchone()[:2] == ("QUERY_TAG", "second")
    second.cursor().execute("USE SCHEMA OTHER")
    assert second.cursor().execute("SELECT COUNT(*) FROM only_in_other").fetchone() == (0,)


def test_login_is_not_held_up_by_another_clients_statement(served, connect):
    con = connect()
    started = threading.Event()

    def hold_engine():
        with served.server.app.backend.lock:  # as a long query holds it
            started.set()
            time.sleep(3)

    holder = threading.Thread(target=hold_engine)
    holder.start()
    started.wait()
    t0 = time.perf_counter()
    other = connect()
    other.rest._heartbeat()
    elapsed = time.perf_counter() - t0
    holder.join()
    assert elapsed < 2, f"login and heartbeat waited {elapsed:.1f} s for the engine"
    assert con.cursor().execute("SELECT 1").fetchone() == (1,)


def test_put_list_get_round_trip(connect, tmp_path):
    source = tmp_path / "model.bin"
    source.write_bytes(b"\x00weights" * 100)
    cur = connect().cursor()
    cur.execute("CREATE STAGE models")
    put = cur.execute(f"PUT file://{source} @models/v1 AUTO_COMPRESS=FALSE").fetchall()
    assert [r[:7] for r in put] == [("model.bin", "model.bin", 800, 800, "NONE", "NONE", "UPLOADED")]
    compressed = cur.execute(f"PUT 'file://{source}' '@models/v2'").fetchall()
    assert compressed[0][1] == "model.bin.gz" and compressed[0][6] == "UPLOADED"
    listed = cur.execute("LIST @models").fetchall()
    assert [r[0] for r in listed] == ["models/v1/model.bin", "models/v2/model.bin.gz"]
    assert listed[0][1] == 816  # the stored size: SNOWFLAKE_FULL encryption pads to the next 16-byte block
    out = tmp_path / "out"
    out.mkdir()
    got = cur.execute(f"GET @models/v1/ file://{out}").fetchall()
    assert [r[:3] for r in got] == [("model.bin", 800, "DOWNLOADED")]
    assert (out / "model.bin").read_bytes() == source.read_bytes()
    with pytest.raises(ProgrammingError) as missing:
        cur.execute(f"PUT file://{source} @no_such_stage")
    assert missing.value.errno == 2003


def test_heartbeat_and_close_end_the_session(served, connect):
    con = connect()
    assert con.rest._heartbeat()["success"] is True
    token = con.rest.token
    assert len(served.server.app.sessions) == 1
    con.close()
    assert len(served.server.app.sessions) == 0
    import requests
    reply = requests.post(f"http://{served.host}:{served.port}/queries/v1/query-request",
                          json={"sqlText": "SELECT 1"},
                          headers={"Authorization": f'Snowflake Token="{token}"'}).json()
    assert reply["success"] is False and reply["code"] == "390112"
