"""Stage locations compared as Snowflake resolves them, never as strings.

DESCRIBE FUNCTION does not echo IMPORTS as written: an import written
`@"DB"."SCHEMA"."STAGE"/x.jar` comes back as `@"DB"."SCHEMA".STAGE/x.jar`
(Terraform provider integration tests; shared/reference/snowflake-semantics.md).
Both name the same file, so every comparison goes through `parse`: identifiers by
Snowflake's rules (quoted keeps case and `""` is a quote, unquoted is upper-cased),
the path inside the stage verbatim (stage paths are case-sensitive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deployer.identifiers import qualified


class StagePathError(ValueError):
    """Text that is not a stage location."""


@dataclass(frozen=True)
class StageLocation:
    database: str | None
    schema: str | None
    stage: str
    path: str  # inside the stage, without a leading '/'

    def same_stage(self, other: "StageLocation") -> bool:
        return (self.database, self.schema, self.stage) == (other.database, other.schema, other.stage)

    def relative_to(self, stage: "StageLocation") -> str | None:
        """The path under `stage` (as LIST keys files), or None when on another stage or outside its folder."""
        if not self.same_stage(stage):
            return None
        prefix = stage.path.strip("/")
        if not prefix:
            return self.path
        return self.path[len(prefix) + 1:] if self.path.startswith(prefix + "/") else None

    def __str__(self) -> str:
        parts = [p for p in (self.database, self.schema) if p is not None] + [self.stage]
        return "@" + qualified(*parts) + ("/" + self.path if self.path else "")


def _identifier(text: str, start: int) -> tuple[str, int]:
    """One identifier of a dotted name from `start`; returns (stored name, end)."""
    if text.startswith('"', start):
        out, k = [], start + 1
        while k < len(text):
            if text[k] == '"':
                if text.startswith('""', k):
                    out.append('"')
                    k += 2
                    continue
                if k == start + 1:
                    raise StagePathError(f"empty quoted identifier in {text!r}")
                return "".join(out), k + 1
            out.append(text[k])
            k += 1
        raise StagePathError(f"unterminated quoted identifier in {text!r}")
    k = start
    while k < len(text) and text[k] not in './"':
        k += 1
    word = text[start:k].strip()
    if not word:
        raise StagePathError(f"missing identifier in {text!r}")
    return word.upper(), k


def parse(text: str, database: str | None = None, schema: str | None = None) -> StageLocation:
    """`@db.schema.stage/dir/file` (any quoting, 1 to 3 name parts) -> StageLocation.

    Missing database or schema parts take `database` and `schema` (the session's context).
    """
    raw = str(text).strip()
    if raw.startswith("'") and raw.endswith("'") and len(raw) > 1:
        raw = raw[1:-1]
    if not raw.startswith("@"):
        raise StagePathError(f"{text!r} is not a stage location (it must start with '@')")
    if raw[1:2] in ("~", "%"):
        raise StagePathError(f"{text!r}: user and table stages are not managed stages")
    parts, k = [], 1
    while True:
        name, k = _identifier(raw, k)
        parts.append(name)
        if k < len(raw) and raw[k] == ".":
            k += 1
            continue
        break
    if k < len(raw) and raw[k] != "/":
        raise StagePathError(f"unexpected {raw[k]!r} in stage location {text!r}")
    if len(parts) > 3:
        raise StagePathError(f"{text!r} has more than three name parts")
    path = raw[k:].lstrip("/")
    *scope, stage = parts
    if len(scope) == 2:
        database, schema = scope
    elif len(scope) == 1:
        schema = scope[0]
    return StageLocation(database, schema, stage, path)


def relative(text: str, stage: StageLocation) -> str | None:
    """`relative('@"ML"."S".ST/A/b.h5', ML.S.ST)` -> 'A/b.h5'; None when `text` is elsewhere or not a location."""
    try:
        return parse(text, stage.database, stage.schema).relative_to(stage)
    except StagePathError:
        return None


def exact_pattern(path: str) -> str:
    """A PATTERN for REMOVE/GET matching exactly `path` under the stage: those commands match by
    prefix (`model.h5` would take `model.h5.bak` too); any leading folder is allowed, as the
    name they match may carry the stage's."""
    return "(.*/)?" + re.escape(path)
