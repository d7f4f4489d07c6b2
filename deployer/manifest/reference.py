"""The README's manifest reference, generated from the JSON Schema so the two never drift.

    python -m deployer.manifest.reference --write README.md
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

from deployer.manifest.schema import schema

START = "<!-- manifest-reference:start (generated from schemas/deploy.schema.json) -->"
END = "<!-- manifest-reference:end -->"


def _type(node: dict[str, Any]) -> str:
    if "x-types" in node:
        return " \\| ".join(f"`{v}`" for v in [*node["x-types"], "number(P,S)"])
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    if "oneOf" in node:
        return " or ".join(_type(branch) for branch in node["oneOf"])
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {_type(node.get('items', {}))}"
    return " \\| ".join(kind) if isinstance(kind, list) else kind


def _rows(node: dict[str, Any], prefix: str) -> Iterator[str]:
    required = set(node.get("required", []))
    for key, child in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        flag = "yes" if key in required else ""
        meaning = child.get("description", "").replace("|", "\\|")
        yield f"| `{path}` | {_type(child)} | {flag} | {meaning} |"
        for nested in _children(child):
            yield from _rows(nested[1], f"{path}{nested[0]}")


def _children(node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if node.get("type") == "object" and "properties" in node:
        yield ".", node
    items = node.get("items")
    if isinstance(items, dict) and "properties" in items:
        yield "[].", items
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and "properties" in extra:
        yield ".<name>.", extra
    for branch in node.get("oneOf", []):
        if "properties" in branch:
            yield ".", branch


def markdown() -> str:
    lines = [START, "", "| key | type | required | meaning |", "|---|---|---|---|"]
    lines += list(_rows(schema(), ""))
    return "\n".join(lines + ["", END])


def splice(readme: str) -> str:
    start, end = readme.index(START), readme.index(END) + len(END)
    return readme[:start] + markdown() + readme[end:]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        path = Path(sys.argv[2])
        path.write_text(splice(path.read_text()))
    else:
        print(markdown())
