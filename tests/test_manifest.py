"""Loading, rendering and normalising valid manifests."""

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from deployer.cli import cli
from deployer.errors import ManifestError
from deployer.manifest.load import load_manifest
from deployer.manifest.schema import schema

CASES = Path(__file__).parent / "corpus" / "cases"
BASE = (CASES / "missing-version.yaml").read_text().replace("database: ML", "version: 1\ndatabase: ML")


@pytest.fixture()
def project(tmp_path):
    shutil.copytree(CASES / "models", tmp_path / "models")
    return tmp_path


def write(project, text):
    path = project / "deploy.yaml"
    path.write_text(text)
    return path


def test_base_is_valid(project):
    state = load_manifest(write(project, BASE))
    assert state.database == "ML" and state.schema == "DATA_MODEL" and state.stage == "MLOPS_STAGE"
    (model,) = state.models
    assert model.name == "PREDICT"
    assert model.arg_types == ("FLOAT", "FLOAT")
    assert model.artifact == project / "models" / "model.h5"
    assert model.runtime_version == "3.11"
    assert state.target.name == "local" and state.target.type == "local"
    assert state.target.path == project / ".deployer" / "local"


def test_quoted_identifiers_keep_case(project):
    state = load_manifest(write(project, BASE.replace("name: predict", "name: '\"Predict\"'")))
    assert state.models[0].name == "Predict"


def test_templating_env_var_and_target(project, monkeypatch):
    monkeypatch.setenv("SF_DATABASE", "ml_dev")
    text = BASE.replace("database: ML", "database: '{{ env.SF_DATABASE }}'").replace(
        "schema: DATA_MODEL", "schema: '{{ var.schema }}'\nvars: {schema: core}").replace(
        "stage: MLOPS_STAGE", "stage: 'STAGE_{{ target.name }}'")
    path = write(project, text)
    state = load_manifest(path)
    assert (state.database, state.schema, state.stage) == ("ML_DEV", "CORE", "STAGE_LOCAL")
    state = load_manifest(path, overrides={"schema": "other"})
    assert state.schema == "OTHER"


def test_targets_override_database_schema_stage(project):
    text = BASE.replace("version: 1", "version: 1\nproject: team/models\ntargets:\n  local: {type: local, path: state}\n"
                        "  prod: {type: snowflake, connection: prod, database: ML_PROD, stage: S2}\n"
                        "default_target: local")
    path = write(project, text)
    assert load_manifest(path).target.path == project / "state"
    prod = load_manifest(path, target="prod")
    assert (prod.target.type, prod.target.connection, prod.database, prod.stage) == ("snowflake", "prod", "ML_PROD", "S2")
    with pytest.raises(ManifestError, match="^[^:]*deploy.yaml: --target 'qa' is not a target of this manifest \\(targets: local, prod\\)$"):
        load_manifest(path, target="qa")


def test_defaults_are_merged(project):
    text = BASE.replace("version: 1", "version: 1\ndefaults:\n  runtime_version: '3.12'\n"
                        "  packages: [pandas, 'numpy>=1.2']\n  imports: [models/helpers.py]\n  max_batch_size: 500")
    text = text.replace("    output: {type: float}", "    output: {type: float}\n    packages: ['NumPy==2.*', tensorflow]")
    (model,) = load_manifest(write(project, text)).models
    assert model.runtime_version == "3.12"
    assert model.packages == ("pandas", "NumPy==2.*", "tensorflow")
    assert model.imports == (project / "models" / "helpers.py",)
    assert model.max_batch_size == 500


def test_smoke_tests_are_ordered_by_feature(project):
    text = BASE + "    tests:\n      - input: {feature_2: 2, FEATURE_1: 1.5}\n        expect: 3\n"
    (model,) = load_manifest(write(project, text)).models
    assert model.tests[0].inputs == (1.5, 2)
    assert model.tests[0].expect == 3


def test_unreadable_artifact(project, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p).endswith("model.h5") else real_access(p, mode))
    with pytest.raises(ManifestError, match=r"deploy.yaml:8:15: models\[0\].artifact: 'models/model.h5' is not readable"):
        load_manifest(write(project, BASE))


def test_missing_file_and_folder(tmp_path):
    result = CliRunner().invoke(cli, ["validate", "-f", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1 and "no such file" in result.stderr
    result = CliRunner().invoke(cli, ["validate", "-f", str(tmp_path)])
    assert result.exit_code == 1 and "is a folder, not a manifest file" in result.stderr


def test_bad_var_syntax(project):
    write(project, BASE)
    result = CliRunner().invoke(cli, ["validate", "-f", str(project / "deploy.yaml"), "--var", "novalue"])
    assert result.exit_code == 1 and "expected KEY=VALUE" in result.stderr


def test_debug_shows_traceback(project):
    path = write(project, BASE.replace("database: ML", "database: 'a b'"))
    result = CliRunner().invoke(cli, ["--debug", "validate", "-f", str(path), "--no-preflight"])
    assert result.exit_code == 1


def test_schema_command_prints_the_schema():
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == schema()


def _walk(node, path="$"):
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            yield f"{path}.{key}", value
            yield from _walk(value, f"{path}.{key}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                yield from _walk(node[key], f"{path}[{key}]")
        for i, branch in enumerate(node.get("oneOf", [])):
            yield from _walk(branch, f"{path}|{i}")


def test_every_property_has_a_description_and_objects_are_closed():
    nodes = list(_walk(schema()))
    assert len(nodes) > 40
    for path, node in nodes:
        assert node.get("description"), f"{path} has no description"
        if node.get("type") == "object" and path != "$.vars" and path != "$.targets":
            assert node.get("additionalProperties") is not None, f"{path} is open"
