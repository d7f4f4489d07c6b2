"""Snowpark against the served engine, and the product's own Snowflake target end to end."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from tests.snowserver import snow_server, snowflake_home

snowpark = pytest.importorskip("snowflake.snowpark")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def session(home):
    s = snowpark.Session.builder.config("connection_name", "local").create()
    yield s
    s.close()


def test_snowpark_dataframes_schema_and_query_tag(session, tmp_path):
    assert session.get_current_database() == '"ML"'
    session.sql("CREATE TABLE houses (feature_1 FLOAT, rooms INT, city VARCHAR)").collect()
    session.sql("INSERT INTO houses VALUES (1.5, 3, 'a'), (2.5, 4, 'b')").collect()
    frame = session.table("houses")
    assert [(f.name, type(f.datatype).__name__) for f in frame.schema.fields] == [
        ("FEATURE_1", "DoubleType"), ("ROOMS", "LongType"), ("CITY", "StringType")]
    assert frame.filter(frame["ROOMS"] > 3).select("CITY").collect()[0]["CITY"] == "b"
    session.query_tag = "deployer-test"
    assert session.sql("SHOW PARAMETERS LIKE 'QUERY_TAG'").collect()[0]["value"] == "deployer-test"


def test_snowpark_file_put_and_get(session, tmp_path):
    source = tmp_path / "scaler.ct"
    source.write_bytes(b"scaler" * 10)
    session.sql("CREATE STAGE st").collect()
    put = session.file.put(str(source), "@st/models", auto_compress=False, overwrite=True)
    assert [(r.target, r.status) for r in put] == [("scaler.ct", "UPLOADED")]
    out = tmp_path / "back"
    out.mkdir()
    got = session.file.get("@st/models", str(out))
    assert [(r.file, r.status) for r in got] == [("scaler.ct", "DOWNLOADED")]
    assert (out / "scaler.ct").read_bytes() == source.read_bytes()


MANIFEST = textwrap.dedent("""\
    version: 1
    project: tests/served
    database: ML
    schema: DATA_MODEL
    stage: MLOPS_STAGE
    targets:
      served: {type: snowflake, connection: served}
    default_target: served
    models:
      - name: predict
        framework: sklearn
        artifact: models/model.joblib
        features:
          - {name: FEATURE_1, type: float}
          - {name: FEATURE_2, type: float}
        output: {type: float}
        tests:
          - input: {FEATURE_1: 1.0, FEATURE_2: 2.0}
            expect: 7.0
            tolerance: 0.001
    """)


def test_apply_through_the_snowflake_target_then_call_from_snowpark(tmp_path):
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    joblib.dump(LinearRegression().fit(x, x @ np.array([1.0, 2.0]) + 2.0), project / "models" / "model.joblib")
    (project / "deploy.yaml").write_text(MANIFEST)
    with snow_server(tmp_path / "account", database="ML", schema="DATA_MODEL") as served:
        home = served.write_connections(tmp_path / "sfhome", "served", warehouse="LOCAL_WH")
        env = {**os.environ, "SNOWFLAKE_HOME": str(home), "PYTHONPATH": str(ROOT)}
        apply = subprocess.run([sys.executable, "-m", "deployer.cli", "apply", "--auto-approve", "--no-preflight",
                                "-f", str(project / "deploy.yaml")], env=env, capture_output=True, text=True,
                               timeout=300)
        assert apply.returncode == 0, apply.stdout + apply.stderr
        assert "ok   PREDICT(1.0, 2.0) = 7.0" in apply.stdout  # the smoke test ran on the served engine
        again = subprocess.run([sys.executable, "-m", "deployer.cli", "plan", "--no-preflight", "--detailed-exitcode",
                                "-f", str(project / "deploy.yaml")], env=env, capture_output=True, text=True,
                               timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr  # the second run changes nothing
        with snowflake_home(home):
            from snowflake.snowpark.functions import call_function, col

            session = snowpark.Session.builder.config("connection_name", "served").create()
            try:
                session.sql("CREATE TABLE houses (f1 FLOAT, f2 FLOAT)").collect()
                session.sql("INSERT INTO houses VALUES (1.0, 2.0), (0.0, 0.0)").collect()
                rows = session.table("houses").select(
                    col("F1"), call_function("ML.DATA_MODEL.PREDICT", col("F1"), col("F2")).alias("P")
                ).sort(col("F1")).collect()
            finally:
                session.close()
    assert [r["P"] for r in rows] == pytest.approx([2.0, 7.0])
