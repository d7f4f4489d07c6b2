"""Render a manifest's text with Jinja2 before it is parsed as YAML.

Sandboxed (a manifest cannot reach Python internals), strict (an undefined
variable is an error naming it, never an empty string) and bounded
(deployer.manifest.limits), so any template ends quickly.

Every `{{ ... }}` is rendered as a marker, not as its text: the YAML is parsed
with the markers in place and the values are put back into the parsed data
(deployer.manifest.yamlpos), so a value is always data, never YAML. The
template's own text is YAML, and so is a macro's when printed as `{{ m(...) }}`.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from typing import Any, Iterable, Mapping

import jinja2
from jinja2 import nodes
from jinja2.visitor import NodeTransformer
from jinja2.sandbox import SandboxedEnvironment

from deployer.manifest import limits
from deployer.manifest.limits import Budget, Refused

# Names whose values are secrets by convention; checked on the parts of the name.
_SECRET_PARTS = re.compile(r"(^|_)(TOKEN|PASSWORD|PASSWD|PWD|PASS|PASSPHRASE|SECRET|KEY|APIKEY|"
                           r"CREDENTIALS?|AUTH|PRIVATE|COOKIE|SESSION)(_|$)")


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return bool(_SECRET_PARTS.search(upper)) or any(w in upper for w in ("TOKEN", "PASSW", "SECRET"))


class RenderError(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.message, self.line = message, line


class Scope(dict):
    """A dict that knows its own name, so an undefined key reads `var.owner`."""

    def __init__(self, name: str, values: Mapping[str, Any], hint: str = ""):
        super().__init__(values)
        self.scope_name, self.hint = name, hint


class EnvScope:
    """The environment, one named variable at a time: it cannot be listed or printed whole."""

    scope_name = "env"
    hint = " (the environment variable is not set)"

    def __init__(self, environ: Mapping[str, str], allowed: Iterable[str] | None):
        self._environ = environ
        self._allowed = None if allowed is None else frozenset(allowed)  # None: no check

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str) or name.startswith("_"):
            raise KeyError(name)
        if self._allowed is not None and looks_secret(name) and name not in self._allowed:
            raise Refused(f"env.{name} looks like a secret and would be shown in plans and stored in "
                          f"the catalog; secrets never go in the manifest (list {name} under allow_env: "
                          "if it is not a secret)")
        return self._environ[name]

    def _whole(self, *_: Any) -> Any:
        raise Refused("the whole environment cannot be rendered; name one variable: env.NAME")

    __str__ = __repr__ = __iter__ = __len__ = __contains__ = _whole


class _Undefined(jinja2.StrictUndefined):
    @property
    def _undefined_message(self) -> str:  # type: ignore[override]
        owner = self._undefined_obj
        if isinstance(owner, (Scope, EnvScope)):
            return f"undefined variable {owner.scope_name}.{self._undefined_name}{owner.hint}"
        if self._undefined_name is not None and owner is jinja2.utils.missing:
            return f"undefined variable {self._undefined_name}"
        return super()._undefined_message


class _Lenient(jinja2.ChainableUndefined):
    __str__ = lambda self: ""  # noqa: E731


class Rendered(Budget):
    """Rendered text with a marker per `{{ ... }}`, and the value of each marker."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.token = f"{secrets.randbelow(10**8):08d}"  # digits: unchanged by upper, lower, title
        self.values: list[tuple[Any, str]] = []  # (value, its text)
        self.lengths: list[int] = []  # each value's text with the markers in it expanded
        self.pattern = re.compile("\ue000" + self.token + r"(\d+)\ue001")

    def marker(self, value: Any) -> str:
        if type(value) is _Structure:  # a macro's text: YAML, its values already markers
            return str(value)
        text = str(value)  # raises for an undefined value, as Jinja would
        length = len(text)
        if "\ue000" in text:  # a value holding markers (a {% set %} block, a macro) expands to their size
            length += sum(self.lengths[int(m.group(1))] - len(m.group(0)) for m in self.pattern.finditer(text))
        self.grow(length)
        self.values.append((value, text))
        self.lengths.append(length)
        return f"\ue000{self.token}{len(self.values) - 1}\ue001"

    def expand(self, text: str) -> str:
        """`text` with every marker replaced by its value's text."""
        return self.pattern.sub(lambda m: self.expand(self.values[int(m.group(1))][1]), text)


