"""The answers to the five acceptance questions on the synthetic demo data, as Markdown.

Usage: ``python bench/acceptance_answers.py [--out answers.md]``.

Generates the demo warehouse's synthetic data (years 2009-2014, fraction 0.05, seed 2012, the
settings of ``samhandling demo``) for the residents of the five municipalities of the questions
(``synth.generate(municipalities=...)``: persons are sampled one by one before the
restriction, so they are the national demo data's residents of these municipalities),
ingests them into a fresh warehouse, builds the protected tables the questions use in 2011
borders and sends each documented request (:data:`samhandling.api.acceptance.QUESTIONS`)
through the API. Prints one Markdown table row per question: the request and the values it
returns (``:`` = suppressed, with the reason).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from samhandling.api import ApiLimits, create_app
from samhandling.api.acceptance import BORDERS, MUNICIPALITIES, QUESTIONS
from samhandling.engine import DuckDBEngine
from samhandling.indicators.facts import icd10_block_table
from samhandling.rules import load_rules
from samhandling.synth import generate
from samhandling.tables.catalog import build_catalog
from samhandling.warehouse import Warehouse

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2 for its test client
    from fastapi.testclient import TestClient

DEMO_YEARS = tuple(range(2009, 2015))
DEMO_FRACTION = 0.05
DEMO_SEED = 2012


def _cell(doc: dict[str, Any], i: int) -> str:
    """Value ``i`` with its measure's decimals, or ``:`` and the suppression reason."""
    if str(i) in doc.get("status", {}):
        reason = doc["extension"]["suppression"]["reasons"].get(str(i), "")
        return f": ({reason})"
    contents = doc["dimension"]["ContentsCode"]["category"]
    codes = list(contents["index"])
    decimals = int(contents["unit"][codes[i % len(codes)]].get("decimals", 0))
    return f"{doc['value'][i]:.{decimals}f}"


def answers(root: Path) -> tuple[list[str], float]:
    """Markdown rows (question, request, answer) and the seconds the build took."""
    started = time.monotonic()
    inbox = root / "inbox"
    generate(
        inbox,
        DEMO_YEARS,
        DEMO_FRACTION,
        DEMO_SEED,
        progress=False,
        municipalities=[code24 for _, code24 in MUNICIPALITIES.values()],
    )
    warehouse = Warehouse(root / "warehouse")
    warehouse.ingest_all(inbox)
    engine = DuckDBEngine()
    warehouse.register(engine)
    catalog = build_catalog(
        engine,
        load_rules(),
        borders=BORDERS,
        blocks=icd10_block_table(),
        only=sorted({q.table for q in QUESTIONS}),
    )
    engine.close()
    elapsed = time.monotonic() - started
    client = TestClient(create_app(catalog, limits=ApiLimits(max_calls_per_time_window=1000)))
    rows = []
    for q in QUESTIONS:
        doc = client.get(q.url).json()
        values = " / ".join(_cell(doc, i) for i in range(len(doc["value"])))
        rows.append(f"| {q.number} | {q.text} | `GET {q.url}` | **{values}** ({q.answer}) |")
    return rows, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the Markdown here as well")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows, elapsed = answers(Path(tmp))
    text = "\n".join(
        [
            "| # | question | request | answer (demo data) |",
            "| --- | --- | --- | --- |",
            *rows,
            "",
            f"(generated, ingested and protected in {elapsed:.0f} s)",
        ]
    )
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
