"""Run every benchmark module ``bench/bench_*.py`` (or those named on the command line).

Each module exposes ``run(quick: bool) -> list[str]`` and returns printable result lines; ``--quick`` runs them
on small sizes (a smoke test that they still work).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all), e.g. graph_paging")
    parser.add_argument("--quick", action="store_true", help="small sizes: check that the benchmarks run")
    args = parser.parse_args(argv)
    here = Path(__file__).parent
    available = sorted(
        m.name.removeprefix("bench_") for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")
    )
    names = args.names or available
    unknown = set(names) - set(available)
    if unknown:
        print(f"unknown benchmarks: {sorted(unknown)}; available: {available}", file=sys.stderr)
        return 2
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        for line in module.run(quick=args.quick):
            print(f"   {line}", flush=True)
        print(f"   ({time.perf_counter() - started:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
