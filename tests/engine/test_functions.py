"""Function lifecycle: creation checks, overloading, DROP, COMMENT, ALTER.

Creation fails as Snowflake fails it
(https://docs.snowflake.com/en/developer-guide/udf/python/udf-python-creating);
functions are identified by name and argument types
(https://docs.snowflake.com/en/developer-guide/udf-stored-procedure-naming-conventions).
"""

from __future__ import annotations

import pytest

from deployer.errors import NotSupportedError, SQLError

PLAIN = "def f(a, b):\n    return a + b\n"


def make(s, name="PREDICT", args="A FLOAT, B FLOAT", *, body=PLAIN, handler="f", runtime="3.11",
         extra="", returns="FLOAT", verb="CREATE OR REPLACE"):
    as_body = f"AS $${body}$$" if body is not None else ""
    return s.run(f"{verb} FUNCTION {name}({args}) RETURNS {returns} LANGUAGE PYTHON "
                 f"RUNTIME_VERSION = '{runtime}' {extra} HANDLER = '{handler}' {as_body}")


def still_works(s):
    assert s.run("SELECT 1 + 1 AS TWO").rows == ((2,),)


def test_overloads_live_side_by_side_and_drop_by_types(shared):
    s = shared
    make(s, "PRED", "A FLOAT, B FLOAT")
    make(s, "PRED", "A VARCHAR, B VARCHAR", returns="VARCHAR")
    make(s, "PRED", "A FLOAT", body="def f(a):\n    return -a\n")
    args = sorted(r[8] for r in s.run("SHOW USER FUNCTIONS LIKE 'PRED'").rows)
    assert args == ["PRED(FLOAT) RETURN FLOAT", "PRED(FLOAT, FLOAT) RETURN FLOAT",
                    "PRED(VARCHAR, VARCHAR) RETURN VARCHAR"]
    assert s.run("SELECT PRED(1.5, 2.0) AS N, PRED('a', 'b') AS S, PRED(3.0) AS M").rows == (
        (3.5, "ab", -3.0),)
    assert s.run("DROP FUNCTION PRED(VARCHAR, VARCHAR)").rows == (("PRED successfully dropped.",),)
    args = sorted(r[8] for r in s.run("SHOW USER FUNCTIONS LIKE 'PRED'").rows)
    assert args == ["PRED(FLOAT) RETURN FLOAT", "PRED(FLOAT, FLOAT) RETURN FLOAT"]
    with pytest.raises(SQLError, match=r"PRED\(VARCHAR, VARCHAR\)' does not exist"):
        s.run("DROP FUNCTION PRED(VARCHAR, VARCHAR)")
    s.run("DROP FUNCTION IF EXISTS PRED(VARCHAR, VARCHAR)")
    assert s.run("SELECT PRED(1.0, 2.0) AS N").rows == ((3.0,),)


def test_create_existing_and_if_not_exists(shared):
    make(shared, "ONCE")
    with pytest.raises(SQLError, match="Object 'ONCE' already exists"):
        make(shared, "ONCE", verb="CREATE")
    still_works(shared)


def test_if_not_exists_keeps_the_old_function(shared):
    make(shared, "KEPT", body="def f(a, b):\n    return 1.0\n")
    shared.run("CREATE FUNCTION IF NOT EXISTS KEPT(A FLOAT, B FLOAT) RETURNS FLOAT LANGUAGE PYTHON "
               "RUNTIME_VERSION = '3.11' HANDLER = 'f' AS $$def f(a, b): return 2.0$$")
    assert shared.run("SELECT KEPT(0, 0) AS V").rows == ((1.0,),)


def test_comment_and_alter(shared):
    make(shared, "NOTED")
    shared.run("COMMENT ON FUNCTION NOTED(FLOAT, FLOAT) IS 'first'")
    assert shared.run("SHOW USER FUNCTIONS LIKE 'NOTED'").dicts()[0]["description"] == "first"
    shared.run("ALTER FUNCTION NOTED(FLOAT, FLOAT) SET COMMENT = 'second'")
    assert shared.run("SHOW USER FUNCTIONS LIKE 'NOTED'").dicts()[0]["description"] == "second"
    shared.run("ALTER FUNCTION NOTED(FLOAT, FLOAT) UNSET COMMENT")
    assert shared.run("SHOW USER FUNCTIONS LIKE 'NOTED'").dicts()[0]["description"] == \
        "user-defined function"
    shared.run("ALTER FUNCTION NOTED(FLOAT, FLOAT) RENAME TO RENAMED")
    assert shared.run("SELECT RENAMED(1, 2) AS V").rows == ((3.0,),)


def test_dropping_a_function_keeps_its_staged_imports(shared, tmp_path):
    (tmp_path / "mod.py").write_text("def f(a, b):\n    return a * b\n")
    shared.run("CREATE STAGE IF NOT EXISTS KEEP_STAGE")
    shared.put(tmp_path / "mod.py", "@KEEP_STAGE/code")
    make(shared, "MUL", body=None, handler="mod.f", extra="IMPORTS = ('@KEEP_STAGE/code/mod.py')")
    assert shared.run("SELECT MUL(3, 4) AS V").rows == ((12.0,),)
    shared.run("DROP FUNCTION MUL(FLOAT, FLOAT)")
    assert len(shared.run("LIST @KEEP_STAGE").rows) == 1


