"""Pins go into CREATE FUNCTION: the spec hash follows them and plan says what changed."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import textwrap

import joblib
import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.linear_model import LinearRegression

from deployer import channel
from deployer.cli import cli

HERE = metadata.version("scikit-learn")

MANIFEST = textwrap.dedent("""\
    version: 1
    project: tests/packages
    database: ML
    schema: DATA_MODEL
    stage: MLOPS_STAGE
    targets:
      local: {type: local}
      prod: {type: snowflake, connection: prod}
    models:
      - name: predict
        framework: sklearn
        artifact: models/model.joblib
        features:
          - {name: FEATURE_1, type: float}
          - {name: FEATURE_2, type: float}
        output: {type: float}
        packages: [{{ var.sklearn | default('scikit-learn') }}]
    """)


@pytest.fixture()
def project(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    joblib.dump(LinearRegression().fit(x, x @ np.array([1.0, 2.0])), tmp_path / "models" / "model.joblib")
    (tmp_path / "deploy.yaml").write_text(MANIFEST)
    snapshot = tmp_path / "channel.json"  # a channel that offers this Python's scikit-learn too
    offered = {"scikit-learn": ["1.5.1", "1.5.2", HERE], "joblib": ["1.4.2"], "pandas": ["2.2.3"]}
    snapshot.write_text(channel.snapshot_text("2026-01-01", "test", {"3.11": offered}))
    monkeypatch.setenv("DEPLOYER_CHANNEL_SNAPSHOT", str(snapshot))
    return tmp_path


def run(project, *args, expect=0):
    result = CliRunner().invoke(cli, [*args[:1], "-f", str(project / "deploy.yaml"), *args[1:]])
    assert result.exit_code == expect, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def function_change(plan: dict) -> dict:
    (change,) = [c for c in plan["changes"] if c["type"] == "function"]
    return change


def test_pins_change_the_spec_and_the_plan_says_why(project):
    # The artifact was written by this scikit-learn and the channel offers it: pinned exactly.
    first = json.loads(run(project, "plan", "--no-preflight", "--format", "json").stdout)
    assert f"'scikit-learn=={HERE}'" in function_change(first)["statements"][0]
    assert first["packages"]["PREDICT"]["written_by"] == {"models/model.joblib": {"scikit-learn": HERE}}
    run(project, "apply", "--no-preflight", "--auto-approve")  # the engine does not check this virtualenv

    for old, new in (("1.5.1", "1.5.2"), ("1.5.2", "1.5.1")):
        run(project, "apply", "--no-preflight", "--auto-approve", "--var", f"sklearn=scikit-learn=={old}")
        plan = json.loads(run(project, "plan", "--no-preflight", "--format", "json",
                              "--var", f"sklearn=scikit-learn=={new}").stdout)
        change = function_change(plan)
        assert change["actions"] == ["update"]
        assert change["reasons"] == [f"packages scikit-learn {old} -> {new}"]
        # the manifest's pin wins over the writer's version, with a warning naming both
        assert plan["warnings"] == [f"PREDICT: scikit-learn: models/model.joblib was written by scikit-learn "
                                    f"{HERE}; the manifest's scikit-learn=={new} excludes it, pinned {new} "
                                    "(the closest with the same major version)"]
    text = run(project, "plan", "--no-preflight", "--var", "sklearn=scikit-learn==1.5.2").stdout  # as applied last
    assert "No changes." in text and f"models/model.joblib written by scikit-learn {HERE}" in text
    assert "Warning: PREDICT: scikit-learn:" in text


def test_a_version_the_target_does_not_offer_fails_the_plan_naming_it(project):
    result = run(project, "plan", "--no-preflight", "--var", "sklearn=scikit-learn==1.4.2", expect=1)
    assert result.stderr.startswith("error: deploy.yaml: models[0]: packages of PREDICT: scikit-learn==1.4.2: "
                                    "the snapshot of Snowflake's channel taken 2026-01-01 (Python 3.11) offers "
                                    f"no matching version (it offers 1.5.1, 1.5.2, {HERE})")
    assert "SQL compilation error" not in result.stderr


def test_render_and_status_show_the_writers(project):
    rendered = run(project, "render")
    assert f"-- PREDICT (Python 3.11, resolved against the snapshot of Snowflake's channel taken 2026-01-01): " \
           f"joblib==1.4.2, pandas==2.2.3, scikit-learn=={HERE}" in rendered.stdout
    assert f"--     models/model.joblib written by scikit-learn {HERE}" in rendered.stdout
    run(project, "apply", "--no-preflight", "--auto-approve")
    status = run(project, "status").stdout
    assert f"packages joblib==1.4.2, pandas==2.2.3, scikit-learn=={HERE}" in status
    assert "in sync" in status


def test_refresh_reads_a_snowflake_target_only(project):
    result = CliRunner().invoke(cli, ["packages", "refresh", "-f", str(project / "deploy.yaml")])
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "target local is local: it answers from the snapshot itself" in result.stderr


def test_refresh_rewrites_the_snapshot_from_information_schema(tmp_path):
    """The same query against the local engine's view (a Snowflake account answers alike)."""
    from deployer.engine import LocalSession

    out = tmp_path / "refreshed.json"
    with LocalSession(tmp_path / "engine") as session:
        snapshot = channel.refresh(session, ["scikit-learn", "tensorflow"], "target t", out)
    assert snapshot.source == "target t" and snapshot.path == out
    shipped = channel.load_snapshot()
    for runtime, packages in snapshot.runtimes.items():
        assert set(packages) <= {"scikit-learn", "tensorflow"}
        assert packages["scikit-learn"] == shipped.runtimes[runtime]["scikit-learn"]


