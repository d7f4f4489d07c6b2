"""The manifest's JSON Schema and its errors as located, readable problems."""

from __future__ import annotations

import difflib
import functools
import json
from pathlib import Path
from typing import Any, Iterator

import jsonschema

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


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def errors(data: Any) -> Iterator[tuple[tuple, str, str | None]]:
    """Yield (path, message, unknown_key) for each schema violation, most specific first."""
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        yield from _explain(error)


def _explain(error: jsonschema.ValidationError) -> Iterator[tuple[tuple, str, str | None]]:
    path = tuple(error.absolute_path)
    kind = error.validator
    if kind == "oneOf" and error.context:
        # Report the alternative that got furthest instead of "not valid under any".
        # Prefer a branch whose type fits the value: a string stage explains a string's error.
        fitting = [e for e in error.context if e.validator != "type" or e.path]
        best = jsonschema.exceptions.best_match(fitting or error.context)
        yield from _explain(best)
        return
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed)):
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
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
        close = difflib.get_close_matches(str(error.instance), error.schema["x-types"], n=1)
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
