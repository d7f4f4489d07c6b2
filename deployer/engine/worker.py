"""The Python worker process: runs one function's handler, like Snowflake's sandbox.

Started by udf.py as `python -m deployer.engine.worker`. It reads a setup message
(import directory, handler, optional inline body), loads the handler module once,
then answers batch messages until its stdin closes. Messages are length-prefixed
pickles on the original stdout; the handler's own prints go to stderr so they can
never corrupt the channel.
"""

from __future__ import annotations

import functools
import math
import os
import pickle
import struct
import sys
import types

_HEADER = struct.Struct("<Q")


def send(fh, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_HEADER.pack(len(data)) + data)  # one write: one wake-up on the other side
    fh.flush()


def recv(fh):
    head = fh.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    return pickle.loads(fh.read(size))


# A handler's children may leave the worker's process group (setsid, a daemon's double fork),
# where killing the group misses them. On Linux the worker is a "child subreaper": whatever
# its descendants orphan is re-parented to it rather than to init, so its process tree, read
# from /proc, holds them all, and is killed before the worker itself.
def become_subreaper() -> None:
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass  # not Linux: the process group still holds every child that stays in it


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, from /proc (empty where there is none)."""
    children: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                state, ppid = fh.read().rsplit(b")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue  # gone meanwhile
        if state not in (b"Z", b"X"):  # a zombie is dead already; its parent reaps it
            children.setdefault(int(ppid), []).append(int(name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def kill_descendants(pid: int, rounds: int = 10) -> None:
    """SIGKILL every process below `pid`, again while killing orphans more of them onto it."""
    import signal

    for _ in range(rounds):
        below = descendants(pid)
        if not below:
            return
        for child in below:
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass


# Arrays cross the pipe as (dtype, shape, bytes) or plain lists, never as numpy pickles: the
# worker may run in an isolated environment with another numpy than the engine's (numpy 2
# pickles do not load on numpy 1).
def pack(value):
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return ("nd", value.dtype.str, value.shape, np.ascontiguousarray(value).tobytes())
        value = value.tolist()
    if isinstance(value, list):
        return ("list", [v.item() if hasattr(v, "item") and type(v).__module__ == "numpy" else v
                         for v in value])
    return value


def unpack(value):
    if isinstance(value, tuple) and len(value) == 4 and value[0] == "nd":
        import numpy as np
        return np.frombuffer(value[3], dtype=np.dtype(value[1])).reshape(value[2]).copy()
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "list":
        import numpy as np
        out = np.empty(len(value[1]), dtype=object)
        out[:] = value[1]
        return out
    return value


def snowflake_module() -> types.ModuleType:
    """The `_snowflake` module handlers import for the vectorized decorator."""
    mod = types.ModuleType("_snowflake")

    def vectorized(input=None, max_batch_size=None, **_):
        def mark(func):
            func._sf_vectorized_input = input
            if max_batch_size is not None:
                func._sf_max_batch_size = max_batch_size
            return func
        return mark

    def _no_secrets(*_a, **_k):
        raise RuntimeError("secrets are not available in the local engine")

    mod.vectorized = vectorized
    mod.get_generic_secret_string = _no_secrets
    mod.get_username_password = _no_secrets
    mod.get_oauth_access_token = _no_secrets
    mod.get_secret_type = _no_secrets
    return mod


class _Capture:
    """A logging handler keeping records until the next reply carries them out."""

    def __init__(self):
        import logging

        class Handler(logging.Handler):
            def __init__(self, sink):
                super().__init__()
                self.sink = sink

            def emit(self, record):
                try:
                    msg = record.getMessage()
                except Exception:  # a bad format string must not fail the query
                    msg = str(record.msg)
                if record.exc_info:
                    msg += "\n" + logging.Formatter().formatException(record.exc_info)
                self.sink.append({"time": record.created, "level": record.levelname,
                                  "logger": record.name, "message": msg,
                                  "file": record.pathname, "line": record.lineno,
                                  "function": record.funcName})

        self.records: list[dict] = []
        self.handler = Handler(self.records)

    def take(self) -> list[dict]:
        out = list(self.records)
        self.records.clear()
        return out


# Generated handlers of one manifest differ only in their first lines (names, files,
# outputs): the code after them is compiled once per worker, not once per function.
_STARTS = ("def ", "class ", "async def ", "@")


def top_level_chunks(source: str) -> list[tuple[int, str]] | None:
    """`source` cut before each top-level def, class or decorator, as (first line, text);
    None when there is nothing to cut or cutting could change the meaning (a __future__
    import applies to the whole file; a carriage return, which Python also counts as a line
    end). Cut text that does not compile on its own (a decorator spanning lines, a def inside a
    string) is the caller's cue to take the whole."""
    if "__future__" in source or "\r" in source:
        return None
    lines = source.split("\n")
    chunks, start = [], 0
    for i in range(1, len(lines)):
        if lines[i].startswith(_STARTS) and not lines[i - 1].startswith("@"):
            chunks.append((start + 1, "\n".join(lines[start:i]) + "\n"))
            start = i
    if not chunks:
        return None
    chunks.append((start + 1, "\n".join(lines[start:])))
    return chunks


