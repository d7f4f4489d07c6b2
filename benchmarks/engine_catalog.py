"""Benchmark: the local engine's catalog at scale.

Creates N functions (inline handlers, no imports) one statement at a time, as apply does,
then opens the account again and calls one of them. Prints the time to create them, the
time to open the account with N functions against an empty one, and the bytes written to
the catalog. Targets: creating is linear in N (500 functions well under 10 s of apply),
opening with 500 functions costs under 0.3 s over opening an empty account.

    python benchmarks/engine_catalog.py [--n 100 500 2000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

BODY = "def f(x):\n    return x + {i}\n"


def create(account: Path, n: int) -> float:
    from deployer.engine import LocalSession

    with LocalSession(account, "ML", "DATA_MODEL") as s:
        t0 = time.perf_counter()
        for i in range(n):
            s.run(f"CREATE OR REPLACE FUNCTION F{i}(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON "
                  f"RUNTIME_VERSION = '3.11' HANDLER = 'f' AS $${BODY.format(i=i)}$$")
        return time.perf_counter() - t0


def open_time(account: Path, repeat: int) -> float:
    from deployer.engine import LocalSession

    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with LocalSession(account, "ML", "DATA_MODEL"):
            pass
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[100, 500, 2000])
    ap.add_argument("--repeat", type=int, default=5)
    opts = ap.parse_args()
    from deployer.engine import LocalSession

    tmp = Path(tempfile.mkdtemp(prefix="catalog-bench-"))
    empty = tmp / "empty"
    with LocalSession(empty, "ML", "DATA_MODEL"):
        pass
    base = open_time(empty, opts.repeat)
    print(f"open empty account: {base * 1000:.0f} ms (median of {opts.repeat})")
    print(f"{'functions':>9} {'create s':>9} {'ms/function':>11} {'open +ms':>9} {'catalog KB':>10}")
    for n in opts.n:
        account = tmp / f"n{n}"
        took = create(account, n)
        opened = open_time(account, opts.repeat)
        with LocalSession(account, "ML", "DATA_MODEL") as s:  # still answers after a reopen
            assert s.run(f"SELECT F{n - 1}(1.0)").rows[0][0] == float(n)
        size = sum(p.stat().st_size for p in account.glob("catalog.*"))
        print(f"{n:>9} {took:>9.2f} {took / n * 1000:>11.2f} {(opened - base) * 1000:>9.0f} {size / 1024:>10.0f}")


if __name__ == "__main__":
    main()
