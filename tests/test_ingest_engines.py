"""Ingest on Spark gives what it gives on DuckDB: the same counts, reasons, landed rows,
quarantined rows and recorded changes, for every kind and both file formats.

The DuckDB results themselves are checked case by case in test_ingest.py and test_warehouse.py;
here one delivery mixing every kind of fault, a replacing delivery (Parquet episodes, so that
changes are recorded) and an unreadable file run through both engines and are compared exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from samhandling.ingest.validate import DeliveryFileError
from samhandling.warehouse import Warehouse
from test_ingest import (
    AS_OF,
    CARE,
    EVENT,
    POPULATION,
    _parquet_episodes,
    episode,
    write_csv,
)

pytestmark = pytest.mark.spark


def _first_delivery(folder: Path) -> None:
    write_csv(
        folder,
        "episodes",
        [
            episode("e1"),
            episode("e2", sex="3", municipality="9999", birth_year="2013", drg=""),
            episode("e3", main_diagnosis="D90", other_diagnoses="E11.9 X 9Z"),
            episode("e4", drg_points="1.2345", admitted_at="2012-13-01"),
            episode("e5", discharged_at="", care_level="inpatient"),
            episode("e6", health_trust="123456789", stay_municipality="1804"),
            episode("e6"),  # a duplicate key: both copies go
            episode("e7", drg_points="-1", discharged_at="2012-02-01 00:00"),
            episode("e8", discharged_at="2030-01-02"),  # discharged after the extract date
            episode("e9", main_diagnosis="s72.0", other_diagnoses=" i10   E11.9† "),
            episode("e10", drg_points="900", urgency="sometimes"),
        ],
    )
    write_csv(
        folder,
        "events",
        [EVENT, {**EVENT, "event_id": "v2", "episode_id": "nope"}, {**EVENT, "event_id": "v3"}],
    )
    write_csv(
        folder,
        "municipal_care",
        [
            CARE,
            {**CARE, "care_id": "c2", "end": ""},
            {**CARE, "care_id": "c3", "end": "2012-03-05"},
            {**CARE, "care_id": "c4", "municipality": "5001"},
        ],
    )
    write_csv(
        folder,
        "population",
        [
            POPULATION,
            {**POPULATION, "age": "81", "count": "-1"},
            {**POPULATION, "age": "82", "sex": "9"},
            {**POPULATION, "age": "83", "count": "12.5"},
        ],
    )


def _replacing_delivery(folder: Path) -> None:
    # Same sender and period (2012): replaces the first. e1 changed, e3 kept, e11 added, the
    # rest removed; one row still fails (a fourth decimal).
    rows = [
        episode("e1", drg_points="2.000"),
        episode("e3"),
        episode("e11", sex="2"),
        episode("e12", drg_points="1.2345"),
    ]
    _parquet_episodes(rows, folder / "episodes.parquet")
    write_csv(folder, "population", [POPULATION, {**POPULATION, "age": "81", "count": "7"}])


def _outcome(wh: Warehouse) -> dict[str, object]:
    """Everything an ingest leaves: the ledger's figures and every file's rows, in order."""
    entries = [e.to_json() for e in wh.deliveries()]
    for entry in entries:
        entry.pop("loaded_at")
    files: dict[str, list[dict[str, object]]] = {}
    for path in sorted((wh.path / "deliveries").rglob("*.parquet")):
        table = pq.read_table(path)
        name = str(path.relative_to(wh.path))
        if "quarantine" in name or "changes" in name:
            files[name] = table.to_pylist()  # written in a defined order
        else:
            files[name] = table.sort_by(table.schema.names[0]).to_pylist()
        files[name + " schema"] = [str(table.schema)]  # type: ignore[list-item]
    return {"ledger": json.loads(json.dumps(entries, default=str)), "files": files}


def _ingest_all(wh: Warehouse, base: Path, engine_name: str) -> list[dict[str, object]]:
    reports = []
    for name in ("first", "second"):
        report = wh.ingest(base / name, as_of=AS_OF, engine_name=engine_name)
        reports.append(
            {
                "rows": report.rows,
                "reasons": report.reasons,
                "supersedes": report.supersedes,
                "changes": report.changes,
            }
        )
    return reports


def test_ingest_on_spark_equals_duckdb(tmp_path: Path, spark_by_name: str) -> None:
    _first_delivery(tmp_path / "in" / "first")
    _replacing_delivery(tmp_path / "in" / "second")
    duck = Warehouse(tmp_path / "duckdb")
    spark = Warehouse(tmp_path / "spark")
    duck_reports = _ingest_all(duck, tmp_path / "in", "duckdb")
    spark_reports = _ingest_all(spark, tmp_path / "in", spark_by_name)

    assert spark_reports == duck_reports
    first = duck_reports[0]
    assert sum(c.quarantined for c in first["rows"].values()) >= 14  # type: ignore[attr-defined]
    assert duck_reports[1]["supersedes"] == "D0001"
    got, expected = _outcome(spark), _outcome(duck)
    assert got["ledger"] == expected["ledger"]
    assert sorted(got["files"]) == sorted(expected["files"])  # type: ignore[call-overload]
    for name, rows in expected["files"].items():  # type: ignore[attr-defined]
        assert (name, got["files"][name]) == (name, rows)  # type: ignore[index]
    # The quarantine as users read it (rows with reasons and original values as JSON).
    assert spark.quarantine().to_pylist() == duck.quarantine().to_pylist()

    # An unreadable file rejects the whole delivery on Spark too, naming the file.
    broken = tmp_path / "in" / "broken"
    write_csv(broken, "episodes", [episode("e20", admitted_at="2013-03-01 10:00")])
    (broken / "events.csv").write_text(
        "event_id,episode_id,type,at\nv1,e20,withdrawn,2013-03-02\nv2,e20,withdrawn,2013-03-02,x\n"
    )
    before = (spark.path / "ledger.json").read_bytes()
    with pytest.raises(DeliveryFileError, match=r"events\.csv"):
        spark.ingest(broken, as_of=AS_OF, engine_name=spark_by_name)
    assert (spark.path / "ledger.json").read_bytes() == before
