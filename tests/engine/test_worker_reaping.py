"""A session keeps a bounded number of function workers alive, and none idle for long."""

from __future__ import annotations

import os
import re
import time

import pytest

from deployer.engine import LocalSession
from deployer.errors import SQLError

PID = "def f(x):\n    import os\n    return os.getpid()\n"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie left for its parent to reap counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait_until(test, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(0.05)
    return test()


def _create(s, n: int) -> None:
    for i in range(n):
        s.run(f"CREATE FUNCTION F{i}(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
              f"HANDLER = 'f' AS $${PID}$$")


def test_no_more_workers_than_the_cap_stay_alive(tmp_path):
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1, max_live_workers=2,
                      reuse_workers=False) as s:
        _create(s, 5)
        pids = [int(s.run(f"SELECT F{i}(1.0)").rows[0][0]) for i in range(5)]
        assert len(set(pids)) == 5
        assert _wait_until(lambda: sum(_alive(p) for p in pids) <= 2)
        assert s.workers.live <= 2
        assert _alive(pids[-1])  # the most recently used stays warm
        # a stopped function's worker starts again when it is called
        again = int(s.run("SELECT F0(1.0)").rows[0][0])
        assert again != pids[0] and _alive(again)


def test_an_idle_worker_is_stopped_and_restarted_on_the_next_call(tmp_path):
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1, worker_idle=0.3) as s:
        _create(s, 1)
        first = int(s.run("SELECT F0(1.0)").rows[0][0])
        assert _wait_until(lambda: not _alive(first))
        assert s.workers.live == 0
        second = int(s.run("SELECT F0(1.0)").rows[0][0])
        assert second != first


def test_closing_a_session_stops_every_worker(tmp_path):
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1) as s:
        _create(s, 3)
        pids = [int(s.run(f"SELECT F{i}(1.0)").rows[0][0]) for i in range(3)]
    assert _wait_until(lambda: not any(_alive(p) for p in pids), timeout=5)


def _handed_over(s, first: str, second: str) -> tuple[int, int]:
    """Call `first`, drop it, call `second`, each answering pid * 10 + n: both n, once the
    answers show that one process served both."""
    a = int(s.run(f"SELECT {first}(1.0)").rows[0][0])
    s.run(f"DROP FUNCTION {first}(FLOAT)")
    b = int(s.run(f"SELECT {second}(1.0)").rows[0][0])
    assert b // 10 == a // 10  # the same process
    return a % 10, b % 10


REMEMBER = "LEFT = globals().get('LEFT', 0) + 1\ndef f(x):\n    import os\n    return os.getpid() * 10 + LEFT\n"


def test_a_dropped_functions_worker_loads_the_next_function_when_reuse_is_on(tmp_path):
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1, reuse_workers=True) as s:
        for i in range(2):
            s.run(f"CREATE FUNCTION G{i}(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
                  f"HANDLER = 'f' AS $${REMEMBER}$$")
        assert _handed_over(s, "G0", "G1")[1] == 1  # with a fresh module: nothing of G0's handler is left
        assert s.workers.live == 1


def test_a_query_takes_the_worker_its_translation_started_and_starts_no_other(tmp_path):
    # Naming the function starts (here: hands over) its worker while the query is planned;
    # the query's call then waits for that one, even where a second one would be allowed.
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=2, reuse_workers=True) as s:
        for i in range(2):
            s.run(f"CREATE FUNCTION G{i}(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
                  f"HANDLER = 'f' AS $${REMEMBER}$$")
        _handed_over(s, "G0", "G1")
        assert not _wait_until(lambda: s.workers.live > 1, timeout=2)


def _loading(s, name: str) -> bool:
    """Whether a worker is loading or holds function `name` (FLOAT) without having been called."""
    pool = next((p for key, p in s._pools.items() if key[2] == name), None)
    return pool is not None and pool.count > 0


def test_a_function_created_while_a_spare_worker_waits_is_loaded_into_it_at_once(tmp_path):
    # apply tests each candidate right after its CREATE: the load overlaps what comes before
    # the call. Only a spare does it; with none, a CREATE starts no process.
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1, reuse_workers=True) as s:
        create = ("CREATE FUNCTION {}(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
                  f"HANDLER = 'f' AS $${REMEMBER}$$")
        s.run(create.format("G0"))
        s.run(create.format("G1"))
        assert not _loading(s, "G1") and s._workers is None
        first = int(s.run("SELECT G0(1.0)").rows[0][0])
        s.run("DROP FUNCTION G0(FLOAT)")  # its worker becomes a spare
        s.run(create.format("G2"))
        assert _loading(s, "G2") and not s.workers.spares
        assert int(s.run("SELECT G2(1.0)").rows[0][0]) == first // 10 * 10 + 1  # that process, a fresh module
        s.run(create.format("G3"))  # no spare now: nothing starts
        assert not _loading(s, "G3") and s.workers.live == 1


def test_a_reused_worker_leaves_one_folder_behind_it(tmp_path):
    # The worker makes each function's folder and removes the last one itself.
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1, reuse_workers=True) as s:
        for i in range(4):
            s.run(f"CREATE FUNCTION G{i}(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
                  f"HANDLER = 'f' AS $${REMEMBER}$$")
        pid = int(s.run("SELECT G0(1.0)").rows[0][0]) // 10
        for i in range(1, 4):
            s.run(f"DROP FUNCTION G{i - 1}(FLOAT)")
            assert int(s.run(f"SELECT G{i}(1.0)").rows[0][0]) // 10 == pid
        assert _wait_until(lambda: len(list(s._workdir.iterdir())) == 1)
        (folder,) = s._workdir.iterdir()
        assert sorted(p.name for p in folder.iterdir()) == ["code", "imports", "tmp"]


