"""Parse YAML into plain Python values while keeping each node's line and column.

Positions are keyed by the node's path (a tuple of keys and indexes), so a
validation error on `models[0].features[1].type` can point at its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple  # a tuple of str keys and int indexes


@dataclass
class Parsed:
    data: Any
    # path -> (line, col) of the value; keys of mappings also under path + ("<key>",)
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    duplicates: list[tuple[Path_, str, int, int]] = field(default_factory=list)

    def where(self, path: Path_) -> tuple[int, int] | tuple[None, None]:
        """The position of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            if path in self.positions:
                return self.positions[path]
            if not path:
                return (None, None)
            path = path[:-1]

    def key_where(self, path: Path_, key: str) -> tuple[int, int] | tuple[None, None]:
        pos = self.positions.get(tuple(path) + (("<key>", key),))
        return pos if pos else self.where(path)


class YAMLSyntaxError(Exception):
    def __init__(self, message: str, line: int | None, col: int | None):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


def parse(text: str) -> Parsed:
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YAMLSyntaxError(_describe(exc, text), mark.line + 1 if mark else None,
                              mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:  # e.g. a reader error on control characters
        raise YAMLSyntaxError(f"not valid YAML: {exc}", None, None) from None
    parsed = Parsed(data=None)
    if node is not None:
        parsed.data = _build(node, (), parsed)
    return parsed


def _compose(text: str):
    """libyaml's parser when present (10x faster on a manifest of thousands of models); on an
    error, the pure-Python parser again, whose messages the error reports are written for."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.compose(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _describe(exc: yaml.MarkedYAMLError, text: str) -> str:
    problem = exc.problem or str(exc)
    if "'\\t'" in problem or "\t" in problem:
        return "a tab character; YAML indents with spaces only"
    context = f" ({exc.context})" if exc.context else ""
    return f"YAML syntax error: {problem}{context}"


_constructor = yaml.SafeLoader.__new__(yaml.SafeLoader)
yaml.constructor.SafeConstructor.__init__(_constructor)


def _build(node: yaml.Node, path: Path_, parsed: Parsed) -> Any:
    parsed.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        _constructor.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _constructor.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise YAMLSyntaxError("a mapping key must be a plain value",
                                      key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            key = str(key) if not isinstance(key, str) else key
            kpos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in result:
                parsed.duplicates.append((path, key) + kpos)
            parsed.positions[path + (("<key>", key),)] = kpos
            result[key] = _build(value_node, path + (key,), parsed)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), parsed) for i, item in enumerate(node.value)]
    try:
        return _constructor.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise YAMLSyntaxError(f"YAML error: {exc.problem}", mark.line + 1 if mark else None,
                              mark.column + 1 if mark else None) from None


def format_path(path: Path_) -> str:
    """`models[0].features[1].type` from ("models", 0, "features", 1, "type")."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
