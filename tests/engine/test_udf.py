"""Running Python functions: batches, NULLs, sandbox, failures, logging.

Vectorized UDFs: https://docs.snowflake.com/en/developer-guide/udf/python/udf-python-batch
Import directory and /tmp: https://docs.snowflake.com/en/developer-guide/udf/python/udf-python-creating
Event table: https://docs.snowflake.com/en/developer-guide/logging-tracing/logging-python
"""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest

from deployer.engine import LocalSession
from deployer.errors import SQLError


def fn(s, name, body, *, args="A FLOAT", returns="FLOAT", handler="f", extra=""):
    s.run(f"CREATE OR REPLACE FUNCTION {name}({args}) RETURNS {returns} LANGUAGE PYTHON "
          f"RUNTIME_VERSION = '3.11' {extra} HANDLER = '{handler}' AS $${body}$$")


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    path = tmp_path_factory.mktemp("udf") / "account"
    with LocalSession(path, "ML", "DATA_MODEL", udf_timeout=20) as s:
        s.run("CREATE TABLE NUMS AS SELECT SEQ4()::FLOAT AS A, (SEQ4() % 7)::FLOAT AS B "
              "FROM TABLE(GENERATOR(ROWCOUNT => 10000))")
        yield s


def test_vectorized_batches_are_capped_and_positional(s):
    fn(s, "BATCH_SIZE", """
import pandas as pd, _snowflake
@_snowflake.vectorized(input=pd.DataFrame, max_batch_size=300)
def f(df):
    assert list(df.columns) == [0, 1], df.columns
    return pd.Series([float(len(df))] * len(df))
""", args="A FLOAT, B FLOAT")
    (biggest, total, rows), = s.run("SELECT MAX(BATCH_SIZE(A, B)), SUM(A), COUNT(*) FROM NUMS").rows
    assert biggest <= 300 and rows == 10000


def test_vectorized_by_attributes(s):
    fn(s, "ATTR", """
import pandas as pd
def f(df):
    return df[0] * 2
f._sf_vectorized_input = pd.DataFrame
f._sf_max_batch_size = 50
""")
    assert s.run("SELECT SUM(ATTR(A)) AS T FROM NUMS").rows == ((2 * sum(range(10000)),),)


def test_scalar_handler_gets_python_values_and_none(s):
    fn(s, "DESCRIBE_ARGS", "def f(a, b):\n    return f'{type(a).__name__}:{a!r}|{type(b).__name__}'\n",
       args="A FLOAT, B VARCHAR", returns="VARCHAR")
    assert s.run("SELECT DESCRIBE_ARGS(1.5, 'x') AS V, DESCRIBE_ARGS(NULL, NULL) AS W").rows == (
        ("float:1.5|str", "NoneType:None|NoneType"),)


def test_nulls_reach_vectorized_handler_as_nan(s):
    fn(s, "NAN_COUNT", """
import pandas as pd
def f(df):
    return df[0].isna().astype(float)
f._sf_vectorized_input = pd.DataFrame
""")
    assert s.run("SELECT NAN_COUNT(NULL) AS N, NAN_COUNT(1.0) AS M").rows == ((1.0, 0.0),)


def test_strict_returns_null_without_calling(s):
    # RETURNS NULL ON NULL INPUT: https://docs.snowflake.com/en/sql-reference/sql/create-function
    fn(s, "NEVER_NULL", "def f(a):\n    assert a is not None\n    return a\n",
       extra="RETURNS NULL ON NULL INPUT")
    assert s.run("SELECT NEVER_NULL(NULL) AS N, NEVER_NULL(2.0) AS M").rows == ((None, 2.0),)


def test_import_directory_temp_dir_and_warm_module(s, tmp_path):
    (tmp_path / "table.txt").write_text("41")
    s.run("CREATE STAGE IF NOT EXISTS FILES")
    s.put(tmp_path / "table.txt", "@FILES/data")
    fn(s, "SANDBOX", """
import os, sys, tempfile
IMPORT_DIR = sys._xoptions["snowflake_import_directory"]
VALUE = int(open(IMPORT_DIR + "table.txt").read())
LOADS = globals().setdefault("LOADS", 0) + 1
def f(a):
    assert IMPORT_DIR.endswith("/"), IMPORT_DIR
    tmp = tempfile.gettempdir()
    assert tmp != "/tmp" and os.environ["TMPDIR"] == tmp
    with open(os.path.join(tmp, "scratch"), "w") as fh:
        fh.write("ok")
    return VALUE + a + 1000 * LOADS + 10000 * (os.getpid() == int(os.environ.get("PID0", os.getpid())))
""", extra="IMPORTS = ('@FILES/data/table.txt')")
    first = s.run("SELECT SANDBOX(1) AS V").rows
    second = s.run("SELECT SANDBOX(1) AS V").rows
    assert first == second == ((11042.0,),)  # value 41 + 1, module loaded once


def test_handler_from_imported_zip(s, tmp_path):
    with zipfile.ZipFile(tmp_path / "pkg.zip", "w") as z:
        z.writestr("mathpkg/__init__.py", "def triple(a):\n    return 3 * a\n")
    s.run("CREATE STAGE IF NOT EXISTS CODE")
    s.put(tmp_path / "pkg.zip", "@CODE")
    s.run("CREATE OR REPLACE FUNCTION TRIPLE(A FLOAT) RETURNS FLOAT LANGUAGE PYTHON "
          "RUNTIME_VERSION = '3.11' IMPORTS = ('@CODE/pkg.zip') HANDLER = 'mathpkg.triple'")
    assert s.run("SELECT TRIPLE(2) AS V").rows == ((6.0,),)


