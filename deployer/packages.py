"""Package specs as Snowflake's PACKAGES clause accepts them.

Accepted: `name`, `name==1.2.3`, `name==1.*`, `name>=1.2`, `name>=1.2,<2`
(https://docs.snowflake.com/en/developer-guide/udf/python/udf-python-packages).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_CLAUSE = re.compile(r"(==|!=|>=|<=|>|<)\s*([0-9]+(?:\.[0-9A-Za-z]+)*(\.\*)?)")


class PackageSpecError(ValueError):
    pass


@dataclass(frozen=True)
class PackageSpec:
    name: str  # as written
    constraint: str  # "" or e.g. "==1.5.*" or ">=1.2,<2"

    @property
    def key(self) -> str:
        """The name as pip compares it: case and `-`/`_`/`.` folded."""
        return _folded(self.name)

    def __str__(self) -> str:
        return self.name + self.constraint


def parse(spec: str) -> PackageSpec:
    # Ten thousand models repeat the same few specs: each is parsed once (a spec is immutable).
    return _parse(spec) if isinstance(spec, str) else _parse.__wrapped__(spec)


@functools.lru_cache(maxsize=4096)
def _folded(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.lru_cache(maxsize=4096)
def _parse(spec: str) -> PackageSpec:
    text = spec.strip()
    match = _NAME.match(text)
    if not match:
        raise PackageSpecError(f"{spec!r} is not a package spec (expected a name such as 'pandas')")
    name, rest = match.group(0), text[match.end():].strip()
    if not rest:
        return PackageSpec(name, "")
    clauses = []
    for part in rest.split(","):
        clause = _CLAUSE.fullmatch(part.strip())
        if not clause:
            raise PackageSpecError(
                f"{spec!r} is not accepted by Snowflake's PACKAGES clause "
                "(use 'name', 'name==1.2.3', 'name==1.*', 'name>=1.2' or 'name>=1.2,<2')"
            )
        op, version, wildcard = clause.groups()
        if wildcard and op not in ("==", "!="):
            raise PackageSpecError(f"{spec!r}: a wildcard version only goes with '=='")
        clauses.append(op + version)
    return PackageSpec(name, ",".join(clauses))
