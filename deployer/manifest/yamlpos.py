"""Parse YAML into plain Python values while keeping each node's line and column.

Positions are keyed by the node's path (a tuple of keys and indexes), so a
validation error on `models[0].features[1].type` can point at its line.
Bounded: aliases cannot expand a small file into millions of values, nesting
is limited, and only the plain YAML tags are accepted (an unknown tag is an
error, not silently dropped). Template values (see deployer.manifest.render)
are put back here, into scalars, so they are data and never YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import copy
import re

import yaml

MAX_VALUES = 100_000  # values repeated by aliases (values written once are bounded by the file size)
MAX_DEPTH = 64  # nested mappings and lists

_TAGS = {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}

Path_ = tuple  # a tuple of str keys and int indexes


@dataclass
class Parsed:
    data: Any
    duplicates: list[tuple[Path_, str, int, int]] = field(default_factory=list)
    # The composed nodes, walked again for positions only when one is asked for (a problem
    # to locate): recording every value's position up front was a third of parsing.
    _nodes: Any = field(default=None, repr=False, compare=False)
    _positions: dict | None = field(default=None, repr=False, compare=False)

    @property
    def positions(self) -> dict[Path_, tuple[int, int]]:
        """path -> (line, col) of the value; keys of mappings also under path + (("<key>", key),)."""
        if self._positions is None:
            self._positions = {}
            if self._nodes is not None:
                builder, root = self._nodes
                builder.record(root, (), self._positions)
                self._nodes = None
        return self._positions

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


# libyaml, when PyYAML was built with it: the same events and nodes about ten times faster.
# A document it refuses is parsed again by the pure-Python loader, whose messages are kept.
_FAST_LOADER = None
if hasattr(yaml, "CSafeLoader"):
    class _FastLoader(yaml.CSafeLoader):
        """Resolves each distinct scalar's implicit tag once: ten thousand models repeat the
        same few values, and the resolver's regexes run in Python."""

        def __init__(self, stream):
            super().__init__(stream)
            self._tags: dict = {}

        def resolve(self, kind, value, implicit):
            if kind is not yaml.ScalarNode or self.yaml_path_resolvers:
                return super().resolve(kind, value, implicit)
            key = (value, implicit)
            tag = self._tags.get(key)
            if tag is None:
                tag = self._tags[key] = super().resolve(kind, value, implicit)
            return tag

    _FAST_LOADER = _FastLoader


def _bounded_by_libyaml() -> bool:
    """libyaml 0.2.5 refuses nesting beyond 1,000 levels, so composing recurses no deeper and the
    depth can be checked on the nodes afterwards, instead of parsing the text a second time."""
    try:
        _FAST_LOADER("- " * 1001 + "x\n").get_single_node()
    except yaml.YAMLError:
        return True
    except Exception:
        return False
    return False


_NODE_DEPTH_CHECK = _FAST_LOADER is not None and _bounded_by_libyaml()


def parse(text: str, rendered=None) -> Parsed:
    """Parse `text`; `rendered` (a render.Rendered) holds the values of its template markers."""
    node = None
    if _FAST_LOADER is not None:
        try:
            node = _compose(text, _FAST_LOADER)
        except YAMLSyntaxError:
            node = None
    if node is None:
        node = _compose(text, yaml.SafeLoader)
    parsed = Parsed(data=None)
    if node is not _EMPTY:
        builder = _Builder(parsed, rendered)
        parsed.data = builder.build(node, ())
        builder.parsed = None  # no cycle: the nodes go with `parsed`, without a collection
        parsed._nodes = (builder, node)
    return parsed


_EMPTY = object()  # an empty document, told apart from "not parsed yet"


