"""Manifest side of names and outputs: what loads into the desired state, what is rejected."""

from __future__ import annotations

import pytest

from deployer.codegen import render_function
from deployer.errors import ManifestError
from deployer.manifest.load import load_manifest

from .conftest import write_manifest


def load(tmp_path, text):
    (tmp_path / "m.joblib").write_bytes(b"\x80\x04N.")
    return load_manifest(write_manifest(tmp_path, text))


def problems(tmp_path, text) -> str:
    with pytest.raises(ManifestError) as err:
        load(tmp_path, text)
    return str(err.value)


BASE = """
- name: predict
  framework: sklearn
  artifact: m.joblib
  features:
    - {name: sqft, type: float}
    - {name: '"Rooms"', type: int}
    - {name: house age, sql_name: age, type: 'number(5,1)'}
"""


def test_columns_keep_their_case_and_sql_names_follow_snowflake(tmp_path):
    state = load(tmp_path, BASE + "  output: {type: float}\n"
                 "  tests: [{input: {sqft: 1.5, Rooms: 2, house age: 3.5}, expect: 1.0, tolerance: 0.1}]\n")
    m = state.models[0]
    assert [(f.name, f.col, f.type) for f in m.features] == [
        ("SQFT", "sqft", "float"), ("Rooms", "Rooms", "int"), ("AGE", "house age", "number(5,1)")]
    assert m.tests[0].inputs == (1.5, 2, 3.5)
    sql = render_function(state, m, git_commit=None).sql
    assert 'PREDICT(SQFT FLOAT, "Rooms" NUMBER(38,0), AGE NUMBER(5,1))' in sql
    assert "FEATURES = ['sqft', 'Rooms', 'house age']" in render_function(state, m, git_commit=None).handler


def test_object_output_renders_returns_object(tmp_path):
    state = load(tmp_path, BASE + """  output:
    columns:
      - {name: label, type: string}
      - {name: p, type: float, method: predict_proba, class: "yes"}
  tests: [{input: {sqft: 1, Rooms: 2, house age: 3}, expect: {label: "yes", p: 0.5}, tolerance: 0.1}]
""")
    m = state.models[0]
    assert m.output_type == "object" and [o.name for o in m.outputs] == ["label", "p"]
    rendered = render_function(state, m, git_commit=None)
    assert "RETURNS OBJECT" in rendered.sql and "RESULT = 'object'" in rendered.handler


@pytest.mark.parametrize("output, expected", [
    ("{type: number}\n  tests: [{input: {sqft: 1, Rooms: 2, house age: 3}, expect: 0.73}]",
     "0.73 does not fit the output type number (expected a whole number: number is Snowflake's NUMBER, "
     "NUMBER(38,0), which rounds decimals away; declare float or number(38,6))"),
    ("{type: float, columns: [{name: a, type: float}]}", "output has both type and columns"),
    ("{type: float, column: 1, class: 'yes'}", "give column or class, not both"),
    ("{columns: [{name: a, type: float}, {name: a, type: int}]}", "duplicate output name 'a'"),
    ("{type: floaty}", "'floaty' is not one of 'float', 'int', 'number', 'string', 'boolean' or number(P,S) "
                       "(did you mean 'float'?)"),
    ("{type: 'number(40,2)'}", "number(40,2) is not a Snowflake NUMBER: precision is 1 to 38"),
    ("{columns: [{name: a, type: float}]}\n  tests: [{input: {sqft: 1, Rooms: 2, house age: 3}, expect: {b: 1}}]",
     "'b' is not an output of this model (outputs: a)"),
])
def test_bad_outputs_are_one_clear_message(tmp_path, output, expected):
    assert expected in problems(tmp_path, BASE + f"  output: {output}\n")


def test_a_name_that_is_not_an_identifier_asks_for_sql_name(tmp_path):
    text = BASE.replace("house age, sql_name: age", "house age") + "  output: {type: float}\n"
    assert "(give sql_name for the SQL argument; name stays the column)" in problems(tmp_path, text)
