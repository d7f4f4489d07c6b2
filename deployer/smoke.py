"""Smoke tests: how a test row becomes a SQL call and how its result is judged.

Preflight (on a throwaway local engine) and apply (on the target) both use
this, so a test that passes in one passes in the other.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from deployer.codegen import RenderedFunction, sql_string
from deployer.desired import DesiredState, Model, SmokeTest, base_type, sql_type
from deployer.errors import SQLError
from deployer.identifiers import qualified
from deployer.session import Session


def literal(value: Any, kind: str) -> str:
    """A SQL literal of the feature's type; strings are escaped, never pasted raw."""
    target = sql_type(kind)
    kind = base_type(kind)
    if value is None:
        return f"CAST(NULL AS {target})"
    if kind == "string":
        return sql_string(str(value))
    if kind == "boolean":
        return "TRUE" if value else "FALSE"
    if kind == "int":
        return f"CAST({int(value)} AS {target})"
    if not math.isfinite(float(value)):
        return f"CAST('{float(value)!r}' AS {target})"  # 'nan', 'inf': Snowflake reads these
    return f"CAST({float(value)!r} AS {target})"


def _bare(value: Any, kind: str) -> str:
    """A literal without a cast where the column's type already comes from another row."""
    base = base_type(kind)
    if value is None:
        return "NULL"
    if base == "int":
        return str(int(value))
    if base in ("float", "number") and math.isfinite(float(value)):
        text = repr(float(value))
        # For DuckDB a number with an exponent is a DOUBLE, without one a DECIMAL converted to
        # the column's DOUBLE (a third of a 300-row batch's time); Snowflake reads the same
        # number either way, and the first row's CAST types the column in both.
        return text if base == "number" or "e" in text else text + "e0"
    return literal(value, kind)


def call(state: DesiredState, model: Model, inputs: Iterable[Any]) -> str:
    """`SELECT DB.SCHEMA.NAME(<literals>) AS RESULT` for one row of inputs."""
    return call_named(qualified(state.database, state.schema, model.name),
                      tuple(f.type for f in model.features), inputs, table=model.is_table)


def call_named(name: str, types: tuple[str, ...], inputs: Iterable[Any], table: bool = False) -> str:
    args = ", ".join(literal(v, kind) for v, kind in zip(inputs, types))
    if table:
        return f"SELECT * FROM TABLE({name}({args}))"
    return f"SELECT {name}({args}) AS RESULT"


def result_of(rows: tuple, columns: tuple[str, ...] | None) -> Any:
    """What a test compares: the value of a scalar call; for a table function (`columns`, its
    outputs as written in the manifest) its first row as a mapping, column by position."""
    if not rows:
        return None
    if columns is None:
        return rows[0][0]
    return dict(zip(columns, rows[0]))


def run_test(session: Session, name: str, types: tuple[str, ...], inputs: Iterable[Any],
             columns: tuple[str, ...] | None = None) -> Any:
    return result_of(session.run(call_named(name, types, inputs, table=columns is not None)).rows, columns)


def compare(actual: Any, expect: Any, tolerance: float | None) -> str | None:
    """None when `actual` passes; else what was expected and found. No tolerance means exact.

    An OBJECT result (a mapping, or its JSON text as connectors return it) is compared key by
    key against a mapping `expect`, each value with the tolerance.
    """
    if isinstance(expect, dict):
        return _compare_object(actual, expect, tolerance)
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


def _compare_object(actual: Any, expect: dict, tolerance: float | None) -> str | None:
    if isinstance(actual, str):
        try:
            actual = json.loads(actual)
        except ValueError:
            pass
    if not isinstance(actual, dict):
        return f"expected an OBJECT {expect!r}, got {actual!r}"
    wrong = []
    for key, want in expect.items():
        if key not in actual:
            wrong.append(f"{key}: missing (keys: {', '.join(map(str, actual))})")
            continue
        failure = compare(actual[key], want, tolerance)
        if failure:
            wrong.append(f"{key}: {failure}")
    return "; ".join(wrong) or None


