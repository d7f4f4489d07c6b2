"""The executor: runs a plan's operations on a session, then the smoke tests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from deployer.codegen import RenderedFunction
from deployer.desired import DesiredState, SQL_TYPES
from deployer.errors import DeployerError, SQLError
from deployer.identifiers import qualified
from deployer.plan import Change, Plan, PutFile, RunSQL
from deployer.session import Session


class ApplyError(DeployerError):
    pass


def execute(session: Session, plan: Plan, on_change: Callable[[Change], None] = lambda c: None) -> int:
    """Run every operation in order; stop at the first failure with what was done so far."""
    done = 0
    for change in plan.changes:
        if change.is_noop:
            continue
        for op in change.operations:
            try:
                if isinstance(op, PutFile):
                    session.put(op.local_path, op.stage_dir, overwrite=True)
                elif isinstance(op, RunSQL):
                    session.run(op.sql)
            except SQLError as exc:
                raise ApplyError(f"apply failed at {change.type} {change.name} "
                                 f"({done} change(s) applied before it): {exc}") from None
        done += 1
        on_change(change)
    return done


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
    selected = set(only) if only is not None else None
    results = []
    for function in functions:
        if selected is not None and function.signature not in selected:
            continue
        model = function.model
        name = qualified(state.database, state.schema, model.name)
        for test in model.tests:
            sql = f"SELECT {name}({', '.join(literal(v, f.type) for v, f in zip(test.inputs, model.features))}) AS RESULT"
            try:
                rows = session.run(sql).rows
                actual = rows[0][0] if rows else None
            except SQLError as exc:
                results.append(TestResult(model.name, test.inputs, test.expect, error=str(exc)))
                continue
            error = compare(actual, test.expect, test.tolerance, model.output_type)
            results.append(TestResult(model.name, test.inputs, test.expect, actual, error))
    return results


def literal(value: Any, kind: str) -> str:
    """A SQL literal of the feature's type; strings are escaped, never pasted raw."""
    sql_type = SQL_TYPES[kind]
    if value is None:
        return f"NULL::{sql_type}"
    if kind == "boolean":
        return "TRUE" if value else "FALSE"
    if kind == "string":
        return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"
    if isinstance(value, float) and not math.isfinite(value):
        return f"'{value}'::FLOAT"
    return f"{value!r}::{sql_type}"


def compare(actual: Any, expect: Any, tolerance: float | None, kind: str) -> str | None:
    if expect is None or actual is None:
        return None if expect is None and actual is None else f"expected {expect!r}, got {actual!r}"
    if kind in ("float", "number", "int"):
        try:
            diff = abs(float(actual) - float(expect))
        except (TypeError, ValueError):
            return f"expected {expect!r}, got {actual!r}"
        allowed = tolerance if tolerance is not None else 1e-9 * max(1.0, abs(float(expect)))
        return None if diff <= allowed else f"expected {expect!r} ± {tolerance or 0}, got {actual!r} (off by {diff:.6g})"
    return None if actual == expect else f"expected {expect!r}, got {actual!r}"

