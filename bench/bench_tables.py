"""Benchmark of table requests: protected cube slices against answering from raw episodes.

Usage: ``python bench/bench_tables.py --fraction 0.01 --years 2012-2013 --repeat 30``, or on an
ingested warehouse: ``python bench/bench_tables.py --warehouse /tmp/nat/wh --raw-repeat 5``
(``--catalog DIR`` keeps each protected cube there as soon as it is built, so a second run only
times the requests). ``--stored`` times the requests on the warehouse's stored catalogue (what
``samhandling table-build`` wrote and the portal and API serve: all tables, linked), without
building anything and without the raw side.
Generates a synthetic delivery (``samhandling.synth.generate``) unless ``--warehouse`` is given,
builds the protected cubes once (build time and peak memory reported), then times three typical
requests through the API app (one municipality over time; all municipalities x year x age group;
a diagnosis block across the country) and the same numbers computed from the raw episodes each
time, p50/p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from samhandling.api import ApiLimits, create_app
from samhandling.cli.options import parse_years
from samhandling.engine import DuckDBEngine
from samhandling.indicators.facts import fact_years, icd10_block_table, register_contact_facts
from samhandling.rules import load_rules, rules_day
from samhandling.synth import generate
from samhandling.tables.catalog import Catalog, catalog_districts, catalog_specs
from samhandling.tables.cube import ProtectedCube, build_cube
from samhandling.tables.disclosure import disclosure_threshold
from samhandling.tables.published import load_catalog
from samhandling.warehouse import Warehouse

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2 for its test client
    from fastapi.testclient import TestClient


TABLES = ("SD05", "SD02", "SD04")
ONE = "one municipality over time (SD05)"
ALL = "all municipalities x year x age (SD02)"
BLOCK = "diagnosis block across the country (SD04)"


def _percentiles(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--years", default="2012-2013")
    parser.add_argument("--borders", type=int, default=2024)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--warehouse", type=Path, help="an ingested warehouse to use instead")
    parser.add_argument(
        "--raw-repeat", type=int, help="repeats of the raw queries (default: --repeat)"
    )
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB memory limit")
    parser.add_argument(
        "--catalog",
        type=Path,
        help="folder of protected cubes: read from there if written before, else built and kept",
    )
    parser.add_argument(
        "--stored",
        action="store_true",
        help="time the requests on the warehouse's stored catalogue (no build, no raw side)",
    )
    args = parser.parse_args(argv)
    if args.stored:
        if not args.warehouse:
            parser.error("--stored needs --warehouse")
        return _stored(args)
    with tempfile.TemporaryDirectory(prefix="bench-tables-") as scratch:
        # A database file, not memory: the facts of ten national years (125 M contacts) are
        # larger than RAM, and DuckDB pages them from the file within the memory limit.
        engine = DuckDBEngine(Path(scratch) / "facts.duckdb", memory_limit=args.memory_limit)
        if args.warehouse:
            Warehouse.open(args.warehouse).register(engine)
            found = engine.query("SELECT DISTINCT year FROM population ORDER BY year")
            years = tuple(int(y) for y in found["year"].to_pylist())
        else:
            years = parse_years(args.years)
            out = Path(scratch)
            generate(out, years, args.fraction, args.seed, "parquet", progress=False)
            engine.register_parquet("episodes", sorted(out.rglob("episodes.parquet")))
        started = time.perf_counter()
        rules = load_rules()
        blocks = icd10_block_table()
        register_contact_facts(engine, borders=args.borders, blocks=blocks)
        print(f"facts: {time.perf_counter() - started:.1f} s", flush=True)
        specs = {
            s.id: s
            for s in catalog_specs(
                rules,
                borders=args.borders,
                years=fact_years(engine),
                blocks=blocks,
                districts=catalog_districts(engine, args.borders),
            )
        }
        threshold, version = disclosure_threshold(rules, rules_day(fact_years(engine)))
        cubes = {}
        for table_id in TABLES:
            stored = args.catalog / f"{table_id}.parquet" if args.catalog else None
            if stored is not None and stored.is_file():
                cubes[table_id] = ProtectedCube.read(specs[table_id], args.catalog)
                print(f"  {table_id}: read from {args.catalog}", flush=True)
                continue
            begun = time.perf_counter()
            cubes[table_id] = build_cube(
                engine,
                specs[table_id],
                threshold=threshold,
                rule_version=version,
                borders=args.borders,
            )
            print(f"  {table_id}: built in {time.perf_counter() - begun:.1f} s", flush=True)
            if args.catalog:
                cubes[table_id].write(args.catalog)  # kept at once: a long run can resume
        catalog = Catalog(cubes, args.borders)
        build_s = time.perf_counter() - started
        episodes = engine.query("SELECT COUNT(*) AS n FROM contact_facts")["n"][0].as_py()
        print(f"years {years}: {episodes:,} contacts")
        for cube in catalog.cubes.values():
            print(
                f"  {cube.spec.id}: {cube.cells.num_rows:,} cells, "
                f"{cube.suppressed_cells:,} suppressed"
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"facts + cubes (built or read): {build_s:.1f} s, peak RSS {peak:,.0f} MiB")
        client, requests, one = _requests(catalog, years)
        raw = {
            ONE: "SELECT year, SUM(bed_days), COUNT(*) FROM contact_facts WHERE residence = "
            f"'{one}' AND is_stay = 1 AND urgency = 'emergency' AND drg_type = 'M' "
            "GROUP BY year",
            ALL: "SELECT residence, year, CASE WHEN age < 18 THEN 1 WHEN age < 50 THEN 2 "
            "WHEN age < 67 THEN 3 WHEN age < 80 THEN 4 ELSE 5 END AS band, SUM(is_stay) "
            "FROM contact_facts WHERE sector = 'somatic' GROUP BY 1, 2, 3",
            BLOCK: "SELECT year, SUM(is_stay), SUM(is_outpatient) FROM contact_facts "
            "WHERE sector = 'somatic' AND icd_block = 'E10-E14' GROUP BY year",
        }
        print(f"{'request':45} {'cube p50':>9} {'cube p95':>9} {'raw p50':>9} {'raw p95':>9}")
        for name, url in requests.items():
            assert client.get(url).status_code == 200
            c50, c95 = _percentiles(lambda url=url: client.get(url), args.repeat)
            r50, r95 = _percentiles(
                lambda sql=raw[name]: engine.query(sql), args.raw_repeat or args.repeat
            )
            print(f"{name:45} {c50:9.1f} {c95:9.1f} {r50:9.1f} {r95:9.1f}")
        engine.close()
    return 0


def _requests(catalog: Catalog, years: Sequence[int]) -> tuple[TestClient, dict[str, str], str]:
    """The API client on ``catalog`` and the three typical requests (and the municipality)."""
    client = TestClient(
        create_app(catalog, limits=ApiLimits(max_calls_per_time_window=10**9, max_data_cells=10**9))
    )
    sd02 = catalog.cube("SD02").spec
    munis = [c for c, _ in sd02.dimension("region").codes if c.isdigit() and len(c) == 4]
    one = munis[0]
    year_codes = ",".join(str(y) for y in years)
    requests = {
        ONE: f"/api/v2/tables/SD05/data?valuecodes[region]={one}&valuecodes[period]=*"
        "&valuecodes[urgency]=emergency&valuecodes[drg_type]=M",
        ALL: f"/api/v2/tables/SD02/data?valuecodes[region]={','.join(munis)}"
        f"&valuecodes[period]={year_codes}&valuecodes[age]=A0-17,A18-49,A50-66,A67-79,"
        "A80%2B&valuecodes[ContentsCode]=opphold",
        BLOCK: f"/api/v2/tables/SD04/data?valuecodes[diagnosis]=E10-E14&valuecodes[period]="
        f"{year_codes}&valuecodes[ContentsCode]=opphold,polikliniske",
    }
    return client, requests, one


def _stored(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    catalog = load_catalog(Warehouse.open(args.warehouse), load_rules(), args.borders)
    if catalog is None:
        raise SystemExit("no stored catalogue: run samhandling table-build first")
    years = [y for y in catalog.years if catalog.inhabitants("0", y)] or catalog.years
    cells = sum(c.cells.num_rows for c in catalog.cubes.values())
    print(
        f"stored catalogue: {len(catalog.cubes)} tables, {cells:,} cells, years {years}, "
        f"read in {time.perf_counter() - started:.1f} s"
    )
    client, requests, _one = _requests(catalog, years)
    print(f"{'request':45} {'cube p50':>9} {'cube p95':>9}")
    for name, url in requests.items():
        assert client.get(url).status_code == 200, (name, client.get(url).text[:300])
        c50, c95 = _percentiles(lambda url=url: client.get(url), args.repeat)
        print(f"{name:45} {c50:9.1f} {c95:9.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
