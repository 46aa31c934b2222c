"""Benchmark of the synthetic data generator: rows per second and peak memory.

Usage: ``python bench/bench_synth.py --fraction 0.1 --years 2012`` (writes to a temporary
folder unless ``--out`` is given). Peak RSS is the process maximum (resource.getrusage).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from samhandling.cli.options import parse_years
from samhandling.synth import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--years", default="2012")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    years = parse_years(args.years)
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as scratch:
        out = args.out if args.out is not None else Path(scratch)
        started = time.perf_counter()
        summary = generate(out, years, args.fraction, args.seed, args.format, progress=False)
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = sum(summary.total(kind) for kind in ("episodes", "events", "municipal_care"))
    episodes = summary.total("episodes")
    print(f"fraction {args.fraction}, years {years}, format {args.format}")
    print(f"episodes {episodes:,}  all rows {rows:,}  files {size / 2**20:,.1f} MiB")
    print(
        f"time {seconds:,.1f} s  ->  {rows / seconds:,.0f} rows/s "
        f"({episodes / seconds:,.0f} episodes/s)"
    )
    print(f"peak RSS {peak_mib:,.0f} MiB")
    if args.fraction < 1.0:
        per_year = seconds / len(years) / args.fraction
        print(f"extrapolated national year (fraction 1.0): ~{per_year / 60:,.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