def _compose(text: str, loader_class) -> Any:
    """The document's node graph (or _EMPTY), after checking its depth without recursing."""
    try:
        loader = loader_class(text)  # the pure loader's reader refuses control characters here
    except yaml.YAMLError as exc:
        raise _not_yaml(exc, text) from None
    on_nodes = loader_class is _FAST_LOADER and _NODE_DEPTH_CHECK
    try:
        _check_depth(text, loader_class, events=not on_nodes)
        node = loader.get_single_node()
        if on_nodes and node is not None:
            _check_node_depth(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YAMLSyntaxError(_describe(exc, text), mark.line + 1 if mark else None,
                              mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:  # e.g. a reader error on control characters
        raise _not_yaml(exc, text) from None
    except RecursionError:
        raise YAMLSyntaxError(f"nested too deeply (at most {MAX_DEPTH} levels)",
                              getattr(loader, "line", 0) + 1, getattr(loader, "column", 0) + 1) from None
    finally:
        loader.dispose()
    return _EMPTY if node is None else node


def _not_yaml(exc: Exception, text: str) -> YAMLSyntaxError:
    """A YAML error without a mark (a reader error), located by its character position."""
    at = getattr(exc, "position", None)
    if not isinstance(at, int) or not 0 <= at <= len(text):
        return YAMLSyntaxError(f"not valid YAML: {exc}", None, None)
    reason = getattr(exc, "reason", None) or str(exc)
    character = getattr(exc, "character", None)  # a code point (PyYAML's reader)
    if isinstance(character, int) and not isinstance(character, bool):
        reason += f" (character #x{character:04x})"
    line, col = text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1
    return YAMLSyntaxError(f"not valid YAML: {reason}", line, col)


_BRACKETS = re.compile(r"[\[\]{}]")
MAX_BRACKETS = 4 * MAX_DEPTH  # PyYAML's scanner is quadratic in open brackets: count them first


def _check_depth(text: str, loader_class=yaml.SafeLoader, events: bool = True) -> None:
    """Stop at the first node nested too deeply, before composing (which recurses)."""
    depth = 0
    for m in _BRACKETS.finditer(text):  # brackets in quotes count too: a rough, cheap bound
        depth = depth + 1 if m.group() in "[{" else max(depth - 1, 0)
        if depth > MAX_BRACKETS:
            line = text.count("\n", 0, m.start())
            raise YAMLSyntaxError(f"nested too deeply (at most {MAX_DEPTH} levels)",
                                  line + 1, m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1)
    if not events:
        return
    depth = 0
    for event in yaml.parse(text, Loader=loader_class):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YAMLSyntaxError(f"nested too deeply (at most {MAX_DEPTH} levels)",
                                      event.start_mark.line + 1, event.start_mark.column + 1)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_node_depth(root: yaml.Node) -> None:
    """The events check above, on composed nodes: the first collection, in document order,
    inside more than MAX_DEPTH collections. A node met again is an alias: no event of its own."""
    scalar = yaml.ScalarNode
    seen = set()
    stack = [] if root.__class__ is scalar else [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise YAMLSyntaxError(f"nested too deeply (at most {MAX_DEPTH} levels)",
                                  node.start_mark.line + 1, node.start_mark.column + 1)
        if node.__class__ is yaml.SequenceNode:
            children = [n for n in node.value if n.__class__ is not scalar]
        else:
            children = [n for pair in node.value for n in pair if n.__class__ is not scalar]
        depth += 1
        stack.extend((child, depth) for child in reversed(children))


def _describe(exc: yaml.MarkedYAMLError, text: str) -> str:
    problem = exc.problem or str(exc)
    if "'\\t'" in problem or "\t" in problem:
        return "a tab character; YAML indents with spaces only"
    context = f" ({exc.context})" if exc.context else ""
    return f"YAML syntax error: {problem}{context}"


_constructor = yaml.SafeLoader.__new__(yaml.SafeLoader)
yaml.constructor.SafeConstructor.__init__(_constructor)


def _error(node: yaml.Node, message: str) -> YAMLSyntaxError:
    return YAMLSyntaxError(message, node.start_mark.line + 1, node.start_mark.column + 1)


_MERGE, _VALUE = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"
_MISSING = object()


class _Builder:
    def __init__(self, parsed: Parsed, rendered) -> None:
        self.parsed, self.rendered = parsed, rendered
        self.repeated = 0  # values built again through an alias
        self.seen: set[int] = set()  # id(node) of every node built once
        self.scalars: dict[int, Any] = {}  # id(node) -> value: an alias reuses the same object
        # (tag, text) -> value of a scalar without template values: a manifest repeats few
        # values (float, sklearn ...) thousands of times, each an immutable str, number or date.
        self.plain: dict[tuple[str, str], Any] = {}

    def build(self, node: yaml.Node, path: Path_) -> Any:
        if id(node) in self.seen:
            self.repeated += 1
            if self.repeated > MAX_VALUES:
                raise _error(node, f"the manifest expands to more than {MAX_VALUES:,} values (through YAML aliases?)")
        else:
            self.seen.add(id(node))
        if len(path) > MAX_DEPTH:
            raise _error(node, f"nested too deeply (at most {MAX_DEPTH} levels)")
        tag = node.tag
        if tag not in _TAGS and not (isinstance(node, yaml.ScalarNode) and tag == _MERGE):
            raise _error(node, f"YAML tag {_short(tag)} is not supported")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict:
        # flatten_mapping changes only mappings with a merge (<<) or value (=) key.
        if any(key_node.tag in (_MERGE, _VALUE) for key_node, _ in node.value):
            try:
                _constructor.flatten_mapping(node)
            except yaml.constructor.ConstructorError as exc:
                raise _error(node, f"YAML error: {exc.problem}") from None
        duplicates = self.parsed.duplicates
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _error(key_node, "a mapping key must be a plain value")
            key = self.scalar(key_node)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise _error(key_node, "a mapping key must be a plain value")
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                mark = key_node.start_mark
                duplicates.append((path, key, mark.line + 1, mark.column + 1))
            result[key] = self.build(value_node, path + (key,))
        return result

    def record(self, node: yaml.Node, path: Path_, out: dict) -> None:
        """The positions build() met, in its order (a later duplicate key overwrites): walked
        only after a successful build, so every key is known to be a plain value."""
        mark = node.start_mark
        out[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = self.scalar(key_node)
                key = str(key) if not isinstance(key, str) else key
                mark = key_node.start_mark
                out[path + (("<key>", key),)] = (mark.line + 1, mark.column + 1)
                self.record(value_node, path + (key,), out)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.record(item, path + (i,), out)

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if self.rendered is None or "\ue000" not in node.value:
            key = (node.tag, node.value)
            value = self.plain.get(key, _MISSING)
            if value is _MISSING:
                value = self.plain[key] = self._scalar(node)
            return value
        if id(node) not in self.scalars:
            self.scalars[id(node)] = self._scalar(node)
        return self.scalars[id(node)]

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag not in _TAGS:
            raise _error(node, f"YAML tag {_short(node.tag)} is not supported")
        rendered = self.rendered
        if rendered is not None and "\ue000" in node.value:
            whole = rendered.pattern.fullmatch(node.value)
            # A plain `key: {{ value }}` (style None, or "" from libyaml): the value keeps its type.
            if whole and not node.style:
                value, text = rendered.values[int(whole.group(1))]
                if not isinstance(value, str):
                    return copy.deepcopy(value)
                text = rendered.expand(text)  # a {% set %} block's text holds markers of its own
                tag = _constructor.resolve(yaml.ScalarNode, text, (True, False))
                node = yaml.ScalarNode(tag, text, node.start_mark, node.end_mark)
            else:
                node = yaml.ScalarNode(node.tag, rendered.expand(node.value), node.start_mark, node.end_mark)
        try:
            return _constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise _error(node, f"YAML error: {exc.problem}") from None
        finally:
            _constructor.constructed_objects.pop(node, None)  # the shared constructor keeps nothing


def _short(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


def format_path(path: Path_) -> str:
    """`models[0].features[1].type` from ("models", 0, "features", 1, "type")."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
