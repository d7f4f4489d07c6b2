"""What people see: plan text (plain and coloured) and Markdown, the size cap, relative paths,
attribute-level reasons, error wording. Pure: no engine, no frameworks loaded."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from deployer import __version__, codegen, planfmt
from deployer.cli import cli, global_flags
from deployer.desired import Feature
from deployer.diffs import elide_body, unified
from deployer.plan import Change, Plan, PutFile, RunSQL
from deployer.planner import plan
from tests.test_planner import STAGE_SQL, deployed, live_state, make

BODY = "import os\n\ndef predict(df):\n    return df[0]\n"
CREATE = ("CREATE OR REPLACE FUNCTION ML.S.PREDICT(\"X\" FLOAT)\n  RETURNS FLOAT\n  LANGUAGE PYTHON\n"
          f"  HANDLER = 'predict'\nAS $$\n{BODY}$$")


def sample_plan(tmp_path: Path) -> Plan:
    put = PutFile(tmp_path / "models" / "model.h5", "@ML.S.STAGE/PREDICT/4b70", root=tmp_path)
    return Plan("local", (
        Change("stage", "ML.S.STAGE", ("no-op",)),
        Change("file", "@ML.S.STAGE/PREDICT/4b70/model.h5", ("create",), ("models/model.h5: not on the stage",),
               (put,)),
        Change("function", "ML.S.PREDICT(FLOAT)", ("update",), ("returns NUMBER -> FLOAT", "runtime 3.10 -> 3.11"),
               (RunSQL(CREATE.replace("PREDICT(", "PREDICT__CANDIDATE("), "create candidate"),
                RunSQL(CREATE, "replace"))),
        Change("function", "ML.S.OLD(FLOAT)", ("delete",), ("model OLD is no longer in the manifest",),
               (RunSQL("DROP FUNCTION IF EXISTS ML.S.OLD(FLOAT)", "drop"),)),
    ), "sha256:0")


PLAIN = """\
deployer will perform the following actions on target local:

    + file @ML.S.STAGE/PREDICT/4b70/model.h5 will be created
        models/model.h5: not on the stage
    ~ function ML.S.PREDICT(FLOAT) will be updated in place
        returns NUMBER -> FLOAT
        runtime 3.10 -> 3.11
        steps: create candidate -> replace
    - function ML.S.OLD(FLOAT) will be deleted
        model OLD is no longer in the manifest

Plan: 1 to create, 1 to update, 1 to delete.
"""


def test_text_plan_plain_snapshot(tmp_path):
    assert planfmt.text(sample_plan(tmp_path)) == PLAIN


def test_text_plan_coloured_snapshot(tmp_path):
    shown = planfmt.text(sample_plan(tmp_path), color=True)
    assert "\x1b[32m  +\x1b[0m file \x1b[1m@ML.S.STAGE/PREDICT/4b70/model.h5\x1b[0m will be created" in shown
    assert "\x1b[33m  ~\x1b[0m function \x1b[1mML.S.PREDICT(FLOAT)\x1b[0m will be updated in place" in shown
    assert "\x1b[31m  -\x1b[0m function" in shown and "\x1b[2mreturns NUMBER -> FLOAT\x1b[0m" in shown
    # Without the codes, the coloured plan is the plain one, character for character.
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", shown) == PLAIN


def test_verbose_text_shows_a_diff_not_the_handler_twice(tmp_path):
    diff = unified(BODY, BODY.replace("df[0]", "df[0] * 2"), "live", "rendered")
    shown = planfmt.text(sample_plan(tmp_path), verbose=True, diffs={"ML.S.PREDICT(FLOAT)": diff})
    assert "-    return df[0]" in shown and "+    return df[0] * 2" in shown
    assert "| def predict(df):" not in shown  # bodies elided from the statements: the diff shows them
    assert shown.count("# ... handler, 4 lines: see the diff") == 2
    # Relative to the manifest, never the author's home.
    assert "PUT 'file://models/model.h5' @ML.S.STAGE/PREDICT/4b70/" in shown and str(tmp_path) not in shown


def test_verbose_text_of_a_create_shows_the_body_once(tmp_path):
    change = Change("function", "ML.S.PREDICT(FLOAT)", ("create",), ("does not exist",),
                    (RunSQL(CREATE.replace("PREDICT(", "PREDICT__CANDIDATE("), "create candidate"),
                     RunSQL(CREATE, "replace")))
    shown = planfmt.text(Plan("local", (change,), "sha256:0"), verbose=True)
    assert shown.count("def predict(df):") == 1 and "# ... handler, 4 lines: as above" in shown


MARKDOWN = """\
### deployer plan for `local`

