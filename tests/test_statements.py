"""What the product sends to a target: a constant number of reads, exact removals, a log of it all."""

from __future__ import annotations

import json
import textwrap

import joblib
import numpy as np
from click.testing import CliRunner
from sklearn.linear_model import LinearRegression

from deployer.cli import cli
from deployer.engine import LocalSession
from deployer.planner import remove_exactly


def project(tmp_path, n_models: int):
    (tmp_path / "models").mkdir(parents=True)
    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    joblib.dump(LinearRegression().fit(x, x @ np.array([1.0, 2.0])), tmp_path / "models" / "model.joblib")
    models = "".join(textwrap.dedent(f"""\
          - name: m{i}
            framework: sklearn
            artifact: models/model.joblib
            features: [{{name: A, type: float}}, {{name: B, type: float}}]
            output: {{type: float}}
        """) for i in range(n_models))
    (tmp_path / "deploy.yaml").write_text(
        "version: 1\ndatabase: ML\nschema: S\nstage: ST\nmodels:\n" + textwrap.indent(models, ""))
    return tmp_path / "deploy.yaml"


def run(*args, expect=0):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == expect, result.stdout + result.stderr
    return result


def statements(log):
    return [json.loads(line)["statement"] for line in log.read_text().splitlines()]


def test_plan_reads_do_not_grow_with_models(tmp_path):
    counts = {}
    for n in (1, 12):
        manifest = project(tmp_path / str(n), n)
        run("apply", "-f", str(manifest), "--no-preflight", "--auto-approve")
        log = tmp_path / f"plan{n}.jsonl"
        run("plan", "-f", str(manifest), "--no-preflight", "--log-sql", str(log))
        counts[n] = statements(log)
        refreshed = tmp_path / f"refresh{n}.jsonl"
        run("plan", "-f", str(manifest), "--no-preflight", "--refresh", "--log-sql", str(refreshed))
        assert sum(s.startswith("DESCRIBE FUNCTION") for s in statements(refreshed)) == n
    assert len(counts[1]) == len(counts[12]) == 5, counts
    # One query of the packages the target offers (all models, one runtime), then SHOW STAGES,
    # LIST, SHOW USER FUNCTIONS, and one GET of all the release records.
    assert [s.split()[0] for s in counts[12]] == ["SELECT", "SHOW", "LIST", "SHOW", "GET"]


def test_the_log_names_puts_relative_to_the_manifest_and_records_errors(tmp_path):
    manifest = project(tmp_path, 1)
    log = tmp_path / "apply.jsonl"
    run("apply", "-f", str(manifest), "--no-preflight", "--auto-approve", "--log-sql", str(log))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert all(r["target"] == "local" and r["command"] == "apply" for r in records)
    (put,) = [r for r in records if r["statement"].startswith("PUT ") and "model.joblib" in r["statement"]]
    assert put["statement"].startswith("PUT 'file://models/model.joblib' @ML.S.ST/M0/") and put["error"] is None
    run("sql", "-f", str(manifest), "--log-sql", str(log), "SELECT nope FROM nowhere", expect=1)
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["command"] == "sql" and last["rows"] is None and "NOWHERE" in last["error"]


def test_remove_takes_exactly_the_named_file(tmp_path):
    with LocalSession(tmp_path / "acct", "ML", "S") as session:
        session.run("CREATE STAGE ST")
        for name in ("model.h5", "model.h5.bak"):
            (tmp_path / name).write_bytes(b"x")
            session.put(tmp_path / name, "@ST/M/ab12")
        session.run(remove_exactly("ML.S.ST", "M/ab12/model.h5"))
        assert [r["name"] for r in session.run("LIST @ST").dicts()] == ["st/M/ab12/model.h5.bak"]


def test_engine_answers_like_snowflake_for_what_the_target_relies_on(tmp_path):
    with LocalSession(tmp_path / "acct", "ML", "S") as session:
        session.run("CREATE STAGE FULL_ST")
        session.run("CREATE STAGE SSE_ST ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE') COMMENT = 'a'")
        (tmp_path / "f").write_bytes(b"x" * 100)
        for stage in ("FULL_ST", "SSE_ST"):
            session.put(tmp_path / "f", f"@{stage}/d")
        sizes = {r["name"]: r["size"] for st in ("FULL_ST", "SSE_ST") for r in session.run(f"LIST @{st}").dicts()}
        assert sizes == {"full_st/d/f": 112, "sse_st/d/f": 100}  # padded on SNOWFLAKE_FULL
        session.run("ALTER STAGE SSE_ST SET COMMENT = 'b'")
        assert session.run("SHOW STAGES LIKE 'SSE_ST'").dicts()[0]["comment"] == "b"
        session.run("ALTER SESSION SET QUERY_TAG = '{\"tool\":\"deployer\"}'")
        assert session.parameters["QUERY_TAG"] == '{"tool":"deployer"}'
        assert session.run("SELECT CURRENT_WAREHOUSE() AS W").rows == (("LOCAL",),)