@pytest.mark.parametrize("kwargs,message", [
    (dict(runtime="3.9"), "runtime version '3.9' is not supported"),
    (dict(runtime="3.8"), "supported versions are 3.10, 3.11, 3.12, 3.13"),
    (dict(handler="missing"), "handler 'missing' is not defined"),
    (dict(body="def f(a, b)\n    return 1\n"), "SyntaxError"),
    (dict(extra="PACKAGES = ('surely-not-a-real-package-xyz')"), "is not in the channel (local engine: the snapshot"),
    (dict(extra="PACKAGES = ('pandas==0.1.*')"), "has no version in the channel inside the requested spec"),
    (dict(extra="PACKAGES = ('pandas>=1,<2,,')"), "not a valid package specification"),
    (dict(extra="PACKAGES = ('pandas~=2.0')"), "not a valid package specification"),  # pip takes it; Snowflake does not
    (dict(extra="IMPORTS = ('@ML.DATA_MODEL.NO_SUCH_STAGE/x.py')"), "Stage 'ML.DATA_MODEL.NO_SUCH_STAGE' does not exist"),
    (dict(body=None, handler="nomod.f"), "'nomod' is not among the function's IMPORTS"),
])
def test_creation_failures(shared, kwargs, message):
    for _ in range(2):  # again: the same answer (the session remembers its package checks)
        with pytest.raises(SQLError, match=message.replace("(", r"\(").replace(")", r"\)")
                           .replace(".", r"\.").replace("*", r"\*").replace("'", "'")):
            make(shared, "BROKEN", **kwargs)
    assert shared.run("SHOW USER FUNCTIONS LIKE 'BROKEN'").rows == ()
    still_works(shared)


def test_missing_import_on_an_existing_stage(shared):
    shared.run("CREATE STAGE IF NOT EXISTS EMPTY_STAGE")
    with pytest.raises(SQLError, match=r"Import file '@EMPTY_STAGE/models/model.h5' does not exist"):
        make(shared, "NOIMPORT", extra="IMPORTS = ('@EMPTY_STAGE/models/model.h5')")
    still_works(shared)


def test_scikit_learn_package_maps_to_sklearn(shared):
    make(shared, "SK", extra="PACKAGES = ('scikit-learn', 'numpy')",
         body="import sklearn\ndef f(a, b):\n    return float(len(sklearn.__version__) > 0)\n")
    assert shared.run("SELECT SK(0, 0) AS V").rows == ((1.0,),)
    installed = dict(shared.run("DESCRIBE FUNCTION SK(FLOAT, FLOAT)").rows)["installed_packages"]
    assert "scikit-learn==" in installed


def test_unsupported_statement_and_bad_sql(shared):
    with pytest.raises(NotSupportedError, match="^not supported by the local engine: "):
        shared.run("CREATE WAREHOUSE WH")
    with pytest.raises(NotSupportedError, match="^not supported by the local engine: "):
        shared.run("GRANT USAGE ON DATABASE ML TO ROLE R")
    with pytest.raises(SQLError, match="SQL compilation error"):
        shared.run("SELEC 1")
    with pytest.raises(SQLError, match="SQL compilation error"):
        shared.run("SELECT * FROM NO_SUCH_TABLE")
    with pytest.raises(SQLError, match="SQL compilation error: Unknown function"):
        shared.run("SELECT ML.DATA_MODEL.NO_SUCH_FUNCTION(1)")
    still_works(shared)


ROWS = ("class Rows:\n    def process(self, n, tag):\n        if n < 0:\n            raise ValueError('negative')\n"
        "        for i in range(int(n)):\n            yield (i, f'{tag}{i}')\n")


def test_a_row_by_row_table_function_runs_laterally(shared):
    """A UDTF whose process yields any number of rows per input row; errors surface as for UDFs."""
    make(shared, "GEN", "N NUMBER, TAG VARCHAR", body=ROWS, handler="Rows", returns='TABLE (I NUMBER, "tag" VARCHAR)')
    shared.run("CREATE OR REPLACE TABLE NS AS SELECT * FROM (VALUES (1, 2), (2, 0), (3, 1)) AS V(ID, N)")
    result = shared.run("SELECT * FROM NS, TABLE(GEN(NS.N, 'x')) ORDER BY ID, I")
    assert result.columns == ("ID", "N", "I", "tag")
    assert result.rows == ((1, 2, 0, "x0"), (1, 2, 1, "x1"), (3, 1, 0, "x0"))
    assert shared.run("SELECT g.\"tag\" FROM TABLE(GEN(2, 'y')) AS g ORDER BY 1").rows == (("y0",), ("y1",))
    with pytest.raises(SQLError, match=r"Python Interpreter Error:(.|\n)*ValueError: negative"):
        shared.run("SELECT * FROM TABLE(GEN(-1, 'z'))")
    with pytest.raises(NotSupportedError, match="OVER"):
        shared.run("SELECT * FROM NS, TABLE(GEN(NS.N, 'x') OVER (PARTITION BY NS.ID))")
    still_works(shared)
