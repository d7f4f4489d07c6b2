"""`deployer logs` through the Snowflake target: the real connector against the served engine.

The function is created straight in the engine (no apply: this is about reading logs), called
once so its handler logs, then read back with the CLI the way a user on Snowflake would.
"""

import json
import textwrap

import pytest
from click.testing import CliRunner

from deployer.cli import cli

pytest.importorskip("snowflake.snowpark")

MANIFEST = textwrap.dedent("""\
    version: 1
    project: tests/logs
    database: ML
    schema: DATA_MODEL
    stage: MLOPS_STAGE
    targets:
      served: {type: snowflake, connection: local}
    default_target: served
    models:
      - name: predict_price  # an underscore: a LIKE wildcard, matched literally here
        framework: sklearn
        artifact: model.joblib
        features: [{name: FEATURE_1, type: float}, {name: FEATURE_2, type: float}]
        output: {type: float}
    """)

HANDLER = """
import logging
log = logging.getLogger("scoring")
def f(a, b):
    log.warning("scoring %s", a + b)
    log.debug("below LOG_LEVEL")
    return a + b
"""


def test_logs_reads_the_accounts_event_table_through_the_connector(served, home, tmp_path):
    engine = served.server.engine
    engine.run("CREATE SCHEMA IF NOT EXISTS ML.DATA_MODEL")
    engine.run("CREATE OR REPLACE FUNCTION ML.DATA_MODEL.PREDICT_PRICE(FEATURE_1 FLOAT, FEATURE_2 FLOAT) RETURNS FLOAT "
               "LANGUAGE PYTHON RUNTIME_VERSION = '3.11' LOG_LEVEL = 'INFO' HANDLER = 'f' "
               f"AS $${HANDLER}$$")
    engine.run("SELECT ML.DATA_MODEL.PREDICT_PRICE(1, 2)")
    # Neither a name the underscore would match as a LIKE wildcard, nor the candidate, is read.
    for other in ("PREDICTXPRICE", "PREDICT_PRICE__CANDIDATE"):
        engine.run(f"CREATE OR REPLACE FUNCTION ML.DATA_MODEL.{other}(A FLOAT, B FLOAT) RETURNS FLOAT "
                   f"LANGUAGE PYTHON RUNTIME_VERSION = '3.11' LOG_LEVEL = 'INFO' HANDLER = 'f' AS $${HANDLER}$$")
        engine.run(f"SELECT ML.DATA_MODEL.{other}(5, 5)")
    (tmp_path / "model.joblib").write_bytes(b"not read by logs")
    (tmp_path / "deploy.yaml").write_text(MANIFEST)
    log_sql = tmp_path / "statements.jsonl"

    result = CliRunner().invoke(cli, ["logs", "predict_price", "-f", str(tmp_path / "deploy.yaml"), "--format", "json",
                                      "--log-sql", str(log_sql)])
    assert result.exit_code == 0, result.stdout + result.stderr
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["severity"] == "WARN" and record["message"] == "scoring 3.0"
    assert record["function"] == "PREDICT_PRICE(FEATURE_1 FLOAT, FEATURE_2 FLOAT):FLOAT"
    sent = [json.loads(line)["statement"] for line in log_sql.read_text().splitlines()]
    assert "SHOW PARAMETERS LIKE 'EVENT_TABLE' IN ACCOUNT" in sent
    assert any(s.startswith("SELECT TIMESTAMP") and "FROM SNOWFLAKE.TELEMETRY.EVENTS" in s for s in sent)

    text = CliRunner().invoke(cli, ["logs", "-f", str(tmp_path / "deploy.yaml"), "--level", "error"])
    assert text.exit_code == 0 and text.stdout == ""
