"""Benchmark: co-financing statements and discharge-ready invoices for a (fraction of a) year.

Generates a synthetic delivery (``samhandling.synth.generate``), ingests it into a scratch
warehouse, then measures, each in a fresh process so that peak memory is its own:

* ``platform``: ``cofinancing_statement`` (month × municipality × RHF) and
  ``discharge_ready_invoices`` through the Engine, the rule tables and all explanation columns;
* ``floor``: one hand-written DuckDB query computing the same totals with the year's rule
  values inlined (no rule relations, no per-row explanation).

Both must give the same totals (checked); the ratio platform / floor is printed for time and
peak RSS. Usage: ``python bench/bench_instruments.py --fraction 0.1 --year 2012``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from samhandling.engine import DuckDBEngine
from samhandling.rules import load_rules
from samhandling.warehouse import Warehouse


def _floor_sql(year: int, rules_year: date) -> str:
    rules = load_rules()
    share = rules["cofinancing.share"].value_on(rules_year).value
    cap = rules["cofinancing.cap_points"].value_on(rules_year).value
    price = rules["isf.unit_price_somatic"].value_on(rules_year).value
    rate = rules["discharge_ready.daily_rate"].value_on(rules_year).value
    return f"""
WITH cof AS (
    SELECT SUM(ROUND({share} * LEAST(e.drg_points, {cap}) * {price}, 2)) AS total
    FROM episodes e
    JOIN (SELECT DISTINCT municipality FROM municipality_years WHERE year = {year}) m
        USING (municipality)
    LEFT JOIN drg_mdc d ON d.drg = e.drg
    WHERE year(COALESCE(e.discharged_at, e.admitted_at)) = {year}
      AND e.sector = 'somatic' AND e.provider_type IN ('public', 'private_contracted')
      AND e.drg_type = 'M' AND COALESCE(e.mdc, d.drg_mdc, '') NOT IN ('14', '15')
      AND NOT COALESCE(e.drug_excluded, false) AND e.drg_points IS NOT NULL
),
ev AS (
    SELECT episode_id, type, "at",
        count(*) FILTER (WHERE type = 'discharge_ready') OVER w AS period_no
    FROM events WINDOW w AS (PARTITION BY episode_id ORDER BY "at", event_id)
),
per AS (
    SELECT episode_id, period_no,
        min("at") FILTER (WHERE type = 'discharge_ready') AS ready_ts,
        min("at") FILTER (WHERE type = 'discharge_ready')::DATE AS ready,
        min("at") FILTER (WHERE type = 'discharge_ready_notified')::DATE AS notice,
        min("at") FILTER (WHERE type = 'withdrawn')::DATE AS withdrawn,
        min("at") FILTER (WHERE type = 'can_receive')::DATE AS can_receive
    FROM ev WHERE period_no > 0 GROUP BY ALL
),
nxt AS (
    SELECT *, lead(ready) OVER (PARTITION BY episode_id ORDER BY period_no) AS next_ready FROM per
),
adm AS (
    SELECT episode_id, min("at") FILTER (WHERE type = 'admission_notified') AS notified,
        count(*) FILTER (WHERE type = 'discharge_ready') AS n_ready, count(*) AS n
    FROM events GROUP BY ALL
),
periods AS (
    SELECT s.episode_id, s.patient_id, s.admitted_at, s.discharged_at, s.sector, n.ready,
        n.ready_ts, n.notice, n.withdrawn, n.can_receive, n.next_ready, a.notified,
        false AS from_date,
        coalesce(a.n, 0) AS n
    FROM episodes s JOIN nxt n USING (episode_id) LEFT JOIN adm a USING (episode_id)
    WHERE s.care_level = 'inpatient'
    UNION ALL
    SELECT s.episode_id, s.patient_id, s.admitted_at, s.discharged_at, s.sector,
        s.discharge_ready_at, s.discharge_ready_at::TIMESTAMP, NULL, NULL, NULL, NULL,
        a.notified, true, coalesce(a.n, 0)
    FROM episodes s LEFT JOIN adm a USING (episode_id)
    WHERE s.care_level = 'inpatient' AND s.discharge_ready_at IS NOT NULL
        AND coalesce(a.n_ready, 0) = 0
),
readmit AS (
    SELECT p.episode_id, p.ready, min(o.admitted_at)::DATE AS readmitted
    FROM periods p JOIN episodes o ON o.patient_id = p.patient_id
        AND o.episode_id <> p.episode_id AND o.care_level = 'inpatient'
        AND o.admitted_at >= p.ready_ts AND o.admitted_at < p.discharged_at
    GROUP BY ALL
),
billable AS (
    SELECT p.*,
        CASE WHEN p.from_date AND p.n = 0 THEN p.ready
             WHEN p.notified IS NULL OR p.notified > p.admitted_at + INTERVAL 24 HOUR THEN NULL
             WHEN p.notice <= p.ready THEN p.ready
             WHEN p.notice > p.ready THEN p.notice END AS start,
        least(p.discharged_at::DATE, coalesce(p.withdrawn, DATE '9999-12-31'),
              coalesce(p.next_ready, DATE '9999-12-31'), coalesce(p.can_receive, DATE '9999-12-31'),
              coalesce(r.readmitted, DATE '9999-12-31')) AS stop
    FROM periods p LEFT JOIN readmit r ON r.episode_id = p.episode_id AND r.ready = p.ready
    WHERE p.discharged_at IS NOT NULL
),
days AS (
    SELECT d::DATE AS day, sector
    FROM billable, generate_series(start, stop - 1, INTERVAL 1 DAY) AS g(d)
    WHERE start < stop
)
SELECT (SELECT total FROM cof) AS cofinancing_total,
    (SELECT count(*) * {rate} FROM days WHERE year(day) = {year}
        AND (sector = 'somatic' OR (year(day) >= 2019
            AND sector IN ('mental_health', 'substance_abuse')))) AS discharge_ready_total
