"""Benchmark: the whole workflow against the number of models.

For each N, writes a manifest of N small scikit-learn models (a LinearRegression on two
features, one joblib file each, one smoke test each unless --no-tests), then times, as
whole processes: `validate --no-preflight`, a cold `plan` (preflight runs every model),
`apply`, then a no-op `plan` and a no-op `apply` (preflight remembered). It counts the
statements apply sent (--log-sql) and the peak memory of each command's process tree (the
CLI and its workers). Prints a table, writes it as JSON and draws time and memory against
N as a PNG (when matplotlib is importable; BENCH_PLOT_DEPS may name a folder holding it).

    PYTHONPATH=. python benchmarks/scale.py [--n 1 10 100 500] [--no-tests] [--no-candidate]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import deployer  # noqa: E402

STEPS = ("validate", "plan", "apply", "noop_plan", "noop_apply")


def project(root: Path, n: int, tests: bool) -> Path:
    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression

    folder = root / f"n{n}"
    (folder / "models").mkdir(parents=True)
    x = np.random.default_rng(0).normal(size=(50, 2))
    lines = ["version: 1", "database: ML", "schema: DATA_MODEL", "stage: MLOPS_STAGE",
             "defaults: {runtime_version: '3.11'}", "models:"]
    for i in range(n):
        model = LinearRegression().fit(x, x @ np.array([1.0 + i, -2.0]) + i)
        joblib.dump(model, folder / "models" / f"m{i}.joblib")
        lines += [f"  - name: m{i}", "    framework: sklearn", f"    artifact: models/m{i}.joblib",
                  "    features: [{name: A, type: float}, {name: B, type: float}]",
                  "    output: {type: float}"]
        if tests:
            expect = float(model.predict(np.array([[1.0, 1.0]]))[0])
            lines.append(f"    tests: [{{input: {{A: 1.0, B: 1.0}}, expect: {expect!r}, tolerance: 0.001}}]")
    (folder / "deploy.yaml").write_text("\n".join(lines) + "\n")
    return folder


def measure(folder: Path, candidate: bool) -> dict:
    extra = [] if candidate else ["--no-candidate"]
    log = folder / "apply.sql.jsonl"
    out: dict = {}
    for step, args in (("validate", ["validate", "--no-preflight"]),
                       ("plan", ["plan", *extra]),
                       ("apply", ["apply", "--auto-approve", "--log-sql", str(log), *extra]),
                       ("noop_plan", ["plan", *extra]),
                       ("noop_apply", ["apply", "--auto-approve", *extra])):
        r = deployer(*args, cwd=folder)
        if r.returncode != 0:
            raise SystemExit(f"{step} failed for {folder}:\n{r.stderr[-3000:]}")
        out[step] = {"seconds": round(r.seconds, 3), "cpu": round(r.cpu, 3), "peak_mb": round(r.peak_mb, 1)}
    out["statements"] = sum(1 for _ in open(log)) if log.exists() else 0
    return out


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, {platform.processor() or platform.machine()}, Python {platform.python_version()}"


def table(results: dict) -> str:
    head = (f"{'models':>6} | {'validate s':>10} | {'plan s':>7} | {'apply s':>8} | {'no-op plan s':>12} | "
            f"{'no-op apply s':>13} | {'statements':>10} | {'peak MB':>8}")
    rows = [head, "-" * len(head)]
    for n, r in sorted(results.items(), key=lambda kv: int(kv[0])):
        peak = max(r[s]["peak_mb"] for s in STEPS)
        rows.append(f"{n:>6} | {r['validate']['seconds']:>10.2f} | {r['plan']['seconds']:>7.2f} | "
                    f"{r['apply']['seconds']:>8.2f} | {r['noop_plan']['seconds']:>12.2f} | "
                    f"{r['noop_apply']['seconds']:>13.2f} | {r['statements']:>10} | {peak:>8.0f}")
    return "\n".join(rows)


def plot(results: dict, path: Path, title: str) -> bool:
    if os.environ.get("BENCH_PLOT_DEPS"):
        sys.path.append(os.environ["BENCH_PLOT_DEPS"])
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ns = sorted(int(n) for n in results)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for step in STEPS:
        left.plot(ns, [results[str(n)][step]["seconds"] for n in ns], marker="o", label=step.replace("_", " "))
    left.set(xlabel="models", ylabel="seconds (whole process)", title="time", xscale="log", yscale="log")
    left.legend()
    for step in STEPS:
        right.plot(ns, [results[str(n)][step]["peak_mb"] for n in ns], marker="o", label=step.replace("_", " "))
    right.set(xlabel="models", ylabel="peak MB (process tree)", title="memory", xscale="log")
    right.legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[1, 10, 100, 500])
    ap.add_argument("--no-tests", action="store_true", help="models without smoke tests")
    ap.add_argument("--no-candidate", action="store_true", help="plan and apply with --no-candidate")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"), help="folder for the JSON and PNG")
    ap.add_argument("--from-json", help="print and plot the results saved by an earlier run, measuring nothing")
    opts = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    results = {}
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "scale" + ("-no-tests" if opts.no_tests else "") + ("-no-candidate" if opts.no_candidate else "")
    if opts.from_json:
        saved = json.loads(Path(opts.from_json).read_text())
        results, opts.n, stem = saved["results"], [], Path(opts.from_json).stem
    for n in opts.n:
        before = os.getloadavg()[0]
        results[str(n)] = measure(project(root, n, not opts.no_tests), not opts.no_candidate)
        # other work on the machine stretches wall times: say how busy it was
        results[str(n)]["load_average"] = round((before + os.getloadavg()[0]) / 2, 1)
        # written after every size: a long run stopped early keeps what it measured
        (out / f"{stem}.json").write_text(json.dumps({"machine": machine(), "results": results}, indent=1))
        print(f"{n} models done", file=sys.stderr, flush=True)
    title = (f"deployer scale: {'no tests' if opts.no_tests else 'one smoke test per model'}"
             f"{', --no-candidate' if opts.no_candidate else ''}; {machine()}")
    print(title)
    print(table(results))
    if plot(results, out / f"{stem}.png", title):
        print(f"plot: {out / f'{stem}.png'}")
    else:
        print("plot: matplotlib not importable; pip install matplotlib (or set BENCH_PLOT_DEPS)")


if __name__ == "__main__":
    main()
