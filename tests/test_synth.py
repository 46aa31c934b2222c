"""The synthetic data generator: contract, validity, determinism, planted edge cases."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from samhandling.cli.options import parse_years
from samhandling.contract import KINDS, arrow_schema
from samhandling.errors import ConfigError
from samhandling.refdata import drg, icd10, population, valid_codes
from samhandling.synth import calibration_report, generate
from samhandling.synth._edge import MERGERS, edge_cases
from samhandling.synth._tables import points
from samhandling.synth.generate import reference_population

# Small but real: three municipalities of different size and region, 1 % of their residents.
SOME = ["0301", "1806", "4602"]
FRACTION = 0.01
SEED = 7


@pytest.fixture(scope="module")
def two_years(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "two"
    generate(out, [2011, 2012], FRACTION, SEED, progress=False, municipalities=SOME)
    return out


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every municipality of the country, a tiny sample (validity of all codes)."""
    out = tmp_path_factory.mktemp("synth") / "national"
    generate(out, [2012], 0.0015, SEED, progress=False)
    return out


def _read(folder: Path, year: int, kind: str) -> pa.Table:
    return pq.read_table(folder / str(year) / f"{kind}.parquet")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_writes_every_kind_with_the_contract_schema(two_years: Path) -> None:
    for year in (2011, 2012):
        for kind in KINDS:
            schema = pq.read_schema(two_years / str(year) / f"{kind}.parquet")
            expected = arrow_schema(kind)
            assert schema.names == expected.names
            assert schema.types == expected.types


def test_same_seed_same_bytes_and_year_independent_of_other_years(
    two_years: Path, tmp_path: Path
) -> None:
    alone = tmp_path / "alone"
    generate(alone, [2012], FRACTION, SEED, progress=False, municipalities=SOME)
    for kind in KINDS:
        name = f"2012/{kind}.parquet"
        assert _digest(alone / name) == _digest(two_years / name), kind


