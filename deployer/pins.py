"""Each model's PACKAGES resolved against its target: the edge where provenance, the target's
offering (one query per command) and the pure resolver meet."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from deployer import channel, frameworks, packages, provenance
from deployer.artifacts import RealPaths
from deployer.codegen import CodegenError, packages_for
from deployer.desired import DesiredState, Model
from deployer.errors import ManifestError, Problem
from deployer.manifest.gcpause import gc_paused
from deployer.resolve import resolve


@dataclass(frozen=True)
class ModelPackages:
    model: str
    pins: tuple[str, ...]
    artifacts: tuple[provenance.Provenance, ...]
    runtime: str
    source: str  # what the pins were resolved against
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # the artifacts as warnings name them (relative to the manifest)

    def to_json(self, root: Path) -> dict:
        return {"packages": list(self.pins), "runtime_version": self.runtime, "resolved_against": self.source,
                "written_by": {_rel(root, p.path): {**p.versions, **({"python": p.python} if p.python else {})}
                               for p in self.artifacts}}


@dataclass(frozen=True)
class Resolution:
    models: dict[str, ModelPackages]

    def pins(self, model: str) -> tuple[str, ...] | None:
        found = self.models.get(model)
        return found.pins if found else None

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per warning; models whose warnings differ only by their own artifacts'
        names (a thousand models written by one scikit-learn) share one line."""
        groups: dict[str, list[tuple[str, str]]] = {}
        for m in self.models.values():
            for w in m.warnings:
                key = w
                for i, name in enumerate(m.files):
                    key = key.replace(name, f"\0{i}\0")
                groups.setdefault(key, []).append((m.model, w))
        out = []
        for members in groups.values():
            (first, text), n = members[0], len(members)
            if n == 1:
                out.append(f"{first}: {text}")
                continue
            names = ", ".join(name for name, _ in members[:3]) + (f" and {n - 3:,} more" if n > 3 else "")
            out.append(f"{names}: {text} (and likewise for the other {n - 1:,} models' artifacts)")
        return tuple(out)


def artifact_paths(model: Model) -> list[Path]:
    return [model.artifact, *(s.artifact for s in model.preprocess), *(s.artifact for s in model.postprocess)]


def source_name(state: DesiredState) -> str:
    if state.target.type == "snowflake":
        return f"target {state.target.name} (its INFORMATION_SCHEMA.PACKAGES)"
    return channel.load_snapshot().describe()


@gc_paused()
def resolve_state(state: DesiredState, session=None, models: tuple[Model, ...] | None = None) -> Resolution:
    """Every model's exact PACKAGES; ManifestError naming each package that cannot be resolved.

    With a session, the target answers (one query per runtime, cached on the session);
    without one, the local target's answer: the channel snapshot.
    """
    models = state.models if models is None else models
    problems: list[Problem] = []
    requested: dict[str, tuple[str, ...]] = {}
    writers: dict[str, dict[str, tuple[str, str]]] = {}
    read: dict[str, tuple[provenance.Provenance, ...]] = {}
    conflicts: dict[str, list[str]] = {}
    index = _indexes(state)  # one pass: looking each model up in turn was quadratic
    known = provenance.Cache(state.root / ".deployer" / "cache" / "provenance.json", one_pass=True)
    rel = _Relative(state.root)
    for model in models:
        where = f"models[{index.get(model.name, 0)}]"
        try:
            requested[model.name] = packages_for(model)
        except CodegenError as exc:
            problems.append(Problem(state.manifest_path.name, None, None, where, str(exc)))
            continue
        read[model.name] = tuple(known.read(p, model.framework if p == model.artifact else None)
                                 for p in artifact_paths(model) if Path(p).exists())
        # One version per package can be installed: the first artifact's (the model's) is pinned,
        # and preflight shows what the others make of it.
        merged, found = provenance.merged(list(read[model.name]))
        conflicts[model.name] = [f"artifacts written by different versions: {c}; pinning for the first" for c in found]
        conflicts[model.name] += [
            f"{rel(p.path)} was written with Python {p.python}; the function runs Python {model.runtime_version}"
            for p in read[model.name] if p.python and ".".join(p.python.split(".")[:2]) != model.runtime_version]
        writers[model.name] = {k: (v, rel(f)) for k, (v, f) in merged.items()}
        plugin = frameworks.get(model.framework)
        if plugin is not None and plugin.packages_of is not None:
            # An MLflow folder records every loader it was logged with (mlflow under a natively
            # loaded sklearn flavor): pin only the packages the function imports.
            keys = {packages.parse(s).key for s in requested[model.name]}
            writers[model.name] = {k: w for k, w in writers[model.name].items() if k in keys}
    known.save()
    if problems:
        raise ManifestError(problems)

    offerings: dict[str, channel.Offering] = {}
    for runtime in sorted({m.runtime_version for m in models}):
        names = {packages.parse(s).key for m in models if m.runtime_version == runtime for s in requested[m.name]}
        names |= {k for m in models if m.runtime_version == runtime for k in writers[m.name]}
        if session is not None:
            offerings[runtime] = channel.read(session, names, runtime, source_name(state))
        else:
            offerings[runtime] = channel.local_offering(runtime)

    out = {}
    for model in models:
        offering = offerings[model.runtime_version]
        where = f"{offering.source} (Python {model.runtime_version})"
        result = resolve(requested[model.name], writers[model.name], offering.versions, where)
        out[model.name] = ModelPackages(model.name, result.pins, read[model.name], model.runtime_version,
                                        offering.source, tuple(conflicts[model.name]) + result.warnings,
                                        result.errors, tuple(rel(p.path) for p in read[model.name]))
        for error in result.errors:
            problems.append(Problem(state.manifest_path.name, None, None,
                                    f"models[{index.get(model.name, 0)}]", f"packages of {model.name}: {error}"))
    if problems:
        raise ManifestError(problems)
    return Resolution(out)


