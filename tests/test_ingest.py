"""Ingest validation: one test per rejection reason, on hand-written CSV rows.

Every delivery here holds good rows next to the bad one, and each test asserts the exact reason
codes (and the column they point at) of every rejected row and the counts of the report.
"""

from __future__ import annotations

import csv
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samhandling.contract import arrow_schema
from samhandling.engine import DuckDBEngine
from samhandling.ingest import REASONS
from samhandling.refdata.icd10 import normalise
from samhandling.rules import load_rules
from samhandling.warehouse import IngestReport, KindCounts, Warehouse

AS_OF = date(2020, 6, 30)
FINNMARK_HF = "983974880"

EPISODE = {
    "episode_id": "e1",
    "patient_id": "p1",
    "birth_year": "1940",
    "sex": "1",
    "municipality": "0301",
    "health_trust": FINNMARK_HF,
    "provider_type": "public",
    "sector": "somatic",
    "care_level": "inpatient",
    "urgency": "emergency",
    "admitted_at": "2012-03-01 10:00",
    "discharged_at": "2012-03-05 12:00",
    "main_diagnosis": "I21.0",
    "other_diagnoses": "E11.9 I10",
    "drg": "121",
    "drg_type": "M",
    "drg_points": "1.234",
}
EVENT = {"event_id": "v1", "episode_id": "e1", "type": "discharge_ready", "at": "2012-03-03 08:00"}
CARE = {
    "care_id": "c1",
    "patient_id": "p1",
    "municipality": "0301",
    "service": "home_nursing",
    "start": "2012-03-06",
    "end": "2012-04-01",
}
POPULATION = {"year": "2012", "municipality": "0301", "sex": "2", "age": "80", "count": "1234"}


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


def load(tmp_path: Path, **kinds: list[dict[str, str]]) -> tuple[Warehouse, IngestReport]:
    folder = tmp_path / "delivery"
    for kind, rows in kinds.items():
        write_csv(folder, kind, rows)
    wh = Warehouse(tmp_path / "wh")
    return wh, wh.ingest(folder, as_of=AS_OF)


def rejected(wh: Warehouse, report: IngestReport) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """(kind, row number) -> [(reason code, column), ...] of every quarantined row."""
    table = wh.quarantine(report.delivery_id)
    return {
        (row["kind"], row["row_number"]): [(r["code"], r["column"]) for r in row["reasons"]]
        for row in table.to_pylist()
    }


def landed(wh: Warehouse, kind: str) -> pa.Table:
    return pq.read_table(wh.delivery_path("D0001") / f"{kind}.parquet")


def test_good_rows_land_typed_with_icd10_normalised(tmp_path: Path) -> None:
    wh, report = load(tmp_path, episodes=[EPISODE], events=[EVENT])
    assert report.rows == {"episodes": KindCounts(1, 1, 0), "events": KindCounts(1, 1, 0)}
    assert report.rejected == 0 and report.quarantine_dir is None
    episodes = landed(wh, "episodes")
    expected = arrow_schema("episodes", with_delivery=True)
    assert [(f.name, f.type) for f in episodes.schema] == [(f.name, f.type) for f in expected]
    row = episodes.to_pylist()[0]
    assert row["main_diagnosis"] == "I210"
    assert row["other_diagnoses"] == "E119 I10"
    assert row["drg_points"] == Decimal("1.234")
    assert row["birth_year"] == 1940
    assert row["delivery_id"] == "D0001"
    assert row["discharged_at"].isoformat() == "2012-03-05T12:00:00"


def test_missing_required_column_rejects_every_row(tmp_path: Path) -> None:
    rows = [{k: v for k, v in episode(i).items() if k != "urgency"} for i in ("e1", "e2")]
    wh, report = load(tmp_path, episodes=rows)
    assert report.rows["episodes"] == KindCounts(2, 0, 2)
    assert rejected(wh, report) == {
        ("episodes", 1): [("missing_column", "urgency")],
        ("episodes", 2): [("missing_column", "urgency")],
    }


