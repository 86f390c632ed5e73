"""`just bench [name ...] [-- args]`: run the benchmarks, each writing bench/results/<name>-*.

Every benchmark is its own module (`python -m bench.<name>` takes its own options); with no
name, all of them run, one after the other, with their defaults.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = tuple(
    sorted(
        p.stem
        for p in Path(__file__).resolve().parent.glob("*.py")
        if p.stem not in ("__init__", "__main__", "common")
    )
)


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-")] or list(BENCHMARKS)
    options = [a for a in argv if a.startswith("-")]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
        return 2
    failed = []
    for name in names:
        print(f"== bench.{name}", flush=True)
        done = subprocess.run([sys.executable, "-m", f"bench.{name}", *options], check=False)
        if done.returncode != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks below target or failing: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
