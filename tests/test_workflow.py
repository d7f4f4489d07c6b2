"""plan → apply → plan again, against the local engine, through the CLI as a user runs it."""

import json
import textwrap

import joblib
import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.linear_model import LinearRegression

from deployer.cli import cli

MANIFEST = textwrap.dedent("""\
    version: 1
    database: ML
    schema: DATA_MODEL
    stage: MLOPS_STAGE
    models:
      - name: predict
        framework: sklearn
        artifact: models/model.joblib
        features:
          - {name: FEATURE_1, type: float}
          - {name: FEATURE_2, type: {{ var.type2 | default('float') }}}
        output: {type: float}
        tests:
          - input: {FEATURE_1: 1.0, FEATURE_2: 2}
            expect: {{ var.expect | default(7.0) }}
            tolerance: 0.001
    """)


def fit(coef, path):
    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    model = LinearRegression().fit(x, x @ np.array(coef) + 2.0)
    joblib.dump(model, path)


@pytest.fixture()
def project(tmp_path):
    (tmp_path / "models").mkdir()
    fit([1.0, 2.0], tmp_path / "models" / "model.joblib")  # predict(1, 2) = 1 + 4 + 2 = 7
    (tmp_path / "deploy.yaml").write_text(MANIFEST)
    return tmp_path


def run(project, *args, expect=0):
    result = CliRunner().invoke(cli, [*args[:1], "-f", str(project / "deploy.yaml"), *args[1:]])
    assert result.exit_code == expect, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def plan_json(project, *extra):
    return json.loads(run(project, "plan", "--no-preflight", "--format", "json", *extra).stdout)


def kinds(plan):
    return sorted((c["type"], "/".join(c["actions"])) for c in plan["changes"] if c["actions"] != ["no-op"])


def test_apply_is_idempotent_and_queryable(project):
    first = plan_json(project)
    assert first["format_version"] == "1.0" and first["target"] == "local"
    assert kinds(first) == [("file", "create"), ("function", "create"), ("stage", "create")]
    assert first["summary"] == {"create": 3, "update": 0, "delete": 0}
    assert first["state_fingerprint"].startswith("sha256:")
    function = next(c for c in first["changes"] if c["type"] == "function")
    assert function["name"] == "ML.DATA_MODEL.PREDICT(FLOAT, FLOAT)"
    # A candidate is created and tested beside the live function before the real statement runs.
    assert function["statements"][0].startswith("CREATE OR REPLACE FUNCTION ML.DATA_MODEL.PREDICT__CANDIDATE(")
    assert function["statements"][1].startswith("CREATE OR REPLACE FUNCTION ML.DATA_MODEL.PREDICT(")

    out = run(project, "apply", "--no-preflight", "--auto-approve").stdout
    assert "Apply complete: 3 change(s)." in out and "ok   PREDICT(1.0, 2) = 7.0" in out

    run(project, "plan", "--no-preflight", "--detailed-exitcode")
    again = run(project, "apply", "--no-preflight", "--auto-approve").stdout
    assert "No changes." in again and "Apply complete" not in again

    rows = json.loads(run(project, "sql", "--format", "json", "SELECT predict(3, 1) AS y").stdout)
    assert rows == [{"Y": pytest.approx(7.0)}]


def test_changed_artifact_updates_function_and_keeps_the_old_file_for_rollback(project):
    run(project, "apply", "--no-preflight", "--auto-approve")
    fit([2.0, 2.0], project / "models" / "model.joblib")  # predict(1, 2) = 8
    plan = plan_json(project, "--var", "expect=8.0")
    assert kinds(plan) == [("file", "create"), ("function", "update")]
    update = next(c for c in plan["changes"] if c["actions"] == ["update"])
    assert len(update["reasons"]) == 1
    assert update["reasons"][0].startswith("artifact models/model.joblib changed (sha256 ")
    run(project, "plan", "--no-preflight", "--detailed-exitcode", "--var", "expect=8.0", expect=2)
    run(project, "apply", "--no-preflight", "--auto-approve", "--var", "expect=8.0")
    listing = [r["name"] for r in json.loads(run(project, "sql", "--format", "json", "LIST @MLOPS_STAGE").stdout)]
    # Both versions stay (keep_releases: 3), each with its release record.
    assert len([n for n in listing if n.endswith("model.joblib")]) == 2
    assert len([n for n in listing if "/.releases/" in n]) == 2
    assert kinds(plan_json(project, "--var", "expect=8.0")) == []


def test_signature_change_drops_old_overload(project):
    run(project, "apply", "--no-preflight", "--auto-approve")
    plan = plan_json(project, "--var", "type2=int")
    change = next(c for c in plan["changes"] if c["type"] == "function")
    assert change["actions"] == ["delete", "create"]
    assert change["name"] == "ML.DATA_MODEL.PREDICT(FLOAT, NUMBER)"
    # The new overload is created and tested first; the old one is dropped after.
    assert change["statements"][-1] == "DROP FUNCTION IF EXISTS ML.DATA_MODEL.PREDICT(FLOAT, FLOAT)"
    assert change["reasons"][0].startswith("signature changed from (FLOAT, FLOAT) to (FLOAT, NUMBER)")
    run(project, "apply", "--no-preflight", "--auto-approve", "--var", "type2=int")
    shown = json.loads(run(project, "sql", "--format", "json", "SHOW USER FUNCTIONS IN SCHEMA ML.DATA_MODEL").stdout)
    assert [r["arguments"] for r in shown] == ["PREDICT(FLOAT, NUMBER) RETURN FLOAT"]


