"""The executor: runs a plan's operations on a session, in order."""

from __future__ import annotations

from typing import Callable

from deployer.errors import DeployerError, SQLError
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

