"""The manifest's JSON Schema and its errors as located, readable problems."""

from __future__ import annotations

import functools
import json
import numbers
import re
from pathlib import Path
from typing import Any, Callable, Iterator


_SHOWN = 60  # characters of a value echoed in a message

_CANDIDATES = (
    Path(__file__).resolve().parent.parent / "schema" / "deploy.schema.json",
    Path(__file__).resolve().parents[2] / "schemas" / "deploy.schema.json",
)


def schema_text() -> str:
    for path in _CANDIDATES:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError("deploy.schema.json is missing from the installation")


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(schema_text())


def _validator() -> "jsonschema.Draft202012Validator":
    import jsonschema  # ~0.1 s: only to explain a document that is not valid

    return jsonschema.Draft202012Validator(schema())


def errors(data: Any) -> Iterator[tuple[tuple, str, str | None]]:
    """Yield (path, message, unknown_key) for each schema violation, most specific first."""
    if is_valid(data):  # the common case, checked fast; jsonschema explains anything else
        return
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        yield from _explain(error)


def is_valid(data: Any) -> bool:
    """jsonschema's verdict on `data`, about twenty times faster (ten thousand models took
    seconds): the schema compiled into plain predicates. False also when the schema uses a
    keyword not compiled here, so the caller asks jsonschema."""
    check = _compiled()
    return check is not None and check(data)


class _Unsupported(Exception):
    pass


@functools.lru_cache(maxsize=1)
def _compiled():
    try:
        return _compile(schema())
    except _Unsupported:
        return None


_ANNOTATIONS = {"$schema", "$id", "title", "description", "x-types", "$comment", "default", "examples"}
# jsonschema's Draft 2020-12 type checker, written out so that a valid document needs no
# jsonschema at all: a bool is no number, and a float with no fraction is an integer.
_TYPES = {"string": lambda v: isinstance(v, str), "object": lambda v: isinstance(v, dict),
          "array": lambda v: isinstance(v, list), "boolean": lambda v: isinstance(v, bool),
          "null": lambda v: v is None,
          "number": lambda v: isinstance(v, numbers.Number) and not isinstance(v, bool),
          "integer": lambda v: not isinstance(v, bool) and (
              isinstance(v, int) or (isinstance(v, float) and v.is_integer()))}


def _compile(node: Any) -> Callable[[Any], bool]:
    """A predicate for one (sub)schema, keyword by keyword as jsonschema's Draft 2020-12
    validator applies them (each keyword ignores values of other types)."""
    if node is True:
        return lambda v: True
    if not isinstance(node, dict):
        raise _Unsupported(node)
    checks: list[Callable[[Any], bool]] = []
    for key, arg in node.items():
        if key in _ANNOTATIONS or key == "additionalProperties":
            continue
        if key == "type":
            names = arg if isinstance(arg, list) else [arg]
            if not all(name in _TYPES for name in names):
                raise _Unsupported(arg)
            kinds = [_TYPES[name] for name in names]
            checks.append(kinds[0] if len(kinds) == 1 else lambda v, kinds=kinds: any(kind(v) for kind in kinds))
        elif key == "properties" or (key == "required" and "properties" not in node):
            checks.append(_object(node))
        elif key == "required":
            continue  # part of the properties check
        elif key == "items" and "prefixItems" not in node:
            item = _compile(arg)
            checks.append(lambda v, item=item: not isinstance(v, list) or all(map(item, v)))
        elif key in ("enum", "const"):
            options = arg if key == "enum" else [arg]
            checks.append(_one_of_values(options))
        elif key == "minLength":
            checks.append(lambda v, n=arg: not isinstance(v, str) or len(v) >= n)
        elif key == "pattern":
            search = re.compile(arg).search
            checks.append(lambda v, search=search: not isinstance(v, str) or search(v) is not None)
        elif key == "minItems":
            checks.append(lambda v, n=arg: not isinstance(v, list) or len(v) >= n)
        elif key in ("minimum", "maximum", "exclusiveMinimum"):
            # as jsonschema words them (NaN passes: it is neither less nor greater)
            compare = {"minimum": lambda v, n: not v < n, "maximum": lambda v, n: not v > n,
                       "exclusiveMinimum": lambda v, n: not v <= n}[key]
            checks.append(lambda v, n=arg, compare=compare: not _TYPES["number"](v) or compare(v, n))
        elif key == "oneOf":
            branches = [_compile(b) for b in arg]
            checks.append(lambda v, branches=branches: sum(1 for b in branches if b(v)) == 1)
        else:
            raise _Unsupported(key)
    if "additionalProperties" in node and "properties" not in node and "required" not in node:
        checks.append(_object(node))
    if len(checks) == 1:
        return checks[0]

    def every(v: Any) -> bool:
        for check in checks:
            if not check(v):
                return False
        return True
    return every


