"""One judge for smoke tests, shared by preflight and apply."""

import math

import pytest

from deployer.smoke import compare, literal


@pytest.mark.parametrize("actual,expect,tolerance,ok", [
    (7.0, 7.0, None, True),
    (7.000001, 7.0, None, False),  # no tolerance means exact
    (7.0004, 7.0, 0.001, True),
    (7.01, 7.0, 0.001, False),
    (math.nan, 7.0, 1.0, False),
    (None, None, None, True),
    (None, 1.0, None, False),
    (True, True, None, True),
    (False, True, None, False),
    ("high", "high", None, True),
    ("x", 1.0, None, False),
])
def test_compare(actual, expect, tolerance, ok):
    assert (compare(actual, expect, tolerance) is None) is ok


def test_failure_says_expected_and_found():
    assert compare(7.0, 9.5, 0.001) == "expected 9.5 ± 0.001, got 7.0"
    assert compare("a", "b", None) == "expected 'b', got 'a'"


def test_literals_are_typed_and_escaped():
    assert literal(12.5, "float") == "CAST(12.5 AS FLOAT)"
    assert literal(2.0, "int") == "CAST(2 AS NUMBER(38,0))"
    assert literal(None, "string") == "CAST(NULL AS VARCHAR)"
    assert literal("it's", "string") == "'it''s'"
    assert literal(True, "boolean") == "TRUE"
    assert literal(float("nan"), "float") == "CAST('nan' AS FLOAT)"


def test_models_of_one_shape_share_their_synthetic_batch():
    from deployer import smoke
    from deployer.desired import SmokeTest

    types = ("float", "int")
    tests = (SmokeTest((1.5, 3), 2.0),)
    first = smoke.synthetic_rows(types, tests, 50)
    assert smoke.synthetic_rows(types, tests, 50) is first  # made once
    assert smoke.synthetic_rows(types, tests, 50, seed=1) != first
    mapping = (SmokeTest((1.5, 3), {"a": 1}),)  # a test expecting a mapping
    assert smoke.synthetic_rows(types, mapping, 50) == first
    # equal values of other types are other rows: 1 and 1.0 are different strings
    text = ("string",)
    assert {r[0] for r in smoke.synthetic_rows(text, (SmokeTest((1,), 0),), 20)} - {None} == {"1"}
    assert {r[0] for r in smoke.synthetic_rows(text, (SmokeTest((1.0,), 0),), 20)} - {None} == {"1.0"}
    a, b = smoke.batch_sql("A", types, first), smoke.batch_sql("B", types, first)
    assert a.replace("A(C0, C1)", "B(C0, C1)") == b and a.count("CAST(") == 2  # only row 0 is cast