def test_destroy_removes_only_what_the_manifest_manages(project):
    run(project, "apply", "--no-preflight", "--auto-approve")
    run(project, "sql", "CREATE FUNCTION ML.DATA_MODEL.OTHER(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON "
        "RUNTIME_VERSION = '3.11' HANDLER = 'f' AS $$\ndef f(x):\n    return x\n$$")
    out = run(project, "destroy", "--auto-approve").stdout
    assert "Destroy complete: 3 object(s) removed." in out  # the function, its file, its release record
    shown = json.loads(run(project, "sql", "--format", "json", "SHOW USER FUNCTIONS IN SCHEMA ML.DATA_MODEL").stdout)
    assert [r["name"] for r in shown] == ["OTHER"]
    assert json.loads(run(project, "sql", "--format", "json", "LIST @MLOPS_STAGE").stdout) == []
    assert "No changes." in run(project, "destroy", "--auto-approve").stdout


def test_unmanaged_function_is_replaced_with_a_reason(project):
    run(project, "sql", "CREATE FUNCTION ML.DATA_MODEL.PREDICT(A FLOAT, B FLOAT) RETURNS FLOAT LANGUAGE PYTHON "
        "RUNTIME_VERSION = '3.11' HANDLER = 'f' AS $$\ndef f(a, b):\n    return a\n$$")
    change = next(c for c in plan_json(project)["changes"] if c["type"] == "function")
    assert change["actions"] == ["update"]
    assert change["reasons"] == ["exists but is not managed by deployer; it will be replaced"]


def test_stale_saved_plan_is_refused(project, tmp_path):
    saved = tmp_path / "plan.json"
    run(project, "plan", "--no-preflight", "--out", str(saved))
    run(project, "sql", "CREATE STAGE ML.DATA_MODEL.MLOPS_STAGE")
    result = run(project, "apply", "--no-preflight", "--plan", str(saved), expect=1)
    assert "plan is stale" in result.stderr
    run(project, "plan", "--no-preflight", "--out", str(saved))
    out = run(project, "apply", "--no-preflight", "--plan", str(saved)).stdout
    assert "Apply complete" in out


def test_apply_refuses_without_confirmation_when_not_a_terminal(project):
    result = run(project, "apply", "--no-preflight", expect=1)
    assert "refusing to apply these changes to target local without confirmation" in result.stderr
    assert kinds(plan_json(project)) == [("file", "create"), ("function", "create"), ("stage", "create")]


def test_failing_smoke_test_fails_apply(project):
    result = run(project, "apply", "--no-preflight", "--auto-approve", "--var", "expect=9.5", expect=1)
    assert "FAIL PREDICT(1.0, 2): expected 9.5 ± 0.001, got 7.0" in result.stdout
    assert "its candidate failed 1 of 1 check(s) on the target, the live function is unchanged" in result.stderr
    shown = json.loads(run(project, "sql", "--format", "json", "SHOW USER FUNCTIONS IN SCHEMA ML.DATA_MODEL").stdout)
    assert shown == []  # never created, and no candidate left behind


def test_plan_formats(project):
    text = run(project, "plan", "--no-preflight").stdout
    assert "+ function ML.DATA_MODEL.PREDICT(FLOAT, FLOAT) will be created" in text
    assert "Plan: 3 to create, 0 to update, 0 to delete." in text
    markdown = run(project, "plan", "--no-preflight", "--format", "markdown").stdout
    assert "| `+` function `ML.DATA_MODEL.PREDICT(FLOAT, FLOAT)` | created | does not exist |" in markdown
    sql = run(project, "plan", "--no-preflight", "--format", "sql").stdout
    assert "CREATE STAGE IF NOT EXISTS ML.DATA_MODEL.MLOPS_STAGE" in sql
    assert "PUT 'file://" in sql and "AUTO_COMPRESS = FALSE" in sql


def test_status_reports_deployment_and_drift(project):
    assert json.loads(run(project, "status", "--format", "json").stdout)[0]["drift"] == ["not deployed"]
    run(project, "apply", "--no-preflight", "--auto-approve")
    (entry,) = json.loads(run(project, "status", "--format", "json").stdout)
    assert entry["deployed"] and entry["drift"] == [] and entry["manifest"] == "deploy.yaml"
    assert entry["artifacts"][0].startswith("@ML.DATA_MODEL.MLOPS_STAGE/PREDICT/")
    run(project, "sql", f"REMOVE {entry['artifacts'][0]}")
    text = run(project, "status").stdout
    assert "DRIFTED" in text and "is missing from the stage" in text


def test_render_prints_sql_and_handler(project):
    out = run(project, "render", "--model", "PREDICT").stdout
    assert "CREATE STAGE IF NOT EXISTS" in out and "CREATE OR REPLACE FUNCTION ML.DATA_MODEL.PREDICT(" in out
    assert "AS $$" in out
    assert "no model named nope" in run(project, "render", "--model", "nope", expect=1).stderr


def test_sql_errors_are_one_line(project):
    result = run(project, "sql", "SELEC 1", expect=1)
    assert result.stderr.count("\n") == 1