def _object(node: dict[str, Any]) -> Callable[[Any], bool]:
    """properties, additionalProperties and required, in one pass over a mapping."""
    if "patternProperties" in node:
        raise _Unsupported("patternProperties")
    properties = {k: _compile(v) for k, v in node.get("properties", {}).items()}
    extra = node.get("additionalProperties", True)
    other = (lambda v: False) if extra is False else _compile(extra)
    required = list(node.get("required", []))

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for key, value in v.items():
            if not properties.get(key, other)(value):
                return False
        return all(key in v for key in required)
    return check


def _one_of_values(options: list[Any]) -> Callable[[Any], bool]:
    """enum/const for strings and numbers, compared as jsonschema does (True is not 1)."""
    if all(isinstance(o, str) for o in options):
        allowed = set(options)
        return lambda v: isinstance(v, str) and v in allowed
    if all(type(o) in (int, float) for o in options):
        return lambda v: type(v) in (int, float) and v in options
    raise _Unsupported(options)


def _explain(error: "jsonschema.ValidationError") -> Iterator[tuple[tuple, str, str | None]]:
    path = tuple(error.absolute_path)
    kind = error.validator
    if kind == "oneOf" and error.context:
        # Report the alternative that got furthest instead of "not valid under any".
        # Prefer a branch whose type fits the value: a string stage explains a string's error.
        fitting = [e for e in error.context if e.validator != "type" or e.path]
        from jsonschema.exceptions import best_match

        best = best_match(fitting or error.context)
        yield from _explain(best)
        return
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed)):
            close = close_match(key, allowed, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (expected one of: {', '.join(allowed)})"
            yield path, f"unknown key '{key}'{hint}", key
        return
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        yield path, f"missing required key '{missing}'", None
        return
    if kind == "enum":
        options = ", ".join(repr(v) for v in error.validator_value)
        yield path, f"{_shown(error.instance)} is not one of {options}", None
        return
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        yield path, f"expected {_article(expected)}, got {_describe(error.instance)}", None
        return
    if kind == "const":
        yield path, f"must be {error.validator_value!r}, got {_shown(error.instance)}", None
        return
    if kind == "minItems":
        yield path, f"must list at least {error.validator_value} item(s)", None
        return
    if kind == "minLength":
        yield path, "must not be empty", None
        return
    if kind == "minimum":
        yield path, f"must be at least {error.validator_value}, got {_shown(error.instance)}", None
        return
    if kind == "pattern" and "x-types" in error.schema:  # a type: the names, or number(P,S)
        options = ", ".join(repr(v) for v in error.schema["x-types"])
        close = close_match(str(error.instance), error.schema["x-types"])
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        yield path, f"{error.instance!r} is not one of {options} or number(P,S){hint}", None
        return
    if kind == "pattern":
        yield path, f"{_shown(error.instance)} is not a valid name (letters, digits and '_')", None
        return
    # jsonschema's own message repeats the value whole: keep the first line, bounded.
    yield path, _shown(error.message.split("\n", 1)[0], raw=True), None


def _shown(value: Any, raw: bool = False) -> str:
    text = value if raw else repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + f"... ({len(text):,} characters)"


def _article(kind: str) -> str:
    return ("an " if kind[:1] in "aeiou" else "a ") + kind


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({_shown(value)})"
    if isinstance(value, str):
        return f"a string ({_shown(value)})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def close_match(word: str, choices, cutoff: float = 0.6) -> list[str]:
    """The nearest of `choices` to a misspelt `word` (difflib is imported only for an error)."""
    import difflib
    return difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
