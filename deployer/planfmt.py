"""A plan shown four ways: text for people, JSON for machines, Markdown for pull requests, SQL for auditors."""

from __future__ import annotations

import json

from deployer.plan import Plan

SYMBOLS = {("create",): "+", ("update",): "~", ("delete",): "-", ("delete", "create"): "-/+", ("no-op",): " "}
VERBS = {("create",): "created", ("update",): "updated in place", ("delete",): "deleted",
         ("delete", "create"): "dropped and re-created"}


def summary_line(plan: Plan) -> str:
    s = plan.summary()
    return f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete."


def _package_lines(plan: Plan) -> list[str]:
    from deployer.pins import packages_lines

    lines = ["Packages:", *("  " + line for line in packages_lines(plan.packages))] if plan.packages else []
    return lines + [f"Warning: {w}" for w in plan.warnings]


def text(plan: Plan, *, verbose: bool = False) -> str:
    head = _package_lines(plan)
    head += [""] if head else []
    if not plan.has_changes:
        return "\n".join(head + [f"No changes. Target {plan.target} matches the manifest.", ""])
    lines = head + [f"deployer will perform the following actions on target {plan.target}:", ""]
    for change in plan.changes:
        if change.is_noop:
            continue
        lines.append(f"  {SYMBOLS[change.actions]:>3} {change.type} {change.name} will be {VERBS[change.actions]}")
        lines.extend(f"        {reason}" for reason in change.reasons)
        if change.type == "function" and len(change.operations) > 1:
            lines.append("        steps: " + " -> ".join(op.op for op in change.operations))
        if verbose:
            lines.extend("        | " + line for s in change.statements for line in s.splitlines())
    lines += ["", summary_line(plan), ""]
    return "\n".join(lines)


def as_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2) + "\n"


def markdown(plan: Plan) -> str:
    out = [f"### deployer plan for `{plan.target}`", ""]
    out += [f"> **Warning:** {_md_cell(w)}" for w in plan.warnings] + ([""] if plan.warnings else [])
    if not plan.has_changes:
        return "\n".join(out + ["No changes: the target matches the manifest.", ""])
    out += ["| | type | name | reasons |", "|---|---|---|---|"]
    for change in plan.changes:
        if not change.is_noop:
            reasons = "<br>".join(_md_cell(r) for r in change.reasons)
            out.append(f"| `{SYMBOLS[change.actions]}` | {change.type} | `{_md_cell(change.name)}` | {reasons} |")
    if plan.packages:
        from deployer.pins import packages_lines

        out += ["", "<details><summary>Packages</summary>", "", "```", *packages_lines(plan.packages), "```",
                "", "</details>"]
    out += ["", f"**{summary_line(plan)}**", "", "<details><summary>Statements</summary>", "", "```sql",
            _sql_body(plan).rstrip("\n"), "```", "", "</details>", ""]
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def sql(plan: Plan) -> str:
    header = f"-- deployer plan for target {plan.target}; {summary_line(plan)}\n"
    header += "".join(f"-- warning: {w}\n" for w in plan.warnings)
    return header + (_sql_body(plan) if plan.has_changes else "-- no changes\n")


def _sql_body(plan: Plan) -> str:
    parts = []
    for change in plan.changes:
        if change.is_noop:
            continue
        parts.append(f"-- {'/'.join(change.actions)} {change.type} {change.name}: {'; '.join(change.reasons)}")
        parts.extend(statement.rstrip(";\n") + ";" for statement in change.statements)
        parts.append("")
    return "\n".join(parts)


FORMATS = {"text": text, "json": as_json, "markdown": markdown, "sql": sql}
