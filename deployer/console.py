"""What the terminal gets: colour only on a terminal, a spinner on long steps, step timings.

Plain text whenever output is piped or redirected (CI logs, `> plan.txt`), when NO_COLOR is
set (https://no-color.org) or with --no-color; FORCE_COLOR forces colour. Spinners and
progress go to stderr, and only when stderr is a terminal, so stdout stays exactly the result.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import IO, Iterator

_no_color = False


def set_no_color(value: bool) -> None:
    global _no_color
    _no_color = value


def color_enabled(stream: IO | None = None) -> bool:
    stream = sys.stdout if stream is None else stream
    if _no_color or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def interactive() -> bool:
    """Whether stderr is a terminal someone watches (spinners, live counts). Not with NO_COLOR
    or --no-color either: a spinner needs cursor codes, and those asked for plain text."""
    if _no_color or os.environ.get("NO_COLOR"):
        return False
    return _isatty(sys.stderr) and os.environ.get("TERM") != "dumb"


def _isatty(stream: IO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _console(stream: IO):
    from rich.console import Console

    return Console(file=stream, highlight=False, soft_wrap=True, no_color=not color_enabled(stream),
                   force_terminal=color_enabled(stream) or None)


def style(text: str, markup_style: str, stream: IO | None = None) -> str:
    """`text` in a rich style (bold green, red ...) as ANSI codes when colour is on, else as is."""
    stream = sys.stdout if stream is None else stream
    if not color_enabled(stream) or not markup_style:
        return text
    from rich.style import Style

    return Style.parse(markup_style).render(text, color_system="standard")


class Steps:
    """The named steps of one command, timed; a spinner shows the current one on a terminal."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []
        self._groups: dict[int, str] = {}  # index in times -> its group (see tally)
        self._status = None

    @contextmanager
    def step(self, text: str, *, timed: bool = True) -> Iterator[None]:
        """`timed=False`: a spinner only, for work already counted in an enclosing step."""
        started = time.perf_counter()
        if interactive() and self._status is None:
            self._status = _Spinner(text)
            self._status.start()
            try:
                yield
            finally:
                self._status.stop()
                self._status = None
                if timed:
                    self.times.append((text, time.perf_counter() - started))
            return
        if self._status is not None:  # a step inside a step: the spinner says what runs now
            self._status.update(text)
        try:
            yield
        finally:
            if timed:
                self.times.append((text, time.perf_counter() - started))

    def update(self, text: str) -> None:
        """Say what the current step is doing now (`running preflight for PREDICT`)."""
        if self._status is not None:
            self._status.update(text)

    def echo(self, line: str) -> None:
        """A line of the result on stdout; a running spinner steps aside for it (click writes
        past rich's redirection, which would leave a spinner frame in front of the line)."""
        import click

        if self._status is None:
            click.echo(line)
            return
        with self._status.paused():
            click.echo(line)

    def say(self, line: str) -> None:
        """A line on stderr that stays, printed above the spinner."""
        if self._status is not None:
            self._status.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=sys.stderr, flush=True)

    def tally(self, group: str, text: str, took: float) -> None:
        """A timed item of a group (`function`, `file`): listed by name when its group has a
        few, summed as `500 functions 41.2s` when it has many."""
        self._groups[len(self.times)] = group
        self.times.append((text, took))

    def summary(self, listed: int = 3) -> str:
        sizes: dict[str, int] = {}
        for group in self._groups.values():
            sizes[group] = sizes.get(group, 0) + 1
        parts, totals = [], {}
        for i, (name, t) in enumerate(self.times):
            group = self._groups.get(i)
            if group is None or sizes[group] <= listed:
                parts.append([name, t])
            elif group in totals:
                totals[group][1] += t
            else:
                totals[group] = [f"{sizes[group]} {group}s", t]
                parts.append(totals[group])
        return ", ".join(f"{name} {seconds(t)}" for name, t in parts)


class _Spinner:
    """rich's Status, except that stdout is routed above the spinner only when it is the
    terminal too (rich would send a piped stdout's lines to stderr), and that it can step
    aside while a line is written."""

    def __init__(self, text: str) -> None:
        self.text, self.console = text, _console(sys.stderr)

    def start(self) -> None:
        from rich.live import Live
        from rich.spinner import Spinner

        # A new Live each time: a restarted one would erase the lines written meanwhile.
        self._spinner = Spinner("dots", text=self.text, style="status.spinner")
        self._live = Live(self._spinner, console=self.console, transient=True, refresh_per_second=12.5,
                          redirect_stdout=_isatty(sys.stdout), redirect_stderr=True)
        self._live.start(refresh=True)  # the step shows at once, not at the first tick

    def update(self, text: str) -> None:
        self.text = text
        self._spinner.update(text=text)
        self._live.refresh()  # now, not at the next tick: a short step still shows

    def stop(self) -> None:
        self._live.stop()

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.stop()
        try:
            yield
        finally:
            self.start()


def seconds(value: float) -> str:
    return f"{value:.1f}s" if value < 60 else f"{int(value // 60)}m{int(value % 60):02d}s"


LARGE_FILE = 1 << 20  # uploads from this size on show their bytes as they go, then their rate


def size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class ShowUploads:
    """A session as the executor sees it, reporting each large PUT: on a terminal a live
    count of the bytes sent, then one plain line with bytes, time and rate. Everything else
    goes straight to the session."""

    def __init__(self, session, steps: Steps, root, echo):
        self._session, self._steps, self._root, self._echo = session, steps, root, echo

    def put(self, local_path, stage_dir, *, overwrite: bool = True):
        from pathlib import Path

        from deployer.plan import relative_path

        path = Path(local_path)
        try:
            total = path.stat().st_size
        except OSError:
            total = 0
        if total < LARGE_FILE:
            return self._session.put(local_path, stage_dir, overwrite=overwrite)
        shown = relative_path(path, self._root)

        last = [0.0]

        def progress(done: int, of: int) -> None:
            now = time.perf_counter()
            if done < of and now - last[0] < 0.1:  # ten redraws a second are plenty
                return
            last[0] = now
            self._steps.update(f"uploading {shown}  {size(done)} / {size(of)}")

        started = time.perf_counter()
        with self._steps.step(f"uploading {shown}  0 B / {size(total)}", timed=False):
            result = self._session.put(local_path, stage_dir, overwrite=overwrite, progress=progress)
        took = max(time.perf_counter() - started, 1e-6)
        self._echo(f"    uploaded {shown}: {size(total)} in {seconds(took)} ({size(total / took)}/s)")
        return result

    def __getattr__(self, name):
        return getattr(self._session, name)