def test_missing_required_value(tmp_path: Path) -> None:
    wh, report = load(tmp_path, episodes=[episode("e1"), episode("e2", patient_id="  ")])
    assert report.rows["episodes"] == KindCounts(2, 1, 1)
    assert rejected(wh, report) == {("episodes", 2): [("missing_value", "patient_id")]}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("birth_year", "19x0"),
        ("birth_year", "1940.5"),  # DuckDB would round this to 1941: never coerce
        ("birth_year", "1e3"),
        ("drg_points", "1.2345"),  # a fourth decimal is not rounded away
        ("drg_points", "1,5"),
        ("admitted_at", "01.03.2012"),
        ("admitted_at", "2012-02-30 10:00"),
        ("discharge_ready_at", "2012-03-04 10:00"),  # a time where a date is expected
        ("drug_excluded", "ja"),
    ],
)
def test_bad_type(tmp_path: Path, column: str, value: str) -> None:
    wh, report = load(tmp_path, episodes=[episode("e1"), episode("e2", **{column: value})])
    assert report.rows["episodes"] == KindCounts(2, 1, 1)
    assert rejected(wh, report) == {("episodes", 2): [("bad_type", column)]}


@pytest.mark.parametrize(
    ("column", "value"),
    [("sector", "somatisk"), ("sex", "3"), ("care_level", "Inpatient"), ("urgency", "acute")],
)
def test_bad_enum(tmp_path: Path, column: str, value: str) -> None:
    wh, report = load(tmp_path, episodes=[episode("e1"), episode("e2", **{column: value})])
    assert rejected(wh, report) == {("episodes", 2): [("bad_enum", column)]}


def test_unknown_municipality_is_judged_per_year(tmp_path: Path) -> None:
    # Kinn (4602) exists from 2020; Flora (1401) until 2019.
    rows = [
        episode("e1", municipality="1401"),
        episode("e2", municipality="4602"),
        episode("e3", municipality="4602", admitted_at="2020-03-01", discharged_at="2020-03-02"),
        episode("e4", stay_municipality="9999"),
    ]
    wh, report = load(tmp_path, episodes=rows)
    assert report.rows["episodes"] == KindCounts(4, 2, 2)
    assert rejected(wh, report) == {
        ("episodes", 2): [("unknown_municipality", "municipality")],
        ("episodes", 4): [("unknown_municipality", "stay_municipality")],
    }


def test_icd10_malformed_main_and_other(tmp_path: Path) -> None:
    rows = [
        episode("e1", main_diagnosis="i21"),  # lower case is normalised, not rejected
        episode("e2", main_diagnosis="I2"),
        episode("e3", other_diagnoses="E11.9 XYZ"),
    ]
    wh, report = load(tmp_path, episodes=rows)
    assert report.rows["episodes"] == KindCounts(3, 1, 2)
    assert rejected(wh, report) == {
        ("episodes", 2): [("icd10_malformed", "main_diagnosis")],
        ("episodes", 3): [("icd10_malformed", "other_diagnoses")],
    }
    assert landed(wh, "episodes")["main_diagnosis"].to_pylist() == ["I21"]


def test_icd10_unknown_category(tmp_path: Path) -> None:
    # Chapter III ends at D89: D90 is well formed but no category.
    rows = [
        episode("e1"),
        episode("e2", main_diagnosis="D90.1"),
        episode("e3", other_diagnoses="I10  D90"),
    ]
    wh, report = load(tmp_path, episodes=rows)
    assert rejected(wh, report) == {
        ("episodes", 2): [("icd10_unknown", "main_diagnosis")],
        ("episodes", 3): [("icd10_unknown", "other_diagnoses")],
    }


@pytest.mark.parametrize("code", ["I21.0", "i210", "S72.00", "Z76", "D90", "I2", "XYZ", "I21.0.1"])
def test_sql_normalisation_agrees_with_refdata(tmp_path: Path, code: str) -> None:
    wh, report = load(tmp_path, episodes=[episode("e1", main_diagnosis=code)])
    codes = {c for reasons in rejected(wh, report).values() for c, _ in reasons}
    expected = normalise(code)
    if expected is None:
        assert codes == {"icd10_malformed"}
    else:
        assert "icd10_malformed" not in codes
        if not codes:
            assert landed(wh, "episodes")["main_diagnosis"].to_pylist() == [expected]


def test_discharge_before_admission(tmp_path: Path) -> None:
    rows = [episode("e1"), episode("e2", discharged_at="2012-03-01 09:59")]
    wh, report = load(tmp_path, episodes=rows)
    assert rejected(wh, report) == {
        ("episodes", 2): [("discharge_before_admission", "discharged_at")]
    }


def test_inpatient_without_discharge(tmp_path: Path) -> None:
    rows = [
        episode("e1", care_level="outpatient", discharged_at=""),
        episode("e2", discharged_at=""),
    ]
    wh, report = load(tmp_path, episodes=rows)
    assert rejected(wh, report) == {("episodes", 2): [("discharge_missing", "discharged_at")]}


