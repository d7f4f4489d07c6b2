"""A worker started ahead: apply tells the engine which interpreter its first test will need,
and the first function it creates loads into that process (its frameworks imported meanwhile)."""

from __future__ import annotations

import sys
import textwrap
import time

from deployer import envs
from deployer.engine import LocalSession
from deployer.manifest.load import load_manifest
from deployer.pins import Resolution
from deployer.workflow import start_ahead
from tests.engine.test_worker_reaping import _alive

# The handler imports nothing beyond os and sys: `wave` is in sys.modules only if preloaded.
SEES = ("def f(x):\n    import os, sys\n"
        "    return os.getpid() * 10 + ('wave' in sys.modules)\n")
CREATE = ("CREATE FUNCTION {}(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
          f"HANDLER = 'f' AS $${SEES}$$")


def test_the_first_function_runs_in_the_worker_started_ahead_with_its_modules_imported(tmp_path):
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1, reuse_workers=True) as s:
        # a module that does not exist is skipped: the handler's own import would report it
        s._start_ahead("3.11", (), ("wave", "no_such_module_anywhere"))
        [ahead] = s.workers.spares
        assert s.workers.live == 1
        s.run(CREATE.format("F"))
        assert int(s.run("SELECT F(1.0)").rows[0][0]) == ahead.proc.pid * 10 + 1
        assert s.workers.live == 1 and not s.workers.spares
        # a second function is a new process (the first one's worker is busy serving it)
        s.run(CREATE.format("G"))
        second = int(s.run("SELECT G(1.0)").rows[0][0])
        assert second // 10 != ahead.proc.pid and second % 10 == 0


def test_the_worker_started_ahead_loads_the_first_models_pickles_for_their_modules(tmp_path):
    import fractions  # noqa: F401 - pickled below; the worker has not imported it
    import pickle

    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps({"w": fractions.Fraction(1, 3)}))
    sees = SEES.replace("'wave'", "'fractions'")
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", udf_workers=1, reuse_workers=True) as s:
        s._start_ahead("3.11", (), (), (str(model), str(tmp_path / "missing.pkl")))
        [ahead] = s.workers.spares
        s.run(f"CREATE FUNCTION F(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
              f"HANDLER = 'f' AS $${sees}$$")
        assert int(s.run("SELECT F(1.0)").rows[0][0]) == ahead.proc.pid * 10 + 1


def test_one_worker_ahead_per_interpreter_and_none_without_reuse(tmp_path):
    with LocalSession(tmp_path / "a", "ML", "PUBLIC", reuse_workers=True) as s:
        s._start_ahead("3.11", (), ())
        s._start_ahead("3.11", (), ())
        assert len(s.workers.spares) == 1
    with LocalSession(tmp_path / "b", "ML", "PUBLIC", reuse_workers=False) as s:
        s._start_ahead("3.11", (), ())  # it could never be handed a function
        assert not s.workers.spares and s.workers.live == 0


def test_a_wrong_hint_starts_nothing_and_fails_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYER_CACHE_DIR", str(tmp_path / "cache"))
    with LocalSession(tmp_path / "acct", "ML", "PUBLIC", reuse_workers=True, isolated_env=True) as s:
        s._start_ahead("2.7", (), ())  # a runtime Snowflake does not offer
        s._start_ahead("3.11", ("no-such-package-anywhere",), ())  # a package the channel lacks
        assert s._workers is None or not s.workers.spares
        s.start_ahead("3.11", ("no-such-package-anywhere",), ())  # the thread swallows it too
        s.run(CREATE.format("F"))
        assert int(s.run("SELECT F(1.0)").rows[0][0]) % 10 == 0


def test_an_environment_not_built_yet_is_not_built_for_a_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYER_CACHE_DIR", str(tmp_path / "cache"))
    assert envs.interpreter_for(("pandas==0.0.1",), "3.11", isolated=True, build=False) is None
    assert not (tmp_path / "cache").exists()


def test_closing_the_session_kills_a_worker_still_importing(tmp_path, monkeypatch):
    slow = tmp_path / "lib"
    slow.mkdir()
    (slow / "slow_framework.py").write_text("import time\ntime.sleep(60)\n")
    monkeypatch.setenv("PYTHONPATH", str(slow))  # the worker inherits the environment
    s = LocalSession(tmp_path / "acct", "ML", "PUBLIC", reuse_workers=True)
    s._start_ahead("3.11", (), ("slow_framework",))
    [ahead] = s.workers.spares
    time.sleep(0.3)
    assert _alive(ahead.proc.pid)
    started = time.monotonic()
    s.close()  # killed at once: no EOF and grace period (0.5 s) for a worker holding no function
    assert time.monotonic() - started < 0.45
    assert not _alive(ahead.proc.pid)


def test_a_worker_started_after_the_session_closed_is_not_kept(tmp_path):
    s = LocalSession(tmp_path / "acct", "ML", "PUBLIC", reuse_workers=True)
    workers = s.workers
    s.close()
    s._start_ahead("3.11", (), ())  # the hint's thread arriving late
    workers.start_ahead(sys.executable, tmp_path, 10.0, 1, ())
    assert not workers.spares and workers.live == 0


MANIFEST = textwrap.dedent("""\
    version: 1
    database: ML
    schema: DATA_MODEL
    stage: MLOPS_STAGE
    models:
      - {name: a, framework: sklearn, artifact: a.joblib, features: [{name: X, type: float}], output: {type: float}}
      - {name: b, framework: sklearn, artifact: b.joblib, features: [{name: X, type: float}], output: {type: float}}
      - {name: c, framework: xgboost, artifact: c.json, features: [{name: X, type: float}], output: {type: float}}
      - {name: d, framework: lightgbm, artifact: d.txt, features: [{name: X, type: float}], output: {type: float}}
    """)


class _Hinted:
    def __init__(self):
        self.hints = []

    def start_ahead(self, runtime, packages, modules, probe=()):
        self.hints.append((runtime, packages, modules, probe))


def test_apply_hints_the_first_distinct_package_lists_in_manifest_order(tmp_path):
    for name in ("a.joblib", "b.joblib", "c.json", "d.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "deploy.yaml").write_text(MANIFEST)
    state = load_manifest(str(tmp_path / "deploy.yaml"))
    session = _Hinted()
    start_ahead(session, state, Resolution({}))
    assert [h[2] for h in session.hints] == [("numpy", "pandas", "sklearn", "joblib"),
                                             ("numpy", "pandas", "xgboost", "joblib")]
    assert "scikit-learn" in " ".join(session.hints[0][1])
    assert [[p.rsplit("/", 1)[-1] for p in h[3]] for h in session.hints] == [["a.joblib"], ["c.json"]]
    start_ahead(object(), state, Resolution({}))  # a target without the capability: nothing
