"""Running a deployed Python function: worker processes and the DuckDB adapter.

Each function gets a pool of worker processes (worker.py), each with its own
import directory (hard links to the staged IMPORTS) and temp dir. DuckDB calls
the adapter with Arrow vectors (2048 rows); the adapter cuts them into batches
of at most `max_batch_size`, ships numpy arrays to a worker and turns the answer
back into Arrow. A worker that raises, crashes or overruns the time limit is
reported as SQLError and replaced on the next call.

Workers cost memory (about 190 MiB with scikit-learn, 700 MiB with TensorFlow), so a
session keeps a bounded number alive (Workers): past the cap, or after `idle` seconds
unused, the least recently used idle worker is stopped, and started again when its
function is next called.
"""

from __future__ import annotations

import itertools
import os
import pickle
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from deployer.engine.worker import _HEADER, kill_descendants, make_folder, pack, send, unpack
from deployer.errors import SQLError


@dataclass(frozen=True)
class Spec:
    """What a worker needs to load one function."""
    label: str  # e.g. PREDICT(FLOAT, FLOAT)
    handler: str
    body: str | None
    imports: tuple[Path, ...]  # staged files
    log_level: str | None
    vector_input: bool = False  # filled from the worker's handshake
    warnings_as_errors: tuple[str, ...] = ()  # message patterns the handler may not warn (preflight)
    arg_names: tuple[str, ...] = ()  # a vectorized table function's input column names
    columns: tuple[str, ...] | None = None  # a table function's output columns; None: scalar
    check: Callable[[Path], None] | None = field(default=None, compare=False)  # raises for a corrupt import


# Run worker.py by path (it needs only the standard library) so the handler's
# sys.path holds neither the engine's package nor the current directory.
_BOOT = ("import runpy, sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
         "runpy.run_path(sys.argv[1], run_name='__main__')")


class WorkerError(SQLError):
    timed_out = False


# The lifeline: every worker gets the read end of one pipe whose write end only this
# process holds. When this process dies, however it dies (SIGKILL included), the worker
# reads EOF and kills its process group (worker.py). PR_SET_PDEATHSIG is no substitute:
# it fires when the *thread* that started the worker exits, and pools start workers from
# short-lived threads.
_lifeline: tuple[int, int, int] | None = None
_lifeline_lock = threading.Lock()
_live: "weakref.WeakSet[Worker]" = weakref.WeakSet()


def lifeline() -> int:
    global _lifeline
    with _lifeline_lock:
        if _lifeline is None or _lifeline[2] != os.getpid():  # a forked child gets its own
            r, w = os.pipe()
            _lifeline = (r, w, os.getpid())
        return _lifeline[0]


halted = False  # set by kill_all: no worker starts after a signal


def kill_all() -> None:
    """Kill every worker of this process with its process group (on a signal: a statement
    waiting on a busy worker then ends at once instead of at its timeout)."""
    global halted
    halted = True
    for w in list(_live):
        w.kill_group()


