"""Python (the wheel, in-process) against the CLI on the same query: the sample project's
demo pack by month and channel. Each side opens the project, computes, and hands over the
result (the CLI as Parquet in a file, Python as a pyarrow table). Runs alternate so both
see the same machine; medians are reported with their ratio.

    make bench-python        (debug builds, as the tests use)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import canary

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "examples" / "retail"
CANARY = os.environ.get("CANARY_BIN", str(ROOT / "target" / "debug" / "canary"))
ARGS = {"kpis": "@demo", "grain": "month", "by": "channel"}
RUNS = int(os.environ.get("BENCH_RUNS", "9"))


def cli(out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [CANARY, "--project", str(PROJECT), "compute", ARGS["kpis"], "--grain", ARGS["grain"], "--by", ARGS["by"],
         "--format", "parquet", "--output", str(out)],
        check=True,
    )
    return time.perf_counter() - start


def python() -> float:
    start = time.perf_counter()
    canary.Project(PROJECT).compute(ARGS["kpis"], grain=ARGS["grain"], by=ARGS["by"]).to_arrow()
    return time.perf_counter() - start


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.parquet"
        cli(out), python()  # warm the page cache and the interpreter
        times: dict[str, list[float]] = {"cli": [], "python": []}
        for _ in range(RUNS):
            times["cli"].append(cli(out))
            times["python"].append(python())
    c, p = statistics.median(times["cli"]), statistics.median(times["python"])
    print(f"query: compute {ARGS['kpis']} --grain {ARGS['grain']} --by {ARGS['by']} ({RUNS} alternating runs)")
    print(f"cli     median {c * 1000:8.1f} ms  (min {min(times['cli']) * 1000:.1f})")
    print(f"python  median {p * 1000:8.1f} ms  (min {min(times['python']) * 1000:.1f})")
    print(f"python / cli = {p / c:.3f}  (target <= 1.1)")
    return 0 if p / c <= 1.1 else 1


if __name__ == "__main__":
    sys.exit(main())
