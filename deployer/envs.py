"""Isolated Python environments holding exactly a function's resolved PACKAGES.

When the pins differ from this Python's packages, preflight and the local engine run the
handler in a virtualenv built by uv from the package index, so what runs locally is what
Snowflake will install. Environments live under the user's cache folder
($DEPLOYER_CACHE_DIR, else platformdirs' user cache dir for "deployer") in envs/<hash>, the
hash covering the pins, the channel's upper bounds and the interpreter; they are shared by
every project. A build happens in a temporary folder renamed into place when complete, under a
file lock, so two processes never build the same environment twice nor see half of one.
uv may not download interpreters here: the runtime's Python is used when the machine has it,
else the nearest available one, with a note.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from deployer.errors import DeployerError

ENV_FLAG = "DEPLOYER_ISOLATED_ENV"  # "0": run handlers in this Python (--no-isolated-env)
MARKER = "deployer-env.json"
RECIPE = 2  # bump when the way environments are built changes: old ones are then rebuilt
Progress = Callable[[str], None]


class EnvError(DeployerError):
    pass


def enabled() -> bool:
    return os.environ.get(ENV_FLAG, "1").strip().lower() not in ("0", "false", "no", "off")


def cache_dir() -> Path:
    configured = os.environ.get("DEPLOYER_CACHE_DIR")
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("deployer"))


def uv_binary() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise EnvError("building an isolated environment needs uv: pip install uv "
                   "(or pass --no-isolated-env to run in this Python)")


# --------------------------------------------------------------------------- what to run


def mismatches(pins: Iterable[str]) -> list[str]:
    """Pins this Python does not satisfy, as 'name==want (here: have)'."""
    return list(_mismatches(tuple(pins)))


# Once per distinct list in a process (a manifest of 500 models has a handful). What is
# installed here is read once (channel.installed) and does not change while a command runs
# (isolated environments are other folders).
@functools.lru_cache(maxsize=256)
def _mismatches(pins: tuple[str, ...]) -> tuple[str, ...]:
    from packaging.requirements import InvalidRequirement, Requirement

    from deployer import channel

    here = channel.installed()
    out = []
    for pin in pins:
        try:
            req = Requirement(pin)
        except InvalidRequirement:
            out.append(pin)
            continue
        have = here.get(channel.key(req.name))
        if have is None:
            out.append(f"{pin} (here: not installed)")
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            out.append(f"{pin} (here: {have})")
    return tuple(out)


@dataclass(frozen=True)
class Interpreter:
    python: str  # the executable to run handlers with
    isolated: bool
    note: str | None = None  # e.g. the nearest Python used, or isolation turned off


def interpreter_for(pins: tuple[str, ...], runtime: str, *, isolated: bool | None = None,
                    constraints: tuple[str, ...] = (), progress: Progress | None = None,
                    build: bool = True) -> Interpreter | None:
    """This Python when it satisfies every pin; else an isolated environment (built on demand;
    with `build` False, None when it is not built yet)."""
    missing = mismatches(pins)
    if not missing:
        return Interpreter(sys.executable, False)
    if not (enabled() if isolated is None else isolated):
        return Interpreter(sys.executable, False,
                           "isolated environments are off: running in this Python, which does not have "
                           + ", ".join(missing))
    return ensure(pins, runtime, constraints=constraints, progress=progress, build=build)


# --------------------------------------------------------------------------- interpreters


def find_python(runtime: str) -> tuple[str, str | None]:
    """(an interpreter for `runtime`, a note when it is another version) without any download."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == runtime:
        return sys.executable, None
    wanted = tuple(int(x) for x in runtime.split("."))
    found = _uv_find(runtime)
    if found:
        return found, None
    for minor in sorted(range(8, 16), key=lambda m: (abs(m - wanted[1]), -m)):
        candidate = f"3.{minor}"
        found = sys.executable if candidate == f"{sys.version_info[0]}.{sys.version_info[1]}" else _uv_find(candidate)
        if found:
            return found, f"Python {runtime} is not available on this machine; using the nearest, {candidate}"
    return sys.executable, (f"Python {runtime} is not available on this machine; using this Python "
                            f"{sys.version_info[0]}.{sys.version_info[1]}")


