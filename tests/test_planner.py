"""The planner on its own: live state built by hand, no engine, no frameworks loaded."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from deployer import codegen, stagepath
from deployer.desired import DesiredState, Feature, Model, Target
from deployer.live import LiveFunction, LiveState, parse_list
from deployer.plan import PlanError, plan, remove_exactly, stage_relative

STAGE_SQL = "CREATE STAGE IF NOT EXISTS ML.DATA_MODEL.MLOPS_STAGE"


def make(tmp_path: Path, *, comment: str | None = None, names=("PREDICT",)) -> tuple[DesiredState, tuple]:
    (tmp_path / "models").mkdir(exist_ok=True)
    models = []
    for name in names:
        artifact = tmp_path / "models" / f"{name.lower()}.joblib"
        artifact.write_bytes(f"not a real model: {name}".encode())
        models.append(Model(name=name, framework="sklearn", artifact=artifact,
                            features=(Feature("FEATURE_1", "float"), Feature("FEATURE_2", "float")),
                            output_type="float"))
    state = DesiredState(manifest_path=tmp_path / "deploy.yaml", target=Target("local", "local"),
                         database="ML", schema="DATA_MODEL", stage="MLOPS_STAGE", stage_comment=comment,
                         models=tuple(models))
    functions = tuple(codegen.render_function(state, m, git_commit=None) for m in state.models)
    return state, functions


def deployed(function, *, described=False, imports=None, body=None, **changes) -> LiveFunction:
    """The function as SHOW (and DESCRIBE, when described) report it after a deployment."""
    user, meta = codegen.split_comment(codegen.compose_comment(function.model.comment, _meta(function)))
    live = LiveFunction(name=function.model.name, arg_types=function.model.arg_types, returns="FLOAT",
                        comment=user, meta=meta, created_on="2026-11-28 08:00:00", described=described,
                        imports=imports, body=body)
    return replace(live, **changes)


def _meta(function) -> dict:
    start = function.sql.index("COMMENT = '") + len("COMMENT = '")
    return codegen.split_comment(function.sql[start:function.sql.index("'\n", start)])[1]


def live_state(functions, *, files=None, **changes) -> LiveState:
    stage = stagepath.StageLocation("ML", "DATA_MODEL", "MLOPS_STAGE", "")
    files = {stage_relative(s.stage_path, stage): s.size + 16 for f in functions for s in f.files} \
        if files is None else files
    return LiveState(True, files, tuple(deployed(f) for f in functions), **{"stage_type": "INTERNAL", **changes})


def actions(the_plan) -> list[tuple[str, str]]:
    return [(c.type, "/".join(c.actions)) for c in the_plan.changes if not c.is_noop]


def test_a_deployed_state_plans_nothing_whatever_the_padded_sizes(tmp_path):
    state, functions = make(tmp_path)
    the_plan = plan(state, STAGE_SQL, functions, live_state(functions))
    assert not the_plan.has_changes and the_plan.warnings == ()


@pytest.mark.parametrize("echoed", [
    '@"ML"."DATA_MODEL".MLOPS_STAGE/{path}',  # as Snowflake rewrites it
    '@ML.DATA_MODEL.MLOPS_STAGE/{path}',  # as written
    '@"ML"."DATA_MODEL"."MLOPS_STAGE"/{path}',
    '@ml.data_model.mlops_stage/{path}',
])
def test_described_imports_match_in_any_form_snowflake_echoes(tmp_path, echoed):
    state, functions = make(tmp_path)
    (function,) = functions
    stage = stagepath.StageLocation("ML", "DATA_MODEL", "MLOPS_STAGE", "")
    imports = tuple(echoed.format(path=stage_relative(s.stage_path, stage)) for s in function.files)
    live = replace(live_state(functions), functions=(deployed(function, described=True, imports=imports,
                                                              body=function.handler),))
    assert not plan(state, STAGE_SQL, functions, live).has_changes


def test_a_hand_edit_behind_the_comment_is_drift(tmp_path):
    state, functions = make(tmp_path)
    (function,) = functions
    live = replace(live_state(functions), functions=(deployed(
        function, described=True, imports=("@ML.DATA_MODEL.MLOPS_STAGE/PREDICT/000000000000/x.joblib",),
        body=function.handler + "\n# patched in a worksheet\n"),))
    (change,) = [c for c in plan(state, STAGE_SQL, functions, live).changes if not c.is_noop]
    assert change.actions == ("update",)
    assert change.reasons == ("drift: imports changed outside deployer", "drift: handler code changed outside deployer")


def test_a_secure_function_hiding_its_body_is_reported_once_not_updated(tmp_path):
    state, functions = make(tmp_path)
    (function,) = functions
    live = replace(live_state(functions), functions=(deployed(function, described=True, is_secure=True),))
    the_plan = plan(state, STAGE_SQL, functions, live)
    assert not the_plan.has_changes
    assert len(the_plan.warnings) == 1 and "hides the body and imports" in the_plan.warnings[0]


def test_reasons_come_from_the_comment_without_describe(tmp_path):
    state, functions = make(tmp_path)
    old = live_state(functions)
    (tmp_path / "models" / "predict.joblib").write_bytes(b"retrained")
    model = replace(state.models[0], runtime_version="3.12", packages=("xgboost==2.0.3",))
    state = replace(state, models=(model,))
    functions = (codegen.render_function(state, model, git_commit=None),)
    changes = {c.type + ":" + "/".join(c.actions): c for c in plan(state, STAGE_SQL, functions, old).changes}
    reasons = changes["function:update"].reasons
    assert reasons[0].startswith("artifact models/predict.joblib changed (sha256 ")
    assert "packages +xgboost==2.0.3" in reasons and "runtime 3.11 -> 3.12" in reasons
    assert "handler code changed" not in reasons
    assert changes["file:create"].reasons == ("models/predict.joblib: not on the stage",)
    (stale,) = [c for c in plan(state, STAGE_SQL, functions, old).changes if c.actions == ("delete",)]
    assert stale.type == "file" and "PATTERN" in stale.statements[0]


def test_an_external_stage_is_refused(tmp_path):
    state, functions = make(tmp_path)
    with pytest.raises(PlanError, match="is an external stage"):
        plan(state, STAGE_SQL, functions, live_state(functions, stage_type="EXTERNAL"))


def test_the_stage_comment_is_altered_when_it_differs(tmp_path):
    state, functions = make(tmp_path, comment="Model files")
    (change,) = [c for c in plan(state, STAGE_SQL, functions, live_state(functions, stage_comment="old")).changes
                 if not c.is_noop]
    assert change.type == "stage" and change.actions == ("update",)
    assert change.statements == ["ALTER STAGE ML.DATA_MODEL.MLOPS_STAGE SET COMMENT = 'Model files'"]
    assert not plan(state, STAGE_SQL, functions, live_state(functions, stage_comment="Model files")).has_changes


def test_remove_names_exactly_one_file():
    sql = remove_exactly("ML.S.ST", "PREDICT/ab12/model.h5")
    assert sql == r"REMOVE @ML.S.ST/PREDICT/ab12/model.h5 PATTERN = '(.*/)?PREDICT/ab12/model\\.h5'"


def test_the_fingerprint_ignores_sizes_and_what_only_describe_shows(tmp_path):
    state, functions = make(tmp_path)
    a = live_state(functions)
    b = replace(a, files={k: v + 1 for k, v in a.files.items()},
                functions=tuple(replace(f, described=True, body="x") for f in a.functions))
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != replace(a, files={}).fingerprint()


@pytest.mark.parametrize("text, expected", [
    ('@"DB"."SCHEMA".STAGE/x.jar', ("DB", "SCHEMA", "STAGE", "x.jar")),
    ('@"DB"."SCHEMA"."STAGE"/x.jar', ("DB", "SCHEMA", "STAGE", "x.jar")),
    ("@db.schema.stage/a/B.h5", ("DB", "SCHEMA", "STAGE", "a/B.h5")),
    ('@"lower"."Mixed".st/p', ("lower", "Mixed", "ST", "p")),
    ('@"a""b".s.t/p', ('a"b', "S", "T", "p")),
    ("@stage/p", ("ML", "S", "STAGE", "p")),
    ("'@x.stage/p/'", ("ML", "X", "STAGE", "p/")),
])
def test_stage_locations_parse_by_identifier_rules(text, expected):
    loc = stagepath.parse(text, "ML", "S")
    assert (loc.database, loc.schema, loc.stage, loc.path) == expected


def test_parse_list_reads_describe_lists():
    assert parse_list('[@"ML"."S".ST/a.h5,@"ML"."S".ST/b.ct]') == ('@"ML"."S".ST/a.h5', '@"ML"."S".ST/b.ct')
    assert parse_list("['pandas','x>=1.2,<2']") == ("pandas", "x>=1.2,<2")
