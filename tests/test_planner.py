"""The planner on its own: live state built by hand, no engine, no frameworks loaded."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from deployer import codegen, releases, stagepath
from deployer.desired import DesiredState, Feature, Model, Target
from deployer.live import LiveFunction, LiveState, parse_list
from deployer.plan import PlanError
from deployer.planner import _release_step, plan, remove_exactly, stage_relative
from deployer.releases import Release

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
                         project="tests/planner", models=tuple(models))
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


def released(state, function, when="2026-11-28T08:00:00") -> Release:
    """The release record apply wrote for `function` once its tests passed."""
    record = _release_step(state, function).record
    _, done = releases.finish(record, datetime.fromisoformat(when).replace(tzinfo=timezone.utc))
    return releases.parse(json.dumps(done))


def live_state(functions, *, files=None, state=None, **changes) -> LiveState:
    stage = stagepath.StageLocation("ML", "DATA_MODEL", "MLOPS_STAGE", "")
    files = {stage_relative(s.stage_path, stage): s.size + 16 for f in functions for s in f.files} \
        if files is None else files
    records = tuple(released(state, f) for f in functions) if state is not None else ()
    files.update({r.path: 500 for r in records})
    return LiveState(True, files, tuple(deployed(f) for f in functions),
                     **{"stage_type": "INTERNAL", "releases": records, **changes})


def actions(the_plan) -> list[tuple[str, str]]:
    return [(c.type, "/".join(c.actions)) for c in the_plan.changes if not c.is_noop]


def test_a_deployed_state_plans_nothing_whatever_the_padded_sizes(tmp_path):
    state, functions = make(tmp_path)
    the_plan = plan(state, STAGE_SQL, functions, live_state(functions, state=state))
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
    live = replace(live_state(functions, state=state), functions=(deployed(function, described=True, imports=imports,
                                                              body=function.handler),))
    assert not plan(state, STAGE_SQL, functions, live).has_changes


def test_a_hand_edit_behind_the_comment_is_drift(tmp_path):
    state, functions = make(tmp_path)
    (function,) = functions
    live = replace(live_state(functions, state=state), functions=(deployed(
        function, described=True, imports=("@ML.DATA_MODEL.MLOPS_STAGE/PREDICT/000000000000/x.joblib",),
        body=function.handler + "\n# patched in a worksheet\n"),))
    (change,) = [c for c in plan(state, STAGE_SQL, functions, live).changes if not c.is_noop]
    assert change.actions == ("update",)
    assert change.reasons == ("drift: imports changed outside deployer", "drift: handler code changed outside deployer")


def test_a_secure_function_hiding_its_body_is_reported_once_not_updated(tmp_path):
    state, functions = make(tmp_path)
    (function,) = functions
    live = replace(live_state(functions, state=state), functions=(deployed(function, described=True, is_secure=True),))
    the_plan = plan(state, STAGE_SQL, functions, live)
    assert not the_plan.has_changes
    assert len(the_plan.warnings) == 1 and "hides the body and imports" in the_plan.warnings[0]


def test_reasons_come_from_the_comment_without_describe(tmp_path):
    state, functions = make(tmp_path)
    old = live_state(functions, state=state)
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
    # The live version's file stays: it belongs to one of the last keep_releases releases.
    assert not [c for c in plan(state, STAGE_SQL, functions, old).changes if c.actions == ("delete",)]


def test_an_external_stage_is_refused(tmp_path):
    state, functions = make(tmp_path)
    with pytest.raises(PlanError, match="is an external stage"):
        plan(state, STAGE_SQL, functions, live_state(functions, state=state, stage_type="EXTERNAL"))


def test_the_stage_comment_is_altered_when_it_differs(tmp_path):
    state, functions = make(tmp_path, comment="Model files")
    (change,) = [c for c in plan(state, STAGE_SQL, functions, live_state(functions, state=state, stage_comment="old")).changes
                 if not c.is_noop]
    assert change.type == "stage" and change.actions == ("update",)
    assert change.statements == ["ALTER STAGE ML.DATA_MODEL.MLOPS_STAGE SET COMMENT = 'Model files'"]
    assert not plan(state, STAGE_SQL, functions, live_state(functions, state=state, stage_comment="Model files")).has_changes


def test_remove_names_exactly_one_file():
    sql = remove_exactly("ML.S.ST", "PREDICT/ab12/model.h5")
    assert sql == r"REMOVE @ML.S.ST/PREDICT/ab12/model.h5 PATTERN = '(.*/)?PREDICT/ab12/model\\.h5'"


def test_the_fingerprint_ignores_sizes_and_what_only_describe_shows(tmp_path):
    state, functions = make(tmp_path)
    a = live_state(functions, state=state)
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


# --------------------------------------------------------------------------- rollout and releases


def ops(change) -> list[str]:
    return [op.op for op in change.operations]


def test_a_new_function_is_tested_as_a_candidate_before_it_goes_live(tmp_path):
    state, functions = make(tmp_path)
    changes = [c for c in plan(state, STAGE_SQL, functions, LiveState(False)).changes if not c.is_noop]
    assert [(c.type, c.actions) for c in changes] == [("stage", ("create",)), ("file", ("create",)),
                                                     ("function", ("create",))]
    function = changes[-1]
    assert ops(function) == ["create candidate", "test", "replace", "drop candidate", "write release"]
    create, test, replace_, drop, release = function.operations
    assert "FUNCTION ML.DATA_MODEL.PREDICT__CANDIDATE(" in create.sql and "COPY GRANTS" in create.sql
    assert test.function == "ML.DATA_MODEL.PREDICT__CANDIDATE" and replace_.sql == functions[0].sql
    assert drop.sql == "DROP FUNCTION IF EXISTS ML.DATA_MODEL.PREDICT__CANDIDATE(FLOAT, FLOAT)"
    assert release.stage_dir == "@ML.DATA_MODEL.MLOPS_STAGE/PREDICT/.releases"
    assert release.record["statement"] == functions[0].sql and release.record["imports"] == [
        stage_relative(functions[0].files[0].stage_path, "ML.DATA_MODEL.MLOPS_STAGE")]
    json_ops = function.to_json()["operations"]
    assert [o["op"] for o in json_ops] == ops(function) and json_ops[1]["function"].endswith("__CANDIDATE")


def test_without_candidates_the_function_is_created_then_tested(tmp_path):
    state, functions = make(tmp_path)
    (function,) = [c for c in plan(state, STAGE_SQL, functions, LiveState(False), candidates=False).changes
                   if c.type == "function"]
    assert ops(function) == ["create", "test", "write release"]
    assert function.operations[1].function == "ML.DATA_MODEL.PREDICT"


def test_a_signature_change_creates_and_tests_the_new_overload_before_dropping_the_old(tmp_path):
    state, functions = make(tmp_path)
    live = live_state(functions, state=state)
    model = replace(state.models[0], features=(Feature("FEATURE_1", "float"), Feature("DISTANCE", "int")))
    state = replace(state, models=(model,))
    functions = (codegen.render_function(state, model, git_commit=None),)
    (change,) = [c for c in plan(state, STAGE_SQL, functions, live).changes if c.type == "function"]
    assert change.actions == ("delete", "create")
    assert ops(change) == ["create candidate", "test", "replace", "drop candidate", "drop old overload",
                           "write release"]
    assert change.operations[4].sql == "DROP FUNCTION IF EXISTS ML.DATA_MODEL.PREDICT(FLOAT, FLOAT)"


def test_a_function_whose_tests_never_passed_is_tested_again(tmp_path):
    state, functions = make(tmp_path)
    base = live_state(functions, state=state)
    live = replace(base, releases=(), files={p: n for p, n in base.files.items() if not releases.is_record(p)})
    (change,) = [c for c in plan(state, STAGE_SQL, functions, live).changes if not c.is_noop]
    assert change.actions == ("update",) and change.reasons == ("smoke tests have not passed on the target "
                                                                "since it was created",)
    assert ops(change) == ["test", "write release"] and change.operations[0].function == "ML.DATA_MODEL.PREDICT"


def test_leftover_candidates_are_dropped_and_foreign_functions_never_touched(tmp_path):
    state, functions = make(tmp_path)
    base = live_state(functions, state=state)
    (mine,) = base.functions
    leftover = replace(mine, name="PREDICT__CANDIDATE")
    hand_made = LiveFunction(name="HANDMADE", arg_types=("FLOAT",), returns="FLOAT", comment="by hand", meta=None,
                             created_on="x")
    other_project = replace(mine, name="OTHER", meta={**mine.meta, "project": "team/other", "model": "OTHER"})
    live = replace(base, functions=(mine, leftover, hand_made, other_project),
                   files={**base.files, "OTHER/abc/x.joblib": 3, "HANDMADE.py": 3})
    changes = [c for c in plan(state, STAGE_SQL, functions, live).changes if not c.is_noop]
    assert [(c.name, c.actions, c.reasons) for c in changes] == [
        ("ML.DATA_MODEL.PREDICT__CANDIDATE(FLOAT, FLOAT)", ("delete",), ("candidate left by an interrupted apply",))]
    destroyed = [c for c in plan(state, STAGE_SQL, functions, live, destroy=True).changes if not c.is_noop]
    assert not [c for c in destroyed if "OTHER" in c.name or "HANDMADE" in c.name]
    assert {c.name.split("/")[-1] for c in destroyed if c.type == "file"} >= {"predict.joblib"}


def _history(state, function, live_day_spec=None, live_day_path=None):
    history, files = [], {}
    for day in range(1, 6):  # five releases, each with its own file
        path = f"PREDICT/{day:012d}/predict.joblib"
        spec = f"sha256:{day:064d}"
        if day == 1 and live_day_spec:
            spec, path = live_day_spec, live_day_path
        record = {**_release_step(state, function).record, "spec": spec, "imports": [path]}
        _, done = releases.finish(record, datetime(2026, 11, day, tzinfo=timezone.utc))
        history.append(releases.parse(json.dumps(done)))
        files.update({path: 10, history[-1].path: 100})
    return tuple(releases.newest_first(history)), files


def _doomed(state, functions, live) -> list[str]:
    changes = [c for c in plan(state, STAGE_SQL, functions, live).changes if c.actions == ("delete",)]
    assert all("PATTERN" in c.statements[0] for c in changes)
    return sorted(c.name.split("/", 1)[1] for c in changes)


def test_retention_keeps_the_last_releases_counting_the_new_one(tmp_path):
    state, functions = make(tmp_path)
    (function,) = functions
    history, files = _history(state, function)
    live_fn = deployed(function)
    live_fn = replace(live_fn, meta={**live_fn.meta, "spec": history[0].spec, "files": {"predict.joblib": "000000000005"}})
    doomed = _doomed(state, functions, LiveState(True, files, (live_fn,), stage_type="INTERNAL", releases=history))
    # The manifest's version is new and takes one of 3 slots: days 5 and 4 keep theirs, days 1-3 go.
    assert [p for p in doomed if "/.releases/" not in p] == [f"PREDICT/{d:012d}/predict.joblib" for d in (1, 2, 3)]
    assert len([p for p in doomed if "/.releases/" in p]) == 3


def test_retention_keeps_a_rolled_back_live_version(tmp_path):
    state, functions = make(tmp_path)
    (function,) = functions
    wanted = stage_relative(function.files[0].stage_path, "ML.DATA_MODEL.MLOPS_STAGE")
    history, files = _history(state, function, function.spec_hash, wanted)  # day 1 is the manifest's, live again
    doomed = _doomed(state, functions, LiveState(True, files, (deployed(function),), stage_type="INTERNAL",
                                                 releases=history))
    assert [p for p in doomed if "/.releases/" not in p] == ["PREDICT/000000000002/predict.joblib"]
    assert len([p for p in doomed if "/.releases/" in p]) == 1


def test_planning_is_linear_in_the_deployed_models(tmp_path, monkeypatch):
    """Calls of `owned` (one per live function per look) grow with the models, not their square:
    retention looked every model's files up among all functions (minutes at 10,000 models)."""
    from deployer import planner

    calls = []
    counted = planner.owned
    monkeypatch.setattr(planner, "owned", lambda f, s: calls.append(1) or counted(f, s))
    counts = []
    for n in (20, 40):
        folder = tmp_path / f"n{n}"
        folder.mkdir()
        state, functions = make(folder, names=tuple(f"M{i}" for i in range(n)))
        calls.clear()
        the_plan = plan(state, STAGE_SQL, functions, live_state(functions, state=state))
        assert actions(the_plan) == []
        counts.append(len(calls))
    assert counts[1] <= 2.2 * counts[0], counts