| change | action | reasons |
|---|---|---|
| `+` file `@ML.S.STAGE/PREDICT/4b70/model.h5` | created | models/model.h5: not on the stage |
| `~` function `ML.S.PREDICT(FLOAT)` | updated in place | returns NUMBER -> FLOAT<br>runtime 3.10 -> 3.11 |
| `-` function `ML.S.OLD(FLOAT)` | deleted | model OLD is no longer in the manifest |

<details><summary><code>+</code> file <code>@ML.S.STAGE/PREDICT/4b70/model.h5</code></summary>

```sql
PUT 'file://models/model.h5' @ML.S.STAGE/PREDICT/4b70/ AUTO_COMPRESS = FALSE OVERWRITE = TRUE;
```

</details>
"""


def test_markdown_snapshot(tmp_path):
    diff = unified(BODY, BODY.replace("df[0]", "df[1]"), "live", "rendered")
    shown = planfmt.markdown(sample_plan(tmp_path), diffs={"ML.S.PREDICT(FLOAT)": diff})
    assert shown.startswith(MARKDOWN)
    assert "```diff\n--- live\n+++ rendered\n" in shown and "-    return df[0]\n+    return df[1]" in shown
    assert shown.rstrip().endswith("**Plan: 1 to create, 1 to update, 1 to delete.**")
    assert str(tmp_path) not in shown and "cut to fit" not in shown


def big_plan(functions: int, body_lines: int = 400) -> Plan:
    body = "".join(f"x_{i} = {i}  # a line of generated handler code\n" for i in range(body_lines))
    changes = []
    for i in range(functions):
        sql = f"CREATE OR REPLACE FUNCTION ML.S.M{i}(\"X\" FLOAT)\n  RETURNS FLOAT\nAS $$\n{body}$$"
        changes.append(Change("function", f"ML.S.M{i}(FLOAT)", ("create",), ("does not exist",),
                              (RunSQL(sql.replace(f"M{i}(", f"M{i}__CANDIDATE("), "create candidate"),
                               RunSQL(sql, "replace"))))
    return Plan("prod", tuple(changes), "sha256:0")


def test_markdown_is_cut_to_fit_a_pull_request_comment():
    whole = planfmt.markdown(big_plan(3))
    assert len(whole) < planfmt.MARKDOWN_LIMIT and "cut to fit" not in whole
    cut = planfmt.markdown(big_plan(12))
    assert len(cut) <= planfmt.MARKDOWN_LIMIT
    assert "handler bodies were left out" in cut and "deployer plan --format json" in cut
    assert cut.count("| `+` function") == 12  # the summary table is never cut
    tiny = planfmt.markdown(big_plan(12), limit=3000)
    assert len(tiny) <= 3000 and "change(s) were left out" in tiny and tiny.count("| `+` function") == 12


def test_elide_body_keeps_the_statement_around_it():
    assert elide_body(CREATE, "see the diff").endswith("AS $$\n# ... handler, 4 lines: see the diff\n$$")


# --------------------------------------------------------------------------- reasons


def reasons_after(tmp_path, change_model=None, change_meta=None):
    state, (function,) = make(tmp_path)
    live = deployed(function)
    if change_meta:
        live = replace(live, meta={**live.meta, **change_meta})
    model = change_model(state.models[0]) if change_model else state.models[0]
    state = replace(state, models=(model,))
    rendered = (codegen.render_function(state, model, git_commit=None),)
    current = replace(live_state((function,), state=state), functions=(live,))
    the_plan = plan(state, STAGE_SQL, rendered, current)
    (change,) = [c for c in the_plan.changes if c.type == "function"]
    return list(change.reasons)


def test_reason_returns(tmp_path):
    assert reasons_after(tmp_path, lambda m: replace(m, output_type="int")) == ["returns FLOAT -> NUMBER(38,0)"]


def test_reason_argument_renamed(tmp_path):
    renamed = lambda m: replace(m, features=(m.features[0], Feature("DISTANCE", "float")))  # noqa: E731
    assert reasons_after(tmp_path, renamed) == ["argument FEATURE_2 renamed to DISTANCE"]


def test_reason_max_batch_size(tmp_path):
    assert reasons_after(tmp_path, lambda m: replace(m, max_batch_size=1000)) == ["max_batch_size unset -> 1000"]


def test_reason_runtime(tmp_path):
    assert reasons_after(tmp_path, lambda m: replace(m, runtime_version="3.12")) == ["runtime 3.11 -> 3.12"]


def test_reason_packages(tmp_path):
    reasons = reasons_after(tmp_path, lambda m: replace(m, packages=("xgboost==2.0.3",)),
                            {"packages": ["joblib", "lightgbm", "pandas", "scikit-learn"]})
    assert reasons == ["packages +xgboost==2.0.3 -lightgbm"]


def test_reason_artifact(tmp_path):
    state, _ = make(tmp_path)
    def retrain(m):
        m.artifact.write_bytes(b"retrained")
        return m
    (reason,) = reasons_after(tmp_path, retrain)
    assert reason.startswith("artifact models/predict.joblib changed (sha256 ") and reason.endswith("...)")
    assert len(reason.split("sha256 ")[1].split("...")[0]) == 4


def test_reason_handler_template(tmp_path):
    assert reasons_after(tmp_path, change_meta={"version": "0.0.1", "handler": "0" * 12,
                                                      "spec": "sha256:" + "0" * 64}) == \
        [f"handler template of deployer 0.0.1 -> {__version__}"]


# --------------------------------------------------------------------------- command line


def test_global_flags_are_taken_from_anywhere():
    assert global_flags(["plan", "--debug", "-v"]) == (["plan", "-v"], {"--debug"})
    assert global_flags(["--no-color", "sql", "--", "--debug"]) == (["sql", "--", "--debug"], {"--no-color"})


def test_every_error_starts_with_error(tmp_path):
    (tmp_path / "deploy.yaml").write_text("version: 1\nmodels: 3\n")
    result = CliRunner().invoke(cli, ["validate", "-f", str(tmp_path / "deploy.yaml")])
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 4
    assert all(line.startswith("error: ") for line in result.stderr.splitlines())
    missing = CliRunner().invoke(cli, ["plan", "-f", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and missing.stderr.startswith("error: ")


def test_debug_after_the_subcommand_shows_the_traceback(tmp_path):
    (tmp_path / "deploy.yaml").write_text("version: 1\nmodels: 3\n")
    result = CliRunner().invoke(cli, ["validate", "-f", str(tmp_path / "deploy.yaml"), "--debug"])
    assert result.exit_code == 1 and "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: ")


def test_no_color_is_plain(tmp_path, monkeypatch):
    from deployer import console

    monkeypatch.setenv("FORCE_COLOR", "1")
    assert console.color_enabled()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not console.color_enabled()


# --------------------------------------------------------------------------- engine wording


@pytest.fixture()
def engine(tmp_path):
    from deployer.engine import LocalSession

    session = LocalSession(tmp_path / "engine", "ML", "S")
    session.run("CREATE DATABASE IF NOT EXISTS ML")
    session.run("CREATE SCHEMA IF NOT EXISTS ML.S")
    session.run("CREATE TABLE T (A INT)")
    yield session
    session.close()


@pytest.mark.parametrize("sql, message", [
    ("SELECT A\nFROM T WHERE BOGUS > 1", "SQL compilation error: error line 2 at position 13 invalid identifier 'BOGUS'"),
    ("select b from t", "SQL compilation error: error line 1 at position 7 invalid identifier 'B'"),
    ("SELECT * FROM NOPE", "SQL compilation error: Object 'NOPE' does not exist or not authorized."),
    ("SELEC 1", "SQL compilation error: syntax error line 1 at position 6 unexpected '1'."),
    ("SELECT FOO(A) FROM T", "SQL compilation error: Unknown function FOO"),
])
def test_engine_words_failures_as_snowflake(engine, sql, message):
    from deployer.errors import SQLError

    with pytest.raises(SQLError) as failed:
        engine.run(sql)
    assert str(failed.value) == message
    assert "Binder Error" not in str(failed.value) and "Catalog Error" not in str(failed.value)


def test_status_detailed_exitcode_after_a_hand_made_drift(tmp_path):
    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression

    (tmp_path / "models").mkdir()
    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    joblib.dump(LinearRegression().fit(x, x @ np.array([1.0, 2.0]) + 2.0), tmp_path / "models" / "model.joblib")
    (tmp_path / "deploy.yaml").write_text(textwrap.dedent("""\
        version: 1
        database: ML
        schema: DATA_MODEL
        stage: MLOPS_STAGE
        models:
          - name: predict
            framework: sklearn
            artifact: models/model.joblib
            features: [{name: FEATURE_1, type: float}, {name: FEATURE_2, type: float}]
            output: {type: float}
        """))

    def run(*args, expect=0):
        result = CliRunner().invoke(cli, [args[0], "-f", str(tmp_path / "deploy.yaml"), *args[1:]])
        assert result.exit_code == expect, result.stdout + result.stderr
        return result

    run("status", "--detailed-exitcode", expect=2)  # not deployed
    run("apply", "--no-preflight", "--auto-approve")
    run("status", "--detailed-exitcode")
    run("status")  # without the flag, drift is no failure
    # A hand edit in a worksheet: the body changes, the comment (and its spec hash) stays.
    shown = run("sql", "--format", "json", "DESCRIBE FUNCTION ML.DATA_MODEL.PREDICT(FLOAT, FLOAT)").stdout
    import json

    props = {r["property"]: r["value"] for r in json.loads(shown)}
    rows = json.loads(run("sql", "--format", "json", "SHOW USER FUNCTIONS IN SCHEMA ML.DATA_MODEL").stdout)
    comment = rows[0]["description"]
    imports = ", ".join(f"'{p}'" for p in props["imports"].strip("[]").split(","))
    packages = props["packages"].strip("[]")
    run("sql", "CREATE OR REPLACE FUNCTION ML.DATA_MODEL.PREDICT(FEATURE_1 FLOAT, FEATURE_2 FLOAT) RETURNS FLOAT "
        f"LANGUAGE PYTHON RUNTIME_VERSION = '3.11' COMMENT = '{comment}' IMPORTS = ({imports}) "
        f"PACKAGES = ({packages}) HANDLER = 'predict' AS $$\n{props['body']}\n# patched by hand\n$$")
    drifted = run("status", "--detailed-exitcode", expect=2)
    assert "DRIFTED" in drifted.stdout and "handler code changed outside deployer" in drifted.stdout


def test_reason_log_level(tmp_path):
    assert reasons_after(tmp_path, lambda m: replace(m, log_level="WARN")) == ["log_level unset -> WARN"]


HELPERS = '''\
import logging

def double(frame):
    logging.getLogger("helpers").warning("scoring %d rows", len(frame))
    if (frame > 1000).any().any():
        raise ValueError("feature out of range")
    return frame * 2
'''


def test_logs_returns_what_a_handler_logged(tmp_path, monkeypatch):
    """A Pipeline whose first step logs (through an imported helper) is deployed; logs reads it back."""
    import json
    import sys

    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    (tmp_path / "models").mkdir()
    (tmp_path / "helpers.py").write_text(HELPERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    import helpers

    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    model = make_pipeline(FunctionTransformer(helpers.double), LinearRegression()).fit(x, x @ [1.0, 2.0])
    joblib.dump(model, tmp_path / "models" / "model.joblib")
    sys.modules.pop("helpers", None)
    (tmp_path / "deploy.yaml").write_text(textwrap.dedent("""\
        version: 1
        database: ML
        schema: DATA_MODEL
        stage: MLOPS_STAGE
        defaults: {log_level: warn}
        models:
          - name: predict
            framework: sklearn
            artifact: models/model.joblib
            imports: [helpers.py]
            features: [{name: FEATURE_1, type: float}, {name: FEATURE_2, type: float}]
            output: {type: float}
        """))

    def run(*args, expect=0):
        result = CliRunner().invoke(cli, [args[0], "-f", str(tmp_path / "deploy.yaml"), *args[1:]])
        assert result.exit_code == expect, result.stdout + result.stderr
        return result

    shown = run("plan", "--no-preflight", "--format", "sql").stdout
    assert "LOG_LEVEL = 'WARN'" in shown
    run("apply", "--no-preflight", "--auto-approve")
    run("sql", "SELECT predict(1, 2) AS y")
    text = run("logs", "predict", "--since", "10m").stdout
    assert "WARN  PREDICT: scoring 1 rows" in text
    records = [json.loads(line) for line in run("logs", "--level", "warn", "--format", "json").stdout.splitlines()]
    assert records and records[-1]["severity"] == "WARN" and records[-1]["function"].startswith("PREDICT(")
    assert run("logs", "--level", "error").stdout == ""
    run("sql", "SELECT predict(5000, 2) AS y", expect=1)
    errors = run("logs", "--level", "error").stdout.splitlines()
    assert len(errors) == 1, errors
    (error,) = errors
    assert " ERROR PREDICT: " in error and error.endswith("ValueError: feature out of range")
    assert "--since: expected a duration" in run("logs", "--since", "soon", expect=1).stderr
    assert "no model named other" in run("logs", "other", expect=1).stderr


# --------------------------------------------------------------------------- init


def test_init_on_a_sklearn_pipeline_validates_and_deploys(tmp_path, monkeypatch):
    import joblib
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = pd.DataFrame({"area": [50.0, 80, 120, 60], "ROOMS": [1.0, 2, 3, 2], "CITY": ["paris", "lyon", "paris", "nice"]})
    columns = ColumnTransformer([("num", StandardScaler(), ["area", "ROOMS"]),
                                 ("cat", OneHotEncoder(handle_unknown="ignore"), ["CITY"])])
    model = make_pipeline(columns, LinearRegression()).fit(frame, frame.area * 3 + frame.ROOMS)
    (tmp_path / "models").mkdir()
    joblib.dump(model, tmp_path / "models" / "price.joblib")
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(cli, ["init", "models/price.joblib"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "deploy.yaml: valid" in result.stdout
    text = (tmp_path / "deploy.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=.deployer/deploy.schema.json\n")
    assert (tmp_path / ".deployer" / "deploy.schema.json").is_file()
    assert """- {name: '"area"', type: float}""" in text and "- {name: CITY, type: string}" in text
    assert "output: {type: float}" in text and "packages: [scikit-learn]" in text
    expected = float(model.predict(pd.DataFrame([[1.0, 1.0, "lyon"]], columns=["area", "ROOMS", "CITY"]))[0])
    assert f"expect: {expected:.10g}"[:14] in text

    applied = CliRunner().invoke(cli, ["apply", "--auto-approve"])
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert "Apply complete: 3 change(s)." in applied.stdout and "ok   PRICE(" in applied.stdout

    again = CliRunner().invoke(cli, ["init", "models/price.joblib"])
    assert again.exit_code == 1 and "never overwrites" in again.stderr
    assert (tmp_path / "deploy.yaml").read_text() == text


def test_init_refuses_what_it_does_not_know(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    result = CliRunner().invoke(cli, ["init", "notes.txt"])
    assert result.exit_code == 1 and result.stderr.startswith("error: notes.txt: not a model deployer knows")
    assert not (tmp_path / "deploy.yaml").exists()


@pytest.mark.slow
def test_init_on_a_keras_file_validates_and_deploys(tmp_path, monkeypatch):
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.layers[0].set_weights([np.array([[1.0], [2.0], [3.0]]), np.array([0.5])])
    (tmp_path / "models").mkdir()
    model.save(tmp_path / "models" / "model.h5")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["init", "models/model.h5"])
    assert result.exit_code == 0, result.stdout + result.stderr
    text = (tmp_path / "deploy.yaml").read_text()
    assert "name: PREDICT" in text and "- {name: FEATURE_3, type: float}" in text
    assert "input: {FEATURE_1: 1.0, FEATURE_2: 1.0, FEATURE_3: 1.0}" in text and "expect: 6.5" in text
    applied = CliRunner().invoke(cli, ["apply", "--auto-approve", "--no-preflight"])
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert "ok   PREDICT(1.0, 1.0, 1.0) = 6.5" in applied.stdout


def test_pre_commit_hooks_run_real_commands():
    import shlex

    import yaml

    hooks = yaml.safe_load((Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"deployer-validate", "deployer-validate-preflight"}
    for hook in hooks:
        program, *args = shlex.split(hook["entry"])
        assert program == "deployer"
        result = CliRunner().invoke(cli, [*args, "--help"])
        assert result.exit_code == 0, result.stderr  # every option the hook passes exists


def test_large_uploads_report_bytes_time_and_rate(tmp_path):
    from deployer import console

    sent, said, live = [], [], []

    class Session:
        def put(self, local_path, stage_dir, *, overwrite=True, progress=None):
            sent.append((local_path, stage_dir, progress is not None))
            if progress is not None:
                total = local_path.stat().st_size
                for done in (total // 3, total):
                    progress(done, total)
            return "done"

    class Steps(console.Steps):
        def update(self, text):
            live.append(text)

    (tmp_path / "models").mkdir()
    big, small = tmp_path / "models" / "big.h5", tmp_path / "models" / "small.ct"
    big.write_bytes(b"\0" * (3 * console.LARGE_FILE // 2))
    small.write_bytes(b"x")
    steps = Steps()
    shown = console.ShowUploads(Session(), steps, tmp_path, said.append)
    assert shown.put(big, "@S/A") == "done" and shown.put(small, "@S/B") == "done"
    assert [s[1:] for s in sent] == [("@S/A", True), ("@S/B", False)]  # only large files count bytes
    assert live == ["uploading models/big.h5  512.0 KiB / 1.5 MiB", "uploading models/big.h5  1.5 MiB / 1.5 MiB"]
    (line,) = said
    assert line.startswith("    uploaded models/big.h5: 1.5 MiB in ") and line.endswith("/s)")
    assert steps.times == []  # counted in the change's own time, not twice
    assert console.size(1 << 30) == "1.0 GiB" and console.size(412 << 20) == "412.0 MiB"


def test_the_local_engine_reports_bytes_as_it_copies(tmp_path):
    from deployer.engine import LocalSession

    source = tmp_path / "model.h5"
    source.write_bytes(b"\1" * (5 * (1 << 20) // 2))
    seen = []
    with LocalSession(tmp_path / "account", "ML", "S") as engine:
        engine.run("CREATE STAGE IF NOT EXISTS ML.S.ST")
        engine.put(source, "@ML.S.ST/a", progress=lambda done, total: seen.append((done, total)))
    size = source.stat().st_size
    assert [d for d, _ in seen] == [1 << 20, 2 << 20, size] and {t for _, t in seen} == {size}


def test_steps_are_timed_without_a_terminal():
    from deployer import console

    steps = console.Steps()
    with steps.step("reading the manifest"):
        steps.update("still reading")
    assert [name for name, _ in steps.times] == ["reading the manifest"]
    assert steps.summary().startswith("reading the manifest 0.")


def test_many_changes_of_one_kind_are_summed_in_the_time_line():
    from deployer import console

    steps = console.Steps()
    steps.times.append(("reading the manifest", 0.25))
    for i in range(500):
        steps.tally("file", f"file @ST/M{i}/m{i}.joblib", 0.001)
    for i in range(2):
        steps.tally("stage", f"stage ST{i}", 0.5)
    for i in range(500):
        steps.tally("function", f"function M{i}(FLOAT)", 0.05)
    assert steps.summary() == ("reading the manifest 0.2s, 500 files 0.5s, stage ST0 0.5s, stage ST1 0.5s, "
                               "500 functions 25.0s")


def test_plan_verbose_diffs_the_handler_against_the_live_body(tmp_path):
    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression

    (tmp_path / "models").mkdir()
    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    joblib.dump(LinearRegression().fit(x, x @ np.array([1.0, 2.0])), tmp_path / "models" / "model.joblib")
    manifest = textwrap.dedent("""\
        version: 1
        database: ML
        schema: DATA_MODEL
        stage: MLOPS_STAGE
        models:
          - name: predict
            framework: sklearn
            artifact: models/model.joblib
            features: [{name: FEATURE_1, type: float}, {name: FEATURE_2, type: float}]
            output: {type: float}
        """)
    (tmp_path / "deploy.yaml").write_text(manifest)

    def run(*args, expect=0):
        result = CliRunner().invoke(cli, [args[0], "-f", str(tmp_path / "deploy.yaml"), *args[1:]])
        assert result.exit_code == expect, result.stdout + result.stderr
        return result

    first = run("plan", "--no-preflight", "-v").stdout
    assert "| PUT 'file://models/model.joblib' @ML.DATA_MODEL.MLOPS_STAGE/PREDICT/" in first
    assert str(tmp_path) not in first
    run("apply", "--no-preflight", "--auto-approve")
    (tmp_path / "deploy.yaml").write_text(manifest.replace("    output: {type: float}\n",
                                                           "    output: {type: float}\n    max_batch_size: 1000\n"))
    shown = run("plan", "--no-preflight", "-v").stdout
    assert "max_batch_size unset -> 1000" in shown and "handler code changed" not in shown
    assert "--- live ML.DATA_MODEL.PREDICT(FLOAT, FLOAT)" in shown and "+++ rendered from the manifest" in shown
    assert "# ... handler," in shown  # the body itself is not dumped
    assert any(line.strip().startswith("+") and "1000" in line for line in shown.splitlines())
    markdown = run("plan", "--no-preflight", "--format", "markdown").stdout
    assert "```diff\n--- live ML.DATA_MODEL.PREDICT(FLOAT, FLOAT)" in markdown
    assert "| `~` function `ML.DATA_MODEL.PREDICT(FLOAT, FLOAT)` | updated in place | max_batch_size unset -> 1000 |" \
        in markdown


def test_init_reads_an_mlflow_signature(tmp_path, monkeypatch):
    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression

    folder = tmp_path / "house_price"
    folder.mkdir()
    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    joblib.dump(LinearRegression().fit(x, x @ np.array([1.0, 2.0]) + 1.0), folder / "model.pkl")
    signature = '[{"type": "double", "name": "SURFACE"}, {"type": "long", "name": "ROOMS"}]'
    (folder / "MLmodel").write_text(textwrap.dedent(f"""\
        flavors:
          python_function: {{loader_module: mlflow.sklearn, model_path: model.pkl}}
          sklearn: {{pickled_model: model.pkl, serialization_format: cloudpickle}}
        signature:
          inputs: '{signature}'
          outputs: '[{{"type": "tensor", "tensor-spec": {{"dtype": "float64", "shape": [-1]}}}}]'
        """))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["init", "house_price", "--no-preflight"])
    assert result.exit_code == 0, result.stdout + result.stderr
    text = (tmp_path / "deploy.yaml").read_text()
    assert "name: HOUSE_PRICE" in text and "artifact: house_price/model.pkl" in text
    assert "- {name: SURFACE, type: float}" in text and "- {name: ROOMS, type: int}" in text
    assert "# features and types from the MLflow signature" in text
    assert "input: {SURFACE: 1.0, ROOMS: 1}" in text and "expect: 4.0" in text  # 1 + 1 * 1 + 2 * 1


def test_no_color_flag_anywhere_turns_colour_off(tmp_path, monkeypatch):
    from deployer import console

    monkeypatch.setenv("FORCE_COLOR", "1")
    (tmp_path / "deploy.yaml").write_text("version: 1\nmodels: 3\n")
    CliRunner().invoke(cli, ["validate", "-f", str(tmp_path / "deploy.yaml"), "--no-color"])
    assert not console.color_enabled()
    CliRunner().invoke(cli, ["validate", "-f", str(tmp_path / "deploy.yaml")])
    assert console.color_enabled()


def test_logs_find_the_accounts_event_table(tmp_path):
    from dataclasses import replace as copy

    from deployer import logs
    from deployer.desired import Target
    from deployer.errors import DeployerError
    from deployer.session import Result

    class Account:
        def __init__(self, value):
            self.value, self.sent = value, []

        def run(self, sql):
            self.sent.append(sql)
            return Result(("key", "value", "default", "level"), (("EVENT_TABLE", self.value, "", "ACCOUNT"),))

    state, _ = make(tmp_path)
    prod = copy(state, target=Target("prod", "snowflake", connection="prod"))
    account = Account("OBS.TELEMETRY.EVENTS")
    assert logs.event_table(account) == "OBS.TELEMETRY.EVENTS"
    assert account.sent == ["SHOW PARAMETERS LIKE 'EVENT_TABLE' IN ACCOUNT"]
    for unset in ("", "NONE"):
        with pytest.raises(DeployerError, match="has no active event table.*ALTER ACCOUNT SET EVENT_TABLE"):
            logs.event_table(Account(unset))
    # The local engine answers in Snowflake's shape.
    from deployer.engine import LocalSession

    with LocalSession(tmp_path / "engine") as engine:
        shown = engine.run("SHOW PARAMETERS LIKE 'event_table' IN ACCOUNT")
        assert shown.columns == ("key", "value", "default", "level", "description", "type")
        assert shown.rows[0][:2] == ("EVENT_TABLE", "SNOWFLAKE.TELEMETRY.EVENTS")
        assert logs.event_table(engine) == "SNOWFLAKE.TELEMETRY.EVENTS"
    # --follow on Snowflake looks back over the ingestion delay and shows each record once.
    from datetime import datetime, timedelta

    t0 = datetime(2026, 1, 1, 12, 0)
    first, late, newer = (logs.Record(t0 + timedelta(seconds=s), "WARN", "PREDICT(X FLOAT):FLOAT", m)
                          for s, m in ((10, "first"), (5, "late"), (20, "newer")))
    tail = logs.Tail(t0, timedelta(minutes=3))
    assert tail.new([first]) == [first] and tail.since() == first.time - timedelta(minutes=3)
    assert tail.new([late, first, newer]) == [late, newer]  # `late` became visible after `first`
    assert tail.new([late, first, newer]) == []
    sql = logs.query(prod, "OBS.TELEMETRY.EVENTS", ["PREDICT"], after=logs.since(logs.parse_since("2h")),
                     level="WARN", limit=10)
    assert "FROM OBS.TELEMETRY.EVENTS WHERE" in sql and "STARTSWITH(RESOURCE_ATTRIBUTES:\"snow.executable.name\"::STRING, 'PREDICT(')" in sql
    assert "IN ('WARN', 'ERROR', 'FATAL')" in sql and sql.endswith("LIMIT 10")



def test_the_same_preflight_note_about_many_models_is_one_line():
    from deployer.cli import grouped_notes

    notes = [f"M{i}: isolated environment off (--no-isolated-env): preflight ran in this Python" for i in range(500)]
    notes[1:1] = ["M0: preflight skipped, xgboost not installed here", "a note about no model: M7"]
    assert grouped_notes(notes, {f"M{i}" for i in range(500)}) == [
        "M0, M1, M2 and 497 more: isolated environment off (--no-isolated-env): preflight ran in this Python",
        "M0: preflight skipped, xgboost not installed here",
        "a note about no model: M7",
    ]
    assert grouped_notes(["X: not a model", "M1: once"], {"M1"}) == ["X: not a model", "M1: once"]