def test_somatic_without_drg(tmp_path: Path) -> None:
    no_drg = {"drg": "", "drg_type": "", "drg_points": ""}
    rows = [
        episode("e1", sector="mental_health", **no_drg),
        episode("e2", drg_points=""),
        episode("e3", **no_drg),
        # Avtalespesialister are exempt by rule ingest.drg_exempt_provider_types.
        episode("e4", provider_type="private_specialist", **no_drg),
    ]
    wh, report = load(tmp_path, episodes=rows)
    assert report.rows["episodes"] == KindCounts(4, 2, 2)
    assert rejected(wh, report) == {
        ("episodes", 2): [("drg_missing", "drg_points")],
        ("episodes", 3): [
            ("drg_missing", "drg"),
            ("drg_missing", "drg_type"),
            ("drg_missing", "drg_points"),
        ],
    }


def test_negative_and_absurd_drg_points(tmp_path: Path) -> None:
    ceiling = load_rules()["ingest.drg_points_max"].value_on(date(2012, 3, 1)).decimal
    rows = [
        episode("e1", drg_points=str(ceiling)),
        episode("e2", drg_points="-0.5"),
        episode("e3", drg_points=str(ceiling + Decimal("0.001"))),
        episode("e4", drg_points="0"),
    ]
    wh, report = load(tmp_path, episodes=rows)
    assert report.rows["episodes"] == KindCounts(4, 2, 2)
    assert rejected(wh, report) == {
        ("episodes", 2): [("drg_points_negative", "drg_points")],
        ("episodes", 3): [("drg_points_implausible", "drg_points")],
    }


def test_duplicate_key_within_delivery_rejects_all_copies(tmp_path: Path) -> None:
    rows = [episode("e1"), episode("e2"), episode("e1", patient_id="p9")]
    wh, report = load(tmp_path, episodes=rows)
    assert report.rows["episodes"] == KindCounts(3, 1, 2)
    assert rejected(wh, report) == {
        ("episodes", 1): [("duplicate_key", "episode_id")],
        ("episodes", 3): [("duplicate_key", "episode_id")],
    }


def test_duplicate_population_cell(tmp_path: Path) -> None:
    rows = [POPULATION, {**POPULATION, "count": "7"}, {**POPULATION, "age": "81"}]
    wh, report = load(tmp_path, population=rows)
    assert report.rows["population"] == KindCounts(3, 1, 2)
    assert set(rejected(wh, report)) == {("population", 1), ("population", 2)}


