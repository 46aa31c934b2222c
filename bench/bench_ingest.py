"""Benchmark: validated ingest against a bare DuckDB Parquet copy of the same files.

    python bench/bench_ingest.py --rows 2000000          # builds a delivery with numpy
    python bench/bench_ingest.py --folder DIR            # an existing delivery folder

Prints rows/s of the bare load (``read_parquet`` -> Parquet, no checks) and of the full ingest
(typing, every check, landing, quarantine, ledger), their ratio, and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from samhandling.contract import KINDS
from samhandling.ingest.delivery import kind_files
from samhandling.refdata import health_trusts, valid_codes
from samhandling.refdata.icd10 import codes
from samhandling.warehouse import Warehouse

YEAR = 2012
CHUNK = 1_000_000
BAD_SHARE = 0.001


def _ids(prefix: str, start: int, n: int) -> pa.Array:
    numbers = pc.cast(pa.array(np.arange(start, start + n)), pa.string())
    return pc.binary_join_element_wise(prefix, numbers, "")


def _episodes_chunk(rng: np.random.Generator, start: int, n: int) -> pa.Table:
    municipalities = np.array(sorted(valid_codes(YEAR)))
    trusts = health_trusts()
    hf = np.array([r["orgnr"] for r in trusts.to_pylist() if r["level"] == 2])
    categories = np.array(codes()["category3"].to_pylist())
    day0 = np.datetime64(f"{YEAR}-01-01T00:00", "m")
    admitted = day0 + rng.integers(0, 365 * 24 * 60, n).astype("timedelta64[m]")
    care = rng.choice(np.array(["inpatient", "day", "outpatient"]), n, p=[0.15, 0.1, 0.75])
    stay = np.where(care == "inpatient", rng.integers(60, 14 * 24 * 60, n), 0)
    discharged = admitted + stay.astype("timedelta64[m]")
    sex = rng.choice(np.array([1, 2]), n)
    municipality = rng.choice(municipalities, n)
    bad = rng.random(n) < BAD_SHARE
    sex = np.where(bad & (rng.random(n) < 0.5), 7, sex)  # a bad enum
    municipality = np.where(bad & (sex != 7), "9999", municipality)  # an unknown code
    diagnosis = pc.binary_join_element_wise(
        pa.array(rng.choice(categories, n)), pa.array(rng.integers(0, 10, n).astype(str)), "."
    )
    points = pa.array(np.round(rng.lognormal(-0.5, 0.9, n), 3)).cast(pa.decimal128(9, 3))
    return pa.table(
        {
            "episode_id": _ids("E", start, n),
            "patient_id": _ids("P", 0, n).take(pa.array(rng.integers(0, n, n))),
            "birth_year": pa.array(rng.integers(1915, YEAR, n), pa.int16()),
            "sex": pa.array(sex, pa.int8()),
            "municipality": pa.array(municipality),
            "health_trust": pa.array(rng.choice(hf, n)),
            "provider_type": pa.array(np.full(n, "public")),
            "sector": pa.array(np.full(n, "somatic")),
            "care_level": pa.array(care),
            "urgency": pa.array(rng.choice(np.array(["emergency", "elective"]), n)),
            "admitted_at": pa.array(admitted.astype("datetime64[us]")),
            "discharged_at": pa.array(discharged.astype("datetime64[us]")),
            "main_diagnosis": diagnosis,
            "drg": pa.array(rng.integers(1, 900, n).astype(str)),
            "drg_type": pa.array(rng.choice(np.array(["M", "K"]), n)),
            "drg_points": points,
        }
    )


def build_delivery(folder: Path, rows: int, seed: int = 1) -> None:
    """A plausible episodes delivery of ``rows`` rows (about 0.1 % bad), written in row groups."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    writer: pq.ParquetWriter | None = None
    for start in range(0, rows, CHUNK):
        chunk = _episodes_chunk(rng, start, min(CHUNK, rows - start))
        if writer is None:
            writer = pq.ParquetWriter(folder / "episodes.parquet", chunk.schema)
        writer.write_table(chunk)
    if writer is not None:
        writer.close()


def bare_load(folder: Path, out: Path) -> int:
    """Read every kind file with DuckDB and write it back as Parquet: the floor for ingest."""
    con = duckdb.connect()
    rows = 0
    for kind, path in kind_files(folder).items():
        reader = (
            f"read_csv('{path}', all_varchar = true)"
            if path.suffix == ".csv"
            else f"read_parquet('{path}')"
        )
        result = con.execute(
            f"COPY (SELECT * FROM {reader}) TO '{out / kind}.parquet' "
            "(FORMAT parquet, COMPRESSION zstd)"
        ).fetchall()
        rows += int(result[0][0])
    con.close()
    return rows


def _line(label: str, rows: int, seconds: float) -> None:
    rate = rows / seconds if seconds else float("inf")
    print(f"{label:<17}: {rows:>12,} rows {seconds:8.2f} s {rate:>12,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        folder = args.folder
        if folder is None:
            folder = work / "delivery"
            started = time.perf_counter()
            build_delivery(folder, args.rows)
            if args.format == "csv":
                parquet = folder / "episodes.parquet"
                duckdb.execute(
                    f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{folder}/episodes.csv'"
                )
                parquet.unlink()
            print(f"built {args.rows:,} episode rows in {time.perf_counter() - started:.1f} s")
        kinds = [k for k in KINDS if k in kind_files(folder)]
        print(f"delivery {folder}: {', '.join(kinds)}")

        (work / "bare").mkdir()
        started = time.perf_counter()
        bare_rows = bare_load(folder, work / "bare")
        bare_s = time.perf_counter() - started

        warehouse = Warehouse(work / "wh")
        started = time.perf_counter()
        report = warehouse.ingest(folder, as_of=date.today())
        ingest_s = time.perf_counter() - started
        rows_in = sum(c.rows_in for c in report.rows.values())
        landed = sum(c.landed for c in report.rows.values())
        assert rows_in == bare_rows == landed + report.rejected

        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        _line("bare DuckDB copy", bare_rows, bare_s)
        _line("validated ingest", rows_in, ingest_s)
        print(f"ratio ingest/bare: {ingest_s / bare_s:.2f}x")
        print(f"landed {landed:,}, quarantined {report.rejected:,} ({report.reasons})")
        print(f"peak RSS         : {peak_mib:,.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