def test_other_seed_gives_other_data(two_years: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate(other, [2012], FRACTION, SEED + 1, progress=False, municipalities=SOME)
    assert _digest(other / "2012/episodes.parquet") != _digest(two_years / "2012/episodes.parquet")


def test_codes_are_valid_in_their_year(national: Path) -> None:
    codes = valid_codes(2012)
    episodes = _read(national, 2012, "episodes")
    assert set(episodes["municipality"].to_pylist()) <= codes
    sampled = set(_read(national, 2012, "population")["municipality"].to_pylist())
    assert len(sampled) > 400  # nearly all 429 of 2012
    # About 40 % of persons are patients in a year: a municipality with one or two sampled
    # residents often has no episode.
    assert len(set(episodes["municipality"].to_pylist())) > 350
    assert set(pc.drop_null(episodes["stay_municipality"]).to_pylist()) <= codes
    assert set(_read(national, 2012, "municipal_care")["municipality"].to_pylist()) <= codes
    assert set(_read(national, 2012, "population")["municipality"].to_pylist()) <= codes


def test_diagnoses_and_drgs_are_valid(national: Path) -> None:
    episodes = _read(national, 2012, "episodes")
    categories = set(icd10.codes()["category3"].to_pylist())
    assert set(episodes["main_diagnosis"].to_pylist()) <= categories
    for text in pc.drop_null(episodes["other_diagnoses"]).to_pylist():
        assert set(text.split(" ")) <= categories
    known = drg.drgs()
    assert set(pc.drop_null(episodes["drg"]).to_pylist()) <= set(known["drg"].to_pylist())
    pairs = {
        (r["drg"], r["drg_type"], r["mdc"])
        for r in episodes.select(["drg", "drg_type", "mdc"]).to_pylist()
        if r["drg"] is not None
    }
    reference = {(r["drg"], r["drg_type"], r["mdc"]) for r in known.to_pylist()}
    assert pairs <= reference


def test_somatic_hospital_rows_have_drg_and_specialists_none(national: Path) -> None:
    episodes = _read(national, 2012, "episodes")
    somatic = episodes.filter(
        pc.and_(
            pc.equal(episodes["sector"], "somatic"),
            pc.is_in(episodes["provider_type"], pa.array(["public", "private_contracted"])),
        )
    )
    assert somatic.num_rows > 5_000
    for column in ("drg", "drg_type", "drg_points", "mdc"):
        assert somatic[column].null_count == 0, column
    specialists = episodes.filter(pc.equal(episodes["provider_type"], "private_specialist"))
    assert specialists.num_rows > 0
    assert specialists["drg"].null_count == specialists.num_rows
    others = episodes.filter(pc.not_equal(episodes["sector"], "somatic"))
    assert others["drg"].null_count == others.num_rows


def test_times_are_ordered_and_ids_unique(two_years: Path) -> None:
    for year in (2011, 2012):
        episodes = _read(two_years, year, "episodes")
        admitted = episodes["admitted_at"].to_numpy()
        discharged = episodes["discharged_at"].to_numpy()
        assert (discharged >= admitted).all()
        years = pc.year(episodes["admitted_at"]).to_numpy()
        assert (years == year).all()
        assert len(set(episodes["episode_id"].to_pylist())) == episodes.num_rows
        ready = episodes.filter(pc.is_valid(episodes["discharge_ready_at"]))
        assert ready.num_rows > 0
        for row in ready.select(["admitted_at", "discharged_at", "discharge_ready_at"]).to_pylist():
            assert row["admitted_at"].date() <= row["discharge_ready_at"]
            assert row["discharge_ready_at"] <= row["discharged_at"].date()


def test_events_belong_to_discharge_ready_stays_of_their_year(two_years: Path) -> None:
    for year in (2011, 2012):
        episodes = _read(two_years, year, "episodes")
        events = _read(two_years, year, "events")
        ready = set(
            episodes.filter(pc.is_valid(episodes["discharge_ready_at"]))["episode_id"].to_pylist()
        )
        assert set(events["episode_id"].to_pylist()) <= ready
        assert len(set(events["event_id"].to_pylist())) == events.num_rows
        kinds = set(events["type"].to_pylist())
        assert {"discharge_ready", "discharge_ready_notified", "cannot_receive"} <= kinds


def test_municipal_care_spells_link_to_discharges(two_years: Path) -> None:
    care = _read(two_years, 2012, "municipal_care")
    ended = care.filter(pc.is_valid(care["end"]))
    assert (ended["end"].to_numpy() >= ended["start"].to_numpy()).all()
    assert len(set(care["care_id"].to_pylist())) == care.num_rows
    episodes = _read(two_years, 2012, "episodes")
    to_nursing_home = episodes.filter(
        pc.and_(
            pc.equal(episodes["discharged_to"], "nursing_home"),
            pc.equal(episodes["came_from"], "home"),
        )
    )
    discharges = {
        (r["patient_id"], r["discharged_at"].date())
        for r in to_nursing_home.select(["patient_id", "discharged_at"]).to_pylist()
    }
    short_stays = care.filter(pc.equal(care["service"], "short_term_institution"))
    starts = {
        (r["patient_id"], r["start"])
        for r in short_stays.select(["patient_id", "start"]).to_pylist()
    }
    assert len(discharges) > 10
    assert len(discharges & starts) >= 0.8 * len(discharges)


def test_healthy_newborns_only_2009_to_2014(two_years: Path, tmp_path: Path) -> None:
    episodes = _read(two_years, 2012, "episodes")
    newborns = episodes.filter(pc.equal(episodes["drg"], "391")).to_pylist()
    assert newborns
    assert {(r["main_diagnosis"], r["birth_year"], r["mdc"]) for r in newborns} == {
        ("Z38", 2012, "15")
    }
    generate(tmp_path, [2016], FRACTION, SEED, progress=False, municipalities=["0301"])
    later = _read(tmp_path, 2016, "episodes")
    assert "391" not in set(pc.drop_null(later["drg"]).to_pylist())


def test_last_discharge_ready_event_is_on_the_discharge_ready_date(two_years: Path) -> None:
    episodes = _read(two_years, 2012, "episodes")
    events = _read(two_years, 2012, "events")
    ready_on = {
        r["episode_id"]: r["discharge_ready_at"]
        for r in episodes.select(["episode_id", "discharge_ready_at"]).to_pylist()
        if r["discharge_ready_at"] is not None
    }
    last: dict[str, date] = {}
    for r in events.filter(pc.equal(events["type"], "discharge_ready")).to_pylist():
        day = r["at"].date()
        last[r["episode_id"]] = max(day, last.get(r["episode_id"], day))
    assert last == ready_on


def test_the_dead_have_no_later_contacts(two_years: Path) -> None:
    first = _read(two_years, 2011, "episodes")
    died = {
        r["patient_id"]: r["discharged_at"]
        for r in first.filter(pc.equal(first["discharged_to"], "died")).to_pylist()
    }
    assert len(died) >= 5
    for r in first.select(["patient_id", "admitted_at"]).to_pylist():
        if r["patient_id"] in died:
            assert r["admitted_at"] < died[r["patient_id"]]
    later = set(_read(two_years, 2012, "episodes")["patient_id"].to_pylist())
    assert not set(died) & later


def test_patients_keep_their_id_birth_year_and_sex_across_years(two_years: Path) -> None:
    people = {}
    for year in (2011, 2012):
        episodes = _read(two_years, year, "episodes")
        people[year] = {
            r["patient_id"]: (r["birth_year"], r["sex"])
            for r in episodes.select(["patient_id", "birth_year", "sex"]).to_pylist()
        }
    common = set(people[2011]) & set(people[2012])
    assert len(common) > 0.4 * len(people[2012])
    assert all(people[2011][p] == people[2012][p] for p in common)


def test_fraction_scales_counts_roughly_linearly(two_years: Path, tmp_path: Path) -> None:
    double = tmp_path / "double"
    summary = generate(double, [2012], 2 * FRACTION, SEED, progress=False, municipalities=SOME)
    base = _read(two_years, 2012, "episodes").num_rows
    ratio = summary.rows[2012]["episodes"] / base
    assert 1.7 < ratio < 2.3


def test_population_file_counts_the_sampled_persons(two_years: Path) -> None:
    population = _read(two_years, 2012, "population")
    codes = set(population["municipality"].to_pylist())
    assert "0301" in codes
    assert codes <= valid_codes(2012)
    assert "4602" not in codes  # Kinn exists from 2020: its 2012 parts are Flora and Vågsøy
    total = int(pc.sum(population["count"]).as_py())
    # 1 % of Oslo + Narvik + Kinn (1 January 2012, 2024 units mapped to 2012 codes).
    assert 6_000 < total < 7_500


def test_reference_population_has_the_contract_schema_and_that_years_codes() -> None:
    table = reference_population(2012).cast(arrow_schema("population"))
    assert set(table["municipality"].to_pylist()) == valid_codes(2012)
    assert int(pc.sum(table["count"]).as_py()) == int(
        np.asarray(population([2012])["count"].to_numpy()).sum()
    )


def test_edge_cases_are_planted_with_exact_times(two_years: Path) -> None:
    episodes = _read(two_years, 2012, "episodes")
    edge = {
        r["episode_id"]: r
        for r in episodes.filter(pc.starts_with(episodes["episode_id"], "EDGE-")).to_pylist()
    }
    gap_a, gap_b = edge["EDGE-2012-GAP0759-A"], edge["EDGE-2012-GAP0759-B"]
    assert gap_b["admitted_at"] - gap_a["discharged_at"] == datetime(2012, 3, 5, 17, 59) - (
        datetime(2012, 3, 5, 10, 0)
    )
    assert (
        edge["EDGE-2012-GAP0801-B"]["admitted_at"] - edge["EDGE-2012-GAP0801-A"]["discharged_at"]
    ).total_seconds() == 8 * 3600 + 60
    for gap in (30, 31):
        out = edge[f"EDGE-2012-READM{gap}-A"]["discharged_at"].date()
        back = edge[f"EDGE-2012-READM{gap}-B"]
        assert (back["admitted_at"].date() - out).days == gap
        assert back["urgency"] == "emergency"
    new_year = edge["EDGE-2012-NEWYEAR"]
    assert new_year["admitted_at"] == datetime(2012, 12, 30, 10, 0)
    assert new_year["discharged_at"] == datetime(2013, 1, 3, 12, 0)
    assert new_year["discharge_ready_at"] == date(2012, 12, 31)
    events = _read(two_years, 2012, "events")
    withdrawn = events.filter(pc.equal(events["episode_id"], "EDGE-2012-UK-WITHDRAWN"))
    assert withdrawn["type"].to_pylist() == [
        "admission_notified",
        "discharge_ready",
        "discharge_ready_notified",
        "withdrawn",
        "discharge_ready",
        "discharge_ready_notified",
        "cannot_receive",
    ]
    no_notice = events.filter(pc.equal(events["episode_id"], "EDGE-2012-UK-NO-ADMISSION-NOTICE"))
    assert "admission_notified" not in no_notice["type"].to_pylist()


def test_merger_cases_use_each_years_codes() -> None:
    before, _, _ = edge_cases(2019)
    after, _, _ = edge_cases(2020)
    for patient, old, new in MERGERS:
        row_2019 = before.filter(pc.equal(before["patient_id"], patient)).to_pylist()
        row_2020 = after.filter(pc.equal(after["patient_id"], patient)).to_pylist()
        assert [r["municipality"] for r in row_2019] == [old]
        assert [r["municipality"] for r in row_2020] == [new]
        assert old in valid_codes(2019) and old not in valid_codes(2020)
        assert new in valid_codes(2020)
        assert row_2019[0]["health_trust"] == row_2020[0]["health_trust"]


def test_csv_delivery_reads_back_with_the_contract_types(tmp_path: Path) -> None:
    summary = generate(
        tmp_path, [2012], FRACTION, SEED, fmt="csv", progress=False, municipalities=["1806"]
    )
    episodes = pacsv.read_csv(
        tmp_path / "2012" / "episodes.csv",
        convert_options=pacsv.ConvertOptions(column_types=arrow_schema("episodes")),
    )
    assert episodes.num_rows == summary.rows[2012]["episodes"]
    header = (tmp_path / "2012" / "episodes.csv").read_text("utf-8").splitlines()[1]
    assert "T" in header.split(",")[12].strip('"')  # admitted_at as ISO 8601


@pytest.fixture(scope="module")
def report(two_years: Path) -> dict[tuple[str, int], dict[str, object]]:
    return {(r["metric"], r["year"]): r for r in calibration_report(two_years).to_pylist()}


def test_calibration_report_recomputes_cofinancing(
    two_years: Path, report: dict[tuple[str, int], dict[str, object]]
) -> None:
    rows = report
    episodes = _read(two_years, 2012, "episodes").to_pylist()
    capped = sum(
        (
            min(r["drg_points"], Decimal(4))
            for r in episodes
            if r["sector"] == "somatic"
            and r["provider_type"] in ("public", "private_contracted")
            and r["drg_type"] == "M"
            and r["mdc"] not in ("14", "15")
            and not r["drug_excluded"]
        ),
        Decimal(0),
    )
    sampled = int(pc.sum(_read(two_years, 2012, "population")["count"]).as_py())
    national = int(np.asarray(population([2012])["count"].to_numpy()).sum())
    expected = Decimal("0.20") * Decimal(40000) * capped * national / sampled
    got = rows[("cofinancing_nok_2012_rules", 2012)]["value"]
    assert got == expected.quantize(Decimal("0.001"))
    assert rows[("somatic_inpatient_stays", 2012)]["scaled"] is True
    assert rows[("somatic_emergency_share_inpatient", 2012)]["scaled"] is False


# Contacts per distinct patient, with the band docs/synthetic-data.md documents (Calibration,
# "Patients"): wide enough for the noise of ~6 500 sampled persons, narrow enough to catch a
# model that spreads contacts over too many persons (one contact each) or piles them on a few.
CONTACTS_PER_PATIENT_BANDS = {
    "somatic_stays_per_inpatient": (1.25, 1.75),  # ≈ 1.5 (ssbP20 2019, ssbPat16)
    "somatic_day_treatments_per_patient": (1.2, 1.6),  # ≈ 1.4 (ssbH17 / ssbPat16)
    "somatic_outpatient_contacts_per_patient": (2.8, 3.8),  # 3.3-3.5 (ssbPat16, ssbP20)
    "private_specialist_contacts_per_patient_somatic": (1.45, 1.95),  # 1.7 (hdAvt)
    "mental_health_contacts_per_patient": (9.0, 15.0),  # ≈ 11-12 (ssb131, hmt10, napha12)
    "private_specialist_contacts_per_patient_mental_health": (6.0, 18.0),  # 12.6-12.8 (hdAvt)
    "substance_abuse_contacts_per_patient": (7.0, 16.0),  # ≈ 10 (ssb131, napha12)
}


@pytest.mark.parametrize("metric", sorted(CONTACTS_PER_PATIENT_BANDS))
def test_contacts_per_patient_lie_in_their_band(
    metric: str, report: dict[tuple[str, int], dict[str, object]]
) -> None:
    low, high = CONTACTS_PER_PATIENT_BANDS[metric]
    for year in (2011, 2012):
        row = report[(metric, year)]
        assert row["scaled"] is False
        assert low <= float(str(row["value"])) <= high, (metric, year, row["value"])


def test_distinct_patients_are_a_realistic_share_of_the_population(two_years: Path) -> None:
    for year in (2011, 2012):
        episodes = _read(two_years, year, "episodes")
        persons = int(pc.sum(_read(two_years, year, "population")["count"]).as_py())
        real = episodes.filter(pc.invert(pc.starts_with(episodes["patient_id"], "EDGE-")))
        hospital = pc.is_in(real["provider_type"], pa.array(["public", "private_contracted"]))
        somatic = real.filter(pc.and_(pc.equal(real["sector"], "somatic"), hospital))
        mental = real.filter(pc.and_(pc.equal(real["sector"], "mental_health"), hospital))
        # 1.74 million of 4.95 million (35 %) somatic hospital patients in 2011 (hdNok15);
        # about 180 000 (3.6 %) patients in mental health care (hmt10, napha12).
        assert 0.30 < pc.count_distinct(somatic["patient_id"]).as_py() / persons < 0.40
        assert 0.025 < pc.count_distinct(mental["patient_id"]).as_py() / persons < 0.05
        # Most somatic inpatients also have outpatient contacts that year (ssbPat16: 1.93
        # million patients, 1.76 million of them outpatients, 0.54 million inpatients).
        patients = {
            level: set(
                somatic.filter(pc.equal(somatic["care_level"], level))["patient_id"].to_pylist()
            )
            for level in ("inpatient", "outpatient")
        }
        both = len(patients["inpatient"] & patients["outpatient"]) / len(patients["inpatient"])
        assert 0.55 < both < 0.9


def test_cli_writes_a_delivery_and_rejects_bad_years(tmp_path: Path) -> None:
    from samhandling.cli import app

    runner = CliRunner()
    result = runner.invoke(
        app, ["synth", "--out", str(tmp_path), "--years", "2012", "--fraction", "0.0005"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "2012" / "episodes.parquet").exists()
    bad = runner.invoke(app, ["synth", "--out", str(tmp_path), "--years", "2030"])
    assert isinstance(bad.exception, ConfigError)


def test_parse_years() -> None:
    assert parse_years("2011-2014") == [2011, 2012, 2013, 2014]
    assert parse_years("2012, 2019-2020") == [2012, 2019, 2020]
    with pytest.raises(ConfigError):
        parse_years("2014-2011")
    with pytest.raises(ConfigError):
        parse_years("tjue")


@given(
    st.lists(st.integers(min_value=-999_999_999, max_value=999_999_999), min_size=1, max_size=50)
)
@settings(max_examples=50, deadline=None)
def test_drg_points_are_exact_thousandths(milli: list[int]) -> None:
    array = points(np.asarray(milli, dtype=np.int64), np.ones(len(milli), dtype=np.bool_))
    assert array.to_pylist() == [Decimal(m).scaleb(-3) for m in milli]


def test_synthetic_deliveries_ingest_without_rejections(two_years: Path, tmp_path: Path) -> None:
    """Whatever the generator writes passes every ingest check: nothing lands in quarantine.

    2019 is included because care spells that start on 1 January 2020 (after a late-December
    discharge) must carry the new code of a municipality merged in 2020 (Flora 1401 → Kinn 4602).
    """
    from datetime import date

    from samhandling.warehouse import Warehouse

    generate(tmp_path / "in", [2019], FRACTION, SEED, progress=False, municipalities=SOME)
    warehouse = Warehouse(tmp_path / "wh")
    reports = [
        *warehouse.ingest_all(two_years, as_of=date(2026, 1, 1)),
        *warehouse.ingest_all(tmp_path / "in", as_of=date(2026, 1, 1)),
    ]
    assert [r.period for r in reports] == ["2011", "2012", "2019"]
    assert {r.delivery_id: r.reasons for r in reports if r.rejected} == {}


def test_first_year_stock_spells_start_within_the_municipality_register(tmp_path: Path) -> None:
    """2009 holds the spells already running on 1 January 2009; their start dates (and so the
    year their municipality code must be valid in) stay within 2008, when the 2009 codes were
    already in force."""
    from datetime import date

    from samhandling.warehouse import Warehouse

    generate(
        tmp_path / "in", [2009], FRACTION, SEED, progress=False, municipalities=[*SOME, "1505"]
    )
    care = _read(tmp_path / "in", 2009, "municipal_care")
    starts = care.column("start").to_pylist()
    assert min(starts) >= date(2008, 1, 1)
    assert min(starts) < date(2009, 1, 1)  # the stock is there
    report = Warehouse(tmp_path / "wh").ingest(tmp_path / "in" / "2009", as_of=date(2026, 1, 1))
    assert report.reasons == {}
