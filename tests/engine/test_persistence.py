"""The account lives in its folder: restarts, other processes, the lock."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from deployer.engine import LocalSession
from deployer.errors import SQLError


def run_child(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


def test_another_process_sees_tables_stages_and_functions(tmp_path):
    acct = tmp_path / "account"
    (tmp_path / "m.txt").write_text("5")
    with LocalSession(acct, "ML", "DATA_MODEL") as s:
        s.run("CREATE TABLE HOUSES AS SELECT 1.5::FLOAT AS SIZE")
        s.run("CREATE STAGE MLOPS_STAGE")
        s.put(tmp_path / "m.txt", "@MLOPS_STAGE/models")
        s.run("""CREATE FUNCTION PREDICT(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION='3.11'
                 IMPORTS = ('@MLOPS_STAGE/models/m.txt') HANDLER = 'f' AS $$
import sys
K = float(open(sys._xoptions["snowflake_import_directory"] + "m.txt").read())
def f(x):
    return K * x
$$""")
    child = run_child(f"""
        import json
        from pathlib import Path
        from deployer.engine import LocalSession
        with LocalSession(Path({str(acct)!r}), "ML", "DATA_MODEL") as s:
            print(json.dumps({{
                "predict": s.run("SELECT PREDICT(SIZE) AS P FROM HOUSES").rows,
                "list": [r[0] for r in s.run("LIST @MLOPS_STAGE").rows],
                "functions": [r[8] for r in s.run("SHOW USER FUNCTIONS").rows],
                "stages": [r[1] for r in s.run("SHOW STAGES").rows],
            }}))
    """)
    assert child.returncode == 0, child.stderr
    seen = json.loads(child.stdout.strip().splitlines()[-1])
    assert seen == {"predict": [[7.5]], "list": ["mlops_stage/models/m.txt"],
                    "functions": ["PREDICT(FLOAT) RETURN FLOAT"], "stages": ["MLOPS_STAGE"]}


def test_a_second_writer_waits_then_fails_clearly(tmp_path):
    acct = tmp_path / "account"
    with LocalSession(acct, "ML"):
        child = run_child(f"""
            from pathlib import Path
            from deployer.engine import LocalSession
            from deployer.errors import SQLError
            try:
                LocalSession(Path({str(acct)!r}), lock_timeout=0.5)
            except SQLError as exc:
                print("REFUSED", exc)
        """)
        assert "REFUSED" in child.stdout, child.stderr
        assert "is locked: " in child.stdout and "waited 0.5 s" in child.stdout
    with pytest.raises(SQLError, match=r"is locked: .*\(deployer session, since "):
        with LocalSession(acct, lock_timeout=0.2):
            LocalSession(acct, lock_timeout=0.2)


def test_a_waiting_writer_gets_in_once_the_lock_is_free(tmp_path):
    acct = tmp_path / "account"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from deployer.engine import LocalSession
        with LocalSession(Path({str(acct)!r}), "ML"):
            print("HELD", flush=True)
            time.sleep(1.5)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "HELD"
    start = time.monotonic()
    with LocalSession(acct, lock_timeout=30) as s:
        assert time.monotonic() - start > 0.5
        assert s.run("SHOW DATABASES LIKE 'ML'").rows[0][1] == "ML"
    holder.wait(timeout=30)


def test_drop_and_replace_survive_restart(tmp_path):
    acct = tmp_path / "account"
    with LocalSession(acct, "ML", "S") as s:
        s.run("CREATE STAGE ST")
        s.run("CREATE FUNCTION F(A FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION='3.11' "
              "HANDLER='f' AS $$def f(a): return a$$")
        s.run("CREATE FUNCTION F(A VARCHAR) RETURNS VARCHAR LANGUAGE PYTHON RUNTIME_VERSION='3.11' "
              "HANDLER='f' AS $$def f(a): return a$$")
        s.run("DROP FUNCTION F(VARCHAR)")
        s.run("DROP STAGE ST")
    with LocalSession(acct, "ML", "S") as s:
        assert [r[8] for r in s.run("SHOW USER FUNCTIONS").rows] == ["F(FLOAT) RETURN FLOAT"]
        assert s.run("SHOW STAGES").rows == ()
        assert s.run("SELECT F(2) AS V").rows == ((2.0,),)
