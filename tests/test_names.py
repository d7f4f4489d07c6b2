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


def test_a_model_class_shipped_in_imports_is_not_a_missing_package(tmp_path):
    """The pickled estimator's class lives in a .py listed in imports: preflight finds it there."""
    import subprocess
    import sys

    (tmp_path / "models").mkdir()
    (tmp_path / "custom_model.py").write_text(
        "class Doubler:\n    def predict(self, x):\n        return (x.iloc[:, 0] + x.iloc[:, 1]) * 2\n")
    subprocess.run([sys.executable, "-c", "import joblib, custom_model; "
                    "joblib.dump(custom_model.Doubler(), 'models/m.joblib')"], cwd=tmp_path, check=True)
    (tmp_path / "deploy.yaml").write_text(
        "version: 1\ndatabase: ML\nschema: S\nstage: ST\nmodels:\n"
        "  - name: m\n    framework: sklearn\n    artifact: models/m.joblib\n    imports: [custom_model.py]\n"
        "    features: [{name: A, type: float}, {name: B, type: float}]\n    output: {type: float}\n"
        "    tests: [{input: {A: 1, B: 2}, expect: 6.0}]\n")
    out = run(tmp_path / "deploy.yaml", "validate", "--no-isolated-env").stdout
    assert "valid" in out
    assert "custom_model" not in __import__("sys").modules  # nothing of the user's left in this process