def _uv_find(version: str) -> str | None:
    try:
        done = subprocess.run([uv_binary(), "python", "find", "--no-python-downloads", version],
                              capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, UV_PYTHON_DOWNLOADS="never"))
    except (OSError, subprocess.SubprocessError, EnvError):
        return None
    path = done.stdout.strip().splitlines()[-1] if done.returncode == 0 and done.stdout.strip() else ""
    return path or None


def _python_version(python: str) -> str:
    done = subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise EnvError(f"cannot run {python}: {done.stderr.strip()[:300]}")
    return done.stdout.strip()


# --------------------------------------------------------------------------- building


def env_hash(pins: tuple[str, ...], constraints: tuple[str, ...], python_version: str) -> str:
    data = json.dumps({"pins": sorted(pins), "constraints": sorted(constraints), "python": python_version,
                       "platform": sys.platform, "recipe": RECIPE}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:20]


def ensure(pins: tuple[str, ...], runtime: str, *, constraints: tuple[str, ...] = (),
           progress: Progress | None = None, build: bool = True) -> Interpreter | None:
    """The environment for `pins` on `runtime`'s Python: from the cache, else built now (None
    instead when not `build`)."""
    base, note = find_python(runtime)
    version = _python_version(base)
    digest = env_hash(pins, constraints, version)
    root = cache_dir() / "envs"
    final = root / digest
    python = final / "bin" / "python"
    if (final / MARKER).exists():
        return Interpreter(str(python), True, note)
    if not build:
        return None
    root.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock, Timeout

    lock = FileLock(str(root / f"{digest}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        (progress or stderr)(f"waiting for another process building the environment {final}")
        lock.acquire()
    try:
        if not (final / MARKER).exists():  # else another process built it while we waited
            _build(final, base, version, pins, constraints, progress or stderr)
    finally:
        lock.release()
    return Interpreter(str(python), True, note)


def stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _build(final: Path, base: str, version: str, pins, constraints, progress: Progress) -> None:
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.monotonic()
    progress(f"building an isolated environment (Python {version}): {' '.join(pins)}")
    uv = uv_binary()
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", VIRTUAL_ENV="")
    env.pop("PYTHONPATH", None)
    try:
        _run([uv, "venv", "--quiet", "--relocatable", "--python", base, str(tmp)], env, progress)
        # Bytecode now: workers never write it (PYTHONDONTWRITEBYTECODE), and compiling
        # TensorFlow's sources on every worker start would double its import time.
        command = [uv, "pip", "install", "--compile-bytecode", "--python", str(tmp / "bin" / "python"), *pins]
        if constraints:
            (tmp / "constraints.txt").write_text("\n".join(constraints) + "\n")
            command += ["--constraint", str(tmp / "constraints.txt")]
        _run(command, env, progress)
        (tmp / MARKER).write_text(json.dumps({"pins": list(pins), "constraints": list(constraints),
                                              "python": version, "built": time.time()}, indent=1))
        try:
            os.replace(tmp, final)
        except OSError:
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    progress(f"isolated environment ready in {time.monotonic() - started:.1f} s: {final}")


def _run(command: list[str], env: dict, progress: Progress) -> None:
    """Run uv, relaying its progress lines; EnvError with its last lines on failure."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if not line:
            continue
        tail = (tail + [line])[-8:]
        if re.match(r"\s*(Resolved|Prepared|Installed|Downloading |Bytecode)", line):
            progress("  uv: " + line.strip())
    if proc.wait() != 0:
        raise EnvError("cannot build the isolated environment (pass --no-isolated-env to run in this "
                       "Python instead): " + " | ".join(tail))
