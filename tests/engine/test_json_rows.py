"""Long runs of literal rows reach DuckDB as one JSON string (deployer.engine.json_rows): the
answer, its column types and its row order must be those of the rows as SQL, and wherever a
type could differ the rows must stay SQL."""

from __future__ import annotations

import random

import duckdb
import pytest

from deployer import smoke
from deployer.engine import LocalSession, translate
from deployer.errors import SQLError

CURRENT = ("ML", "DATA_MODEL")


def _none(*_args, **_kwargs):
    return None


def _both(sql: str, con) -> tuple[str, tuple, tuple]:
    """(the JSON-route DuckDB text, its answer, the answer of the rows as SQL): answers as
    (column names and types, rows with floats by repr)."""
    lifted = translate.translate(sql, CURRENT, _none)
    for rows in lifted.rows:
        con.execute(rows.create())
    fast = lifted.sql
    slow = translate.translate(sql, CURRENT, _none, lift=False).sql
    answers = []
    for text in (fast, slow):
        cur = con.execute(text)
        rows = tuple(tuple(repr(v) if isinstance(v, float) else v for v in r) for r in cur.fetchall())
        answers.append((tuple((d[0], str(d[1])) for d in cur.description), rows))
    return fast, answers[0], answers[1]


def _literal(kind: str, rng: random.Random) -> str:
    if rng.random() < 0.1:
        return "NULL"
    if kind == "int":
        return str(rng.choice([0, 7, -3, 999_999_999, -999_999_999, rng.randint(-10**6, 10**6)]))
    if kind == "bigint":
        return str(rng.choice([2**40, -(2**62), rng.randint(-10**17, 10**17)]))
    if kind == "double":
        return rng.choice([repr(rng.uniform(-1e6, 1e6)) + "e0", f"{rng.uniform(-5, 5):.6f}", str(rng.randint(-10**12, 10**12)),
                           f"{rng.uniform(-1, 1):.14f}", f"{rng.random():.3e}", "0.1", "-0.0e0", "-0", "-0.00", "-0.5"])
    if kind == "string":
        return "'" + rng.choice(["a", "", "it''s", "(1, 2)", "NULL", "TRUE", "12", "déjà vu", "x,y", "\"q\""]) + "'"
    return rng.choice(["TRUE", "FALSE", "true", "False"])


FIRST = {  # how a first row types each kind of column
    "int": lambda v: v if v != "NULL" else "CAST(NULL AS INT)",
    "bigint": lambda v: f"CAST({v} AS BIGINT)",
    "double": lambda v: f"CAST({v} AS FLOAT)",
    "string": lambda v: v if v != "NULL" else "CAST(NULL AS VARCHAR)",
    "bool": lambda v: v if v != "NULL" else "CAST(NULL AS BOOLEAN)",
}


@pytest.mark.parametrize("seed", range(40))
def test_random_runs_answer_as_the_rows_as_sql(seed):
    rng = random.Random(seed)
    kinds = [rng.choice(list(FIRST)) for _ in range(rng.randint(1, 5))]
    rows = [[_literal(k, rng) for k in kinds] for _ in range(rng.randint(16, 120))]
    first = ", ".join(FIRST[k](_literal(k, rng)) for k in kinds)
    names = ", ".join(f"C{i}" for i in range(len(kinds)))
    body = ", ".join("(" + ", ".join(r) + ")" for r in rows)
    sql = f"SELECT * FROM (VALUES ({first}), {body}) AS T({names})"
    with duckdb.connect() as con:
        fast, got, expected = _both(sql, con)
    assert got == expected


def test_a_synthetic_batch_of_numbers_strings_and_booleans_takes_the_json_route():
    types = ("float", "int", "string", "boolean")
    batch = smoke.synthetic_rows(types, (), 300)
    sql = smoke.batch_sql("F", types, batch).replace("F(C0, C1, C2, C3)", "C0")
    with duckdb.connect() as con:
        fast, got, expected = _both(sql, con)
    assert "deployer_rows_" in fast and got == expected and len(got[1]) == 300
    assert [r[0] for r in got[1]] == list(range(300))


@pytest.mark.parametrize("rows, reason", [
    (["(2147483647, 1.0)"] + ["(1, 1.0)"] * 20, "a 10-digit integer might widen INTEGER"),
    (["(1, 0.1234567890123456)"] + ["(1, 1.0)"] * 20, "16 digits: DECIMAL and text could round apart"),
    (["(1, 'x')"] + ["(1, 1.0)"] * 20, "a string in a number column"),
    (["(1, 1e400)"] + ["(1, 1.0)"] * 20, "an exponent of three digits"),
    (["(1, -0)"] + ["(1, 1.0)"] * 20, "-0 is the INTEGER 0, its text the DOUBLE -0.0"),
    (["(1, -0.0)"] + ["(1, 1.0)"] * 20, "-0.0 is the DECIMAL 0, its text the DOUBLE -0.0"),
])
def test_rows_whose_types_are_not_certain_stay_sql(rows, reason):
    sql = f"SELECT * FROM (VALUES (0, CAST(0.5 AS FLOAT)), {', '.join(rows)}) AS T(A, B)"
    assert translate._lift_rows(sql) is not None
    assert not translate.translate(sql, CURRENT, _none).rows, reason


def test_rows_of_different_widths_stay_sql_and_fail_as_duckdb_says(tmp_path):
    rows = ", ".join(["(1, 1.0)"] * 20 + ["(1, 1.0, 3)"])
    with LocalSession(tmp_path / "account", "ML", "DATA_MODEL") as s:
        with pytest.raises(SQLError, match="(?i)values lists must all be the same length"):
            s.run(f"SELECT * FROM (VALUES (0, CAST(0.5 AS FLOAT)), {rows}) AS T(A, B)")


def test_an_insert_of_rows_keeps_them_sql_and_a_select_of_them_takes_json(tmp_path):
    rows = ", ".join(f"({i}, 'r{i}')" for i in range(1, 40))
    insert = f"INSERT INTO T VALUES (0, 'r0'), {rows}"
    select = f"SELECT * FROM (VALUES (0, 'r0'), {rows}) AS V(A, B)"
    assert not translate.translate(insert, CURRENT, _none).rows
    assert translate.translate(select, CURRENT, _none).rows
    with LocalSession(tmp_path / "account", "ML", "DATA_MODEL") as s:
        s.run("CREATE TABLE T (A INT, B VARCHAR)")
        s.run(insert)
        assert s.run("SELECT * FROM T ORDER BY A").rows == s.run(select).rows


def test_a_session_makes_each_run_of_rows_once_and_keeps_few(tmp_path):
    """Lifted rows become a temporary table named by their content: a second statement on the
    same rows reads it, other rows get their own, and past a few the oldest is dropped (and
    made again when asked for)."""
    def select(k: int) -> str:
        rows = ", ".join(f"({i}, {i * k}.5e0)" for i in range(1, 30))
        return f"SELECT A, B FROM (VALUES (0, CAST(0.5 AS FLOAT)), {rows}) AS V(A, B) ORDER BY A"

    def tables(s) -> int:
        return s.con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'temp'").fetchone()[0]

    with LocalSession(tmp_path / "account", "ML", "DATA_MODEL") as s:
        first = s.run(select(1)).rows
        assert first[3] == (3, 3.5) and tables(s) == 1
        assert s.run(select(1)).rows == first and tables(s) == 1
        for k in range(2, 12):
            assert s.run(select(k)).rows[2] == (2, 2 * k + 0.5)
        assert tables(s) == 8
        assert s.run(select(1)).rows == first and tables(s) == 8
