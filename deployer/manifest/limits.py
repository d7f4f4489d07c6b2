"""The bounds every manifest template runs within, so any template ends in a few seconds.

Work (loop iterations, calls, filters over collections) and output size are counted on the
current render's Budget; operators, filters and calls that would build something huge are
refused before they build it. Each refusal is a Refused with a plain message.
"""

from __future__ import annotations

import contextvars
import re
from typing import Any

import jinja2

MAX_WORK = 50_000  # loop iterations plus calls in one render
MAX_OUTPUT = 16_000_000  # characters of rendered text, values included (as MAX_FILE)
MAX_NUMBER = 1_000_000  # largest count or width a call or filter may be given
MAX_POWER_BITS = 4096  # largest result of ** in bits

_BIG_WIDTH = re.compile(r"\d{7,}")  # a format width or precision of a million or more
_MARKERS = re.compile("\ue000\\d+\ue001")  # see render.Rendered.marker


class Refused(jinja2.exceptions.SecurityError):
    """Something a manifest may not do; its message is shown as it is."""


class Budget:
    """The work done and the characters produced by one render."""

    def __init__(self) -> None:
        self.work = 0
        self.size = 0

    def grow(self, n: int) -> None:
        self.size += n
        if self.size > MAX_OUTPUT:
            raise Refused(f"the rendered manifest is larger than {MAX_OUTPUT:,} characters")

    def step(self, cost: int = 1) -> None:
        self.work += cost
        if self.work > MAX_WORK:
            raise Refused(f"the template does more than {MAX_WORK:,} loop iterations and calls")


current: contextvars.ContextVar[Budget] = contextvars.ContextVar("budget")


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse `left operator right` when its result would be huge (for the sandbox's intercepted operators)."""
    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, str) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT:
                raise Refused(f"the result would be larger than {MAX_OUTPUT:,} characters")
            if isinstance(seq, (list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_WORK:
                raise Refused(f"the result would be longer than {MAX_WORK:,} items")
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and \
                abs(right) * max(abs(left), 1).bit_length() > MAX_POWER_BITS:
            raise Refused(f"{left} ** {right} is too large a number")
    elif operator == "+":
        if isinstance(left, str) and isinstance(right, str) and len(left) + len(right) > MAX_OUTPUT:
            raise Refused(f"the result would be larger than {MAX_OUTPUT:,} characters")
        if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)) \
                and len(left) + len(right) > MAX_WORK:
            raise Refused(f"the result would be longer than {MAX_WORK:,} items")
    elif operator == "%":
        check_format(left)


def check_number(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        raise Refused(f"{value} is too large here (at most {MAX_NUMBER:,})")


def check_format(value: Any) -> None:
    """A format string ('%...d', '{:...}') whose width or precision would build a huge string."""
    if isinstance(value, str) and _BIG_WIDTH.search(_MARKERS.sub("", value)) and ("%" in value or "{" in value):
        raise Refused(f"a format width of {MAX_NUMBER:,} or more")


# Filters whose options set the size of what they return.
_SIZE_FILTERS = {"center", "indent", "wordwrap", "truncate", "batch", "slice", "format"}


def bounded_filter(name: str, func: Any) -> Any:
    def run(*args: Any, **kwargs: Any) -> Any:
        budget = current.get()
        # The value (args[0], or args[1] after a context or environment) may be any size, but a
        # filter over a collection works through all of it; the options (counts, widths,
        # strings to repeat) are bounded.
        first = 1 if getattr(func, "jinja_pass_arg", None) is None else 2
        value = args[first - 1] if len(args) >= first else None
        budget.step(_weight(value))
        if name == "wordwrap" and isinstance(value, str):  # textwrap takes seconds on a long text
            budget.step(len(value))
        if name in _SIZE_FILTERS:
            for arg in (*args[first:], *kwargs.values()):
                check_number(arg)
        if name == "format":
            check_format(value)
        if name in ("replace", "join") and len(args) > first:
            _check_product(value, max((len(a) for a in args[first:] if isinstance(a, str)), default=0))
        if name == "indent" and isinstance(value, str):
            width = args[first] if len(args) > first else kwargs.get("width", 4)
            _check_product(value.splitlines(), len(width) if isinstance(width, str) else width)
        return func(*args, **kwargs)

    if hasattr(func, "jinja_pass_arg"):  # Jinja passes the context or environment first
        run.jinja_pass_arg = func.jinja_pass_arg  # type: ignore[attr-defined]
    return run


def _weight(value: Any) -> int:
    """The work a filter does over `value`: its items, and the items of the collections in it.

    Strings in it count towards the output bound instead: joining or summing them builds one.
    """
    if not isinstance(value, (list, tuple, dict, range)):
        return 1
    weight, chars = len(value), 0
    for item in value:
        if isinstance(item, (list, tuple, dict, range)):
            weight += len(item)
        elif isinstance(item, str):
            chars += len(item)
    if chars > MAX_OUTPUT:
        raise Refused(f"the result would be larger than {MAX_OUTPUT:,} characters")
    return max(1, weight)


def concat(*parts: Any) -> str:
    """`a ~ b`: checked before the joined string is built."""
    texts = [str(p) for p in parts]
    if sum(map(len, texts)) > MAX_OUTPUT:
        raise Refused(f"the result would be larger than {MAX_OUTPUT:,} characters")
    return "".join(texts)


def _check_product(value: Any, each: int) -> None:
    try:
        count = len(value) + 1
    except TypeError:
        return
    if count * each > MAX_OUTPUT:
        raise Refused(f"the result would be larger than {MAX_OUTPUT:,} characters")


def bounded_loop(items: Any) -> Any:
    budget = current.get()
    for item in items:
        budget.step()
        yield item
