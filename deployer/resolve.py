"""Resolve a model's PACKAGES to exact versions the target offers (pure).

Rules, per package:
1. Not offered at all: error.
2. A version spec written in the manifest limits the candidates; none left: error.
3. An artifact records the version that wrote it: that version when it is a candidate; else the
   closest candidate with the same major version, with a warning naming both; else an error
   naming the package, the version the artifact needs and what the target offers.
   A manifest spec that excludes the writer's version still wins, checked the same way.
4. Otherwise the newest candidate.
A package that wrote an artifact without being requested (keras, under tensorflow) is added
when the target offers it, so the exact loader is pinned too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterable, Mapping

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from deployer import packages


@dataclass(frozen=True)
class Resolved:
    pins: tuple[str, ...]  # "name==version", sorted by package key
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


def resolve(requested: Iterable[str], writers: Mapping[str, tuple[str, str]],
            offered: Mapping[str, tuple[str, ...]], where: str) -> Resolved:
    """`requested`: PACKAGES specs; `writers`: package key -> (version, artifact name);
    `offered`: package key -> versions the target offers; `where` names the offering in messages."""
    specs = {}
    for text in requested:
        spec = packages.parse(text)
        specs[spec.key] = spec
    pins, warnings, errors = {}, [], []
    for name, (version, artifact) in writers.items():
        if name not in specs:
            if offered.get(name):
                specs[name] = packages.PackageSpec(name, "")
            else:
                warnings.append(f"{name}: {artifact} was written by {name} {version}, which "
                                f"{where} does not offer; it is not pinned")
    for name, spec in sorted(specs.items()):
        pin, warning, error = _one(spec, writers.get(name), tuple(offered.get(name, ())), where)
        if pin:
            pins[name] = f"{spec.name}=={pin}"
        if warning:
            warnings.append(warning)
        if error:
            errors.append(error)
    return Resolved(tuple(pins[k] for k in sorted(pins)), tuple(warnings), tuple(errors))


def _one(spec: packages.PackageSpec, writer: tuple[str, str] | None, offered: tuple[str, ...],
         where: str) -> tuple[str | None, str | None, str | None]:
    name = spec.name
    wrote = f"; {writer[1]} was written by {name} {writer[0]}" if writer else ""
    if not offered:
        return None, None, f"{name}: {where} does not offer it{wrote}"
    candidates = [v for v in offered if _allows(spec.constraint, v)]
    if not candidates:
        return None, None, (f"{name}{spec.constraint}: {where} offers no matching version "
                            f"(it offers {_list(offered)}){wrote}")
    if writer is None:
        return max(candidates, key=_key), None, None
    version, artifact = writer
    if version in candidates:
        return version, None, None
    same_major = [v for v in candidates if _release(v)[:1] == _release(version)[:1]]
    pinned_by = f"the manifest's {name}{spec.constraint}" if spec.constraint else None
    if not same_major:
        needs = f"{name} {_release(version)[0]}.x" if _release(version) else f"{name} {version}"
        return None, None, (f"{name}: {artifact} was written by {name} {version} and needs {needs}; "
                            f"{where} offers {_list(candidates if pinned_by else offered)}"
                            + (f" within {pinned_by}" if pinned_by else ""))
    chosen = min(same_major, key=lambda v: _distance(v, version))
    why = f"{pinned_by} excludes it" if pinned_by and version in offered else f"{where} does not offer it"
    return chosen, (f"{name}: {artifact} was written by {name} {version}; {why}, pinned {chosen} "
                    "(the closest with the same major version)"), None


# Pure functions of version strings, cached: ten thousand models ask about the same few
# hundred versions, and parsing them was most of resolving.
@functools.lru_cache(maxsize=65536)
def _allows(constraint: str, version: str) -> bool:
    if not constraint:
        return True
    try:
        return SpecifierSet(constraint).contains(version, prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return False


@functools.lru_cache(maxsize=4096)
def _release(version: str) -> tuple[int, ...]:
    try:
        return Version(version).release
    except InvalidVersion:
        return ()


@functools.lru_cache(maxsize=4096)
def _key(version: str):
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, Version("0"))


@functools.lru_cache(maxsize=65536)
def _distance(candidate: str, target: str) -> tuple:
    """Closest minor first; below the target the newest patch, above it the oldest."""
    c, t = (_release(candidate) + (0, 0, 0))[:3], (_release(target) + (0, 0, 0))[:3]
    below = c < t
    return (abs(c[1] - t[1]), not below, tuple(-x for x in c) if below else c)


def _list(versions) -> str:
    return ", ".join(versions) if versions else "nothing"


def changes(live: Iterable[str], rendered: Iterable[str]) -> list[str]:
    """Plan reasons for a changed PACKAGES clause, as a diff: `packages +xgboost==2.0.3 -lightgbm`
    for packages added and removed, `packages scikit-learn 1.5.1 -> 1.5.2` per changed pin."""
    def by_key(specs):
        out = {}
        for text in specs:
            try:
                spec = packages.parse(text)
            except packages.PackageSpecError:
                spec = packages.PackageSpec(text, "")
            out[spec.key] = spec
        return out

    old, new = by_key(live), by_key(rendered)
    added = [f"+{new[k]}" for k in sorted(set(new) - set(old))]
    removed = [f"-{old[k].name}" for k in sorted(set(old) - set(new))]
    changed = [f"packages {new[k].name} {_shown(old[k].constraint)} -> {_shown(new[k].constraint)}"
               for k in sorted(set(old) & set(new)) if old[k].constraint != new[k].constraint]
    return ([f"packages {' '.join(added + removed)}"] if added or removed else []) + changed


def _shown(constraint: str) -> str:
    if not constraint:
        return "(unpinned)"
    return constraint[2:] if constraint.startswith("==") and "," not in constraint else constraint
