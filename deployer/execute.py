"""The executor: runs a plan's operations on a session, in order.

A function is rolled out by the plan's steps: create a candidate, test it on the target,
replace the live function, drop the candidate, write the release record. A failing test stops
the apply there: the candidate is dropped and the live function was never touched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from deployer import releases, tempdirs
from deployer.desired import CANDIDATE_SUFFIX, SIGNATURE_TYPES, base_type
from deployer.errors import DeployerError, SQLError
from deployer.plan import Change, Plan, PutFile, RunSQL, TestFunction, WriteRelease
from deployer.planner import drop_sql
from deployer.session import Session
from deployer.smoke import TestResult, check_function


class ApplyError(DeployerError):
    pass


def execute(session: Session, plan: Plan, on_change: Callable[[Change], None] = lambda c: None,
            on_test: Callable[[TestResult], None] = lambda r: None,
            on_op: Callable[[Change, object], None] = lambda c, op: None) -> int:
    """Run every operation in order; stop at the first failure with what was done so far.
    `on_op(change, op)` is called as each operation starts."""
    done = 0
    # Release records are written here before their upload: one folder for the whole apply.
    with tempdirs.folder("release") as scratch:
        for change in plan.changes:
            if change.is_noop:
                continue
            for op in change.operations:
                on_op(change, op)
                try:
                    _run(session, op, on_test, Path(scratch))
                except SQLError as exc:
                    raise ApplyError(f"apply failed at {change.type} {change.name} ({op.op}; "
                                     f"{done} change(s) applied before it): {exc}") from None
                except _TestsFailed as exc:
                    raise ApplyError(f"{change.type} {change.name}: {exc} ({done} change(s) applied before it)") from None
            done += 1
            on_change(change)
    return done


class _TestsFailed(Exception):
    pass


def _run(session: Session, op, on_test: Callable[[TestResult], None], scratch: Path) -> None:
    if isinstance(op, PutFile):
        session.put(op.local_path, op.stage_dir, overwrite=True)
    elif isinstance(op, RunSQL):
        session.run(op.sql)
    elif isinstance(op, TestFunction):
        results = check_function(session, op.function, op.model, op.features, op.tests, known=op.known(),
                                 columns=op.columns)
        for result in results:
            on_test(result)
        failed = [r for r in results if not r.passed]
        if failed:
            candidate = op.function.upper().endswith(CANDIDATE_SUFFIX)
            if candidate:  # the live function was never touched; leave nothing behind
                try:
                    session.run(drop_sql(op.function, tuple(_types(op))))
                except SQLError:
                    pass  # the next plan drops a leftover candidate
            where = "its candidate failed" if candidate else "it failed"
            raise _TestsFailed(f"{where} {len(failed)} of {len(results)} check(s) on the target"
                               + (", the live function is unchanged" if candidate else "")
                               + ": " + "; ".join(r.describe() for r in failed))
    elif isinstance(op, WriteRelease):
        name, record = releases.finish(op.record)
        path = scratch / name
        path.write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
        try:
            session.put(path, op.stage_dir, overwrite=False)
        finally:
            path.unlink()
    else:  # pragma: no cover - the plan's types are closed
        raise TypeError(f"unknown operation {op!r}")


def _types(op: TestFunction) -> list[str]:
    return [SIGNATURE_TYPES[base_type(kind)] for _, kind in op.features]
