"""Benchmark: pathway building for a national year against a plain scan + sort of the same rows.

    python bench/bench_pathways.py                      # fraction 1.0, year 2013
    python bench/bench_pathways.py --fraction 0.1       # a quicker run
    python bench/bench_pathways.py --folder DIR         # synthetic files already generated

Generates the synthetic year with :func:`samhandling.synth.generate` into a temporary folder (in
a child process, unless ``--folder``), registers its Parquet files on one DuckDB engine and
measures, in this process and in this order:

1. baseline: the inpatient stays and municipal care rows the pathways read, unioned and sorted
   by patient and time into a table (DuckDB's floor for any per-patient timeline);
2. pathways: :func:`build_pathways` (episodes of care, discharge-ready waits, the timeline sweep
   and the pathways);
3. report: :func:`pathway_report` on the built relations (the two national cubes for the year,
   folding and secondary suppression).

Prints wall seconds, the process's peak RSS after each step (``ru_maxrss`` only grows, so a
later peak includes the earlier ones) and the ratios pathways/baseline and report/baseline.
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
from pathlib import Path

from samhandling.engine import DuckDBEngine
from samhandling.pathways import build_pathways, pathway_definition, pathway_report
from samhandling.rules import load_rules

BASELINE = """
SELECT x.patient_id, x.t, x.kind FROM (
    SELECT e.patient_id, e.admitted_at AS t, e.urgency AS kind
    FROM episodes AS e WHERE e.care_level = 'inpatient'
    UNION ALL
    SELECT c.patient_id, CAST(c.start AS TIMESTAMP) AS t, c.service AS kind
    FROM municipal_care AS c
) AS x
ORDER BY x.patient_id, x.t
"""


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(folder: Path, year: int, memory_limit: str | None) -> dict[str, object]:
    engine = DuckDBEngine(memory_limit=memory_limit)
    for kind in ("episodes", "events", "municipal_care"):
        engine.register_parquet(kind, sorted(folder.glob(f"*/{kind}.parquet")))
    rules = load_rules()
    d = pathway_definition(rules, date(year, 12, 31))
    counts = engine.query(
        "SELECT (SELECT COUNT(*) FROM episodes) AS episodes, "
        "(SELECT COUNT(*) FROM episodes WHERE care_level = 'inpatient') AS stays, "
        "(SELECT COUNT(*) FROM events) AS events, "
        "(SELECT COUNT(*) FROM municipal_care) AS care"
    ).to_pylist()[0]
    result: dict[str, object] = {"rows": counts, "rss_start_mib": round(_peak_mib())}

    started = time.perf_counter()
    engine.create_table("baseline_sorted", BASELINE)
    result["baseline_s"] = round(time.perf_counter() - started, 2)
    result["baseline_peak_mib"] = round(_peak_mib())

    started = time.perf_counter()
    build_pathways(engine, d)
    result["pathways_s"] = round(time.perf_counter() - started, 2)
    result["pathways_peak_mib"] = round(_peak_mib())
    result["pathway_rows"] = engine.query(
        "SELECT (SELECT COUNT(*) FROM pathway_timeline) AS islands, "
        "(SELECT COUNT(*) FROM pathways) AS pathways, "
        f"(SELECT COUNT(*) FROM pathways WHERE year = {int(year)}) AS pathways_in_year"
    ).to_pylist()[0]

    started = time.perf_counter()
    report = pathway_report(engine, rules, year, built=True, on=date(year, 12, 31))
    result["report_s"] = round(time.perf_counter() - started, 2)
    result["report_peak_mib"] = round(_peak_mib())
    result["cube_cells"] = len(report.patterns.keys) + len(report.readmissions.keys)
    result["hidden_cells"] = report.patterns.hidden + report.readmissions.hidden
    baseline = float(result["baseline_s"])  # type: ignore[arg-type]
    result["ratio_pathways_to_baseline"] = round(float(result["pathways_s"]) / baseline, 1)  # type: ignore[arg-type]
    result["ratio_report_to_baseline"] = round(float(result["report_s"]) / baseline, 1)  # type: ignore[arg-type]
    engine.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fraction", type=float, default=1.0)
    parser.add_argument("--year", type=int, default=2013)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--folder", type=Path, default=None, help="already generated files")
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 4GB")
    args = parser.parse_args(argv)
    if args.folder is not None:
        result = _measure(args.folder, args.year, args.memory_limit)
        print(json.dumps({"fraction": None, "year": args.year, **result}, indent=2))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-pathways-") as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        # Generate in a child process, so that its memory does not count in this one's peak.
        code = (
            "import sys; from pathlib import Path; from samhandling.synth import generate; "
            "generate(Path(sys.argv[1]), [int(sys.argv[2])], float(sys.argv[3]), "
            "int(sys.argv[4]), progress=False)"
        )
        subprocess.run(
            [sys.executable, "-c", code, str(root), str(args.year), str(args.fraction),
             str(args.seed)],
            check=True,
        )  # fmt: skip
        generate_s = round(time.perf_counter() - started, 1)
        result = _measure(root, args.year, args.memory_limit)
    print(
        json.dumps(
            {"fraction": args.fraction, "year": args.year, "generate_s": generate_s, **result},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