FREED = ("class _Held:\n    def __del__(self):\n        import os\n        open(os.environ['FREED_MARK'], 'w').close()\n"
         "HELD = _Held()\ndef f(x):\n    return 1.0\n")


def test_a_dropped_functions_worker_unloads_it_at_once_not_when_the_next_comes(tmp_path, monkeypatch):
    # apply drops each candidate a few statements before it creates the next: the spare
    # worker unloads the handler and removes its folder meanwhile.
    mark = tmp_path / "freed"
    monkeypatch.setenv("FREED_MARK", str(mark))
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1, reuse_workers=True) as s:
        s.run(f"CREATE FUNCTION G0(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
              f"HANDLER = 'f' AS $${FREED}$$")
        assert s.run("SELECT G0(1.0)").rows == ((1.0,),)
        assert not mark.exists()
        s.run("DROP FUNCTION G0(FLOAT)")
        assert _wait_until(lambda: mark.exists() and not list(s._workdir.iterdir()), timeout=5)
        assert len(s.workers.spares) == 1
        s.run(f"CREATE FUNCTION G1(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
              f"HANDLER = 'f' AS $${REMEMBER}$$")
        assert int(s.run("SELECT G1(1.0)").rows[0][0]) % 10 == 1  # the spare took it, fresh


def test_without_reuse_a_dropped_functions_worker_stops(tmp_path):
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1, reuse_workers=False) as s:
        _create(s, 2)
        first = int(s.run("SELECT F0(1.0)").rows[0][0])
        s.run("DROP FUNCTION F0(FLOAT)")
        assert _wait_until(lambda: not _alive(first))
        assert int(s.run("SELECT F1(1.0)").rows[0][0]) != first


def test_at_the_cap_a_new_function_takes_over_the_least_recently_used_idle_worker(tmp_path):
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1, max_live_workers=2,
                      reuse_workers=True) as s:
        _create(s, 3)
        pids = [int(s.run(f"SELECT F{i}(1.0)").rows[0][0]) for i in range(3)]
        assert pids[2] == pids[0]  # F0's idle worker now runs F2
        assert s.workers.live == 2
        assert int(s.run("SELECT F0(1.0)").rows[0][0]) in pids[:2]  # F0 starts again, on F1's


LAZY = "def f(x):\n    import os\n    import helper  # imported by the call, not at load\n    return os.getpid() * 10 + helper.VALUE\n"


def test_a_reused_worker_forgets_what_the_last_function_imported_from_its_files(tmp_path):
    for value in (1, 2):
        (tmp_path / str(value)).mkdir()
        (tmp_path / str(value) / "helper.py").write_text(f"VALUE = {value}\n")
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1, reuse_workers=True) as s:
        s.run("CREATE STAGE S")
        for value in (1, 2):
            s.put(tmp_path / str(value) / "helper.py", f"@S/v{value}")
            s.run(f"CREATE FUNCTION H{value}(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
                  f"IMPORTS = ('@S/v{value}/helper.py') HANDLER = 'f' AS $${LAZY}$$")
        assert _handed_over(s, "H1", "H2") == (1, 2)  # H2 got its own helper, not H1's


# The handler starts a process in a session of its own, and a daemon the classic way: an
# intermediate process starts it in its own session and exits, orphaning it. Neither is in
# the worker's process group.
ESCAPE = '''
def f(x):
    import subprocess, sys
    sleep = [sys.executable, "-c", "import time; time.sleep(120)"]
    apart = subprocess.Popen(sleep, start_new_session=True)
    starter = ("import subprocess, sys; d = subprocess.DEVNULL; print(subprocess.Popen(%r, "
               "start_new_session=True, stdin=d, stdout=d, stderr=d).pid)" % (sleep,))
    daemon = subprocess.run([sys.executable, "-c", starter], capture_output=True, text=True).stdout.strip()
    return f"{apart.pid} {daemon}"
'''


def _escapees(s) -> list[int]:
    s.run("CREATE FUNCTION RUNAWAY(X FLOAT) RETURNS VARCHAR LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
          f"HANDLER = 'f' AS $${ESCAPE}$$")
    pids = [int(p) for p in s.run("SELECT RUNAWAY(1.0)").rows[0][0].split()]
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    return pids


def test_processes_a_handler_started_outside_its_group_end_with_the_session(tmp_path):
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1) as s:
        pids = _escapees(s)
    assert _wait_until(lambda: not any(_alive(p) for p in pids), timeout=5), pids


def test_processes_a_handler_started_outside_its_group_end_when_its_worker_is_killed(tmp_path):
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1) as s:
        pids = _escapees(s)
        from deployer.engine import udf
        udf.kill_all()  # what a signal to the CLI does
        assert _wait_until(lambda: not any(_alive(p) for p in pids), timeout=5), pids
        udf.halted = False


def test_a_function_that_failed_hands_its_worker_to_the_next(tmp_path):
    # Preflight of models that all fail on their first batch (a pickle from another
    # scikit-learn): each failure used to cost a new process importing the frameworks.
    failing = "def f(x):\n    import os\n    raise ValueError(f'pid={os.getpid()}')\n"
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1, reuse_workers=True) as s:
        s.run(f"CREATE FUNCTION BAD(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
              f"HANDLER = 'f' AS $${failing}$$")
        with pytest.raises(SQLError, match="ValueError: pid=") as err:
            s.run("SELECT BAD(1.0)")
        first = int(re.search(r"pid=(\d+)", str(err.value)).group(1))
        assert _alive(first)
        s.run("DROP FUNCTION BAD(FLOAT)")
        _create(s, 1)
        assert int(s.run("SELECT F0(1.0)").rows[0][0]) == first
