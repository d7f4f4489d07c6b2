"""What CREATE FUNCTION verifies before it accepts a Python function.

Snowflake refuses a function whose runtime is unsupported, whose packages it
cannot provide, whose imports are missing or whose handler is not defined
(https://docs.snowflake.com/en/developer-guide/udf/python/udf-python-creating).
Locally "can provide" means: listed by the engine's INFORMATION_SCHEMA.PACKAGES
(the snapshot of Snowflake's channel, deployer.channel) at a version inside the
spec; whether this Python has it is not Snowflake's question (the handler runs in
an isolated environment when it does not, deployer.envs).
"""

from __future__ import annotations

import ast
import functools
import zipfile
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from deployer import packages
from deployer.desired import SUPPORTED_RUNTIMES  # one list for the manifest check and the engine
from deployer.engine.worker import per_piece
from deployer.errors import SQLError


def check_runtime(version: str | None) -> str:
    if version is None:
        raise SQLError("SQL compilation error: RUNTIME_VERSION is required for a Python function")
    if version not in SUPPORTED_RUNTIMES:
        raise SQLError(
            f"SQL compilation error: Python runtime version '{version}' is not supported; "
            f"supported versions are {', '.join(SUPPORTED_RUNTIMES)}")
    return version


def check_packages(specs: tuple[str, ...], offered: dict[str, tuple[str, ...]],
                   channel: str) -> tuple[str, ...]:
    """The `name==version` Snowflake would install for each spec: the newest offered version
    inside it. `offered` is this engine's INFORMATION_SCHEMA.PACKAGES for the runtime (the
    snapshot of Snowflake's channel), never this Python's installed packages."""
    installed = []
    for spec in specs:
        try:
            # Snowflake's grammar first (it refuses e.g. '~=' and markers that pip would take).
            parsed = packages.parse(spec)
            req = Requirement(str(parsed))
        except (packages.PackageSpecError, InvalidRequirement):
            raise _package_error(spec, "is not a valid package specification") from None
        versions = offered.get(parsed.key, ())
        if not versions:
            raise _package_error(spec, f"is not in the channel ({channel})")
        fitting = [v for v in versions if not req.specifier or req.specifier.contains(v, prereleases=True)]
        if not fitting:
            raise _package_error(spec, f"has no version in the channel inside the requested spec "
                                       f"({channel} offers {', '.join(versions)})")
        installed.append(f"{req.name}=={fitting[-1]}")  # versions are sorted, oldest first
    return tuple(installed)


def _package_error(spec: str, why: str) -> SQLError:
    return SQLError(
        "SQL compilation error: Cannot create a Python function with the specified packages. "
        f"Please check your packages specification and try again. Package '{spec}' {why}.")


# A handler is parsed in pieces (cut by the worker's rule), each piece remembered: handlers
# generated for one manifest share all but their first lines, so a CREATE parses only those
# (~1 ms, not ~10 ms for a whole generated handler).
@functools.lru_cache(maxsize=64)  # a candidate and the function replacing it share a body
def _top_level_names(source: str, what: str) -> frozenset[str]:
    pieces = per_piece(source, lambda text, line: _names(text))
    if pieces is not None:
        return frozenset().union(*pieces)
    try:  # whole, for the line Python gives
        return _names(source)
    except SyntaxError as exc:
        raise SQLError(f"Python Interpreter Error:\n  File \"{what}\", line {exc.lineno}\n"
                       f"SyntaxError: {exc.msg}") from None


@functools.lru_cache(maxsize=1024)
def _names(source: str) -> frozenset[str]:
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


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


def check_columns(columns: tuple[tuple[str, str], ...]) -> None:
    """A table function's output columns: unique names (as stored)."""
    seen: set[str] = set()
    for name, _ in columns:
        if name in seen:
            raise SQLError(f"SQL compilation error: duplicate column name '{name}'")
        seen.add(name)