def per_piece(source: str, each) -> list | None:
    """each(text, first line) for every piece of `source`, or None when it is taken whole: not
    cut, or a piece that does not compile alone (a SyntaxError from `each`)."""
    chunks = top_level_chunks(source)
    if not chunks:
        return None
    try:
        return [each(text, line) for line, text in chunks]
    except SyntaxError:
        return None


def compile_handler(source: str, filename: str) -> list:
    """Code objects that, run in order in one namespace, do what the whole source does.

    Each piece starts at a clean top-level line and compiles alone, so none can be inside a
    string or bracket of another: together they are the whole module, statement for
    statement, with the same line numbers. Taken whole, the error is the one Python gives
    the whole file."""
    return (per_piece(source, lambda text, line: _named(_compiled(text, line), filename))
            or [compile(source, filename, "exec", dont_inherit=True)])


@functools.lru_cache(maxsize=4096)
def _compiled(text: str, line: int):
    return compile("\n" * (line - 1) + text, "<handler>", "exec", dont_inherit=True)


def _named(code, filename: str):
    consts = tuple(_named(c, filename) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def make_folder(setup: dict) -> None:
    """A function's fresh folder: its import directory of hard links to the staged files
    (copies where a link cannot be made), its code and tmp folders."""
    import shutil

    for d in (setup["import_dir"], setup["code_dir"], setup["tmp_dir"]):
        os.makedirs(d)
    for src, name in setup["links"]:
        dest = os.path.join(setup["import_dir"], name)
        try:
            os.link(src, dest)
        except OSError:
            shutil.copyfile(src, dest)


_LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "WARN": 30, "WARNING": 30, "ERROR": 40,
           "FATAL": 50, "OFF": 100}


