"""SIGINT, SIGTERM and SIGHUP end the CLI cleanly: sessions close, workers die, exit 128+N.

Python runs a signal handler only when the main thread next runs Python code, and during a
query the main thread waits inside DuckDB for a worker that may be busy for minutes. So the
C-level handler also wakes a thread (signal.set_wakeup_fd) that kills the workers at once;
the query then fails, and the main thread raises Interrupted and unwinds through `with`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

received: int | None = None  # the first signal seen, for the CLI's message and exit code


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise(signum, _frame):
    global received
    received = received or signum
    raise Interrupted(signum)


def _watch(fd: int) -> None:
    global received
    while True:
        try:
            data = os.read(fd, 64)
        except OSError:
            return
        if not data:
            return
        if any(b in SIGNALS for b in data):
            received = received or next(b for b in data if b in SIGNALS)
            udf = sys.modules.get("deployer.engine.udf")  # not imported: no workers to kill
            if udf is not None:
                udf.kill_all()


def install() -> None:
    """Only from the main thread of the CLI process (the console script's main())."""
    if threading.current_thread() is not threading.main_thread():
        return
    r, w = os.pipe()
    os.set_blocking(w, False)
    signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(r,), daemon=True, name="signals").start()
    for sig in SIGNALS:
        signal.signal(sig, _raise)


def exit_code(signum: int) -> int:
    return 128 + signum


def name(signum: int) -> str:
    return signal.Signals(signum).name
