"""Item 14: messages echo a bounded excerpt of values; NaN is refused in smoke tests."""

from __future__ import annotations

import pytest

from .helpers import BASE, make_project, rejected


LONG = "x" * 100_000


@pytest.mark.parametrize("old, new", [
    ("framework: sklearn", f"framework: {LONG}"),
    ("type: float}\n    output", f"type: {LONG}}}\n    output"),
    ("database: ML", f"database: {LONG}"),
    ("version: 1", f"version: {LONG}"),
    ("    output: {type: float}", f"    output: {{type: float}}\n    ? {LONG}\n    : 1"),  # a long key
    ("    output: {type: float}", f"    output: {{type: float}}\n    runtime_version: '{LONG}'"),
    ("    output: {type: float}", f"    output: {{type: float}}\n    ? {LONG}\n    : 1\n    ? {LONG}\n    : 2"),
])
def test_messages_echo_a_bounded_excerpt(tmp_path, old, new):
    err = rejected("validate", "-f", str(make_project(tmp_path, BASE.replace(old, new))), "--no-preflight")
    assert all(len(line) < 1000 for line in err.splitlines()), [len(line) for line in err.splitlines()]


TEST = "    tests:\n      - input: {FEATURE_1: 1.0, FEATURE_2: 2.0}\n        expect: EXPECT\n        tolerance: TOL\n"


@pytest.mark.parametrize("expect, tol, where", [(".nan", "0.1", "15:17: models[0].tests[0].expect"),
                                                 ("1.0", ".nan", "16:20: models[0].tests[0].tolerance"),
                                                 ("1.0", ".inf", "16:20: models[0].tests[0].tolerance")])
def test_nan_is_refused(tmp_path, expect, tol, where):
    manifest = make_project(tmp_path, BASE + TEST.replace("EXPECT", expect).replace("TOL", tol))
    err = rejected("validate", "-f", str(manifest), "--no-preflight")
    assert f"deploy.yaml:{where}: " in err and "must be a finite number" in err
