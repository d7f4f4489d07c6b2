"""Item 10: secrets never reach plans, --out files, render or the catalog through templating."""

from __future__ import annotations

import pytest

from .helpers import BASE, invoke, make_project, rejected

SECRET = "s3cr3t-value-never-shown"


def test_secret_looking_env_variable_is_refused(tmp_path):
    manifest = make_project(tmp_path, BASE + '    comment: "token={{ env.API_TOKEN }}"\n')
    err = rejected("plan", "-f", str(manifest), "--no-preflight", "--out", str(tmp_path / "plan.json"),
                   env={"API_TOKEN": SECRET})
    assert "deploy.yaml:13: env.API_TOKEN looks like a secret" in err and "allow_env" in err
    assert SECRET not in err
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize("name", ["DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "PRIVATE_KEY", "GH_TOKEN", "api_key"])
def test_secret_names(tmp_path, name):
    manifest = make_project(tmp_path, BASE + f'    comment: "{{{{ env.{name} }}}}"\n')
    err = rejected("validate", "-f", str(manifest), "--no-preflight", env={name: SECRET})
    assert f"env.{name} looks like a secret" in err and SECRET not in err


def test_allow_env_admits_a_name(tmp_path):
    text = "allow_env: [BUILD_TOKEN_ID]\n" + BASE + '    comment: "build {{ env.BUILD_TOKEN_ID }}"\n'
    manifest = make_project(tmp_path, text)
    result = invoke("validate", "-f", str(manifest), "--no-preflight", env={"BUILD_TOKEN_ID": "42"})
    assert result.exit_code == 0, result.output


def test_ordinary_env_variable_still_renders(tmp_path):
    manifest = make_project(tmp_path, BASE.replace("database: ML", "database: '{{ env.SF_DATABASE }}'"))
    result = invoke("validate", "-f", str(manifest), "--no-preflight", env={"SF_DATABASE": "ML_DEV"})
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("expr", ["{{ env }}", "{{ env|list }}", "{{ env|tojson }}", "{{ env|dictsort }}",
                                  "{{ env|string }}", "{{ env|length }}", "{% for k in env %}{{ k }}{% endfor %}",
                                  "{{ env.items() }}"])
def test_whole_environment_is_refused(tmp_path, expr):
    manifest = make_project(tmp_path, BASE + f"    comment: |\n      {expr}\n")  # valid YAML whatever it prints
    err = rejected("validate", "-f", str(manifest), "--no-preflight", env={"HARMLESS_NAME": SECRET})
    assert "deploy.yaml:14:" in err and SECRET not in err and "HARMLESS_NAME" not in err
