"""Names as Snowflake resolves them, end to end on the local target."""

import json

from tests.test_rollout import query, run, write


def test_a_quoted_lower_case_function_name_is_callable(tmp_path):
    manifest = write(tmp_path, "m")
    manifest.write_text(manifest.read_text().replace("- name: m\n", "- name: '\"predict\"'\n"))
    out = run(manifest, "apply", "--no-preflight", "--auto-approve").stdout
    assert 'ok   predict(1.0, 2.0) = 7.0' in out
    assert query(manifest, 'SELECT ML.DATA_MODEL."predict"(1, 2) AS Y') == [{"Y": 7.0}]
    assert query(manifest, 'SELECT "predict"(1, 2) AS Y') == [{"Y": 7.0}]
    run(manifest, "plan", "--no-preflight", "--detailed-exitcode")
    shown = json.loads(run(manifest, "sql", "--format", "json", "SHOW USER FUNCTIONS IN SCHEMA ML.DATA_MODEL").stdout)
    assert [r["name"] for r in shown] == ["predict"]
