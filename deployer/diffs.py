"""Handler diffs for `plan -v` and the Markdown plan: the rendered handler against the live body.

Plans DESCRIBE nothing by default; only the functions a plan updates are DESCRIBEd here, one
statement each, and only when a diff is asked for.
"""

from __future__ import annotations

import difflib
import re
from typing import Iterable

from deployer.codegen import RenderedFunction
from deployer.desired import DesiredState
from deployer.errors import SQLError
from deployer.live import LiveState, _describe
from deployer.plan import Plan
from deployer.session import Session

_BODY = re.compile(r"(AS \$\$\n)(.*?)(\$\$)", re.S)


def handler_diffs(session: Session, state: DesiredState, plan: Plan, functions: Iterable[RenderedFunction],
                  current: LiveState) -> dict[str, str]:
    """Change name -> unified diff of the handler, for each function the plan updates in place."""
    updated = {c.name for c in plan.changes if c.type == "function" and c.actions == ("update",)}
    live_by_key = {(f.name, f.arg_types): f for f in current.functions}
    diffs = {}
    for function in functions:
        found = live_by_key.get((function.model.name, function.model.arg_types))
        if function.signature not in updated or found is None:
            continue
        try:
            body = found.body if found.described else _describe(session, state, found).body
        except SQLError:
            continue  # not readable (another role's function): the reasons still say why
        if body is None:
            continue  # SECURE, or owned by another role: Snowflake hides it
        diff = unified(body, function.handler, f"live {function.signature}", "rendered from the manifest")
        if diff:
            diffs[function.signature] = diff
    return diffs


def unified(old: str, new: str, old_name: str, new_name: str, context: int = 3) -> str:
    lines = difflib.unified_diff(old.strip("\n").splitlines(), new.strip("\n").splitlines(),
                                 old_name, new_name, n=context, lineterm="")
    return "\n".join(lines)


def elide_body(statement: str, note: str) -> str:
    """A CREATE FUNCTION statement with its handler body replaced by one line saying where it is."""
    def short(match: re.Match) -> str:
        count = len(match.group(2).splitlines())
        return f"{match.group(1)}# ... handler, {count} lines: {note}\n{match.group(3)}"

    return _BODY.sub(short, statement, count=1)


def has_body(statement: str) -> bool:
    return _BODY.search(statement) is not None