class Worker:
    def __init__(self, spec: Spec | None, root: Path, timeout: float, threads: int = 1,
                 python: str | None = None, preload: tuple[str, ...] = (), probe: tuple[str, ...] = ()):
        """A worker loading `spec`; with `spec` None, one started ahead of any function
        (Workers.start_ahead): it imports `preload` and loads the pickles `probe` once (see
        worker._preload), then waits as a spare for the setup of the first function that
        adopts it (begin_rebind)."""
        self.spec = spec
        self.timeout = timeout
        self.root = root
        if spec is None:
            self.dir = Path(tempfile.mkdtemp(prefix="w", dir=root))
            tmp = self.dir / "tmp"
            tmp.mkdir()
            first: dict = {"preload": list(preload), "probe": list(probe)}
        else:
            self.dir, first = self._prepare(spec)
            tmp = Path(first["tmp_dir"])
        # Each worker gets its share of the cores: thread pools that spin (TensorFlow,
        # OpenMP, BLAS) would otherwise fight each other and the engine for them.
        share = str(max(1, threads))
        env = dict(os.environ, TMPDIR=str(tmp), TEMP=str(tmp), TMP=str(tmp),
                   TF_CPP_MIN_LOG_LEVEL="2", PYTHONDONTWRITEBYTECODE="1",
                   TF_NUM_INTRAOP_THREADS=share, TF_NUM_INTEROP_THREADS=share,
                   OMP_NUM_THREADS=share, OPENBLAS_NUM_THREADS=share, MKL_NUM_THREADS=share)
        python = self.python = python or sys.executable
        if python != sys.executable:  # an isolated environment: nothing of this one leaks in
            for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
                env.pop(name, None)
        self.log = open(self.dir / "stderr.log", "wb")
        self.ended = False
        self._buf = b""
        env["DEPLOYER_LIFELINE"] = str(lifeline())
        # Its own session and process group: a handler's own children are killed with it.
        self.proc = subprocess.Popen(
            [python, "-c", _BOOT, str(Path(__file__).with_name("worker.py"))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, cwd=tmp, env=env,
            start_new_session=True, pass_fds=(int(env["DEPLOYER_LIFELINE"]),))
        _live.add(self)
        send(self.proc.stdin, first)
        if spec is not None:
            self._hello(spec)

    def _prepare(self, spec: Spec) -> tuple[Path, dict]:
        """A fresh folder, made here (import dir of hard links to the staged files, code,
        tmp), and the setup message naming it."""
        folder = Path(tempfile.mkdtemp(prefix="w", dir=self.root))
        try:
            setup = _setup(spec, folder)
        except SQLError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        make_folder(setup)
        return folder, setup

    def _hello(self, spec: Spec) -> None:
        hello = self._receive()
        if not hello["ok"]:
            self.kill()
            raise _interpreter_error(hello["error"], spec)
        self.vectorized = hello["vectorized"]
        self.max_batch_size = hello["max_batch_size"]
        self.hello_logs = hello.get("logs", [])

    def rebind(self, spec: Spec) -> None:
        """Load another function in this warm process (its frameworks stay imported)."""
        self.begin_rebind(spec)
        self.finish_rebind()

    def begin_rebind(self, spec: Spec) -> None:
        """Send the setup of another function; finish_rebind() waits for it to load. The
        worker makes the new folder and removes the old one itself: done here, in a thread
        of the engine's process, that file work waits on the engine's GIL."""
        old = self.dir
        folder = self.root / f"r{next(_folders)}"  # beside mkdtemp's "w..." names, never one of them
        try:
            setup = _setup(spec, folder)
        except SQLError:
            self.kill()
            raise
        self.dir, self.spec, self._old = folder, spec, old
        try:
            send(self.proc.stdin, {"setup": dict(setup, make=True, discard=str(old))})
        except (BrokenPipeError, OSError):
            self.kill()
            shutil.rmtree(old, ignore_errors=True)
            raise WorkerError(f"the Python worker for {spec.label} exited") from None

    def spared(self) -> bool:
        """Tell the worker its function was dropped: it unloads the handler and removes the
        folder now, while the engine goes on, instead of when the next function comes (an
        apply drops each candidate a few statements before creating the next). False when the
        worker is gone."""
        try:
            send(self.proc.stdin, {"spare": True})
            return True
        except (BrokenPipeError, OSError):
            return False

    def finish_rebind(self) -> None:
        try:
            self._hello(self.spec)
        except BaseException:
            shutil.rmtree(self._old, ignore_errors=True)  # the worker removes it once the new one loaded
            raise

    def _fill(self, deadline: float) -> None:
        """Read what the worker has sent so far into self._buf (waiting up to deadline)."""
        fd = self.proc.stdout.fileno()
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            self.kill()
            err = WorkerError(
                f"function {self.spec.label} exceeded the time limit of {self.timeout:g} s "
                "for one batch; its Python worker was stopped (raise the limit with --udf-timeout "
                "SECONDS or the target's udf_timeout)")
            err.timed_out = True
            raise err
        data = os.read(fd, 1 << 20)
        if not data:
            code = self.proc.wait()
            self.kill()
            how = (f"was killed by signal {signal.Signals(-code).name}" if code < 0
                   else f"exited with code {code}")
            raise WorkerError(f"the Python worker of function {self.spec.label} {how} "
                              "(crashed); the statement failed")
        self._buf += data

    def _receive(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while len(self._buf) < _HEADER.size:
            self._fill(deadline)
        (size,) = _HEADER.unpack_from(self._buf)
        end = _HEADER.size + size
        while len(self._buf) < end:
            self._fill(deadline)
        data, self._buf = self._buf[_HEADER.size:end], self._buf[end:]
        return pickle.loads(data)

    def call(self, args: list, n: int, step: int | None = None) -> tuple[object, list]:
        try:
            send(self.proc.stdin, {"args": [pack(a) for a in args], "n": n, "step": step})
        except (BrokenPipeError, OSError):
            while True:  # the worker is gone: report how it ended
                self._fill(time.monotonic() + 5)
        reply = self._receive()
        if not reply["ok"]:
            err = _interpreter_error(reply["error"], self.spec, reply.get("logs", []))
            # The handler raised and the worker answered in full: it takes the next batch as it
            # is (as a Python process in Snowflake does), not a new process importing the
            # frameworks again (preflight of models that all fail: one process, not one each).
            err.answered = True
            raise err
        return unpack(reply["result"]), reply.get("logs", [])

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill_group(self) -> None:
        """SIGKILL to the worker's process group: the worker and whatever its handler
        started. Sent even when the worker itself has exited (its children may not have);
        the group id stays reserved while any member lives. First the processes below a live
        worker that left its group (the worker is their subreaper: worker.kill_descendants)."""
        if not self.ended:
            if self.proc.poll() is None:
                kill_descendants(self.proc.pid)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass

    def kill(self) -> None:
        if not self.ended:
            self.kill_group()
            self.proc.wait()
            self.ended = True  # reaped: its pid may be reused, never signal it again
            _live.discard(self)
        for fh in (self.proc.stdin, self.proc.stdout, self.log):
            try:
                fh.close()
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def close(self) -> None:
        """Let the worker finish on EOF; kill it if it lingers."""
        close_all([self])


_folders = itertools.count()


def _setup(spec: Spec, folder: Path) -> dict:
    """The setup message loading `spec` from `folder`, its imports checked first."""
    for src in spec.imports:
        if not src.exists():
            raise SQLError(f"the import {src.name} of function {spec.label} no longer exists on its stage")
        if spec.check is not None:
            spec.check(src)
    return {"import_dir": str(folder / "imports") + "/", "tmp_dir": str(folder / "tmp"),
            "code_dir": str(folder / "code"), "links": [(str(src), src.name) for src in spec.imports],
            "handler": spec.handler, "body": spec.body, "log_level": spec.log_level,
            "warnings_as_errors": list(spec.warnings_as_errors),
            "arg_names": list(spec.arg_names),
            "columns": None if spec.columns is None else list(spec.columns)}


def close_all(workers: list, grace: float = 0.5) -> None:
    """EOF to every worker first, then one shared grace period, then kill what is left:
    closing N workers takes the longest of them, not the sum (TensorFlow takes 0.6-1.8 s
    to exit on its own)."""
    for w in workers:
        if w.spec is None:  # started ahead and never given a function: nothing to finish
            w.kill()
            continue
        try:
            w.proc.stdin.close()
        except OSError:
            pass
    deadline = time.monotonic() + grace
    for w in workers:
        try:
            w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        w.kill()


def close_later(workers: list) -> None:
    """close_all in the background, so a statement never waits for a worker to exit."""
    if workers:
        threading.Thread(target=close_all, args=(list(workers),), daemon=True).start()


class Workers:
    """The live workers of one session: at most `cap` (idle ones beyond it are stopped,
    least recently used first) and none idle longer than `idle` seconds.

    A busy worker is never stopped, so a statement calling more functions than the cap
    still runs; the cap then holds again as they finish."""

    def __init__(self, cap: int, idle: float, reuse: bool = False):
        self.cap, self.idle = max(1, cap), idle
        # reuse: a dropped function's idle worker loads the next function started with the
        # same interpreter, instead of a new process importing the frameworks again
        # (preflight: one TensorFlow import for all models, not one per model).
        self.reuse = reuse
        self.spares: list[Worker] = []
        self.live = 0
        self.unused: dict[Worker, tuple] = {}  # idle worker -> (pool, since), oldest first
        self.lock = threading.Lock()  # taken after a pool's lock, never before it
        self.done = threading.Event()
        if idle != float("inf"):  # idle workers go even when no statement comes to notice
            threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self) -> None:
        while not self.done.wait(min(self.idle, 5.0)):
            self.trim()

    def stop(self) -> None:
        self.done.set()

    def parked(self, pool: "Pool", w: Worker, new: bool = False) -> None:
        """`w` is idle in `pool` (called under the pool's lock; trim() after releasing it)."""
        with self.lock:
            self.live += new
            self.unused[w] = (pool, time.monotonic())

    def stopped(self, n: int = 1) -> None:
        with self.lock:
            self.live -= n

    def taken(self, w: Worker) -> None:
        with self.lock:
            self.unused.pop(w, None)

    def spare(self, idle: list[Worker]) -> list[Worker]:
        """Keep the idle workers of a closed pool for reuse; returns those not kept."""
        if not self.reuse:
            return idle
        kept = [w for w in idle if w.spared()]
        with self.lock:
            for w in kept:
                self.spares.append(w)
                self.unused[w] = (None, time.monotonic())
                self.live += 1
        self.trim()
        return [w for w in idle if w not in kept]

    def start_ahead(self, python: str, root: Path, timeout: float, threads: int,
                    preload: tuple[str, ...], probe: tuple[str, ...] = ()) -> None:
        """A spare worker of `python`, started before any function needs it, importing
        `preload` meanwhile (LocalSession.start_ahead); none when one is spare already, at
        the cap, or when workers are not reused."""
        with self.lock:
            if (not self.reuse or self.done.is_set() or self.live >= self.cap
                    or any(w.python == python for w in self.spares)):
                return
            self.live += 1
        try:
            w = Worker(None, root, timeout, threads, python, preload, probe)
        except BaseException:
            self.stopped()
            raise
        with self.lock:
            if not self.done.is_set():  # else the session closed meanwhile (stop() comes before drain())
                self.spares.append(w)
                self.unused[w] = (None, time.monotonic())
                return
            self.live -= 1
        w.kill()

    def has_spare(self, python: str) -> bool:
        with self.lock:
            return any(w.python == python for w in self.spares)

    def adopt(self, python: str, spare_only: bool = False) -> Worker | None:
        """A warm worker running `python` for the caller to load its function into: a spare,
        else (unless `spare_only`), at the cap, the least recently used idle worker of another
        function (the cap would stop it anyway; that function starts again when next called)."""
        with self.lock:
            if not self.reuse:
                return None
            for w in reversed(self.spares):
                if w.python == python and w.alive:
                    self.spares.remove(w)
                    self.unused.pop(w, None)
                    return w
            if spare_only or self.live < self.cap:
                return None
            others = [(w, pool) for w, (pool, _) in self.unused.items()
                      if pool is not None and w.python == python]
        for w, pool in others:
            if pool.evict(w):  # False when a statement took it meanwhile
                with self.lock:
                    self.unused.pop(w, None)
                return w
        return None

    def _evict_spare(self, w: Worker) -> bool:
        with self.lock:
            if w in self.spares:
                self.spares.remove(w)
                return True
            return False

    def drain(self) -> list[Worker]:
        """Every spare, for the session's close."""
        with self.lock:
            spares, self.spares = self.spares, []
            for w in spares:
                self.unused.pop(w, None)
            self.live -= len(spares)
        return spares

    def trim(self) -> None:
        """Stop idle workers over the cap or past their idle time."""
        victims = []
        with self.lock:
            now = time.monotonic()
            for w, (pool, since) in list(self.unused.items()):
                if self.live - len(victims) <= self.cap and now - since < self.idle:
                    break
                victims.append((pool, w))
                del self.unused[w]
        stopped = [w for pool, w in victims
                   if (pool.evict(w) if pool is not None else self._evict_spare(w))]
        self.stopped(len(stopped))
        close_later(stopped)


def _interpreter_error(tb: str, spec: Spec, logs: list | None = None) -> WorkerError:
    err = WorkerError(f"Python Interpreter Error:\n{tb.rstrip()}\n in function {spec.label}"
                      f" with handler {spec.handler}")
    err.logs = logs or []
    return err


class Pool:
    """Up to `size` warm workers for one function, shared by DuckDB's threads."""

    def __init__(self, spec: Spec, root: Path, timeout: float, size: int, python=None,
                 workers: Workers | None = None):
        self.spec, self.root, self.timeout, self.size = spec, root, timeout, max(1, size)
        self.python = python  # a callable giving the interpreter, asked once, on the first start
        self.workers = workers or Workers(cap=1 << 30, idle=float("inf"))
        self.idle: list[Worker] = []
        self.count = 0  # workers alive or starting
        self.error: SQLError | None = None
        self.closed = False
        self.warming = False  # a start begun by warm() that no caller has waited for yet
        self.loading: list[Worker] = []  # reused workers sent a setup by warm(), not yet read
        self.cond = threading.Condition()

    def acquire(self) -> Worker:
        """An idle warm worker; starts another in the background while under `size`.

        A caller waits for whichever comes first, a worker released by another thread
        or a new one, so a query never stalls on a slow model load it does not need.
        """
        with self.cond:
            while True:
                while self.idle:
                    w = self.idle.pop()
                    self.workers.taken(w)
                    if w.alive:
                        return w
                    self.count -= 1
                    self.workers.stopped()
                    w.kill()
                if self.loading:
                    w = self.loading.pop()
                    break
                if self.error is not None:  # the last start failed: report it, once
                    err, self.error = self.error, None
                    raise err
                if self.warming:  # the start warm() began is this caller's
                    self.warming = False
                elif self.count < self.size:
                    self.count += 1
                    threading.Thread(target=self._spawn, daemon=True).start()
                self.cond.wait()
        try:  # the caller reads the loaded message itself: no thread to hand it over
            w.finish_rebind()
        except BaseException as exc:
            with self.cond:
                self.count -= 1
                self.cond.notify_all()
            self.workers.stopped()
            raise exc if isinstance(exc, SQLError) else SQLError(
                f"could not start the Python worker of {self.spec.label}: {exc}") from None
        return w

    def warm(self, spare_only: bool = False) -> None:
        """Start a worker now if none is idle or starting: a query calling the function is
        about to run, and loading its handler overlaps the query's translation and planning.
        A spare (or, at the cap, another function's idle worker) of a known interpreter is
        sent the setup from here and read by acquire(); anything slower starts in a thread.
        `spare_only`: only into a spare worker (the call is likely, not certain)."""
        with self.cond:
            if self.closed or self.idle or self.count:
                return
            self.count += 1
            self.warming = True  # a caller meanwhile waits for this start, whichever way it goes
        python = self.python(build=False) if self.python is not None else sys.executable
        w = self.workers.adopt(python, spare_only) if python is not None else None
        if w is not None:
            try:
                w.begin_rebind(self.spec)
            except BaseException as exc:
                self.workers.stopped()
                self._failed(exc)
                return
            with self.cond:
                self.warming = False
                if not self.closed:
                    self.loading.append(w)
                    self.cond.notify_all()
                    return
                self.count -= 1
            self.workers.stopped()
            close_later([w])
            return
        if spare_only:
            with self.cond:
                self.count -= 1
                self.warming = False
                self.cond.notify_all()
            return
        threading.Thread(target=self._spawn, daemon=True).start()

    def _failed(self, exc: BaseException) -> None:
        """A start that failed: the next acquire reports it."""
        with self.cond:
            self.count -= 1
            self.warming = False
            self.error = exc if isinstance(exc, SQLError) else SQLError(
                f"could not start the Python worker of {self.spec.label}: {exc}")
            self.cond.notify_all()

    def _spawn(self) -> None:
        try:
            python = self.python() if self.python is not None else None
            w = self.workers.adopt(python or sys.executable)
            if w is not None:
                adopted = True
                try:
                    w.rebind(self.spec)
                except BaseException:
                    self.workers.stopped()
                    raise
            else:
                adopted = False
                w = Worker(self.spec, self.root, self.timeout,
                           threads=(os.cpu_count() or 1) // self.size, python=python)
        except BaseException as exc:
            self._failed(exc)
            return
        with self.cond:
            self.warming = False
            if self.closed:
                self.count -= 1
                if adopted:
                    self.workers.stopped()
                close_later([w])
                return
            self.idle.append(w)
            self.workers.parked(self, w, new=not adopted)
            self.cond.notify_all()
        self.workers.trim()

    def release(self, w: Worker, ok: bool) -> None:
        with self.cond:
            kept = ok and w.alive and not self.closed
            if kept:
                self.idle.append(w)
                self.workers.parked(self, w)
            else:
                self.count -= 1
            self.cond.notify_all()
        if kept:
            self.workers.trim()
        else:
            self.workers.stopped()
            if ok and w.alive:  # its function was dropped or the session closed meanwhile
                close_later([w])
            else:
                w.kill()

    def evict(self, w: Worker) -> bool:
        """Take an idle worker out of the pool to be stopped; False if a caller took it first."""
        with self.cond:
            if w not in self.idle:
                return False
            self.idle.remove(w)
            self.count -= 1
            return True

    def close(self, wait: bool = False) -> list[Worker]:
        """Stop the idle workers (in the background unless `wait`); busy ones stop on release."""
        with self.cond:
            self.closed = True
            idle, self.idle = self.idle, []
            loading, self.loading = self.loading, []  # never called: let them end
            self.count = 0
            for w in idle:
                self.workers.taken(w)
        self.workers.stopped(len(idle) + len(loading))
        close_later(loading)
        if wait:
            return idle
        close_later(self.workers.spare(idle))
        return []


# pyarrow's to_numpy() and pa.array() import pandas (0.5-1 s, once per process): the engine
# converts the types a function passes (DuckDB's DOUBLE, BIGINT, VARCHAR, BOOLEAN, JSON) itself,
# to what pyarrow would give, and leaves the rest to pyarrow.


def _to_numpy(column):
    """Arrow -> numpy as pyarrow's to_numpy(zero_copy_only=False) gives it, except that
    integers with NULLs become objects (None), not floats."""
    import numpy as np
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    kind, n = column.type, len(column)
    if kind in (pa.float64(), pa.int64()):
        if column.null_count and kind == pa.int64():
            return _objects(column.to_pylist())
        values = np.frombuffer(column.buffers()[1], dtype=np.float64 if kind == pa.float64() else np.int64,
                               count=column.offset + n)[column.offset:]
        if column.null_count:
            values = values.copy()
            values[~_valid(column)] = np.nan
        return values
    if kind == pa.bool_() and not column.null_count:
        return np.array(column.to_pylist(), dtype=bool)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or kind == pa.bool_():
        return _objects(column.to_pylist())
    return column.to_numpy(zero_copy_only=False)


def _objects(values: list):
    import numpy as np

    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _valid(column):
    """A boolean array: True where `column` holds a value."""
    import numpy as np

    bits = np.unpackbits(np.frombuffer(column.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[column.offset:column.offset + len(column)].astype(bool)


def _plain_numbers(out, duck_type: str):
    """An object array of None and plain Python floats (DOUBLE: ints too, where a float holds
    them exactly) or ints (BIGINT) as a float array, NaN for None; else `out` unchanged."""
    import numpy as np

    if duck_type == "DOUBLE":
        plain = all(v is None or type(v) is float or (type(v) is int and -2 ** 53 <= v <= 2 ** 53) for v in out)
    else:
        plain = all(v is None or (type(v) is int and -2 ** 53 <= v <= 2 ** 53) for v in out)
    if not plain:
        return out
    return np.fromiter((np.nan if v is None else v for v in out), dtype=np.float64, count=len(out))


def _from_numbers(kind, values, nulls=None):
    """An Arrow array of `values` (contiguous, of `kind`'s width), NULL where `nulls`."""
    import numpy as np
    import pyarrow as pa

    validity, count = None, 0
    if nulls is not None and nulls.any():
        count = int(nulls.sum())
        validity = pa.py_buffer(np.packbits(~nulls, bitorder="little"))
    return pa.Array.from_buffers(kind, len(values), [validity, pa.py_buffer(values)], null_count=count)


def _arrow_type(duck_type: str):
    import pyarrow as pa

    return {"DOUBLE": pa.float64(), "BIGINT": pa.int64(), "VARCHAR": pa.string(),
            "BOOLEAN": pa.bool_(), "JSON": pa.json_(pa.string())}[duck_type]


def _to_arrow(out, duck_type: str, scale: int):
    """The handler's values as an Arrow array of the SQL type (Snowflake's rounding)."""
    import json

    import numpy as np
    import pyarrow as pa

    if duck_type == "JSON":  # an OBJECT/VARIANT: the handler's dicts (or values) as JSON
        out = [None if v is None else json.dumps(v, allow_nan=False) for v in out]
    elif duck_type == "BIGINT" and getattr(out, "dtype", None) is not None and out.dtype.kind == "f":
        out = np.round(out)  # NUMBER(38,0): Snowflake rounds a float result
    elif duck_type == "DOUBLE" and scale > 0:
        out = np.round(np.asarray(out, dtype=np.float64), scale)
    if isinstance(out, np.ndarray) and out.ndim == 1 and out.dtype == object and duck_type in ("DOUBLE", "BIGINT"):
        out = _plain_numbers(out, duck_type)  # a scalar handler's answers: Python numbers and None
    if isinstance(out, np.ndarray) and out.ndim == 1:  # the usual answers, without pyarrow's pandas
        if duck_type == "DOUBLE" and out.dtype.kind == "f":
            values = np.ascontiguousarray(out, dtype=np.float64)
            return _from_numbers(pa.float64(), values, np.isnan(values))  # NaN is NULL (from_pandas)
        if duck_type == "BIGINT" and out.dtype.kind == "i":
            return _from_numbers(pa.int64(), np.ascontiguousarray(out, dtype=np.int64))
        if duck_type == "BIGINT" and out.dtype.kind == "f":  # rounded above
            nulls = np.isnan(out)
            if (np.abs(out[~nulls]) < 2.0 ** 63).all():  # else pyarrow says what is out of range
                return _from_numbers(pa.int64(), np.where(nulls, 0, out).astype(np.int64), nulls)
    return pa.array(out, type=_arrow_type(duck_type), from_pandas=True)


def _run_batch(pool: Pool, arrays: list, n: int, on_logs, on_error, failed=lambda: None):
    """One round trip to a worker of `pool`: its answer, or SQLError (parked via on_error).

    `failed`: the error that already failed the running statement, if any."""
    # DuckDB folds a constant call at planning and, when that fails, calls again at run
    # time: a hanging model would cost a timeout per attempt. One is enough.
    earlier = failed()
    if earlier is not None and getattr(earlier, "timed_out", False):
        raise earlier
    if halted:
        raise SQLError("interrupted")
    try:
        w = pool.acquire()
    except SQLError as exc:
        on_error(exc)
        raise
    ok = False
    try:
        if w.hello_logs:
            on_logs(w.hello_logs)
            w.hello_logs = []
        # The worker cuts the vector into max_batch_size batches itself: one round trip
        # per vector (a 2,048-row vector was three with max_batch_size 1000).
        out, logs = w.call(arrays, n, step=w.max_batch_size)
        if logs:
            on_logs(logs)
        ok = True
        return out
    except SQLError as exc:
        ok = getattr(exc, "answered", False)
        if getattr(exc, "logs", None):
            on_logs(exc.logs)
        on_error(exc)
        raise
    finally:
        pool.release(w, ok)


def _lambda(adapter, arity: int):
    # DuckDB reads the arity from the Python signature, so spell the parameters out.
    params = ", ".join(f"c{i}" for i in range(arity))
    return eval(f"lambda {params}: adapter({params})", {"adapter": adapter})


def make_table_adapter(pool: Pool, arity: int, columns: list[tuple[str, str, int]], on_logs, on_error,
                       failed=lambda: None):
    """A table function for DuckDB: per input row, the LIST of its output rows as STRUCTs
    (`columns`: name, DuckDB type, scale); the query UNNESTs it beside the input row."""
    import numpy as np
    import pyarrow as pa

    struct = pa.struct([(name, _arrow_type(t)) for name, t, _ in columns])

    def adapter(*inputs):
        n = len(inputs[0]) if inputs else 1
        out = _run_batch(pool, [_to_numpy(c) for c in inputs], n, on_logs, on_error, failed)
        try:
            values = [_to_arrow(unpack(c), t, scale) for c, (_, t, scale) in zip(out["columns"], columns)]
            rows = pa.StructArray.from_arrays(values, fields=list(struct))
            counts = np.ones(n, dtype=np.int64) if out["counts"] is None else unpack(out["counts"])
            if len(counts) != n or int(counts.sum()) != len(rows):
                raise ValueError(f"{len(rows)} rows for {n} inputs")
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            return pa.ListArray.from_arrays(pa.array(offsets), rows)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            err = SQLError(f"function {pool.spec.label} returned values that do not fit its "
                           f"columns {', '.join(name for name, _, _ in columns)}: {exc}")
            on_error(err)
            raise err from None

    return _lambda(adapter, arity)


def make_adapter(pool: Pool, arity: int, return_type: str, on_logs, on_error, scale: int = 0,
                 failed=lambda: None):
    """The Arrow-vectorised function DuckDB calls; errors are parked via `on_error`.

    `scale`: the decimals a NUMBER(P,S) result keeps (Snowflake rounds to them).
    `failed`: the error that already failed the running statement, if any."""
    import pyarrow as pa

    def adapter(*columns):
        n = len(columns[0]) if columns else 1
        out = _run_batch(pool, [_to_numpy(c) for c in columns], n, on_logs, on_error, failed)
        try:
            return _to_arrow(out, return_type, scale)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            err = SQLError(f"function {pool.spec.label} returned values that are not "
                           f"{return_type}: {exc}")
            on_error(err)
            raise err from None

    return _lambda(adapter, arity)
