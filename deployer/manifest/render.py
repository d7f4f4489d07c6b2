"""Render a manifest's text with Jinja2 before it is parsed as YAML.

Sandboxed (a manifest cannot reach Python internals) and strict (an
undefined variable is an error naming it, never an empty string).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Mapping

import jinja2
from jinja2.sandbox import SandboxedEnvironment


class RenderError(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.message, self.line = message, line


class Scope(dict):
    """A dict that knows its own name, so an undefined key reads `var.owner`."""

    def __init__(self, name: str, values: Mapping[str, Any], hint: str = ""):
        super().__init__(values)
        self.scope_name, self.hint = name, hint


class _Undefined(jinja2.StrictUndefined):
    @property
    def _undefined_message(self) -> str:  # type: ignore[override]
        owner = self._undefined_obj
        if isinstance(owner, Scope):
            return f"undefined variable {owner.scope_name}.{self._undefined_name}{owner.hint}"
        if self._undefined_name is not None and owner is jinja2.utils.missing:
            return f"undefined variable {self._undefined_name}"
        return super()._undefined_message


_ENV = SandboxedEnvironment(undefined=_Undefined, keep_trailing_newline=True, autoescape=False)
TEMPLATE_NAME = "<manifest>"


def render(text: str, *, variables: Mapping[str, Any], target: Mapping[str, Any],
           environ: Mapping[str, str] | None = None) -> str:
    context = {
        "env": Scope("env", os.environ if environ is None else environ,
                     " (the environment variable is not set)"),
        "var": Scope("var", variables, " (define it under vars: or pass --var)"),
        "target": Scope("target", target),
    }
    try:
        template = _ENV.from_string(text)
        template.filename = TEMPLATE_NAME
        return template.render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"template syntax error: {exc.message}", exc.lineno) from None
    except jinja2.UndefinedError as exc:
        raise RenderError(str(exc), _template_line(exc)) from None
    except jinja2.exceptions.SecurityError as exc:
        raise RenderError(f"template error: {exc}", _template_line(exc)) from None
    except (TypeError, ValueError, ArithmeticError, jinja2.TemplateError) as exc:
        raise RenderError(f"template error: {exc}", _template_line(exc)) from None


def _template_line(exc: BaseException) -> int | None:
    """Jinja rewrites tracebacks so the template's frames carry template lines."""
    line = None
    tb = exc.__traceback__ or sys.exc_info()[2]
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in (TEMPLATE_NAME, "<template>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
