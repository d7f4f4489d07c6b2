"""Long runs of literal rows are translated without parsing each row (translate._lift_rows):
the DuckDB statement must be the one the full parse gives, and where anything is unusual the
full parse must run."""

from __future__ import annotations

import pytest
import sqlglot

from deployer import smoke
from deployer.engine import LocalSession, translate
from deployer.errors import SQLError


def _resolve(width):
    return lambda name, args, table=False: ("F_DUCK", ["DOUBLE"] * width, args)


def _same_tree(a: str, b: str) -> bool:
    return sqlglot.parse_one(a, read="duckdb") == sqlglot.parse_one(b, read="duckdb")


@pytest.mark.parametrize("types", [("float", "float"), ("int", "string", "boolean", "number(10,2)"),
                                   ("string",)])
@pytest.mark.parametrize("table", [False, True])
def test_a_synthetic_batch_translates_as_the_full_parse_does(types, table, monkeypatch):
    # The rows as SQL (the JSON route, tests/engine/test_json_rows.py, is compared by its answers)
    monkeypatch.setattr(translate.json_rows, "relation", lambda *a: None)
    batch = smoke.synthetic_rows(types, (), 300)
    sql = smoke.batch_sql("ML.DATA_MODEL.M0", types, batch, table)
    assert translate._lift_rows(sql) is not None
    fast = translate.translate(sql, ("ML", "DATA_MODEL"), _resolve(len(types)))
    slow = translate.translate(sql, ("ML", "DATA_MODEL"), _resolve(len(types)), lift=False)
    assert (fast.kind, fast.name) == (slow.kind, slow.name)
    assert _same_tree(fast.sql, slow.sql)


ROWS = ", ".join(f"({i}, {-i * 1.5!r}, {i * 1e-7!r}, 'it''s {i}', {'NULL' if i % 5 == 0 else 'TRUE'})"
                 for i in range(1, 40))


@pytest.mark.parametrize("sql", [
    f"SELECT COUNT(*) FROM (VALUES (0, 1.0, 2.0, 'x', FALSE), {ROWS}) AS T(A, B, C, D, E)",  # lifted
    f"SELECT 'VALUES (1), {ROWS}' AS S",  # inside a string
    f"SELECT 1 -- VALUES (1), {ROWS}\n",  # inside a comment
    f"SELECT (0, 1.0, 2.0, 'x', FALSE), {ROWS}",  # not a VALUES list
    "SELECT * FROM (VALUES (0), " + ", ".join(f"({i})" for i in range(1, 10)) + ") AS T(A)",  # short
])
def test_only_a_long_run_continuing_values_is_lifted(sql):
    lifted = translate._lift_rows(sql)
    assert (lifted is not None) == sql.startswith("SELECT COUNT(*)")


def test_rows_lifted_from_an_insert_land_as_written(tmp_path):
    rows = [(i, -i * 1.5, i * 1e-7, f"it''s {i}", "NULL" if i % 5 == 0 else "TRUE") for i in range(1, 200)]
    # a backslash escape breaks the run: the rows after it are parsed as usual
    values = ", ".join(f"({a}, {b!r}, {c!r}, '{d}', {e})" for a, b, c, d, e in rows[:100])
    values += ", (1000, 1.0, 2.0, 'a\\nb', FALSE), "
    values += ", ".join(f"({a}, {b!r}, {c!r}, '{d}', {e})" for a, b, c, d, e in rows[100:])
    sql = f"INSERT INTO T VALUES (0, 0.5, 0.25, 'first', FALSE), {values}"
    assert translate._lift_rows(sql) is not None
    with LocalSession(tmp_path / "account", "ML", "DATA_MODEL") as s:
        s.run("CREATE TABLE T (A INT, B FLOAT, C FLOAT, D VARCHAR, E BOOLEAN)")
        assert s.run(sql).rows == ((201,),)
        got = s.run("SELECT A, B, C, D, E FROM T ORDER BY A").rows
    assert got[0] == (0, 0.5, 0.25, "first", False)
    assert got[1] == (1, -1.5, 1e-7, "it's 1", True)
    assert got[5] == (5, -7.5, 5 * 1e-7, "it's 5", None)
    assert got[100] == (100, -150.0, 100 * 1e-7, "it's 100", None)
    assert got[-2] == (199, -298.5, 199 * 1e-7, "it's 199", True)
    assert got[-1] == (1000, 1.0, 2.0, "a\nb", False)


