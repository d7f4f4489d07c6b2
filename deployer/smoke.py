"""Smoke tests: how a test row becomes a SQL call and how its result is judged.

Preflight (on a throwaway local engine) and apply (on the target) both use
this, so a test that passes in one passes in the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from deployer.codegen import RenderedFunction, sql_string
from deployer.desired import SQL_TYPES, DesiredState, Model
from deployer.errors import SQLError
from deployer.identifiers import qualified
from deployer.session import Session


def literal(value: Any, kind: str) -> str:
    """A SQL literal of the feature's type; strings are escaped, never pasted raw."""
    sql_type = SQL_TYPES[kind]
    if value is None:
        return f"CAST(NULL AS {sql_type})"
    if kind == "string":
        return sql_string(str(value))
    if kind == "boolean":
        return "TRUE" if value else "FALSE"
    if kind == "int":
        return f"CAST({int(value)} AS {sql_type})"
    if not math.isfinite(float(value)):
        return f"CAST('{float(value)!r}' AS {sql_type})"  # 'nan', 'inf': Snowflake reads these
    return f"CAST({float(value)!r} AS {sql_type})"


def call(state: DesiredState, model: Model, inputs: Iterable[Any]) -> str:
    """`SELECT DB.SCHEMA.NAME(<literals>) AS RESULT` for one row of inputs."""
    name = qualified(state.database, state.schema, model.name)
    args = ", ".join(literal(v, f.type) for v, f in zip(inputs, model.features))
    return f"SELECT {name}({args}) AS RESULT"


def compare(actual: Any, expect: Any, tolerance: float | None) -> str | None:
    """None when `actual` passes; else what was expected and found. No tolerance means exact."""
    shown = f"expected {expect!r}{f' ± {tolerance}' if tolerance is not None else ''}, got {actual!r}"
    if expect is None or actual is None:
        return None if expect is actual else shown
    if isinstance(expect, bool):
        return None if bool(actual) == expect else shown
    if isinstance(expect, (int, float)):
        try:
            diff = abs(float(actual) - float(expect))
        except (TypeError, ValueError):
            return shown
        return None if diff <= (tolerance or 0.0) else shown  # NaN compares False: a failure
    return None if str(actual) == str(expect) else shown


@dataclass(frozen=True)
class TestResult:
    function: str
    inputs: tuple[Any, ...]
    expect: Any
    actual: Any = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        args = ", ".join(map(repr, self.inputs))
        if self.passed:
            return f"ok   {self.function}({args}) = {self.actual!r}"
        return f"FAIL {self.function}({args}): {self.error}"


def smoke_tests(session: Session, state: DesiredState, functions: Iterable[RenderedFunction],
                only: Iterable[str] | None = None) -> list[TestResult]:
    """Run the tests of `functions` (or of those whose signature is in `only`) on the target."""
    selected = set(only) if only is not None else None
    results = []
    for function in functions:
        if selected is not None and function.signature not in selected:
            continue
        model = function.model
        for test in model.tests:
            try:
                rows = session.run(call(state, model, test.inputs)).rows
                actual = rows[0][0] if rows else None
            except SQLError as exc:
                results.append(TestResult(model.name, test.inputs, test.expect, error=str(exc)))
                continue
            error = compare(actual, test.expect, test.tolerance)
            results.append(TestResult(model.name, test.inputs, test.expect, actual, error))
    return results
