"""Rendered SQL: exact, reproducible, parseable by sqlglot's Snowflake dialect."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from deployer.codegen import (
    CodegenError,
    _function_sql,
    short_hash,
    packages_for,
    parse_comment_metadata,
    render_function,
    render_stage,
    split_comment,
)
from deployer.desired import Feature, Model, Step

from .conftest import make_state


@pytest.fixture
def project(tmp_path):
    for name in ("model.h5", "scaler.ct", "target_scaler.ct", "helper.py"):
        (tmp_path / name).write_bytes(name.encode())
    model = Model(
        name="PREDICT",
        framework="keras",
        artifact=tmp_path / "model.h5",
        features=(Feature("FEATURE_1", "float"), Feature("feature_2", "int")),
        output_type="float",
        preprocess=(Step(tmp_path / "scaler.ct", "transform"),),
        postprocess=(Step(tmp_path / "target_scaler.ct", "inverse_transform"),),
        packages=("tensorflow==2.17.0", "h5py"),
        imports=(tmp_path / "helper.py",),
        max_batch_size=500,
        comment="House price model",
    )
    return make_state(tmp_path, model), model


def _props(tree: exp.Expression) -> dict:
    out = {}
    for p in tree.find(exp.Properties).expressions:
        if isinstance(p, exp.Property) and isinstance(p.this, exp.Var):
            out[p.this.name.upper()] = p.args.get("value")
    return out


def test_statement_shape_and_clause_order(project):
    state, model = project
    r = render_function(state, model, git_commit="0" * 40)
    lines = r.sql.splitlines()
    assert lines[0] == 'CREATE OR REPLACE FUNCTION ML.DATA_MODEL.PREDICT(FEATURE_1 FLOAT, "feature_2" NUMBER(38,0))'
    clauses = [line.split()[0] for line in lines[1:9]]
    # Clause order as Snowpark and the Terraform provider emit it (snowflake-semantics.md).
    assert clauses == ["COPY", "RETURNS", "LANGUAGE", "RUNTIME_VERSION", "COMMENT", "IMPORTS", "PACKAGES", "HANDLER"]
    assert lines[9] == "AS $$" and r.sql.endswith("$$")
    assert r.signature == 'ML.DATA_MODEL.PREDICT(FLOAT, NUMBER)'
    assert "max_batch_size=500" in r.handler


def test_sql_parses_with_sqlglot_and_round_trips_every_part(project):
    state, model = project
    r = render_function(state, model, git_commit="abc1234" + "0" * 33)
    tree = sqlglot.parse_one(r.sql, read="snowflake")
    assert isinstance(tree, exp.Create) and tree.args["replace"]
    assert tree.expression.name.strip("\n") == r.handler.strip("\n")  # the $$ body, verbatim
    props = _props(tree)
    assert [e.name for e in props["IMPORTS"].expressions] == [f.stage_path for f in r.files]
    assert [e.name for e in props["PACKAGES"].expressions] == list(packages_for(model))
    comment = tree.find(exp.SchemaCommentProperty).this.name
    assert split_comment(comment)[0] == "House price model"
    meta = parse_comment_metadata(comment)
    expected = {
        "spec": r.spec_hash, "project": state.project, "model": "PREDICT", "manifest": "deploy.yaml",
        "version": __import__("deployer").__version__, "commit": "abc1234" + "0" * 33,
        "files": {f.file_name: f.digest[:12] for f in r.files}, "handler": short_hash(r.handler),
        "packages": list(packages_for(model)), "runtime": model.runtime_version,
    }
    assert {k: meta[k] for k in expected} == expected
    # What SHOW cannot tell, for attribute-level reasons: argument names, returns, batch size.
    assert meta["args"] == [f.name for f in model.features] and meta["returns"] == "FLOAT"


def test_stage_statement_parses(project):
    state, _ = project
    plain = render_stage(state)
    assert plain == "CREATE STAGE IF NOT EXISTS ML.DATA_MODEL.MLOPS_STAGE\n  ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE')"
    commented = render_stage(replace(state, stage_comment="team's \\ stage"))
    for sql in (plain, commented):
        tree = sqlglot.parse_one(sql, read="snowflake")
        assert tree.args["kind"] == "STAGE" and tree.args["exists"]
    c = sqlglot.parse_one(commented, read="snowflake").find(exp.SchemaCommentProperty).this.name
    assert c == "team's \\ stage"


def test_same_inputs_render_byte_identical_sql(project):
    state, model = project
    a = render_function(state, model, git_commit=None)
    b = render_function(state, model, git_commit=None)
    assert a.sql == b.sql and a.spec_hash == b.spec_hash
    assert str(state.root) not in a.sql  # no absolute paths


def test_spec_hash_ignores_comment_but_follows_code_packages_and_files(project):
    state, model = project
    base = render_function(state, model, git_commit=None)
    assert render_function(state, replace(model, comment="other"), git_commit="1" * 40).spec_hash == base.spec_hash
    assert render_function(state, replace(model, packages=("tensorflow==2.18.0",)), git_commit=None).spec_hash != base.spec_hash
    assert render_function(state, replace(model, max_batch_size=100), git_commit=None).spec_hash != base.spec_hash
    (state.root / "scaler.ct").write_bytes(b"refitted")
    changed = render_function(state, model, git_commit=None)
    assert changed.spec_hash != base.spec_hash
    assert [f.stage_path for f in changed.files][1] != [f.stage_path for f in base.files][1]


def test_comment_literal_escapes_quotes_and_backslashes(project):
    state, model = project
    r = render_function(state, replace(model, comment="it's a \\path\\ {x}"), git_commit=None)
    tree = sqlglot.parse_one(r.sql, read="snowflake")
    comment = tree.find(exp.SchemaCommentProperty).this.name
    assert split_comment(comment) == ("it's a \\path\\ {x}", parse_comment_metadata(comment))
    assert parse_comment_metadata(comment)["spec"] == r.spec_hash


def test_comment_without_user_text_and_foreign_comments():
    meta = {"spec": "sha256:00", "model": "M"}
    from deployer.codegen import compose_comment

    assert parse_comment_metadata(compose_comment(None, meta)) == meta
    assert parse_comment_metadata("user-defined function") is None
    assert parse_comment_metadata('note {"deployer": broken') is None
    assert parse_comment_metadata(None) is None


def test_git_commit_is_read_from_the_manifest_checkout(project):
    state, model = project
    run = lambda *a: subprocess.run(["git", "-C", str(state.root), *a], check=True, capture_output=True, text=True)  # noqa: E731
    run("init", "-q")
    run("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x")
    head = run("rev-parse", "HEAD").stdout.strip()
    from deployer.codegen import git_head

    git_head.cache_clear()
    assert parse_comment_metadata(_comment(render_function(state, model).sql))["commit"] == head
    assert "commit" not in parse_comment_metadata(_comment(render_function(state, model, git_commit=None).sql))


def test_head_read_from_the_files_is_what_git_says(tmp_path, monkeypatch):
    """Loose ref, packed refs, detached HEAD, a sub-folder, no repository, an unborn branch and a
    worktree (its `.git` is a file: git is asked)."""
    from deployer.codegen import _ASK_GIT, _head_from_files, git_head

    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM"):
        monkeypatch.delenv(name, raising=False)
    repo = tmp_path / "repo"
    (repo / "sub" / "deeper").mkdir(parents=True)
    git = lambda *a, cwd=repo: subprocess.run(["git", "-C", str(cwd), *a], check=True, capture_output=True, text=True).stdout.strip()  # noqa: E731

    def asked(folder):
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else None

    def agrees(folder):
        git_head.cache_clear()
        found = _head_from_files(folder)
        assert (asked(folder) if found is _ASK_GIT else found) == asked(folder) == git_head(folder)
        return found

    git("init", "-q")
    assert agrees(repo) is _ASK_GIT  # unborn branch: no ref yet
    commit = lambda m: git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", m)  # noqa: E731
    commit("one")
    assert agrees(repo / "sub" / "deeper") == git("rev-parse", "HEAD")
    git("pack-refs", "--all")
    assert not any((repo / ".git" / "refs" / "heads").iterdir())
    assert agrees(repo) == git("rev-parse", "HEAD")
    commit("two")
    git("checkout", "-q", "--detach", "HEAD~1")
    assert agrees(repo) == git("rev-parse", "HEAD")
    git("checkout", "-q", "-")
    git("worktree", "add", "-q", str(tmp_path / "wt"))
    assert agrees(tmp_path / "wt") is _ASK_GIT
    outside = tmp_path / "outside"
    outside.mkdir()
    if asked(outside) is None:  # no repository above the temporary folder
        assert agrees(outside) is None


def _comment(sql: str) -> str:
    return sqlglot.parse_one(sql, read="snowflake").find(exp.SchemaCommentProperty).this.name


def test_body_containing_dollar_dollar_is_refused(project):
    state, model = project
    with pytest.raises(CodegenError, match=r"contains '\$\$'"):
        _function_sql(state, model, (), "x = '$$'\n", None, ())


def test_dollar_signs_in_names_cannot_close_the_body(tmp_path):
    (tmp_path / "m.pkl").write_bytes(b"m")
    model = Model(name="P$$Q", framework="sklearn", artifact=tmp_path / "m.pkl",
                  features=(Feature("A$$B", "float"),), output_type="float")
    r = render_function(make_state(tmp_path, model), model, git_commit=None)
    assert "$$" not in r.handler
    assert "'A\\x24\\x24B'" in r.handler  # the same string once Python reads it
    sqlglot.parse_one(r.sql, read="snowflake")


def test_packages_merge_framework_steps_and_user_specs():
    m = Model(name="M", framework="keras", artifact=Path("m.h5"), features=(), output_type="float",
              preprocess=(Step(Path("s.ct"), "transform"),),
              packages=("TensorFlow==2.17.*", "scikit_learn>=1.3,<2", "pandas", "h5py"))
    assert packages_for(m) == ("h5py", "joblib", "pandas", "scikit_learn>=1.3,<2", "TensorFlow==2.17.*")
    plain = Model(name="M", framework="sklearn", artifact=Path("m.pkl"), features=(), output_type="float")
    assert packages_for(plain) == ("joblib", "pandas", "scikit-learn")


def test_conflicting_or_malformed_packages_are_refused():
    base = dict(name="M", framework="sklearn", artifact=Path("m.pkl"), features=(), output_type="float")
    with pytest.raises(CodegenError, match="listed as scikit-learn==1.5.*and scikit-learn==1.6"):
        packages_for(Model(**base, packages=("scikit-learn==1.5", "scikit-learn==1.6")))
    with pytest.raises(CodegenError, match="is not accepted by Snowflake.s PACKAGES clause"):
        packages_for(Model(**base, packages=("pandas'); DROP TABLE x; --",)))
