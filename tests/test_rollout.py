"""Safe rollout and rollback on the local target: candidates, release records, faults, kills."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import joblib
import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.linear_model import LinearRegression

from deployer.cli import cli
from deployer.engine import LocalSession
from deployer.errors import SQLError
from deployer.execute import ApplyError, execute
from deployer.manifest.load import load_manifest
from deployer.session import Result
from deployer.workflow import make_plan

ROOT = Path(__file__).resolve().parents[1]

MANIFEST = textwrap.dedent("""\
    version: 1
    database: ML
    schema: DATA_MODEL
    stage: MLOPS_STAGE
    defaults: {{keep_releases: {{{{ var.keep | default(3) }}}}}}
    models:
    {models}
    """)

MODEL = textwrap.dedent("""\
      - name: {name}
        framework: sklearn
        artifact: models/{name}.joblib
        features: [{{name: A, type: float}}, {{name: B, type: float}}]
        output: {{type: float}}
        tests:
          - input: {{A: 1.0, B: 2.0}}
            expect: {{{{ var.expect_{name} | default(7.0) }}}}
            tolerance: 0.001
    """)


def fit(coef, path):
    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    joblib.dump(LinearRegression().fit(x, x @ np.array(coef) + 2.0), path)


def write(project: Path, *names: str) -> Path:
    (project / "models").mkdir(parents=True, exist_ok=True)
    for name in names:
        if not (project / "models" / f"{name}.joblib").exists():
            fit([1.0, 2.0], project / "models" / f"{name}.joblib")  # (1, 2) -> 7
    body = "".join(textwrap.indent(MODEL.format(name=n), "") for n in names)
    (project / "deploy.yaml").write_text(MANIFEST.format(models=textwrap.indent(body, "")))
    return project / "deploy.yaml"


def run(manifest: Path, *args: str, expect: int = 0):
    result = CliRunner().invoke(cli, [args[0], "-f", str(manifest), *args[1:]])
    assert result.exit_code == expect, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def query(manifest: Path, sql: str):
    return json.loads(run(manifest, "sql", "--format", "json", sql).stdout)


def test_a_failing_candidate_leaves_the_live_function_answering(tmp_path):
    manifest = write(tmp_path, "m")
    run(manifest, "apply", "--no-preflight", "--auto-approve")
    fit([2.0, 2.0], tmp_path / "models" / "m.joblib")  # now (1, 2) -> 8, but the test still expects 7
    failed = run(manifest, "apply", "--no-preflight", "--auto-approve", expect=1)
    assert "FAIL M(1.0, 2.0): expected 7.0 ± 0.001, got 8.0" in failed.stdout
    assert "its candidate failed 1 of 1 check(s) on the target, the live function is unchanged" in failed.stderr
    assert query(manifest, "SELECT m(1, 2) AS Y") == [{"Y": pytest.approx(7.0)}]
    names = [r["name"] for r in query(manifest, "SHOW USER FUNCTIONS IN SCHEMA ML.DATA_MODEL")]
    assert names == ["M"]  # the candidate is gone
    # The fixed manifest goes through.
    run(manifest, "apply", "--no-preflight", "--auto-approve", "--var", "expect_m=8.0")
    assert query(manifest, "SELECT m(1, 2) AS Y") == [{"Y": pytest.approx(8.0)}]


def test_without_candidates_a_failed_test_is_not_forgotten(tmp_path):
    manifest = write(tmp_path, "m")
    fit([2.0, 2.0], tmp_path / "models" / "m.joblib")
    run(manifest, "apply", "--no-preflight", "--auto-approve", "--no-candidate", expect=1)
    plan = run(manifest, "plan", "--no-preflight", "--detailed-exitcode", expect=2).stdout
    assert "smoke tests have not passed on the target since it was created" in plan
    assert "FAIL M(1.0, 2.0)" in run(manifest, "apply", "--no-preflight", "--auto-approve", expect=1).stdout
    assert "in sync" not in run(manifest, "status").stdout


def test_rollback_after_two_applies_answers_like_the_first_and_uploads_nothing(tmp_path):
    manifest = write(tmp_path, "m")
    run(manifest, "apply", "--no-preflight", "--auto-approve")
    fit([2.0, 2.0], tmp_path / "models" / "m.joblib")
    run(manifest, "apply", "--no-preflight", "--auto-approve", "--var", "expect_m=8.0")
    assert query(manifest, "SELECT m(1, 2) AS Y") == [{"Y": pytest.approx(8.0)}]

    history = json.loads(run(manifest, "history", "M", "--format", "json").stdout)
    assert [h["live"] for h in history] == [True, False] and all(h["files_on_stage"] for h in history)
    assert "* live" in run(manifest, "history").stdout

    log = tmp_path / "rollback.jsonl"
    out = run(manifest, "rollback", "m", "--auto-approve", "--log-sql", str(log)).stdout
    assert f"rollback to release {history[1]['release']}" in out and "Rollback complete" in out
    sent = [json.loads(line)["statement"] for line in log.read_text().splitlines()]
    assert not [s for s in sent if s.startswith("PUT ")], sent
    assert any("M__CANDIDATE(" in s for s in sent)  # through the same candidate check
    assert query(manifest, "SELECT m(1, 2) AS Y") == [{"Y": pytest.approx(7.0)}]
    assert json.loads(run(manifest, "history", "M", "--format", "json").stdout)[1]["live"] is True

    # GitOps stays the source of truth: the plan shows the difference and why.
    plan = json.loads(run(manifest, "plan", "--no-preflight", "--format", "json", "--var", "expect_m=8.0").stdout)
    (change,) = [c for c in plan["changes"] if c["type"] == "function"]
    assert change["actions"] == ["update"] and change["reasons"][0].startswith("artifact models/m.joblib changed")
    assert "already live" in run(manifest, "rollback", "m", "--auto-approve", "--to", history[1]["release"],
                                 expect=1).stderr
    assert "is not a release" in run(manifest, "rollback", "m", "--to", "nope", expect=1).stderr
    assert "no releases of NOPE" in run(manifest, "rollback", "nope", expect=1).stderr


def test_retention_removes_files_of_releases_past_keep_releases(tmp_path):
    manifest = write(tmp_path, "m")
    for coef, expect in ((1.0, 7.0), (2.0, 8.0), (3.0, 9.0)):
        fit([coef, 2.0], tmp_path / "models" / "m.joblib")
        run(manifest, "apply", "--no-preflight", "--auto-approve", "--var", f"expect_m={expect}", "--var", "keep=2")
    files = [r["name"] for r in query(manifest, "LIST @MLOPS_STAGE")]
    assert len([f for f in files if f.endswith("m.joblib")]) == 2 and len([f for f in files if "/.releases/" in f]) == 2


class Failing:
    """A session that fails at its k-th statement (run or put) after arming."""

    def __init__(self, inner, fail_at: int):
        self.inner, self.fail_at, self.count = inner, fail_at, 0

    def _tick(self, what: str) -> None:
        self.count += 1
        if self.count == self.fail_at:
            raise SQLError(f"injected failure at statement {self.count}: {what[:60]}")

    def run(self, sql: str) -> Result:
        self._tick(sql)
        return self.inner.run(sql)

    def put(self, local_path, stage_dir, *, overwrite=True):
        self._tick(f"PUT {local_path}")
        return self.inner.put(local_path, stage_dir, overwrite=overwrite)


def check_every_function_answers(session: LocalSession) -> None:
    """Every live function answers, and every file it imports is on the stage."""
    listed = {r["name"].split("/", 1)[1] for r in session.run("LIST @ML.DATA_MODEL.MLOPS_STAGE").dicts()}
    for row in session.run("SHOW USER FUNCTIONS IN SCHEMA ML.DATA_MODEL").dicts():
        described = {r["property"]: r["value"] for r in
                     session.run(f"DESCRIBE FUNCTION ML.DATA_MODEL.{row['name']}(FLOAT, FLOAT)").dicts()}
        for imported in described["imports"].strip("[]").split(","):
            assert imported.split("MLOPS_STAGE/", 1)[1] in listed, (row["name"], imported)
        assert session.run(f"SELECT ML.DATA_MODEL.{row['name']}(1, 2)").rows[0][0] is not None


def converge(manifest: Path) -> None:
    """One apply brings the target to the manifest: no plan is left after it."""
    run(manifest, "apply", "--no-preflight", "--auto-approve", "--var", "expect_a=8.0", "--var", "keep=1")
    run(manifest, "plan", "--no-preflight", "--detailed-exitcode", "--var", "expect_a=8.0", "--var", "keep=1")


@pytest.mark.slow
def test_a_failure_at_each_statement_of_an_apply_leaves_every_function_answering(tmp_path):
    template = tmp_path / "template"
    manifest = write(template, "a", "b")
    run(manifest, "apply", "--no-preflight", "--auto-approve", "--var", "keep=1")
    fit([2.0, 2.0], template / "models" / "a.joblib")  # a changes, b stays; keep=1 removes a's old files
    total = None
    k = 1
    while total is None or k <= total:
        project = tmp_path / f"run{k}"
        shutil.copytree(template, project)
        manifest = project / "deploy.yaml"
        state = load_manifest(str(manifest), overrides={"expect_a": "8.0", "keep": "1"})
        with LocalSession(state.target.path, state.database, state.schema) as session:
            the_plan, _, _ = make_plan(state, session)
            failing = Failing(session, k)
            try:
                execute(failing, the_plan)
                total = failing.count  # the run without a failure: how many statements there are
            except ApplyError as exc:
                assert "injected failure" in str(exc) or "failed" in str(exc)
            check_every_function_answers(session)
        if total is None or k <= total:
            converge(manifest)
            with LocalSession(state.target.path, state.database, state.schema) as session:
                check_every_function_answers(session)
                assert {r["name"] for r in session.run("SHOW USER FUNCTIONS IN SCHEMA ML.DATA_MODEL").dicts()} \
                    == {"A", "B"}
        shutil.rmtree(project)
        k += 1
    # upload, candidate, smoke test, batch, replace, drop candidate, release record, 2 removals
    assert total and total >= 9


@pytest.mark.slow
def test_apply_killed_at_random_points_converges(tmp_path):
    manifest = write(tmp_path, "a", "b")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(7)
    killed = []
    for i in range(20):
        expect = 7.0 + i + 1
        fit([1.0 + i + 1, 2.0], tmp_path / "models" / "a.joblib")
        args = [sys.executable, "-m", "deployer.cli", "apply", "-f", str(manifest), "--no-preflight",
                "--auto-approve", "--var", f"expect_a={expect}"]
        child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 5.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
        killed.append(child.pid)
        # Converge in this process (the killed one was a real CLI process).
        run(manifest, "apply", "--no-preflight", "--auto-approve", "--var", f"expect_a={expect}")
        run(manifest, "plan", "--no-preflight", "--detailed-exitcode", "--var", f"expect_a={expect}")
        assert query(manifest, "SELECT a(1, 2) AS Y") == [{"Y": pytest.approx(expect)}]
        assert query(manifest, "SELECT b(1, 2) AS Y") == [{"Y": pytest.approx(7.0)}]
    # No orphan: a worker's cwd is inside its engine's folder, named with the engine's pid.
    owners = tuple(f"deployer-engine-{pid}-" for pid in killed)
    orphans = []
    for proc in Path("/proc").iterdir():
        try:
            cwd = os.readlink(proc / "cwd")  # fails for a zombie: it is dead
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if any(o in cwd for o in owners) and state != "Z":
            orphans.append((proc.name, cwd))
    assert orphans == []
    leaked = [n for n in os.listdir(tempfile.gettempdir()) for pid in killed
              if n.startswith("deployer-") and f"-{pid}-" in n]
    assert leaked == []


def test_same_size_corruption_is_found_and_repaired_by_apply(tmp_path):
    """The local engine checks content against the address itself (LIST leaves out a corrupt
    file, as lost); --verify, which fetches and hashes each file, agrees."""
    manifest = write(tmp_path, "m")
    run(manifest, "apply", "--no-preflight", "--auto-approve")
    (staged,) = [p for p in (tmp_path / ".deployer" / "local").rglob("m.joblib")]
    data = bytearray(staged.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different bytes
    staged.write_bytes(bytes(data))
    for verify in ((), ("--verify",)):
        status = run(manifest, "status", *verify).stdout
        assert "DRIFTED" in status and "m.joblib is missing from the stage" in status
        plan = json.loads(run(manifest, "plan", "--no-preflight", *verify, "--format", "json").stdout)
        (repair,) = [c for c in plan["changes"] if c["actions"] != ["no-op"]]
        assert repair["type"] == "file" and repair["name"].endswith("m.joblib")
    run(manifest, "apply", "--no-preflight", "--auto-approve", "--verify")
    assert staged.read_bytes() != bytes(data)
    run(manifest, "plan", "--no-preflight", "--verify", "--detailed-exitcode")
    assert query(manifest, "SELECT m(1, 2) AS Y") == [{"Y": pytest.approx(7.0)}]