def test_sklearn_model_vectorized(s, tmp_path):
    from sklearn.linear_model import LinearRegression
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    model = LinearRegression().fit(x, x @ [2.0, -1.0] + 0.5)
    with open(tmp_path / "model.pkl", "wb") as fh:
        pickle.dump(model, fh)
    s.run("CREATE STAGE IF NOT EXISTS MODELS")
    s.put(tmp_path / "model.pkl", "@MODELS/lr")
    fn(s, "LR", """
import pickle, sys, pandas as pd, _snowflake
with open(sys._xoptions["snowflake_import_directory"] + "model.pkl", "rb") as fh:
    MODEL = pickle.load(fh)
@_snowflake.vectorized(input=pd.DataFrame, max_batch_size=1000)
def f(df):
    return MODEL.predict(df.to_numpy())
""", args="A FLOAT, B FLOAT", extra="PACKAGES = ('scikit-learn', 'pandas') IMPORTS = ('@MODELS/lr/model.pkl')")
    got = s.run("SELECT A, B, LR(A, B) AS P FROM NUMS ORDER BY A LIMIT 5000").rows
    data = np.array([(a, b) for a, b, _ in got])
    assert np.allclose([p for *_, p in got], model.predict(data))


def test_failing_handler_reports_the_traceback(s):
    fn(s, "DIVIDE", "def f(a):\n    return 1 / a\n")
    with pytest.raises(SQLError) as err:
        s.run("SELECT DIVIDE(A) FROM NUMS")
    text = str(err.value)
    assert text.startswith("Python Interpreter Error:")
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError" in text
    assert "line 2, in f" in text
    assert s.run("SELECT DIVIDE(4) AS V").rows == ((0.25,),)  # the engine keeps working


def test_a_handler_error_keeps_its_worker(s):
    # The worker answered the error in full: the next batch goes to the same process, whose
    # module state (a model loaded, a counter) is as the handler left it.
    fn(s, "PIDS", "import os\nCALLS = []\ndef f(a):\n    CALLS.append(a)\n    if a < 0:\n"
               "        raise ValueError('negative')\n    return os.getpid() * 1000 + len(CALLS)\n")
    before = s.run("SELECT PIDS(1) AS V").rows[0][0]
    with pytest.raises(SQLError, match="ValueError: negative"):
        s.run("SELECT PIDS(-1) AS V")
    after = s.run("SELECT PIDS(2) AS V").rows[0][0]
    assert after // 1000 == before // 1000 and after % 1000 > before % 1000 + 1


def test_crashing_handler_fails_the_statement_then_recovers(s):
    fn(s, "CRASHY", "import os\ndef f(a):\n    if a == 13:\n        os._exit(3)\n    return a\n")
    with pytest.raises(SQLError, match=r"worker of function CRASHY\(FLOAT\) exited with code 3 \(crashed\)"):
        s.run("SELECT SUM(CRASHY(A)) FROM NUMS")
    assert s.run("SELECT CRASHY(2) AS V").rows == ((2.0,),)


def test_segfault_is_reported(s):
    fn(s, "SEGV", "import os, signal\ndef f(a):\n    os.kill(os.getpid(), signal.SIGSEGV)\n")
    with pytest.raises(SQLError, match="killed by signal SIGSEGV"):
        s.run("SELECT SEGV(1)")
    assert s.run("SELECT 1 AS V").rows == ((1,),)


def test_load_error_is_an_interpreter_error(s):
    fn(s, "BADLOAD", "raise RuntimeError('cannot load model')\ndef f(a):\n    return a\n")
    with pytest.raises(SQLError, match="(?s)^Python Interpreter Error:.*RuntimeError: cannot load model"):
        s.run("SELECT BADLOAD(1)")
    assert s.run("SELECT 1 AS V").rows == ((1,),)


def test_wrong_result_length_is_reported(s):
    fn(s, "SHORT", "import pandas as pd\ndef f(df):\n    return [1.0]\nf._sf_vectorized_input = pd.DataFrame\n")
    with pytest.raises(SQLError, match="returned 1 values for a batch of"):
        s.run("SELECT SHORT(A) FROM NUMS")


def test_logging_lands_in_the_event_table(s):
    fn(s, "LOGGY", """
import logging
log = logging.getLogger("loggy")
def f(a):
    log.warning("saw %s", a)
    log.debug("hidden at INFO")
    return a
""", extra="LOG_LEVEL = 'INFO'")
    s.run("SELECT LOGGY(7)")
    rows = s.run("SELECT RECORD_TYPE, SEVERITY, FUNCTION_NAME, MESSAGE, VALUE, "
                 "RECORD:severity_text::STRING AS SEV "
                 "FROM SNOWFLAKE.TELEMETRY.EVENTS WHERE FUNCTION_NAME = 'LOGGY'").rows
    assert rows == (("LOG", "WARN", "LOGGY", "saw 7.0", "saw 7.0", "WARN"),)


def test_timeout_stops_the_worker_and_the_next_query_works(tmp_path):
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_timeout=1) as s:
        fn(s, "SLOW", "import time\ndef f(a):\n    if a > 0:\n        time.sleep(30)\n    return a\n")
        s.run("SELECT SLOW(0)")  # warm: the module load is not what times out
        with pytest.raises(SQLError, match=r"SLOW\(FLOAT\) exceeded the time limit of 1 s"):
            s.run("SELECT SLOW(1)")
        assert s.run("SELECT SLOW(0) AS V").rows == ((0.0,),)


def test_handler_prints_do_not_disturb_the_engine(s):
    fn(s, "CHATTY", "import sys\nprint('hello at import')\ndef f(a):\n    print('row', a)\n"
       "    sys.stdout.write('more\\n')\n    return a\n")
    assert s.run("SELECT SUM(CHATTY(A)) AS T FROM NUMS").rows == ((float(sum(range(10000))),),)