def _load(setup: dict):
    import importlib
    import logging
    import tempfile

    import_dir = setup["import_dir"]
    sys._xoptions["snowflake_import_directory"] = import_dir
    tempfile.tempdir = setup["tmp_dir"]
    for name in ("TMPDIR", "TEMP", "TMP"):
        os.environ[name] = setup["tmp_dir"]
    os.chdir(setup["tmp_dir"])
    sys.modules["_snowflake"] = snowflake_module()
    sys.path.insert(0, import_dir)
    for name in sorted(os.listdir(import_dir)):
        if name.endswith(".zip"):
            sys.path.append(os.path.join(import_dir, name))
    import warnings
    for pattern in setup.get("warnings_as_errors") or ():  # preflight: e.g. an estimator from another scikit-learn
        warnings.filterwarnings("error", message=pattern)
    capture = _Capture()
    root = logging.getLogger()
    root.addHandler(capture.handler)
    root.setLevel(_LEVELS.get(str(setup.get("log_level") or "INFO").upper(), 20))

    handler = setup["handler"]
    if setup.get("body") is not None:
        path = os.path.join(setup["code_dir"], "udf_inline_code.py")
        with open(path, "w") as fh:
            fh.write(setup["body"])
        spec = importlib.util.spec_from_file_location("udf_inline_code", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["udf_inline_code"] = module
        for code in compile_handler(setup["body"], path):
            exec(code, module.__dict__)
        attrs = handler.split(".")
    else:
        mod_name, func = handler.rsplit(".", 1)
        module = importlib.import_module(mod_name)
        attrs = [func]
    obj = module
    for a in attrs:
        obj = getattr(obj, a)
    return obj, capture


def _unload(setup: dict, capture, base_filters: list, before: set) -> None:
    """Forget one function before loading another in this process (preflight reuses a
    worker, keeping only what every handler shares: the interpreter and its frameworks).
    `before`: the modules loaded before this function's; only the others can be its own
    (looking at all of them, ~1,600 with scikit-learn, took ~5 ms a function)."""
    import gc
    import logging
    import warnings

    logging.getLogger().removeHandler(capture.handler)
    warnings.filters[:] = base_filters
    dirs = (setup["import_dir"], setup["code_dir"])
    for name in set(sys.modules) - before:
        module = sys.modules[name]
        where = getattr(module, "__file__", None) or ""
        if name == "udf_inline_code" or where.startswith(dirs):
            del sys.modules[name]
            # A module's functions and its globals form a cycle that would keep the model
            # alive until a full collection: emptying the namespace frees it at once.
            module.__dict__.clear()
    sys.path[:] = [p for p in sys.path if not p.startswith(setup["import_dir"])]
    # A full collection scans every object of the frameworks (~0.13 s with pandas and
    # scikit-learn). Frozen after the first one, they are never scanned again: later
    # collections see only what the next handlers create.
    gc.collect()
    gc.freeze()


def _as_none(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def _call(func, vectorized: bool, args: list, n: int):
    if vectorized:
        import numpy as np
        import pandas as pd
        if args and all(getattr(a, "dtype", None) == np.float64 for a in args):
            # one float block: cheapest to build, and df.to_numpy() is then a view
            df = pd.DataFrame(np.column_stack(args), copy=False)
        elif args:
            df = pd.DataFrame({i: a for i, a in enumerate(args)})
        else:
            df = pd.DataFrame(index=range(n))
        out = func(df)
        if isinstance(out, (pd.Series, pd.Index)):
            out = out.to_numpy()
        elif isinstance(out, pd.DataFrame):
            if out.shape[1] != 1:
                raise ValueError(f"the handler returned a DataFrame with {out.shape[1]} columns; "
                                 "expected a Series, list or 1-D array")
            out = out.iloc[:, 0].to_numpy()
        else:
            out = np.asarray(out) if not isinstance(out, list) else out
            if hasattr(out, "ndim") and out.ndim == 2 and out.shape[1] == 1:
                out = out[:, 0]
        if len(out) != n:
            raise ValueError(f"the handler returned {len(out)} values for a batch of {n} rows")
        return out
    # scalar handlers get plain Python values, None for NULL
    rows = zip(*[a.tolist() for a in args]) if args else [()] * n
    return [func(*[_as_none(v) for v in row]) for row in rows]


def _call_in_batches(func, vectorized: bool, args: list, n: int, step):
    """The handler over `n` rows in batches of at most `step` (its max_batch_size): one
    message per DuckDB vector, however small the handler's batches."""
    if not step or n <= step:
        return _call(func, vectorized, args, n)
    parts = [_call(func, vectorized, [a[i:i + step] for a in args], min(step, n - i))
             for i in range(0, n, step)]
    if all(isinstance(p, list) for p in parts):
        return [v for p in parts for v in p]
    import numpy as np
    return np.concatenate([np.asarray(p, dtype=object) if isinstance(p, list) else p for p in parts])


def table_kind(cls) -> str:
    """How a table function's handler class runs: "vector" (a vectorized process: one output
    row per input row, per batch) or "rows" (process per row, yielding any number of rows)."""
    process = getattr(cls, "process", None)
    end = getattr(cls, "end_partition", None)
    if getattr(end, "_sf_vectorized_input", None) is not None:
        # Its rows belong to a partition, not to input rows: that needs PARTITION BY.
        raise TypeError("a vectorized end_partition is not run by the local engine; "
                        "use a vectorized process method")
    if process is None:
        raise TypeError(f"the handler class {cls.__name__} has no process method")
    return "vector" if getattr(process, "_sf_vectorized_input", None) is not None else "rows"


def _columns_of(out, width: int):
    """A vectorized process's result as one sequence per output column."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(out, pd.DataFrame):
        return [_plain_column(out.iloc[:, i]) for i in range(out.shape[1])]
    if isinstance(out, (tuple, list)):
        return [_plain_column(c) if hasattr(c, "to_numpy") else c for c in out]
    raise TypeError(f"process returned {type(out).__name__}; expected a pandas DataFrame or a "
                    f"tuple of {width} columns")


def _plain_column(column):
    """numpy values of a Series or array; a nullable dtype's NA as None (no pandas objects
    cross the pipe: the engine may run another pandas)."""
    import numpy as np

    dtype = getattr(column, "dtype", None)
    if dtype is not None and not isinstance(dtype, np.dtype):  # an extension dtype (Float64, ...)
        return column.to_numpy(dtype=object, na_value=None)
    return column.to_numpy()


def _table_call(cls, kind: str, names: list, width: int, args: list, n: int, step):
    """A table function over `n` input rows: (columns, counts), counts[i] the number of
    output rows of input row i (None: exactly one each)."""
    import numpy as np

    if kind == "vector":
        import pandas as pd

        columns = [[] for _ in range(width)]
        step = step or n or 1
        for i in range(0, n, step):
            rows = min(step, n - i)
            # Snowflake names a vectorized UDTF's input columns by the SQL arguments.
            df = pd.DataFrame({name: a[i:i + rows] for name, a in zip(names, args)})
            if not args:
                df = pd.DataFrame(index=range(rows))
            cols = _columns_of(cls().process(df), width)
            if len(cols) != width:
                raise ValueError(f"process returned {len(cols)} columns; the function has {width}")
            for k, c in enumerate(cols):
                if len(c) != rows:
                    raise ValueError(f"process returned {len(c)} rows for a batch of {rows}; a "
                                     "vectorized process returns one row per input row")
                columns[k].append(np.asarray(c))
        return [np.concatenate(c) if c else np.array([]) for c in columns], None
    handler = cls()
    out_rows, counts = [], []
    values = [a.tolist() for a in args]
    for r in range(n):
        produced = handler.process(*[_as_none(v[r]) for v in values]) or ()
        before = len(out_rows)
        for row in produced:
            if len(row) != width:
                raise ValueError(f"process yielded a row of {len(row)} values; the function has {width} columns")
            out_rows.append(tuple(row))
        counts.append(len(out_rows) - before)
    end = getattr(handler, "end_partition", None)
    if end is not None and any(True for _ in (end() or ())):
        raise ValueError("end_partition yielded rows; the local engine runs table functions "
                         "without partitions, so only process may return rows")
    columns = [[row[k] for row in out_rows] for k in range(width)]
    return columns, np.asarray(counts, dtype=np.int64)


def _die_with_parent() -> None:
    """End this process group (the worker and its handler's children) when the engine
    process dies, however it dies: the lifeline pipe (udf.py) reads EOF then, and the
    parent pid check covers a missing lifeline. A thread, so a busy handler cannot delay it."""
    import select
    import signal
    import threading
    import time

    fd = os.environ.pop("DEPLOYER_LIFELINE", None)
    fd = int(fd) if fd and fd.isdigit() else None
    if fd is not None:
        try:
            os.set_inheritable(fd, False)  # not into the handler's own children
        except OSError:
            fd = None
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            if fd is None:
                time.sleep(0.5)
            elif select.select([fd], [], [], 0.5)[0] and not os.read(fd, 1):
                break  # EOF: the engine is gone
        try:
            kill_descendants(os.getpid())
            os.killpg(os.getpgid(0), signal.SIGKILL)
        finally:
            os._exit(1)

    threading.Thread(target=watch, daemon=True, name="lifeline").start()


def main() -> None:
    import traceback

    become_subreaper()
    _die_with_parent()
    channel = os.fdopen(os.dup(1), "wb")
    inbox = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)  # handler prints go to stderr, never into the channel
    sys.stdout = sys.stderr
    import warnings

    base_filters = list(warnings.filters)
    setup = recv(inbox)
    if setup is not None and "preload" in setup:  # started ahead of its function (udf.Worker)
        _preload(setup["preload"], setup.get("probe", ()))
        following = recv(inbox)
        setup = None if following is None else following["setup"]
    while setup is not None:
        before = set(sys.modules)
        try:
            if setup.get("make"):  # a reused worker makes its next folder itself (udf.Worker.rebind)
                make_folder(setup)
            func, capture = _load(setup)
        except BaseException:
            send(channel, {"ok": False, "error": traceback.format_exc()})
            return
        if setup.get("columns") is not None:  # a table function: the handler is a class
            try:
                kind = table_kind(func)
            except TypeError:
                send(channel, {"ok": False, "error": traceback.format_exc()})
                return
            marked = func.process
            call = _table(func, kind, setup["arg_names"], len(setup["columns"]))
            vectorized = kind == "vector"
        else:
            marked = func
            vectorized = getattr(func, "_sf_vectorized_input", None) is not None
            call = _scalar(func, vectorized)
        max_batch = getattr(marked, "_sf_max_batch_size", None)
        send(channel, {"ok": True, "vectorized": vectorized, "max_batch_size": max_batch,
                       "logs": capture.take()})
        following = _serve(channel, inbox, call, capture, setup.get("discard"))
        if following is not None:
            _unload(setup, capture, base_filters, before)
            del func, call, marked
            if following is _SPARE:  # its function was dropped: unloaded now, not when the next one comes
                import shutil

                shutil.rmtree(os.path.dirname(setup["import_dir"].rstrip("/")), ignore_errors=True)
                following = recv(inbox)
                following = None if following is None else following["setup"]
        setup = following


PROBE_LIMIT = 50 << 20  # a bigger file would cost more to load twice than its imports save


def _preload(modules: list[str], probe=()) -> None:
    """Import the frameworks the first function will need while the engine is still busy
    creating it. One that fails to import is left for the handler's own import to report.

    `probe`: pickled files of that function (its model, its steps), each loaded once and
    dropped: unpickling imports the modules their classes live in (sklearn.linear_model ...),
    which its first call would import otherwise. Warnings are ignored and not remembered: the
    function's own load gives them again, to its log."""
    import importlib
    import warnings

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            pass
    for path in probe:
        try:
            if os.path.getsize(path) > PROBE_LIMIT:
                continue
            import joblib

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                joblib.load(path, mmap_mode="r")
        except Exception:
            pass


def _scalar(func, vectorized: bool):
    def call(args, n, step):
        return pack(_call_in_batches(func, vectorized, args, n, step))
    return call


def _table(cls, kind: str, names: list, width: int):
    def call(args, n, step):
        columns, counts = _table_call(cls, kind, names, width, args, n, step)
        return {"columns": [pack(c) for c in columns],
                "counts": None if counts is None else pack(counts)}
    return call


_SPARE = object()  # _serve's answer to "spare": the engine dropped the function (udf.Workers.spare)


def _serve(channel, inbox, call, capture, discard: str | None = None):
    """Answer batches until EOF (None), a message to load another function (its setup) or
    one saying that this function was dropped (_SPARE).

    `discard`: the last function's folder, removed after the first answer (or at the end):
    the engine waits for that answer, not for the removal."""
    import shutil
    import traceback

    try:
        while True:
            msg = recv(inbox)
            if msg is None:
                return None
            if "setup" in msg:
                return msg["setup"]
            if "spare" in msg:
                return _SPARE
            try:
                result = call([unpack(a) for a in msg["args"]], msg["n"], msg.get("step"))
                send(channel, {"ok": True, "result": result, "logs": capture.take()})
            except BaseException:
                send(channel, {"ok": False, "error": traceback.format_exc(), "logs": capture.take()})
            if discard:
                shutil.rmtree(discard, ignore_errors=True)
                discard = None
    finally:
        if discard:
            shutil.rmtree(discard, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    finally:  # what the handler started ends with its worker, in Snowflake's sandbox too
        kill_descendants(os.getpid())