"""


def _part(part: str, warehouse: Path, year: int) -> dict[str, object]:
    engine = DuckDBEngine()
    Warehouse.open(warehouse).register(engine)
    rules = load_rules()
    started = time.perf_counter()
    if part == "platform":
        from samhandling.instruments import cofinancing_statement, discharge_ready_invoices

        statement = cofinancing_statement(engine, rules, year, level="municipality_rhf")
        invoices = discharge_ready_invoices(engine, rules, year=year)
        cof = sum((v for v in statement.column("amount").to_pylist()), Decimal(0))
        dr = sum((v for v in invoices.column("amount").to_pylist()), Decimal(0))
    else:
        from samhandling.instruments._relations import register_drg_mdc, register_municipalities

        register_drg_mdc(engine)
        register_municipalities(engine)
        row = engine.query(_floor_sql(year, date(year, 7, 1))).to_pylist()[0]
        cof = Decimal(str(row["cofinancing_total"] or 0)).quantize(Decimal("0.01"))
        dr = Decimal(str(row["discharge_ready_total"] or 0)).quantize(Decimal("0.01"))
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak_mib, "cofinancing": str(cof), "dr": str(dr)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fraction", type=float, default=0.05)
    parser.add_argument("--year", type=int, default=2012)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--part", choices=["platform", "floor"], default=None)
    parser.add_argument("--warehouse", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.part is not None:
        print(json.dumps(_part(args.part, args.warehouse, args.year)))
        return 0
    from samhandling.synth import generate

    with tempfile.TemporaryDirectory(prefix="bench-instruments-") as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        summary = generate(root / "synth", [args.year], args.fraction, args.seed, progress=False)
        Warehouse.open(root / "wh").ingest_all(root / "synth", as_of=date(2026, 1, 1))
        print(
            f"fraction {args.fraction}, year {args.year}: {summary.total('episodes'):,} episodes, "
            f"{summary.total('events'):,} events (generated and ingested in "
            f"{time.perf_counter() - started:,.0f} s)"
        )
        results = {}
        for part in ("floor", "platform"):
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--part",
                    part,
                    "--warehouse",
                    str(root / "wh"),
                    "--year",
                    str(args.year),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            results[part] = json.loads(done.stdout.strip().splitlines()[-1])
    for part, r in results.items():
        print(
            f"{part:9s} time {r['seconds']:7.2f} s  peak RSS {r['peak_mib']:8.0f} MiB  "
            f"co-financing {r['cofinancing']} NOK  discharge-ready {r['dr']} NOK"
        )
    same = all(results["platform"][k] == results["floor"][k] for k in ("cofinancing", "dr"))
    print(f"same totals: {same}")
    time_ratio = float(results["platform"]["seconds"]) / float(results["floor"]["seconds"])
    mem_ratio = float(results["platform"]["peak_mib"]) / float(results["floor"]["peak_mib"])
    print(f"ratio platform / floor: time {time_ratio:.2f}x, peak memory {mem_ratio:.2f}x")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
