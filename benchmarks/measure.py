"""Run a command and measure it: wall time, CPU time and the peak memory of its whole
process tree (the CLI plus every worker it starts), sampled from /proc every 20 ms."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Run:
    seconds: float
    cpu: float  # user + system seconds of the command and its children
    peak_mb: float  # the largest sum of RSS over the process tree
    returncode: int
    stdout: str
    stderr: str


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _tree_rss(root: int) -> int:
    tree, todo, total = _children(), [root], 0
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
    return total


def run(args: list[str], cwd: Path | None = None, env: dict | None = None, timeout: float = 3600) -> Run:
    """Workers are started in their own session but stay children of the CLI: the tree holds them."""
    before = os.times()
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    import threading
    out: dict[str, str] = {}
    reader = threading.Thread(target=lambda: out.update(zip(("o", "e"), proc.communicate(timeout=timeout))))
    reader.start()
    while reader.is_alive():
        peak = max(peak, _tree_rss(proc.pid))
        reader.join(0.02)
    seconds = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return Run(seconds, cpu, peak / 2**20, proc.returncode, out.get("o", ""), out.get("e", ""))


def deployer(*args: str, cwd: Path, env: dict | None = None) -> Run:
    """`deployer ARGS` with this Python (PYTHONPATH as given), isolated environments off."""
    return run([sys.executable, "-m", "deployer.cli", *args], cwd=cwd, env=_env(env))


def _env(extra: dict | None = None) -> dict:
    """Isolated environments off; bytecode kept, as an installed deployer has it (with
    PYTHONDONTWRITEBYTECODE set, every run would compile deployer's modules again: ~0.4 s)."""
    full = dict(os.environ, DEPLOYER_ISOLATED_ENV="0", TF_CPP_MIN_LOG_LEVEL="3", **(extra or {}))
    full.pop("PYTHONDONTWRITEBYTECODE", None)
    return full


def deployer_io(*args: str, cwd: Path) -> tuple[Run, dict[str, int]]:
    """`deployer ARGS`, plus the bytes it and its (reaped) workers read and wrote
    (/proc/self/io rchar and wchar, read as the CLI exits)."""
    out = Path(cwd) / ".io-counters"
    boot = ("import atexit, runpy, sys\n"
            f"atexit.register(lambda: open({str(out)!r}, 'w').write(open('/proc/self/io').read()))\n"
            "sys.argv = ['deployer'] + sys.argv[1:]\n"
            "runpy.run_module('deployer.cli', run_name='__main__')\n")
    r = run([sys.executable, "-c", boot, *args], cwd=cwd, env=_env())
    counters = {}
    for line in out.read_text().splitlines():
        name, _, value = line.partition(":")
        counters[name.strip()] = int(value)
    out.unlink()
    return r, counters