def test_artifacts_written_by_two_versions_warn_and_pin_the_models(project):
    import pickle

    (project / "models" / "old.ct").write_bytes(pickle.dumps({"_sklearn_version": "1.5.1", "mean_": [0.0]}))
    manifest = (project / "deploy.yaml").read_text().replace(
        "    artifact: models/model.joblib\n",
        "    artifact: models/model.joblib\n    preprocess: [{artifact: models/old.ct}]\n")
    assert "preprocess" in manifest
    (project / "deploy.yaml").write_text(manifest)
    plan = json.loads(run(project, "plan", "--no-preflight", "--format", "json").stdout)
    assert f"'scikit-learn=={HERE}'" in function_change(plan)["statements"][0]
    assert plan["warnings"] == [f"PREDICT: artifacts written by different versions: scikit-learn: model.joblib "
                                f"was written by {HERE}, old.ct by 1.5.1; pinning for the first"]


class FakeAccount:
    """A Snowflake account as the session interface sees it: INFORMATION_SCHEMA.PACKAGES only."""

    def __init__(self, rows):
        self.rows, self.queries = rows, []

    def run(self, sql):
        import re

        from deployer.session import Result

        self.queries.append(sql)
        runtime = re.search(r"RUNTIME_VERSION = '([^']+)'", sql).group(1)
        names = set(re.findall(r"'([^']+)'", sql.split(" IN (", 1)[1]))
        return Result(("PACKAGE_NAME", "VERSION"),
                      tuple((n, v) for n, v, rt in self.rows if rt == runtime and n in names))


def test_a_snowflake_target_is_asked_once_for_every_package(project):
    from dataclasses import replace

    from deployer import pins
    from deployer.manifest.load import load_manifest
    from deployer.workflow import render_all

    state = load_manifest(project / "deploy.yaml", target="prod")
    two = replace(state, models=(state.models[0], replace(state.models[0], name="OTHER", packages=("xgboost",))))
    account = FakeAccount([("scikit-learn", "1.5.2", "3.11"), ("scikit-learn", HERE, "3.11"),
                           ("pandas", "2.2.3", "3.11"), ("joblib", "1.4.2", "3.11"), ("xgboost", "2.1.1", "3.11"),
                           ("scikit-learn", "9.9.9", "3.12")])
    resolution = pins.resolve_state(two, account)
    render_all(two, session=account)  # cached on the session: no second query
    assert len(account.queries) == 1
    assert "PACKAGE_NAME IN ('joblib', 'pandas', 'scikit-learn', 'xgboost')" in account.queries[0]
    assert resolution.pins("OTHER") == ("joblib==1.4.2", "pandas==2.2.3", f"scikit-learn=={HERE}", "xgboost==2.1.1")
    assert resolution.models["PREDICT"].source == "target prod (its INFORMATION_SCHEMA.PACKAGES)"


def test_mlflow_python_version_other_than_the_runtime_warns(tmp_path, monkeypatch):
    from deployer import pins
    from deployer.desired import Feature, Model
    from tests.codegen.conftest import make_state

    folder = tmp_path / "mlflow_model"
    folder.mkdir()
    x = np.array([[0, 0], [1, 0]], dtype=float)
    joblib.dump(LinearRegression().fit(x, x[:, 0]), folder / "model.pkl")
    (folder / "python_env.yaml").write_text("python: 3.10.12\nbuild_dependencies: [pip]\n")
    model = Model(name="M", framework="sklearn", artifact=folder / "model.pkl",
                  features=(Feature("A", "float"), Feature("B", "float")), output_type="float")
    resolution = pins.resolve_state(make_state(tmp_path, model))
    assert ("M: mlflow_model/model.pkl was written with Python 3.10.12; the function runs Python 3.11"
            in resolution.warnings)
