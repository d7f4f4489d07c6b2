"""Table functions (`function: table`): a 3-class scikit-learn classifier returning its label and
probabilities as RETURNS TABLE (...), beside the same outputs as one OBJECT, through the local
engine and the whole plan/apply/status/destroy workflow."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from deployer.cli import cli
from deployer.codegen import render_function
from deployer.errors import SQLError
from deployer.manifest.load import load_manifest

from .conftest import deployed, table_sql, write_manifest

COLUMNS = """
    columns:
      - {name: label, type: string}
      - {name: proba_high, type: float, method: predict_proba, class: high}
      - {name: proba_low, type: float, method: predict_proba, class: low}
      - {name: proba_mid, type: float, method: predict_proba, class: mid}
"""


def model(name: str, table: bool, columns: str = COLUMNS, tests: str = "") -> str:
    return (f"- name: {name}\n  framework: sklearn\n  artifact: clf.joblib\n"
            + ("  function: table\n" if table else "")
            + "  features:\n    - {name: sqft, type: float}\n    - {name: rooms, type: int}\n"
              "    - {name: city, type: string}\n"
            + "  output:\n" + columns.strip("\n") + "\n" + tests)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, data):
    x, _, label = data
    root = tmp_path_factory.mktemp("table")
    pipe = make_pipeline(
        ColumnTransformer([("city", OneHotEncoder(), ["city"]), ("num", StandardScaler(), ["sqft", "rooms"])]),
        LogisticRegression(max_iter=500),
    ).fit(x, label)
    joblib.dump(pipe, root / "clf.joblib")
    return root, pipe


@pytest.fixture(scope="module")
def both(classifier, data):
    """PREDICT (OBJECT) and PREDICT_ALL (table) deployed side by side, with the table T."""
    root, pipe = classifier
    with deployed(root, model("predict", False) + model("predict_all", True)) as d:
        d.session.run(table_sql(data[0]))
        yield d, pipe


def test_codegen_writes_a_vectorized_table_function(classifier):
    root, _ = classifier
    state = load_manifest(write_manifest(root, model("predict_all", True)))
    rendered = render_function(state, state.models[0], git_commit=None)
    assert ("RETURNS TABLE (LABEL VARCHAR, PROBA_HIGH FLOAT, PROBA_LOW FLOAT, PROBA_MID FLOAT)\n"
            in rendered.sql)
    assert "HANDLER = 'Handler'" in rendered.sql
    assert "class Handler:" in rendered.handler and "def process(self, df):" in rendered.handler
    assert "@_snowflake.vectorized(input=pd.DataFrame)\n    def process" in rendered.handler
    header = rendered.handler.split("import os")[0]
    assert "Handler.process()" in header and "predict()" not in header


def test_table_and_object_agree_with_the_model(both, data):
    d, pipe = both
    x = data[0]
    result = d.session.run('SELECT * FROM T, TABLE(predict_all(T."sqft", T."rooms", T."city")) ORDER BY ID')
    # Snowflake's shape: the input columns, then the function's, upper-cased.
    assert result.columns == ("ID", "sqft", "rooms", "city", "LABEL", "PROBA_HIGH", "PROBA_LOW", "PROBA_MID")
    rows = result.rows
    proba = pipe.predict_proba(x)
    assert len(rows) == len(x)
    assert [r[4] for r in rows] == pipe.predict(x).tolist()
    order = [list(pipe.classes_).index(c) for c in ("high", "low", "mid")]
    np.testing.assert_allclose([r[5:8] for r in rows], proba[:, order], atol=1e-12)
    objects = d.query(f'SELECT {d.name()}("sqft", "rooms", "city") FROM T ORDER BY ID')
    for (obj,), row in zip(objects, rows):
        assert json.loads(obj) == pytest.approx(dict(zip(["label", "proba_high", "proba_low", "proba_mid"], row[4:])))


def test_lateral_call_shapes(both, data):
    d, pipe = both
    x = data[0]
    picked = d.session.run('SELECT t.id, p.label FROM T t, TABLE(predict_all(t."sqft", t."rooms", t."city")) p '
                           'ORDER BY t.id')
    assert picked.columns == ("ID", "LABEL") and [r[1] for r in picked.rows] == pipe.predict(x).tolist()
    one = d.session.run("SELECT * FROM TABLE(predict_all(120.0, 3, 'paris'))")
    assert one.columns == ("LABEL", "PROBA_HIGH", "PROBA_LOW", "PROBA_MID") and len(one.rows) == 1
    import pandas as pd
    assert one.rows[0][0] == pipe.predict(pd.DataFrame({"sqft": [120.0], "rooms": [3], "city": ["paris"]}))[0]
    # A NULL feature: still one row, all NULL (one output row per input row).
    null = d.query("SELECT * FROM TABLE(predict_all(NULL, 3, 'paris'))")
    assert list(null) == [(None, None, None, None)]
    with pytest.raises(SQLError, match="PREDICT_ALL is a table function; call it in FROM"):
        d.query("SELECT predict_all(1.0, 2, 'paris')")
    with pytest.raises(SQLError, match="PREDICT is not a table function"):
        d.query("SELECT * FROM TABLE(predict(1.0, 2, 'paris'))")


def test_show_and_describe_in_snowflakes_shape(both):
    d, _ = both
    shown = {r["name"]: r for r in d.session.run("SHOW USER FUNCTIONS IN SCHEMA ML.DATA_MODEL").dicts()}
    table = shown["PREDICT_ALL"]
    assert table["arguments"] == ("PREDICT_ALL(FLOAT, NUMBER, VARCHAR) RETURN TABLE "
                                  "(LABEL VARCHAR, PROBA_HIGH FLOAT, PROBA_LOW FLOAT, PROBA_MID FLOAT)")
    assert table["is_table_function"] == "Y" and shown["PREDICT"]["is_table_function"] == "N"
    described = dict(d.query("DESCRIBE FUNCTION ML.DATA_MODEL.PREDICT_ALL(FLOAT, NUMBER, VARCHAR)"))
    assert described["returns"] == "TABLE (LABEL VARCHAR, PROBA_HIGH FLOAT, PROBA_LOW FLOAT, PROBA_MID FLOAT)"
    assert described["handler"] == "Handler"


def run(manifest, *args, expect=0):
    result = CliRunner().invoke(cli, [args[0], "-f", str(manifest), *args[1:]])
    assert result.exit_code == expect, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_apply_twice_is_a_no_op_and_a_changed_column_recreates_it(classifier, data, tmp_path):
    root, pipe = classifier
    (tmp_path / "clf.joblib").write_bytes((root / "clf.joblib").read_bytes())
    x, _, label = data
    row = x.iloc[0]
    probability = float(pipe.predict_proba(x.iloc[:1])[0, list(pipe.classes_).index("high")])
    tests = (f"  tests:\n    - input: {{sqft: {row.sqft}, rooms: {row.rooms}, city: {row.city}}}\n"
             f"      expect: {{label: {label[0]}, proba_high: {probability}}}\n      tolerance: 0.000001\n")
    path = write_manifest(tmp_path, model("predict_all", True, tests=tests))
    applied = run(path, "apply", "--auto-approve", "--no-preflight", "--no-isolated-env")  # tested on the target
    assert "PREDICT_ALL" in applied.stdout
    run(path, "plan", "--no-preflight", "--no-isolated-env", "--detailed-exitcode")
    status = json.loads(run(path, "status", "--format", "json").stdout)
    assert "PREDICT_ALL" in json.dumps(status)
    # One column changed: the function is re-created, and the plan says why.
    path.write_text(path.read_text().replace("name: proba_mid, type: float", "name: proba_mid, type: 'number(10,3)'"))
    planned = json.loads(run(path, "plan", "--no-preflight", "--no-isolated-env", "--format", "json").stdout)
    change = next(c for c in planned["changes"] if c["type"] == "function")
    assert change["actions"] == ["update"]
    assert any("PROBA_MID FLOAT" in r and "PROBA_MID NUMBER(10,3)" in r for r in change["reasons"]), change
    run(path, "apply", "--auto-approve", "--no-preflight", "--no-isolated-env")
    rows = json.loads(run(path, "sql", "--format", "json",
                          "SELECT * FROM TABLE(predict_all(120.0, 3, 'paris'))").stdout)
    assert list(rows[0]) == ["LABEL", "PROBA_HIGH", "PROBA_LOW", "PROBA_MID"]
    assert rows[0]["PROBA_MID"] == pytest.approx(rows[0]["PROBA_MID"], abs=5e-4)
    run(path, "destroy", "--auto-approve")
    shown = json.loads(run(path, "sql", "--format", "json", "SHOW USER FUNCTIONS IN SCHEMA ML.DATA_MODEL").stdout)
    assert shown == []


def test_a_failing_table_smoke_test_names_the_column(classifier, tmp_path):
    root, _ = classifier
    (tmp_path / "clf.joblib").write_bytes((root / "clf.joblib").read_bytes())
    tests = "  tests:\n    - input: {sqft: 120.0, rooms: 3, city: paris}\n      expect: {label: nope}\n"
    path = write_manifest(tmp_path, model("predict_all", True, tests=tests))
    failed = run(path, "validate", "--no-isolated-env", expect=1)
    assert "label: expected 'nope'" in failed.stderr


@pytest.mark.parametrize("function, columns, expected", [
    ("table", "{type: string}", "models[0].function: function: table needs output.columns"),
    ("table", "{columns: [{name: 'proba yes', type: float}]}",
     "models[0].output.columns[0].name: a table column needs a Snowflake identifier"),
    ("table", "{columns: [{name: p, type: float}, {name: P, type: float}]}",
     "'P' and 'p' are both the column P"),
    ("tabel", "{columns: [{name: p, type: float}]}", "models[0].function: 'tabel' is not one of 'scalar', 'table'"),
])
def test_bad_table_manifests_are_one_clear_located_error(tmp_path, function, columns, expected):
    (tmp_path / "clf.joblib").write_bytes(b"not read: the manifest fails first")
    text = ("- name: predict_all\n  framework: sklearn\n  artifact: clf.joblib\n"
            f"  function: {function}\n  features: [{{name: a, type: float}}]\n  output: {columns}\n")
    failed = run(write_manifest(tmp_path, text), "validate", "--no-preflight", expect=1)
    assert expected in failed.stderr
    assert failed.stderr.startswith("error: ") and "deploy.yaml:" in failed.stderr


def test_show_arguments_of_a_table_function_are_read_back():
    from deployer.live import parse_arguments

    assert parse_arguments("PREDICT_ALL(FLOAT, NUMBER(38,0)) RETURN TABLE (LABEL VARCHAR, PROBA_YES FLOAT)") == (
        "PREDICT_ALL", ("FLOAT", "NUMBER"), "TABLE (LABEL VARCHAR, PROBA_YES FLOAT)")


def test_the_handler_keeps_column_types_with_nulls(classifier, data, tmp_path):
    """In process, as Snowflake calls it: input columns named by the SQL arguments, one row out
    per row in, a NULL feature a row of typed NULLs (nullable dtypes, not objects)."""
    from deployer.codegen.inprocess import load_handler, stage_locally

    root, pipe = classifier
    state = load_manifest(write_manifest(root, model("predict_all", True)))
    rendered = render_function(state, state.models[0], git_commit=None)
    cls = load_handler(rendered.handler, stage_locally(rendered.files, tmp_path / "import"), "Handler")
    x = data[0].iloc[:4].copy()
    batch = x.set_axis(["SQFT", "ROOMS", "CITY"], axis=1).astype({"SQFT": object})
    batch.loc[1, "SQFT"] = None
    out = cls().process(batch)
    assert list(out.columns) == ["LABEL", "PROBA_HIGH", "PROBA_LOW", "PROBA_MID"] and len(out) == 4
    assert str(out["PROBA_HIGH"].dtype) == "Float64" and out["PROBA_HIGH"].isna().tolist() == [False, True, False, False]
    assert str(out["LABEL"].dtype) == "string" and out["LABEL"].isna().tolist() == [False, True, False, False]
    assert out["LABEL"].tolist()[2:] == pipe.predict(x.iloc[2:]).tolist()