@dataclass(frozen=True)
class TestResult:
    function: str
    inputs: tuple[Any, ...]
    expect: Any
    actual: Any = None
    error: str | None = None
    batch: bool = False  # a synthetic batch, not one of the manifest's tests

    @property
    def passed(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        if self.batch:
            what = str(self.inputs[0]).strip("<>")
            return f"ok   {self.function}: {what}" if self.passed else f"FAIL {self.function}: {what}: {self.error}"
        args = ", ".join(map(repr, self.inputs))
        if self.passed:
            return f"ok   {self.function}({args}) = {self.actual!r}"
        return f"FAIL {self.function}({args}): {self.error}"


def synthetic_rows(types: tuple[str, ...], tests: tuple[SmokeTest, ...], rows: int,
                   seed: int = 0, known: tuple = ()) -> tuple[tuple, ...]:
    """Plausible rows; a few rows with a NULL. Per feature, values come from `known`
    (deployer.samples: the manifest's sample, the fitted pipeline's categories or ranges),
    else from around the smoke-test values. The same arguments give the same rows (the
    same tuple: models of one shape share their batch and its SQL text, see batch_sql)."""
    # By repr, not equality: 1, 1.0 and True are equal but make different rows for a
    # string feature; a value without a faithful repr only misses.
    key = repr((types, tests, rows, seed, known))
    found = _BATCHES.get(key)
    if found is None:
        if len(_BATCHES) >= 64:
            _BATCHES.pop(next(iter(_BATCHES)))
        found = _BATCHES[key] = _synthetic_rows(types, tests, rows, seed, known)
    return found


_BATCHES: dict = {}


def _synthetic_rows(types, tests, rows, seed, known) -> tuple[tuple, ...]:
    rng = np.random.default_rng(seed)
    columns = []
    for i, kind in enumerate(types):
        kind = base_type(kind)
        seen = [t.inputs[i] for t in tests if t.inputs[i] is not None]
        hint = known[i] if i < len(known) else None
        if hint is not None and hint.choices:
            choices = list(hint.choices)
            columns.append([choices[j] for j in rng.integers(0, len(choices), rows)])
            continue
        if hint is not None and hint.low is not None and kind in ("float", "number", "int"):
            if kind == "int":
                col = [int(v) for v in rng.integers(int(np.floor(hint.low)), int(np.ceil(hint.high)) + 1, rows)]
            else:
                col = [round(float(v), 6) for v in rng.uniform(hint.low, hint.high, rows)]
            columns.append(col)
            continue
        if kind in ("float", "number"):
            center = float(np.mean(seen)) if seen else 0.0
            spread = (float(np.std(seen)) if seen else 0.0) or abs(center) * 0.1 or 1.0
            col = [round(float(v), 6) for v in rng.normal(center, spread, rows)]
        elif kind == "int":
            lo, hi = (int(min(seen)), int(max(seen))) if seen else (0, 10)
            col = [int(v) for v in rng.integers(lo, hi + 1, rows)]
        elif kind == "boolean":
            col = [bool(v) for v in rng.integers(0, 2, rows)]
        else:
            choices = sorted({str(v) for v in seen}) or ["a", "b", "c"]
            col = [choices[j] for j in rng.integers(0, len(choices), rows)]
        columns.append(col)
    batch = [list(r) for r in zip(*columns)] if columns else [[] for _ in range(rows)]
    for i in range(min(len(types), rows // 10)):  # NULL in each feature once
        batch[i * 7][i] = None
    return tuple(tuple(r) for r in batch)


def batch_sql(name: str, types: tuple[str, ...], batch: tuple[tuple, ...], table: bool = False) -> str:
    """One query calling `name` on every row of `batch`, rows back in order (ID, RESULT); a
    table function as a lateral call (ID, then its columns: see batch_results)."""
    cols = [f"C{i}" for i in range(len(types))]
    source = f"(VALUES {_values(types, batch)}) AS T(ID{''.join(', ' + c for c in cols)})"
    if table:
        return (f"SELECT T.ID, P.* FROM {source}, TABLE({name}({', '.join('T.' + c for c in cols)})) AS P "
                "ORDER BY T.ID")
    return f"SELECT ID, {name}({', '.join(cols)}) AS RESULT FROM {source} ORDER BY ID"


def _values(types: tuple[str, ...], batch: tuple[tuple, ...]) -> str:
    found = _TEXTS.get(id(batch))
    if found is not None and found[0] is batch and found[1] == types:
        return found[2]
    # The first row's casts type each column (VALUES takes the rows' common type); the others
    # are bare literals, a third of the text to parse for the engine and for Snowflake.
    text = ",\n".join(f"({i}" + "".join(", " + (literal(v, kind) if i == 0 else _bare(v, kind))
                                         for v, kind in zip(row, types)) + ")"
                       for i, row in enumerate(batch))
    if isinstance(batch, tuple):  # a list could change under its id
        if len(_TEXTS) >= 16:
            _TEXTS.pop(next(iter(_TEXTS)))
        _TEXTS[id(batch)] = (batch, types, text)
    return text


# id(batch) -> (batch, types, text): a batch is shared by identity (synthetic_rows), and the
# entry holds it, so its id is not reused while the entry lives.
_TEXTS: dict = {}


def batch_results(rows: tuple, table: bool) -> tuple:
    """A table function's batch answer as (ID, RESULT): its columns, or None for a row of NULLs."""
    if not table:
        return rows
    return tuple((r[0], None if all(v is None for v in r[1:]) else tuple(r[1:])) for r in rows)


def batch_problem(batch: list[tuple], result: tuple) -> str | None:
    """What is wrong with a synthetic batch's answer: row count, NULL in and out."""
    if len(result) != len(batch):
        return f"expected {len(batch)} rows back, got {len(result)}"
    with_null = {i for i, row in enumerate(batch) if None in row}
    wrong = [i for i in sorted(with_null) if result[i][1] is not None]
    if wrong:
        return f"a row with a NULL feature must return NULL, row {wrong[0]} returned {result[wrong[0]][1]!r}"
    empty = [i for i, r in enumerate(result) if r[1] is None and i not in with_null]
    if empty:
        return f"{len(empty)} of {len(batch) - len(with_null)} rows without NULL returned NULL"
    return None


def check_function(session: Session, name: str, label: str, features: tuple[tuple[str, str], ...],
                   tests: tuple[SmokeTest, ...], batch_rows: int = 300, known: tuple = (),
                   columns: tuple[str, ...] | None = None) -> list[TestResult]:
    """A model's smoke tests and a synthetic batch, called as `name` on the target (a table
    function when `columns`, its outputs, are given)."""
    types = tuple(kind for _, kind in features)
    table = columns is not None
    results = []
    for test in tests:
        try:
            actual = run_test(session, name, types, test.inputs, columns)
        except SQLError as exc:
            results.append(TestResult(label, test.inputs, test.expect, error=str(exc)))
            continue
        results.append(TestResult(label, test.inputs, test.expect, actual, compare(actual, test.expect, test.tolerance)))
    if batch_rows and not any(not r.passed for r in results):
        batch = synthetic_rows(types, tests, batch_rows, known=known)
        try:
            problem = batch_problem(batch, batch_results(session.run(batch_sql(name, types, batch, table)).rows, table))
        except SQLError as exc:
            problem = str(exc)
        results.append(TestResult(label, (f"<synthetic batch of {batch_rows} rows>",), None, None, problem,
                                  batch=True))
    return results


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
                actual = result_of(session.run(call(state, model, test.inputs)).rows,
                                   tuple(o.name for o in model.outputs) if model.is_table else None)
            except SQLError as exc:
                results.append(TestResult(model.name, test.inputs, test.expect, error=str(exc)))
                continue
            error = compare(actual, test.expect, test.tolerance)
            results.append(TestResult(model.name, test.inputs, test.expect, actual, error))
    return results
