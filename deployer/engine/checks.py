"""What CREATE FUNCTION verifies before it accepts a Python function.

Snowflake refuses a function whose runtime is unsupported, whose packages it
cannot provide, whose imports are missing or whose handler is not defined
(https://docs.snowflake.com/en/developer-guide/udf/python/udf-python-creating).
Locally "can provide" means: installed in this Python, importable, and at a
version inside the requested spec.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import importlib.util
import zipfile
from functools import lru_cache
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from deployer import packages
from deployer.desired import SUPPORTED_RUNTIMES  # one list for the manifest check and the engine
from deployer.errors import SQLError


def check_runtime(version: str | None) -> str:
    if version is None:
        raise SQLError("SQL compilation error: RUNTIME_VERSION is required for a Python function")
    if version not in SUPPORTED_RUNTIMES:
        raise SQLError(
            f"SQL compilation error: Python runtime version '{version}' is not supported; "
            f"supported versions are {', '.join(SUPPORTED_RUNTIMES)}")
    return version


@lru_cache(maxsize=1)
def _modules_of() -> dict[str, list[str]]:
    """Distribution name (normalised) -> top-level import names."""
    out: dict[str, list[str]] = {}
    for module, dists in metadata.packages_distributions().items():
        for d in dists:
            out.setdefault(_norm(d), []).append(module)
    return out


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def check_packages(specs: tuple[str, ...]) -> tuple[str, ...]:
    """The installed `name==version` for each spec, or SQLError naming the first failure."""
    installed = []
    for spec in specs:
        try:
            # Snowflake's grammar first (it refuses e.g. '~=' and markers that pip would take).
            req = Requirement(str(packages.parse(spec)))
        except (packages.PackageSpecError, InvalidRequirement):
            raise _package_error(spec, "is not a valid package specification") from None
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            raise _package_error(spec, "is not installed in the local Python") from None
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            raise _package_error(spec, f"is installed at version {version}, outside the requested spec")
        modules = [m for m in _modules_of().get(_norm(req.name), []) if not m.startswith("_")]
        if modules and not any(importlib.util.find_spec(m) is not None for m in modules):
            raise _package_error(spec, "cannot be imported in the local Python")
        installed.append(f"{req.name}=={version}")
    return tuple(installed)


def _package_error(spec: str, why: str) -> SQLError:
    return SQLError(
        "SQL compilation error: Cannot create a Python function with the specified packages. "
        f"Please check your packages specification and try again. Package '{spec}' {why}.")


def _top_level_names(source: str, what: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise SQLError(f"Python Interpreter Error:\n  File \"{what}\", line {exc.lineno}\n"
                       f"SyntaxError: {exc.msg}") from None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _handler_missing(handler: str) -> SQLError:
    return SQLError(f"SQL compilation error: the handler '{handler}' is not defined "
                    "(Python Interpreter Error: name not found)")


def check_handler(handler: str, body: str | None, imports: dict[str, Path]) -> None:
    """`imports` maps each imported file name to its staged path."""
    if body is not None:
        if handler.split(".")[0] not in _top_level_names(body, "inline code"):
            raise _handler_missing(handler)
        return
    if "." not in handler:
        raise SQLError(f"SQL compilation error: the handler '{handler}' must be 'module.function' "
                       "when the function has no inline body")
    module, func = handler.rsplit(".", 1)
    top = module.split(".")[0]
    for name, path in imports.items():
        if name == f"{top}.py":
            if "." in module:
                break
            if func not in _top_level_names(path.read_text(errors="replace"), name):
                raise _handler_missing(handler)
            return
        if name.endswith(".zip"):
            try:
                entries = zipfile.ZipFile(path).namelist()
            except zipfile.BadZipFile:
                continue
            if f"{top}.py" in entries or any(e.startswith(f"{top}/") for e in entries):
                return
    raise SQLError(f"SQL compilation error: the handler module '{module}' is not among the "
                   "function's IMPORTS")
