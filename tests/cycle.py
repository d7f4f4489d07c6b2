"""The deployment cycle a team runs against a Snowflake target, shared by two suites.

tests/test_snowflake_e2e.py runs it with the real connector and Snowpark against the local
engine served over Snowflake's protocol; tests/live/test_live.py runs the same steps on a
real account. Every step goes through the CLI in a subprocess, as a user runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LinearRegression

ROOT = Path(__file__).resolve().parents[1]

MANIFEST = textwrap.dedent("""\
    version: 1
    project: tests/cycle
    database: {database}
    schema: {schema}
    stage: MLOPS_STAGE
    targets:
      sf: {{type: snowflake, connection: {connection}{extra}}}
    default_target: sf
    models:
      - name: {{{{ var.name | default('predict') }}}}
        framework: sklearn
        artifact: models/model.joblib
        features:
          - {{name: FEATURE_1, type: float}}
          - {{name: FEATURE_2, type: float}}
        output: {{type: float}}
        tests:
          - input: {{FEATURE_1: 1.0, FEATURE_2: 2.0}}
            expect: {{{{ var.expect | default(7.0) }}}}
            tolerance: 0.001
    """)

WRITES = ("PUT ", "CREATE OR REPLACE FUNCTION", "DROP FUNCTION", "REMOVE ", "ALTER STAGE", "CREATE STAGE IF")


def fit(coef: list[float], path: Path) -> None:
    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    joblib.dump(LinearRegression().fit(x, x @ np.array(coef) + 2.0), path)


@dataclass
class Project:
    folder: Path
    env: dict

    @classmethod
    def create(cls, folder: Path, home: Path, connection: str, database: str, schema: str,
               extra: str = "") -> "Project":
        (folder / "models").mkdir(parents=True)
        fit([1.0, 2.0], folder / "models" / "model.joblib")  # predict(1, 2) = 7
        (folder / "deploy.yaml").write_text(MANIFEST.format(database=database, schema=schema,
                                                           connection=connection, extra=extra))
        env = {**os.environ, "SNOWFLAKE_HOME": str(home), "PYTHONPATH": str(ROOT)}
        return cls(folder, env)

    def cli(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "deployer.cli", args[0], "-f", str(self.folder / "deploy.yaml"),
                               *args[1:]], env=self.env, capture_output=True, text=True, timeout=600)
        assert done.returncode == expect, f"exit {done.returncode}:\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def log(self, name: str) -> tuple[str, list[dict]]:
        path = self.folder / name
        return str(path), [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def sql(self, query: str) -> list[dict]:
        return json.loads(self.cli("sql", "--format", "json", query).stdout)


def run_cycle(project: Project, qualified_schema: str) -> dict:
    """first apply, no-op apply (no writes), status in sync, changed artifact (tested as a
    candidate), stale plan, lock contention, renamed model, destroy. Returns the statement logs for further checks."""
    logs = {}

    # 1. First apply: stage, file, function, smoke test on the target.
    path, _ = project.log("apply1.jsonl")
    out = project.cli("apply", "--auto-approve", "--no-preflight", "--log-sql", path).stdout
    assert "ok   PREDICT(1.0, 2.0) = 7.0" in out
    logs["apply1"] = project.log("apply1.jsonl")[1]

    # 2. The second apply sends no write at all, and DESCRIBE's rewritten imports match.
    path, _ = project.log("apply2.jsonl")
    out = project.cli("apply", "--auto-approve", "--no-preflight", "--log-sql", path).stdout
    assert "No changes" in out
    logs["apply2"] = project.log("apply2.jsonl")[1]
    sent = [r["statement"] for r in logs["apply2"]]
    assert not [s for s in sent if s.upper().startswith(WRITES)], sent
    project.cli("plan", "--no-preflight", "--refresh", "--detailed-exitcode")
    status = project.cli("status").stdout
    assert "in sync" in status and "DRIFTED" not in status, status

    # 3. A changed artifact: the plan says which and why; apply uploads it and removes the old one.
    fit([2.0, 2.0], project.folder / "models" / "model.joblib")  # predict(1, 2) = 8
    plan = json.loads(project.cli("plan", "--no-preflight", "--format", "json", "--var", "expect=8.0").stdout)
    actions = sorted((c["type"], "/".join(c["actions"])) for c in plan["changes"] if c["actions"] != ["no-op"])
    assert actions == [("file", "create"), ("function", "update")], actions  # the old file stays for rollback
    update = next(c for c in plan["changes"] if c["type"] == "function")
    assert update["reasons"][0].startswith("artifact models/model.joblib changed"), update
    out = project.cli("apply", "--auto-approve", "--no-preflight", "--var", "expect=8.0").stdout
    assert "ok   PREDICT(1.0, 2.0) = 8.0" in out
    files = [f["name"] for f in project.sql(f"LIST @{qualified_schema}.MLOPS_STAGE")]
    assert len([f for f in files if f.endswith("model.joblib")]) == 2, files
    assert len([f for f in files if "/.releases/" in f]) == 2, files

    # 4. A saved plan refused once the target changed under it.
    project.cli("plan", "--no-preflight", "--var", "expect=8.0", "--out", str(project.folder / "saved.json"))
    project.sql(f"DROP FUNCTION {qualified_schema}.PREDICT(FLOAT, FLOAT)")
    stale = project.cli("apply", "--no-preflight", "--var", "expect=8.0", "--plan",
                        str(project.folder / "saved.json"), expect=1)
    assert "plan is stale" in stale.stderr
    project.cli("apply", "--auto-approve", "--no-preflight", "--var", "expect=8.0")

    # 5. Lock contention: a lock left by another deployment stops apply, names its holder,
    #    and `unlock --force` breaks it.
    holder = json.dumps({"deployer_lock": {"holder": "alice", "host": "ci-7", "pid": 1, "command": "apply",
                                           "since": "2026-01-01T00:00:00+00:00"}})
    project.sql(f"CREATE STAGE {qualified_schema}.DEPLOYER_LOCK COMMENT = '{holder}'")
    locked = project.cli("apply", "--auto-approve", "--no-preflight", "--var", "name=price", "--var", "expect=8.0",
                         expect=1)
    assert "is locked: alice@ci-7 (deployer apply, since 2026-01-01T00:00:00+00:00" in locked.stderr, locked.stderr
    assert "unlock --force" in locked.stderr
    assert "alice@ci-7" in project.cli("unlock", expect=1).stderr
    assert "broken" in project.cli("unlock", "--force").stdout

    # 6. A renamed model: the new function is created, the old one dropped with its files.
    out = project.cli("apply", "--auto-approve", "--no-preflight", "--var", "name=price", "--var", "expect=8.0").stdout
    assert "ok   PRICE(1.0, 2.0) = 8.0" in out
    names = [r["name"] for r in project.sql(f"SHOW USER FUNCTIONS IN SCHEMA {qualified_schema}")]
    assert "PRICE" in names and "PREDICT" not in names, names

    # 7. Destroy removes what the manifest manages, and the lock is gone after every command.
    project.cli("destroy", "--auto-approve", "--var", "name=price")
    assert [r["name"] for r in project.sql(f"SHOW USER FUNCTIONS IN SCHEMA {qualified_schema}")] == []
    assert project.sql(f"LIST @{qualified_schema}.MLOPS_STAGE") == []
    stages = [r["name"] for r in project.sql(f"SHOW STAGES IN SCHEMA {qualified_schema}")]
    assert "DEPLOYER_LOCK" not in stages, stages
    return logs