def test_duplicate_key_against_other_live_delivery(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh")
    first = tmp_path / "hf-a"
    write_csv(first, "episodes", [episode("e1")])
    (first / "delivery.toml").write_text('sender = "hf-a"\nperiod = "2012"\n')
    assert wh.ingest(first, as_of=AS_OF).rejected == 0
    second = tmp_path / "hf-b"
    write_csv(second, "episodes", [episode("e1"), episode("e2")])
    (second / "delivery.toml").write_text('sender = "hf-b"\nperiod = "2012"\n')
    report = wh.ingest(second, as_of=AS_OF)
    assert report.rows["episodes"] == KindCounts(2, 1, 1)
    assert rejected(wh, report) == {("episodes", 1): [("duplicate_key_warehouse", "episode_id")]}


def test_event_for_unknown_episode(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh")
    earlier = tmp_path / "earlier"
    write_csv(earlier, "episodes", [episode("e0", admitted_at="2011-12-30 10:00")])
    assert wh.ingest(earlier, as_of=AS_OF).rejected == 0
    folder = tmp_path / "delivery"
    write_csv(folder, "episodes", [episode("e1"), episode("e2", sex="7")])
    events = [
        EVENT,  # episode in this delivery
        {**EVENT, "event_id": "v2", "episode_id": "e0"},  # episode in the warehouse
        {**EVENT, "event_id": "v3", "episode_id": "e9"},  # nowhere
        {**EVENT, "event_id": "v4", "episode_id": "e2"},  # its episode was rejected
    ]
    write_csv(folder, "events", events)
    report = wh.ingest(folder, as_of=AS_OF)
    assert report.rows["events"] == KindCounts(4, 2, 2)
    assert rejected(wh, report) == {
        ("episodes", 2): [("bad_enum", "sex")],
        ("events", 3): [("unknown_episode", "episode_id")],
        ("events", 4): [("unknown_episode", "episode_id")],
    }


def test_date_in_the_future(tmp_path: Path) -> None:
    rows = [
        episode("e1", admitted_at="2020-06-30 23:59", discharged_at="2020-06-30 23:59"),
        episode("e2", admitted_at="2020-06-30 23:00", discharged_at="2020-07-01 01:00"),
    ]
    events = [{**EVENT, "episode_id": "e1", "at": "2020-07-01"}]
    wh, report = load(tmp_path, episodes=rows, events=events)
    assert rejected(wh, report) == {
        ("episodes", 2): [("future_date", "discharged_at")],
        ("events", 1): [("future_date", "at")],
    }


def test_birth_year_after_admission_year(tmp_path: Path) -> None:
    rows = [episode("e1", birth_year="2012"), episode("e2", birth_year="2013")]
    wh, report = load(tmp_path, episodes=rows)
    assert rejected(wh, report) == {("episodes", 2): [("birth_after_admission", "birth_year")]}


def test_unknown_health_trust(tmp_path: Path) -> None:
    rows = [
        episode("e1"),
        episode("e2", health_trust="999999999"),
        episode("e3", health_trust="999"),
    ]
    wh, report = load(tmp_path, episodes=rows)
    assert rejected(wh, report) == {
        ("episodes", 2): [("unknown_health_trust", "health_trust")],
        ("episodes", 3): [("unknown_health_trust", "health_trust")],
    }


def test_municipal_care_checks(tmp_path: Path) -> None:
    rows = [
        CARE,
        {**CARE, "care_id": "c2", "end": ""},  # ongoing
        {**CARE, "care_id": "c3", "end": "2012-03-05"},
        {**CARE, "care_id": "c4", "municipality": "5001"},  # Trondheim's code from 2018
        {**CARE, "care_id": "c5", "service": "kad", "start": "2021-01-01", "end": ""},
    ]
    wh, report = load(tmp_path, municipal_care=rows)
    assert report.rows["municipal_care"] == KindCounts(5, 2, 3)
    assert rejected(wh, report) == {
        ("municipal_care", 3): [("care_end_before_start", "end")],
        ("municipal_care", 4): [("unknown_municipality", "municipality")],
        ("municipal_care", 5): [("future_date", "start")],
    }


def test_population_checks(tmp_path: Path) -> None:
    rows = [
        POPULATION,
        {**POPULATION, "age": "81", "count": "-1"},
        {**POPULATION, "age": "82", "sex": "9"},
        {**POPULATION, "age": "83", "municipality": "4602"},
    ]
    wh, report = load(tmp_path, population=rows)
    assert rejected(wh, report) == {
        ("population", 2): [("negative_count", "count")],
        ("population", 3): [("bad_enum", "sex")],
        ("population", 4): [("unknown_municipality", "municipality")],
    }


def test_a_row_keeps_all_its_reasons(tmp_path: Path) -> None:
    bad = episode(
        "e2", sex="3", municipality="9999", birth_year="2013", main_diagnosis="D90", drg=""
    )
    wh, report = load(tmp_path, episodes=[episode("e1"), bad])
    assert rejected(wh, report) == {
        ("episodes", 2): [
            ("bad_enum", "sex"),
            ("drg_missing", "drg"),
            ("birth_after_admission", "birth_year"),
            ("unknown_municipality", "municipality"),
            ("icd10_unknown", "main_diagnosis"),
        ]
    }
    assert report.reasons == {
        "bad_enum": 1,
        "birth_after_admission": 1,
        "drg_missing": 1,
        "icd10_unknown": 1,
        "unknown_municipality": 1,
    }


def test_quarantine_keeps_original_values_as_text(tmp_path: Path) -> None:
    _wh, report = load(tmp_path, episodes=[episode("e1"), episode("e2", drg_points="1.2345")])
    assert report.quarantine_dir is not None
    raw = pq.read_table(report.quarantine_dir / "episodes.parquet")
    row = raw.to_pylist()[0]
    assert row["drg_points"] == "1.2345"
    assert row["main_diagnosis"] == "I21.0"
    assert row["row_number"] == 2 and row["delivery_id"] == "D0001"
    assert row["reasons"] == [
        {"code": "bad_type", "column": "drg_points", "message": REASONS["bad_type"].message}
    ]


def _parquet_episodes(rows: list[dict[str, str]], path: Path) -> None:
    """The rows as a Parquet file with typed columns (int64, int32, timestamp, float64)."""
    schema = arrow_schema("episodes")
    columns = {
        name: pa.array([r[name] for r in rows], pa.string())
        for name in rows[0]
        if schema.field(name).type == pa.string()
    }
    columns["birth_year"] = pa.array([int(r["birth_year"]) for r in rows], pa.int64())
    columns["sex"] = pa.array([int(r["sex"]) for r in rows], pa.int32())
    for name in ("admitted_at", "discharged_at"):
        values = [datetime.fromisoformat(r[name]) for r in rows]
        columns[name] = pa.array(values, pa.timestamp("us"))
    columns["drg_points"] = pa.array([float(r["drg_points"]) for r in rows], pa.float64())
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def test_parquet_input_lands_the_same_as_csv(tmp_path: Path) -> None:
    rows = [
        episode("e1", admitted_at="2012-03-01T10:00:00", discharged_at="2012-03-05T12:00:00"),
        episode("e2", drg_points="0.5", sex="2"),
        episode("e3", drg_points="1.2345"),  # a float with a fourth decimal is not rounded
    ]
    csv_wh, csv_report = load(tmp_path / "csv", episodes=rows)
    _parquet_episodes(rows, tmp_path / "pq" / "delivery" / "episodes.parquet")
    pq_wh = Warehouse(tmp_path / "pq" / "wh")
    pq_report = pq_wh.ingest(tmp_path / "pq" / "delivery", as_of=AS_OF)
    assert csv_report.rows == pq_report.rows == {"episodes": KindCounts(3, 2, 1)}
    assert rejected(pq_wh, pq_report) == {("episodes", 3): [("bad_type", "drg_points")]}
    from_parquet = landed(pq_wh, "episodes").sort_by("episode_id")
    from_csv = landed(csv_wh, "episodes").sort_by("episode_id")
    assert from_parquet.schema == from_csv.schema
    assert from_parquet.to_pylist() == from_csv.to_pylist()


_BAD_VARIANTS: list[dict[str, str]] = [
    {"sex": "0"},
    {"birth_year": "x"},
    {"municipality": "0000"},
    {"main_diagnosis": "D90"},
    {"discharged_at": ""},
    {"drg_points": "-1"},
    {"admitted_at": "2030-01-01", "discharged_at": "2030-01-02"},
]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.one_of(st.none(), st.sampled_from(range(len(_BAD_VARIANTS)))), max_size=25))
def test_rows_in_equal_landed_plus_quarantined(mix: list[int | None]) -> None:
    rows = [
        episode(f"e{i}", **({} if bad is None else _BAD_VARIANTS[bad])) for i, bad in enumerate(mix)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "delivery"
        if rows:
            write_csv(folder, "episodes", rows)
        else:
            folder.mkdir()
            (folder / "episodes.csv").write_text(",".join(EPISODE) + "\n")
        wh = Warehouse(Path(tmp) / "wh")
        report = wh.ingest(folder, as_of=AS_OF)
        counts = report.rows["episodes"]
        assert counts.rows_in == len(mix)
        assert counts.landed + counts.quarantined == counts.rows_in
        good = {f"e{i}" for i, bad in enumerate(mix) if bad is None}
        assert set(landed(wh, "episodes")["episode_id"].to_pylist()) == good
        quarantined = wh.quarantine(report.delivery_id)
        assert sorted(quarantined["row_number"].to_pylist()) == [
            i + 1 for i, bad in enumerate(mix) if bad is not None
        ]


def test_every_reason_is_documented() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "ingest.md").read_text("utf-8")
    for reason in REASONS.values():
        assert f"`{reason.code}`" in doc
        assert reason.message in doc