def test_a_statement_wrong_after_the_run_reports_the_full_statement(tmp_path):
    rows = ", ".join(f"({i})" for i in range(1, 40))
    with LocalSession(tmp_path / "account", "ML", "DATA_MODEL") as s:
        with pytest.raises(SQLError, match="syntax error"):
            s.run(f"SELECT * FROM (VALUES (0), {rows}) AS T(A) WHERE WHERE")


@pytest.mark.parametrize("sql, message", [
    ("SELECT 'abc", "unterminated '...' starting at position 7"),
    ('SELECT "abc', 'unterminated "..." starting at position 7'),
    ("SELECT 1 /* x", "unterminated /* comment"),
    ("SELECT 1 FROM", "syntax error line 1 at position 9 unexpected 'FROM'."),
])
def test_a_query_is_not_tokenized_by_hand_but_its_errors_say_where(tmp_path, sql, message):
    with LocalSession(tmp_path / "account", "ML", "DATA_MODEL") as s:
        with pytest.raises(SQLError) as err:
            s.run(sql)
    assert str(err.value).startswith("SQL compilation error: syntax error") and message in str(err.value)


def _rows(rnd, n, width):
    lits = ["1", "-2", "3.5", "NULL", "'a'", "TRUE", "1e3", "'x, (y)'"]
    return ", ".join("(" + ", ".join(rnd.choice(lits) for _ in range(width)) + ")" for _ in range(n))


def test_a_run_seen_before_is_found_as_the_pattern_finds_it():
    # An apply's candidate tests repeat one run of rows: it is found by its text, and must be
    # cut exactly where matching the pattern again would cut it (earlier rows, later rows, a
    # run inside a comment or a string, the run twice).
    import random

    from deployer.engine import translate as T

    rnd = random.Random(7)
    runs = [", " + _rows(rnd, rnd.choice([16, 20, 40]), w) for w in (1, 2, 3, 3)]
    shapes = ["SELECT {f}(C0) AS R FROM (VALUES (0){run}) AS T(C0)",
              "SELECT * FROM (VALUES (0){run}) AS T(C0)",
              "SELECT * FROM (VALUES {before}, (0){run}) AS T(C0)",
              "SELECT * FROM (VALUES (0){run}, {after}) AS T(C0)",
              "SELECT * FROM (VALUES {before}, (0){run}, {after}) AS T(C0)",
              "SELECT '(0){run}' AS S, * FROM (VALUES (0){run}) AS T(C0)",
              "SELECT 1 -- (0){run}\nFROM (VALUES (0){run}) AS T(C0)",
              "INSERT INTO T VALUES (0){run}",
              "SELECT * FROM (VALUES (0){run}) AS A, (VALUES (1){run}) AS B"]
    for _ in range(400):
        run = rnd.choice(runs)
        width = run.count(",", 0, run.index(")")) if run.index(")") else 1
        sql = rnd.choice(shapes).format(f=f"M{rnd.randrange(9)}", run=run,
                                        before=_rows(rnd, rnd.randrange(1, 20), width),
                                        after=_rows(rnd, rnd.randrange(1, 3), width))
        remembered = T._lift_rows(sql)  # with whatever runs earlier statements left
        T._RUNS.clear()
        assert T._lift_rows(sql) == remembered, sql  # the pattern alone
        T._remember_run(rnd.choice(runs))
