"""The warehouse: ledger, idempotency, re-delivery and as_of, all-or-nothing, registration, CLI."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from samhandling.contract import KINDS, arrow_schema
from samhandling.engine import DuckDBEngine, Engine
from samhandling.errors import SamhandlingError
from samhandling.ingest import DeliveryError, DeliveryFileError
from samhandling.ingest import validate as validate_module
from samhandling.warehouse import ChangeCounts, KindCounts, Warehouse

AS_OF = date(2020, 6, 30)

EPISODE = {
    "episode_id": "e1",
    "patient_id": "p1",
    "birth_year": "1940",
    "sex": "1",
    "municipality": "0301",
    "health_trust": "983974880",
    "provider_type": "public",
    "sector": "somatic",
    "care_level": "inpatient",
    "urgency": "emergency",
    "admitted_at": "2012-03-01 10:00",
    "discharged_at": "2012-03-05 12:00",
    "main_diagnosis": "I21.0",
    "drg": "121",
    "drg_type": "M",
    "drg_points": "1.234",
}


def episode(episode_id: str, **changes: str) -> dict[str, str]:
    return {**EPISODE, "episode_id": episode_id, **changes}


def write_csv(folder: Path, kind: str, rows: list[dict[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    header: list[str] = []
    for row in rows:
        header += [k for k in row if k not in header]
    with (folder / f"{kind}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def ledger_bytes(wh: Warehouse) -> bytes:
    return (wh.path / "ledger.json").read_bytes()


def points_sum(engine: Engine) -> tuple[int, Decimal]:
    got = engine.query("SELECT COUNT(*) AS n, SUM(drg_points) AS points FROM episodes")
    n, points = got.column("n")[0].as_py(), got.column("points")[0].as_py()
    return int(n), points


def test_same_delivery_twice_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    write_csv(folder, "episodes", [episode("e1"), episode("e2", sex="5")])
    wh = Warehouse(tmp_path / "wh")
    first = wh.ingest(folder, as_of=AS_OF)
    before = ledger_bytes(wh)
    files = sorted(p.relative_to(wh.path) for p in wh.path.rglob("*"))
    again = wh.ingest(folder, as_of=AS_OF)
    assert (first.already_loaded, again.already_loaded) == (False, True)
    assert again.delivery_id == first.delivery_id == "D0001"
    assert again.rejected == 0 and first.rejected == 1
    assert ledger_bytes(wh) == before
    assert sorted(p.relative_to(wh.path) for p in wh.path.rglob("*")) == files


def test_redelivery_replaces_records_changes_and_as_of_reproduces(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh")
    first = tmp_path / "first"
    write_csv(first, "episodes", [episode("e1"), episode("e2"), episode("e3", drg_points="0.5")])
    assert wh.ingest(first, as_of=AS_OF).delivery_id == "D0001"
    corrected = tmp_path / "corrected"
    rows = [episode("e1"), episode("e2", drg_points="2.000"), episode("e4", drg_points="0.25")]
    write_csv(corrected, "episodes", rows)
    report = wh.ingest(corrected, as_of=AS_OF)
    assert (report.delivery_id, report.supersedes) == ("D0002", "D0001")
    assert (report.sender, report.period) == ("registry", "2012")
    assert report.changes == {"episodes": ChangeCounts(added=1, removed=1, changed=1)}

    old, new = wh.deliveries()
    assert (old.superseded_by, new.superseded_by, new.supersedes) == ("D0002", None, "D0001")
    assert new.changes == report.changes
    changes = pq.read_table(wh.delivery_path("D0002") / "changes" / "episodes.parquet")
    assert sorted(zip(changes["id"].to_pylist(), changes["change"].to_pylist(), strict=True)) == [
        ("e2", "changed"),
        ("e3", "removed"),
        ("e4", "added"),
    ]
    # The old files stay; as_of=1 shows the warehouse as it was after the first delivery.
    with DuckDBEngine() as engine:
        wh.register(engine, as_of=1)
        assert points_sum(engine) == (3, Decimal("1.234") + Decimal("1.234") + Decimal("0.500"))
    with DuckDBEngine() as engine:
        wh.register(engine)
        assert points_sum(engine) == (3, Decimal("1.234") + Decimal("2.000") + Decimal("0.250"))
        ids = engine.query("SELECT DISTINCT delivery_id FROM episodes").column(0).to_pylist()
        assert ids == ["D0002"]
    with DuckDBEngine() as engine:
        wh.register(engine, as_of=0)
        assert points_sum(engine) == (0, None)
    with pytest.raises(SamhandlingError):
        wh.register(DuckDBEngine(), as_of=3)


def test_redelivery_without_a_kind_removes_it(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh")
    first = tmp_path / "first"
    write_csv(first, "episodes", [episode("e1")])
    write_csv(
        first,
        "events",
        [{"event_id": "v1", "episode_id": "e1", "type": "withdrawn", "at": "2012-03-02"}],
    )
    wh.ingest(first, as_of=AS_OF)
    second = tmp_path / "second"
    write_csv(second, "episodes", [episode("e1")])
    report = wh.ingest(second, as_of=AS_OF)
    assert report.changes == {
        "episodes": ChangeCounts(0, 0, 0),
        "events": ChangeCounts(added=0, removed=1, changed=0),
    }
    with DuckDBEngine() as engine:
        wh.register(engine)
        assert engine.query("SELECT COUNT(*) AS n FROM events").column(0)[0].as_py() == 0


def test_failure_while_staging_leaves_the_warehouse_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = Warehouse(tmp_path / "wh")
    base = tmp_path / "base"
    write_csv(
        base, "episodes", [episode("e0", admitted_at="2011-05-05", discharged_at="2011-05-06")]
    )
    wh.ingest(base, as_of=AS_OF)
    before = ledger_bytes(wh)
    folder = tmp_path / "d"
    write_csv(folder, "episodes", [episode("e1")])
    write_csv(
        folder,
        "events",
        [{"event_id": "v1", "episode_id": "e1", "type": "withdrawn", "at": "2012-03-02"}],
    )
    real = validate_module.validate_file

    def fail_on_events(con, kind, path, **kw):  # type: ignore[no-untyped-def]
        if kind == "events":
            raise OSError("disk full (injected)")
        return real(con, kind, path, **kw)

    monkeypatch.setattr("samhandling.warehouse.validate_file", fail_on_events)
    with pytest.raises(OSError, match="injected"):
        wh.ingest(folder, as_of=AS_OF)
    assert ledger_bytes(wh) == before
    assert sorted(p.name for p in (wh.path / "deliveries").iterdir()) == ["D0001"]
    assert not (wh.path / ".staging").exists()
    assert not (wh.path / ".lock").exists()
    monkeypatch.undo()
    assert wh.ingest(folder, as_of=AS_OF).delivery_id == "D0002"


def test_failure_writing_the_ledger_leaves_the_warehouse_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = Warehouse(tmp_path / "wh")
    first = tmp_path / "first"
    write_csv(first, "episodes", [episode("e1")])
    wh.ingest(first, as_of=AS_OF)
    before = ledger_bytes(wh)
    corrected = tmp_path / "corrected"
    write_csv(corrected, "episodes", [episode("e1", drg_points="3")])

    def crash(self: Warehouse, entries: object) -> None:
        raise KeyboardInterrupt("power cut (injected)")

    monkeypatch.setattr(Warehouse, "_write_ledger", crash)
    with pytest.raises(KeyboardInterrupt):
        wh.ingest(corrected, as_of=AS_OF)
    assert ledger_bytes(wh) == before
    assert [d.superseded_by for d in wh.deliveries()] == [None]
    assert sorted(p.name for p in (wh.path / "deliveries").iterdir()) == ["D0001"]
    with DuckDBEngine() as engine:
        wh.register(engine)
        assert points_sum(engine) == (1, Decimal("1.234"))


def test_leftovers_of_a_crash_are_cleared_by_the_next_ingest(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh")
    (wh.path / "deliveries" / "D0001").mkdir(parents=True)  # renamed in, ledger never written
    (wh.path / ".staging" / "D0001-dead").mkdir(parents=True)
    folder = tmp_path / "d"
    write_csv(folder, "episodes", [episode("e1")])
    report = wh.ingest(folder, as_of=AS_OF)
    assert report.delivery_id == "D0001"
    assert (wh.delivery_path("D0001") / "episodes.parquet").is_file()
    assert not (wh.path / ".staging").exists()


def test_subfolders_are_ingested_in_sorted_order(tmp_path: Path) -> None:
    root = tmp_path / "synth"
    write_csv(root / "2012", "episodes", [episode("b1")])
    write_csv(
        root / "2011",
        "episodes",
        [episode("a1", admitted_at="2011-12-30 10:00", discharged_at="2012-01-03 09:00")],
    )
    (root / "notes").mkdir()
    wh = Warehouse(tmp_path / "wh")
    reports = wh.ingest_all(root, as_of=AS_OF)
    assert [(r.delivery_id, r.period) for r in reports] == [("D0001", "2011"), ("D0002", "2012")]
    status = wh.status()
    assert status.years == [2011, 2012]
    assert status.rows_by_year_sector == [(2011, "somatic", 1), (2012, "somatic", 1)]


def test_delivery_toml_sets_the_key(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    write_csv(folder, "episodes", [episode("e1")])
    (folder / "delivery.toml").write_text('sender = "974795787"\nperiod = "2012T1"\n')
    report = Warehouse(tmp_path / "wh").ingest(folder, as_of=AS_OF)
    assert (report.sender, report.period) == ("974795787", "2012T1")


def test_user_errors(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh")
    with pytest.raises(DeliveryError):
        wh.ingest_all(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DeliveryError):
        wh.ingest_all(tmp_path / "empty")
    both = tmp_path / "both"
    write_csv(both, "episodes", [episode("e1")])
    (both / "episodes.parquet").write_bytes(b"")
    with pytest.raises(DeliveryError):
        wh.ingest(both)
    with pytest.raises(SamhandlingError):
        wh.quarantine("D0042")


def test_register_gives_typed_relations_on_each_engine(engine: Engine, tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh")
    with DuckDBEngine() as empty_engine:
        wh.register(empty_engine)
        for kind in KINDS:
            assert empty_engine.query(f"SELECT * FROM {kind}").num_rows == 0
    folder = tmp_path / "d"
    write_csv(folder, "episodes", [episode("e1"), episode("e2", drg_points="0.766")])
    population = [
        {"year": "2012", "municipality": "0301", "sex": "1", "age": "80", "count": "100"},
        {"year": "2012", "municipality": "0301", "sex": "2", "age": "80", "count": "150"},
    ]
    write_csv(folder, "population", population)
    wh.ingest(folder, as_of=AS_OF)
    wh.register(engine)
    got = engine.query(
        "SELECT COUNT(*) AS n, SUM(drg_points) AS points, "
        "SUM(CASE WHEN discharged_at > admitted_at THEN 1 ELSE 0 END) AS ordered FROM episodes"
    )
    assert got.column("n")[0].as_py() == 2
    assert got.column("points")[0].as_py() == Decimal("2.000")
    assert got.column("ordered")[0].as_py() == 2
    pop = engine.query("SELECT SUM(count) AS total, MIN(delivery_id) AS d FROM population")
    assert (pop.column("total")[0].as_py(), pop.column("d")[0].as_py()) == (250, "D0001")


def test_population_falls_back_to_refdata(tmp_path: Path) -> None:
    from samhandling.refdata.population import population

    wh = Warehouse(tmp_path / "wh")
    folder = tmp_path / "d"
    write_csv(folder, "episodes", [episode("e1")])
    # Care that starts in the next year does not make 2013 an activity year.
    care = {"care_id": "c1", "patient_id": "p1", "municipality": "0301"}
    write_csv(folder, "municipal_care", [{**care, "service": "kad", "start": "2013-01-02"}])
    assert wh.ingest(folder, as_of=AS_OF).rejected == 0
    reference = population([2012], borders=2012)
    with DuckDBEngine() as engine:
        wh.register(engine)
        got = engine.query(
            "SELECT COUNT(*) AS n, SUM(count) AS total, MIN(delivery_id) AS d, "
            "MIN(year) AS y0, MAX(year) AS y1 FROM population"
        ).to_pylist()[0]
    assert got == {
        "n": reference.num_rows,
        "total": sum(reference.column("count").to_pylist()),
        "d": "refdata",
        "y0": 2012,
        "y1": 2012,
    }
    assert pq.read_schema(wh.delivery_path("D0001") / "episodes.parquet").equals(
        arrow_schema("episodes", with_delivery=True)
    )


def _run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    from samhandling import cli

    monkeypatch.setattr(sys, "argv", ["samhandling", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    code = exited.value.code
    return 0 if code is None else int(code)


def test_cli_exit_codes_and_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "wh")
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    write_csv(clean, "episodes", [episode("e1")])
    write_csv(
        dirty,
        "episodes",
        [
            episode("e2", admitted_at="2013-01-02 10:00", discharged_at="2013-01-03 10:00"),
            episode(
                "e3", sex="4", admitted_at="2013-02-02 10:00", discharged_at="2013-02-03 10:00"
            ),
        ],
    )
    args = ["--warehouse", home, "--as-of", "2020-06-30"]
    assert _run_cli(["ingest", str(clean), *args], monkeypatch) == 0
    assert _run_cli(["ingest", str(clean), *args], monkeypatch) == 0
    assert "allerede lastet" in capsys.readouterr().out
    assert _run_cli(["ingest", str(dirty), *args], monkeypatch) == 1
    out = capsys.readouterr().out
    assert "bad_enum" in out and "1 rader ble avvist" in out and "D0002" in out
    assert _run_cli(["ingest", str(tmp_path / "nowhere"), *args], monkeypatch) == 2
    assert "fant ikke mappen" in capsys.readouterr().err
    assert (
        _run_cli(["ingest", str(clean), "--warehouse", home, "--as-of", "30.06"], monkeypatch) == 2
    )

    monkeypatch.setenv("SAMHANDLING_HOME", home)
    assert _run_cli(["status"], monkeypatch) == 0
    out = capsys.readouterr().out
    for expected in ("D0001", "D0002", "2012", "2013", "somatic", "bad_enum", "ugyldig kodeverdi"):
        assert expected in out
    assert _run_cli(["quarantine", "--delivery", "D0002"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "bad_enum" in out and "sex=4" in out and "quarantine" in out
    ledger = json.loads((tmp_path / "wh" / "ledger.json").read_text("utf-8"))
    assert [e["rows"]["episodes"] for e in ledger["entries"]] == [
        {"in": 1, "landed": 1, "quarantined": 0},
        {"in": 2, "landed": 1, "quarantined": 1},
    ]


def test_status_counts_live_deliveries(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh")
    folder = tmp_path / "d"
    rows = [
        episode("e1"),
        episode("e2", sector="mental_health", drg="", drg_type="", drg_points=""),
        episode("e3", sex="0"),
    ]
    write_csv(folder, "episodes", rows)
    wh.ingest(folder, as_of=AS_OF)
    status = wh.status()
    assert [d.delivery_id for d in status.deliveries] == ["D0001"]
    assert status.deliveries[0].rows == {"episodes": KindCounts(3, 2, 1)}
    assert status.rows_by_year_sector == [(2012, "mental_health", 1), (2012, "somatic", 1)]
    assert status.quarantine_by_reason == {"bad_enum": 1}
    assert status.years == [2012]


def test_unreadable_csv_rejects_the_whole_delivery(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh")
    good = tmp_path / "good"
    write_csv(good, "episodes", [episode("e1")])
    wh.ingest(good, as_of=AS_OF)
    before = ledger_bytes(wh)
    folder = tmp_path / "d"
    write_csv(folder, "episodes", [episode("e2")])
    (folder / "events.csv").write_text(
        "event_id,episode_id,type,at\nv1,e2,withdrawn,2012-03-02\nv2,e2,withdrawn,2012-03-02,x\n"
    )
    with pytest.raises(DeliveryFileError, match=r"events\.csv"):
        wh.ingest(folder, as_of=AS_OF)
    assert ledger_bytes(wh) == before
    assert sorted(p.name for p in (wh.path / "deliveries").iterdir()) == ["D0001"]


def test_a_hash_sign_is_data_not_a_comment(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    write_csv(folder, "episodes", [episode("#e1"), episode("e2")])
    report = Warehouse(tmp_path / "wh").ingest(folder, as_of=AS_OF)
    assert report.rows["episodes"] == KindCounts(2, 2, 0)