def _indexes(state: DesiredState) -> dict[str, int]:
    """Each model name's first position in the manifest."""
    out: dict[str, int] = {}
    for i, m in enumerate(state.models):
        out.setdefault(m.name, i)
    return out


class _Relative:
    """Paths relative to `root`, real paths compared (str(path) when outside it). Each folder's
    real path is looked up once, and each path's answer kept: with ten thousand models,
    resolving every part of every file took seconds."""

    def __init__(self, root: Path):
        self.root = os.path.realpath(root)
        self.real = RealPaths.shared()
        self.known: dict[Path, str] = {}

    def __call__(self, path: Path) -> str:
        if path not in self.known:
            real = self.real(path)
            if real.startswith(self.root + os.sep):  # relpath's answer, without its work
                self.known[path] = real[len(self.root) + 1:].replace(os.sep, "/")
            else:
                inside = os.path.relpath(real, self.root)
                outside = inside == os.pardir or inside.startswith(os.pardir + os.sep)
                self.known[path] = str(path) if outside else Path(inside).as_posix()
        return self.known[path]


def _rel(root: Path, path: Path) -> str:
    return _Relative(root)(path)


def describe(state: DesiredState, resolution: Resolution) -> list[str]:
    """Per model: what wrote its artifacts and the pins, for render/plan/status text."""
    lines = []
    for name, m in resolution.models.items():
        lines.append(f"{name} (Python {m.runtime}, resolved against {m.source}): {', '.join(m.pins)}")
        for p in m.artifacts:
            lines.append(f"    {_rel(state.root, p.path)} written by {p.describe()}")
    return lines


def annotate(state: DesiredState, plan, resolution: Resolution):
    """The plan with the resolution's warnings and, per model, its pins and writer versions."""
    from dataclasses import replace

    return replace(plan, warnings=tuple(plan.warnings) + resolution.warnings,
                   packages={name: m.to_json(state.root) for name, m in resolution.models.items()})


def packages_lines(packages: dict) -> list[str]:
    """Text lines for a plan's `packages` (its JSON form), one block per model."""
    lines = []
    for name, m in packages.items():
        lines.append(f"{name}: {', '.join(m['packages'])}")
        lines.append(f"    resolved against {m['resolved_against']}, Python {m['runtime_version']}")
        for path, versions in m["written_by"].items():
            shown = ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) or "versions not recorded"
            lines.append(f"    {path} written by {shown}")
    return lines


def status_lines(resolved: dict | None) -> list[str]:
    """`deployer status` text for one declared model: its pins and what wrote its artifacts."""
    if not resolved:
        return []
    return [f"packages {', '.join(resolved['packages'])}",
            *(line.strip() for line in packages_lines({"-": resolved})[2:])]


def requested_names(state: DesiredState) -> set[str]:
    """Package keys every model of the manifest asks for (framework-implied included)."""
    names = set()
    for model in state.models:
        try:
            names |= {packages.parse(s).key for s in packages_for(model)}
        except CodegenError:
            continue
    return names | {"keras", "numpy"}
