"""A plan shown four ways: text for people, JSON for machines, Markdown for pull requests, SQL for auditors."""

from __future__ import annotations

import json

from deployer.plan import Change, Plan

SYMBOLS = {("create",): "+", ("update",): "~", ("delete",): "-", ("delete", "create"): "-/+", ("no-op",): " "}
VERBS = {("create",): "created", ("update",): "updated in place", ("delete",): "deleted",
         ("delete", "create"): "dropped and re-created"}
COLORS = {("create",): "green", ("update",): "yellow", ("delete",): "red", ("delete", "create"): "magenta"}
DIFF_COLORS = {"+": "green", "-": "red", "@": "cyan"}

# GitHub refuses comments over 65,536 characters; keep room for what CI wraps around the plan.
MARKDOWN_LIMIT = 60_000
FULL_PLAN_HINT = ("run `deployer plan --format json` (or `deployer plan --out plan.json`) "
                  "for the full plan")


def summary_line(plan: Plan) -> str:
    s = plan.summary()
    return f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete."


def _package_lines(plan: Plan) -> list[str]:
    from deployer.pins import packages_lines

    lines = ["Packages:", *("  " + line for line in packages_lines(plan.packages))] if plan.packages else []
    return lines + [f"Warning: {w}" for w in plan.warnings]


def _paint(text: str, style: str, color: bool) -> str:
    if not color or not style:
        return text
    from rich.style import Style

    return Style.parse(style).render(text, color_system="standard")


def text(plan: Plan, *, verbose: bool = False, diffs: dict[str, str] | None = None, color: bool = False) -> str:
    """Terraform's layout. `diffs`: change name -> handler diff, shown by -v for updates;
    `color`: ANSI colours (the CLI passes it only when stdout is a terminal)."""
    diffs = diffs or {}
    head = [_paint(line, "bold yellow" if line.startswith("Warning") else "", color) for line in _package_lines(plan)]
    head += [""] if head else []
    if not plan.has_changes:
        return "\n".join(head + [_paint(f"No changes. Target {plan.target} matches the manifest.", "bold green",
                                        color), ""])
    lines = head + [f"deployer will perform the following actions on target {_paint(plan.target, 'bold', color)}:",
                    ""]
    for change in plan.changes:
        if change.is_noop:
            continue
        symbol = _paint(f"{SYMBOLS[change.actions]:>3}", COLORS[change.actions], color)
        lines.append(f"  {symbol} {change.type} {_paint(change.name, 'bold', color)} "
                     f"will be {VERBS[change.actions]}")
        lines.extend(f"        {_paint(reason, 'dim', color)}" for reason in change.reasons)
        if change.type == "function" and len(change.operations) > 1:
            lines.append(_paint("        steps: " + " -> ".join(op.op for op in change.operations), "dim", color))
        if verbose:
            diff = diffs.get(change.name)
            lines.extend("        | " + line for s in shown_statements(change, diff is not None)
                         for line in s.splitlines())
            if diff:
                lines.extend("        " + _paint(line, DIFF_COLORS.get(line[:1], ""), color)
                             for line in diff.splitlines())
    lines += ["", _paint(summary_line(plan), "bold", color), ""]
    return "\n".join(lines)


def shown_statements(change: Change, diffed: bool) -> list[str]:
    """The statements as people read them: a handler body once, or not at all when a diff shows it.

    A rollout sends the same CREATE twice (candidate, then the real one); the first copy keeps
    the body unless the diff says what changed.
    """
    from deployer.diffs import elide_body, has_body

    shown, body_seen = [], diffed
    for statement in change.statements:
        if has_body(statement):
            if body_seen:
                statement = elide_body(statement, "see the diff" if diffed else "as above")
            body_seen = True
        shown.append(statement)
    return shown


def as_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2) + "\n"


def markdown(plan: Plan, *, diffs: dict[str, str] | None = None, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment: a summary table, then each change's statements in a collapsible
    block (handlers as diffs when updating). Over `limit` characters, handler bodies are left
    out first, then whole blocks from the end, each cut saying how to get the full plan."""
    diffs = diffs or {}
    head = _markdown_head(plan)
    if not plan.has_changes:
        return "\n".join(head + ["No changes: the target matches the manifest.", ""])
    changes = [c for c in plan.changes if not c.is_noop]
    tail = [f"**{summary_line(plan)}**", ""]
    note_room = 400  # for the note saying what was cut
    for keep_bodies in (True, False):
        blocks = [_markdown_block(c, diffs.get(c.name), keep_bodies) for c in changes]
        whole = "\n".join(head + blocks + tail)
        if len(whole) <= limit - (0 if keep_bodies else note_room):
            return whole + ("" if keep_bodies else _cut_note("handler bodies were left out"))
    # Still too long: keep blocks from the top while they fit, then say how many were left out.
    kept, size = [], len("\n".join(head + tail)) + note_room
    for block in blocks:
        if size + len(block) + 1 > limit:
            break
        kept.append(block)
        size += len(block) + 1
    left = len(blocks) - len(kept)
    return "\n".join(head + kept + tail) + _cut_note(f"the statements of {left} change(s) were left out")


def _cut_note(what: str) -> str:
    return f"\n> **Note:** this plan was cut to fit a pull-request comment: {what}; {FULL_PLAN_HINT}.\n"


def _markdown_head(plan: Plan) -> list[str]:
    out = [f"### deployer plan for `{plan.target}`", ""]
    out += [f"> **Warning:** {_md_cell(w)}" for w in plan.warnings] + ([""] if plan.warnings else [])
    if not plan.has_changes:
        return out
    out += ["| change | action | reasons |", "|---|---|---|"]
    for change in plan.changes:
        if not change.is_noop:
            reasons = "<br>".join(_md_cell(r) for r in change.reasons)
            out.append(f"| `{SYMBOLS[change.actions]}` {change.type} `{_md_cell(change.name)}` "
                       f"| {VERBS[change.actions]} | {reasons} |")
    out.append("")
    if plan.packages:
        from deployer.pins import packages_lines

        out += ["<details><summary>Packages</summary>", "", "```", *packages_lines(plan.packages), "```",
                "", "</details>", ""]
    return out


def _markdown_block(change: Change, diff: str | None, keep_bodies: bool) -> str:
    from deployer.diffs import elide_body

    statements = shown_statements(change, diff is not None)
    if not keep_bodies:
        statements = [elide_body(s, "left out for size") for s in statements]
    out = [f"<details><summary><code>{SYMBOLS[change.actions]}</code> {change.type} "
           f"<code>{_html(change.name)}</code></summary>", ""]
    if statements:
        out += ["```sql", *(s.rstrip(";\n") + ";" for s in statements), "```", ""]
    if diff and keep_bodies:
        out += ["```diff", diff, "```", ""]
    elif diff:
        out += [f"Handler changed ({len(diff.splitlines())} diff lines, left out for size).", ""]
    out += ["</details>", ""]
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