def test_windows_csv_with_bom_and_crlf(tmp_path: Path) -> None:
    folder = tmp_path / "delivery"
    folder.mkdir()
    lines = [",".join(EPISODE), ",".join(f'"{v}"' for v in EPISODE.values())]
    (folder / "episodes.csv").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    wh = Warehouse(tmp_path / "wh")
    report = wh.ingest(folder, as_of=AS_OF)
    assert report.rows == {"episodes": KindCounts(1, 1, 0)}
    assert landed(wh, "episodes")["episode_id"].to_pylist() == ["e1"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="AIZSi0129.*† ", max_size=8), min_size=1, max_size=30))
def test_sql_icd10_normalisation_matches_refdata_normalise(raw_codes: list[str]) -> None:
    from samhandling.engine.sql import sql_string
    from samhandling.ingest.validate import ICD10_PATTERN, _normalise_icd10_sql

    with DuckDBEngine() as engine:
        engine.register_arrow("codes", pa.table({"code": pa.array(raw_codes, pa.string())}))
        got = engine.query(
            f"SELECT code, {_normalise_icd10_sql('code')} AS norm, "
            f"regexp_full_match({_normalise_icd10_sql('code')}, {sql_string(ICD10_PATTERN)}) "
            "AS ok FROM codes"
        ).to_pylist()
    for row in got:
        expected = normalise(row["code"])
        assert (row["norm"] if row["ok"] else None) == expected
