"""The Snowflake target end to end with the real connector and Snowpark, against the local
engine served over Snowflake's protocol (deployer.server), started and stopped here."""

import json

import pytest

from tests.cycle import Project, run_cycle
from tests.snowserver import snow_server

pytestmark = pytest.mark.slow


@pytest.fixture()
def served(tmp_path):
    with snow_server(tmp_path / "account", database="ML", schema="DATA_MODEL") as served:
        yield served


def test_the_whole_cycle_through_the_real_client(tmp_path, served):
    home = served.write_connections(tmp_path / "sfhome", "served", warehouse="LOCAL_WH")
    project = Project.create(tmp_path / "project", home, "served", "ML", "DATA_MODEL")
    logs = run_cycle(project, "ML.DATA_MODEL")

    # The statement log is complete: one record per statement, every field present.
    first = logs["apply1"]
    keys = {"time", "target", "command", "statement", "duration_ms", "rows", "query_id", "error"}
    assert first and all(set(r) == keys for r in first)
    assert all(r["target"] == "sf" and r["command"] == "apply" and r["error"] is None for r in first)
    assert all(r["query_id"] for r in first)  # the server gives each statement a query id
    puts = [r["statement"] for r in first if r["statement"].startswith("PUT ")]
    assert len(puts) == 2 and "'file://models/model.joblib'" in puts[0]  # relative to the manifest
    assert "/.releases/" in puts[1]  # the release record, written once the candidate passed
    # The candidate, then the real function.
    creates = [r["statement"] for r in first if r["statement"].startswith("CREATE OR REPLACE FUNCTION")]
    assert len(creates) == 2 and "PREDICT__CANDIDATE(" in creates[0] and "PREDICT(" in creates[1]

    # Reads are SHOW STAGES, LIST and SHOW USER FUNCTIONS: no DESCRIBE without --refresh.
    reads = [r["statement"].split()[0:2] for r in logs["apply2"]]
    assert not any(r[0] == "DESCRIBE" for r in reads), reads

    # Every statement of an apply carries the query tag; after planning it names the plan.
    history = [h for h in served.server.app.history if h["query_text"] in {r["statement"] for r in first}
               or h["query_text"].startswith("PUT ")]
    tags = [json.loads(h["query_tag"]) for h in history if h["query_tag"]]
    assert len(tags) == len(history) and all(t["tool"] == "deployer" and t["target"] == "sf" for t in tags)
    assert {t["command"] for t in tags} >= {"apply"}
    creates = [json.loads(h["query_tag"]) for h in history if h["query_text"].startswith("CREATE OR REPLACE FUNCTION")]
    assert creates and all(t["plan"].startswith("sha256:") for t in creates)


def test_connection_failure_is_one_clear_line_without_secrets(tmp_path, served):
    home = served.write_connections(tmp_path / "sfhome", "served", port=1, password="s3cret-pass-word",
                                    private_key_file_pwd="key-pass-phrase")
    project = Project.create(tmp_path / "project", home, "served", "ML", "DATA_MODEL")
    failed = project.cli("plan", "--no-preflight", expect=1)
    text = failed.stdout + failed.stderr
    assert "cannot connect with Snowflake connection 'served'" in text and "Check " in text
    assert len(failed.stderr.strip().splitlines()) == 1
    assert "s3cret-pass-word" not in text and "key-pass-phrase" not in text


def test_a_missing_schema_fails_before_anything_is_written(tmp_path, served):
    home = served.write_connections(tmp_path / "sfhome", "served", warehouse="LOCAL_WH")
    project = Project.create(tmp_path / "project", home, "served", "ML", "NOPE")
    failed = project.cli("apply", "--auto-approve", "--no-preflight", expect=1)
    assert "schema ML.NOPE does not exist or the role cannot use it" in failed.stderr
    assert [r["name"] for r in served.server.engine.run("SHOW STAGES IN DATABASE ML").dicts()] == []


def test_no_warehouse_fails_before_anything_is_written(tmp_path, served):
    home = served.write_connections(tmp_path / "sfhome", "served")
    project = Project.create(tmp_path / "project", home, "served", "ML", "DATA_MODEL")
    failed = project.cli("apply", "--auto-approve", "--no-preflight", expect=1)
    assert "has no warehouse, and the smoke tests need one" in failed.stderr
    assert served.server.engine.run("SHOW USER FUNCTIONS IN SCHEMA ML.DATA_MODEL").rows == ()
