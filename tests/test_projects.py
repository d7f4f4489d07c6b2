"""Two projects on one schema: each changes only what it owns; declaring the same function is a conflict."""

from __future__ import annotations

import json
import textwrap

import joblib
import numpy as np
from click.testing import CliRunner
from sklearn.linear_model import LinearRegression

from deployer.cli import cli


def project(folder, model: str, project_line: str = ""):
    (folder / "models").mkdir(parents=True)
    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    joblib.dump(LinearRegression().fit(x, x @ np.array([1.0, 2.0])), folder / "models" / "m.joblib")
    (folder / "deploy.yaml").write_text(textwrap.dedent(f"""\
        version: 1
        {project_line}
        database: ML
        schema: SHARED
        stage: MODELS
        targets:
          local: {{type: local, path: ../engine}}
        models:
          - name: {{{{ var.model | default('{model}') }}}}
            framework: sklearn
            artifact: models/m.joblib
            features: [{{name: A, type: float}}, {{name: B, type: float}}]
            output: {{type: float}}
        """))
    return folder / "deploy.yaml"


def run(manifest, *args, expect=0):
    result = CliRunner().invoke(cli, [args[0], "-f", str(manifest), *args[1:]])
    assert result.exit_code == expect, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_two_manifests_named_deploy_yaml_never_prune_each_other(tmp_path):
    alpha = project(tmp_path / "alpha", "alpha")
    beta = project(tmp_path / "beta", "beta")
    run(alpha, "apply", "--no-preflight", "--auto-approve")
    run(beta, "apply", "--no-preflight", "--auto-approve")
    # Each sees the other's function and files and plans nothing about them.
    run(alpha, "plan", "--no-preflight", "--detailed-exitcode")
    run(beta, "plan", "--no-preflight", "--detailed-exitcode")
    run(alpha, "destroy", "--auto-approve")
    shown = json.loads(run(beta, "sql", "--format", "json", "SHOW USER FUNCTIONS IN SCHEMA ML.SHARED").stdout)
    assert [r["name"] for r in shown] == ["BETA"]
    files = json.loads(run(beta, "sql", "--format", "json", "LIST @ML.SHARED.MODELS").stdout)
    assert files and all(f["name"].startswith("models/BETA/") for f in files)


def test_two_projects_declaring_one_function_is_a_conflict_naming_both(tmp_path):
    alpha = project(tmp_path / "alpha", "shared_fn", "project: team/alpha")
    beta = project(tmp_path / "beta", "other", "project: team/beta")
    run(alpha, "apply", "--no-preflight", "--auto-approve")
    failed = run(beta, "plan", "--no-preflight", "--var", "model=shared_fn", expect=1)
    assert ("ML.SHARED.SHARED_FN(FLOAT, FLOAT) belongs to project 'team/alpha'" in failed.stderr
            and "project 'team/beta' declares it too" in failed.stderr)
    assert len(failed.stderr.strip().splitlines()) == 1


def test_a_snowflake_target_needs_a_project(tmp_path):
    manifest = project(tmp_path / "p", "m")
    manifest.write_text(manifest.read_text().replace("local: {type: local, path: ../engine}",
                                                     "prod: {type: snowflake, connection: prod}"))
    failed = run(manifest, "validate", "--no-preflight", "-t", "prod", expect=1)
    assert "the manifest needs a `project:`" in failed.stderr