class _Env(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **kwargs: Any):
        super().__init__(finalize=lambda value: limits.current.get().marker(value), **kwargs)
        self.filters = {name: limits.bounded_filter(name, f) for name, f in self.filters.items()}
        del self.globals["lipsum"]  # generates text without bound, and a manifest has no use for it
        self.globals["_bounded_loop"] = limits.bounded_loop
        self.globals["_concat"] = limits.concat
        self.globals["_Structure"] = _Structure

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limits.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        limits.current.get().step()
        for arg in (*args, *kwargs.values()):
            limits.check_number(arg)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        if getattr(value, "__name__", "") in ("format", "format_map"):
            limits.check_format(getattr(value, "__self__", None))
        return super().wrap_str_format(value)


class _Structure(str):
    """The text a macro printed directly as `{{ m(...) }}` returned."""


class _Bounds(NodeTransformer):
    """Routes every loop's items and every `~` through the bounds, which Jinja offers no hook for,
    and marks `{{ m(...) }}` of the template's own macros as YAML text."""

    def __init__(self, macros: set[str]):
        self.macros = macros | {"caller"}

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [nodes.Call(nodes.Name("_Structure", "load"), [child], [], None, None, lineno=child.lineno)
                      if isinstance(child, nodes.Call) and isinstance(child.node, nodes.Name)
                      and child.node.name in self.macros else child for child in node.nodes]
        return node

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name("_bounded_loop", "load"), [node.iter], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(nodes.Name("_concat", "load"), node.nodes, [], None, None, lineno=node.lineno)


_ENV = _Env(undefined=_Undefined, keep_trailing_newline=True, autoescape=False)
_LENIENT_ENV = _Env(undefined=_Lenient, keep_trailing_newline=True, autoescape=False)
TEMPLATE_NAME = "<manifest>"


def render(text: str, *, variables: Mapping[str, Any], target: Mapping[str, Any],
           environ: Mapping[str, str] | None = None, allow_env: Iterable[str] = (),
           lenient: bool = False) -> Rendered:
    """Render `text`; lenient renders undefined names as nothing (for reading vars and targets)."""
    context = {
        "env": EnvScope(os.environ if environ is None else environ, None if lenient else allow_env),
        "var": Scope("var", variables, " (define it under vars: or pass --var)"),
        "target": Scope("target", target),
    }
    rendered = Rendered()
    token = limits.current.set(rendered)
    try:
        env = _LENIENT_ENV if lenient else _ENV
        tree = env.parse(text)
        template = env.from_string(_Bounds({m.name for m in tree.find_all(nodes.Macro)}).visit(tree))
        template.filename = TEMPLATE_NAME
        parts = []
        for part in template.generate(context):
            rendered.grow(len(part))
            parts.append(part)
        rendered.text = "".join(parts)
        return rendered
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"template syntax error: {exc.message}", exc.lineno) from None
    except jinja2.UndefinedError as exc:
        raise RenderError(str(exc), _template_line(exc)) from None
    except Refused as exc:
        raise RenderError(str(exc), _template_line(exc)) from None
    except jinja2.exceptions.SecurityError as exc:
        raise RenderError(f"template error: {exc}", _template_line(exc)) from None
    except RecursionError as exc:
        raise RenderError("template error: nested too deeply (a macro or loop that calls itself without end?)",
                          _template_line(exc)) from None
    except MemoryError as exc:
        raise RenderError("template error: out of memory", _template_line(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError, jinja2.TemplateError) as exc:
        raise RenderError(f"template error: {exc}", _template_line(exc)) from None
    finally:
        limits.current.reset(token)


def _template_line(exc: BaseException) -> int | None:
    """Jinja rewrites tracebacks so the template's frames carry template lines."""
    line = None
    tb = exc.__traceback__ or sys.exc_info()[2]
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in (TEMPLATE_NAME, "<template>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
