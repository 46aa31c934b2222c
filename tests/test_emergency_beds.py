"""Municipal emergency 24-hour beds (KAD): occupancy edges, attribution, grant rules, registry.

Bed days are counted as midnights (``emergency_beds.bed_day_definition``): a stay from the 20th
to the 25th has 5 bed days (nights 20, 21, 22, 23, 24). Capacity of a month = Σ over its open
days of the beds in force that day. Cases below (data period up to 1 July 2013):

- U1 Bodø (1804), 2 beds, opens 11 March 2013: March has 21 open days, 42 bed days of capacity;
  stay 20–25 March = 5 bed days → 5 × 100 / 42 = 11.904761904761905 %.
- U2 Oslo (0301), 3 beds from 1 January, 5 beds from 16 April 2013: April capacity
  15 × 3 + 15 × 5 = 120; stay 10–20 April = 10 → 8.333333333333334 %. A stay 30 May–2 June
  crosses the month end: 2 bed days in May (capacity 155), 1 in June (150); admitted in May.
- U3 Salten (host 1841 Fauske, participant 1840 Saltdal), 1 bed from 1 February 2013: a Saltdal
  resident's stay 5–7 February is the unit's (2 bed days / 28 = 7.142857142857143 %).
- U4 Bergen (1201), 2 beds, open 1 January to 14 February 2013 (closed from the 15th): February
  capacity 14 × 2 = 28; a stay 10–20 February has 5 nights while open (10–14) and 5 after,
  which no unit served: they are reported as unattributed, not dropped.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, inspect

from samhandling.engine import Engine
from samhandling.instruments.frames import contract_table
from samhandling.registries.emergency_beds import (
    BedCount,
    Unit,
    UnitInput,
    UnitValidationError,
    block_grant_lines,
    change_beds,
    grant_lines,
    list_units,
    occupancy_by_month,
    occupancy_by_year,
    occupancy_spread,
    register_unit,
    stays_vs_admissions,
    unattributed_stays,
    update_unit,
)
from samhandling.rules import RuleSet, load_rules
from samhandling.store import Store
from samhandling.store.emergency_beds import UnitRow
from samhandling.store.models import Base

NLSH = "983974910"
OUS = "993467049"
AS_OF = date(2013, 7, 1)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


def unit(
    unit_id: int,
    host: str,
    opened: date,
    counts: list[tuple[date, int]],
    *,
    participants: tuple[str, ...] = (),
    closed: date | None = None,
    applied: date | None = None,
) -> Unit:
    return Unit(
        id=unit_id,
        name=f"U{unit_id}",
        host_municipality=host,
        health_trust=NLSH,
        opened_on=opened,
        closed_on=closed,
        patient_groups=(),
        applied_on=applied,
        participants=participants,
        bed_counts=tuple(BedCount(d, b) for d, b in counts),
    )


UNITS = [
    unit(1, "1804", date(2013, 3, 11), [(date(2013, 3, 11), 2)]),
    unit(2, "0301", date(2013, 1, 1), [(date(2013, 1, 1), 3), (date(2013, 4, 16), 5)]),
    unit(3, "1841", date(2013, 2, 1), [(date(2013, 2, 1), 1)], participants=("1840",)),
    unit(4, "1201", date(2013, 1, 1), [(date(2013, 1, 1), 2)], closed=date(2013, 2, 15)),
]


def kad(care_id: str, municipality: str, start: date, end: date | None) -> dict[str, Any]:
    return {
        "care_id": care_id,
        "patient_id": f"p-{care_id}",
        "municipality": municipality,
        "service": "kad",
        "start": start,
        "end": end,
    }


CARE = [
    kad("a", "1804", date(2013, 3, 20), date(2013, 3, 25)),
    kad("b", "0301", date(2013, 4, 10), date(2013, 4, 20)),
    kad("c", "0301", date(2013, 5, 30), date(2013, 6, 2)),
    kad("d", "1840", date(2013, 2, 5), date(2013, 2, 7)),
    kad("e", "1201", date(2013, 2, 10), date(2013, 2, 20)),
    # Not a KAD stay: never counted.
    {**kad("f", "1804", date(2013, 3, 20), date(2013, 3, 30)), "service": "short_term_institution"},
]


def month_row(table: Any, unit_id: int, month: date) -> dict[str, Any]:
    rows = [r for r in table.to_pylist() if r["unit_id"] == unit_id and r["month"] == month]
    assert len(rows) == 1, (unit_id, month)
    row: dict[str, Any] = rows[0]
    return row


@pytest.fixture
def monthly(engine: Engine, rules: RuleSet) -> Any:
    engine.register_arrow("municipal_care", contract_table("municipal_care", CARE))
    return occupancy_by_month(engine, rules, UNITS, as_of=AS_OF)


def test_unit_opening_mid_month(monthly: Any) -> None:
    row = month_row(monthly, 1, date(2013, 3, 1))
    assert (row["days_open"], row["capacity_days"], row["bed_days"], row["stays"]) == (21, 42, 5, 1)
    assert row["occupancy_pct"] == 5 * 100 / 42 == 11.904761904761905
    assert not [
        r for r in monthly.to_pylist() if r["unit_id"] == 1 and r["month"] < date(2013, 3, 1)
    ]


def test_bed_count_change_mid_month(monthly: Any) -> None:
    row = month_row(monthly, 2, date(2013, 4, 1))
    assert (row["days_open"], row["capacity_days"], row["bed_days"]) == (30, 120, 10)
    assert row["occupancy_pct"] == 10 * 100 / 120
    assert month_row(monthly, 2, date(2013, 3, 1))["capacity_days"] == 31 * 3


def test_stay_crossing_month_end(monthly: Any) -> None:
    may = month_row(monthly, 2, date(2013, 5, 1))
    june = month_row(monthly, 2, date(2013, 6, 1))
    assert (may["capacity_days"], may["bed_days"], may["stays"]) == (155, 2, 1)
    assert (june["capacity_days"], june["bed_days"], june["stays"]) == (150, 1, 0)
    assert may["occupancy_pct"] == 200 / 155


def test_intermunicipal_unit_serves_participants(monthly: Any) -> None:
    row = month_row(monthly, 3, date(2013, 2, 1))
    assert (row["capacity_days"], row["bed_days"], row["stays"], row["patients"]) == (28, 2, 1, 1)
    assert row["occupancy_pct"] == 200 / 28


def test_closed_unit_and_unattributed_nights(engine: Engine, rules: RuleSet, monthly: Any) -> None:
    row = month_row(monthly, 4, date(2013, 2, 1))
    assert (row["days_open"], row["capacity_days"], row["bed_days"]) == (14, 28, 5)
    assert not [
        r for r in monthly.to_pylist() if r["unit_id"] == 4 and r["month"] >= date(2013, 3, 1)
    ]
    loose = unattributed_stays(engine, rules, UNITS, as_of=AS_OF).to_pylist()
    assert loose == [{"municipality": "1201", "year": 2013, "stays": 1, "bed_days": 5}]


def test_every_night_is_counted_once(monthly: Any, engine: Engine, rules: RuleSet) -> None:
    attributed = sum(r["bed_days"] for r in monthly.to_pylist())
    loose = sum(
        r["bed_days"] for r in unattributed_stays(engine, rules, UNITS, as_of=AS_OF).to_pylist()
    )
    # a 5, b 10, c 3, d 2, e 10 nights; the short-term stay is not KAD.
    assert attributed + loose == 30


def test_yearly_occupancy_and_spread(engine: Engine, rules: RuleSet) -> None:
    engine.register_arrow("municipal_care", contract_table("municipal_care", CARE))
    yearly = occupancy_by_year(engine, rules, UNITS, as_of=AS_OF)
    by_unit = {r["unit_id"]: r for r in yearly.to_pylist()}
    # U2 January–June: 105 days × 3 beds (to 15 April) + 76 days × 5 beds = 695; 13 bed days.
    assert (by_unit[2]["capacity_days"], by_unit[2]["bed_days"]) == (695, 13)
    spread = occupancy_spread(yearly, 2013)
    assert spread is not None and spread.units == 4
    values = sorted(r["occupancy_pct"] for r in yearly.to_pylist())
    assert spread.minimum == values[0] and spread.maximum == values[-1]
    assert spread.median == (values[1] + values[2]) / 2


def test_open_stay_counts_to_the_cutoff(engine: Engine, rules: RuleSet) -> None:
    engine.register_arrow(
        "municipal_care",
        contract_table("municipal_care", [kad("x", "1804", date(2013, 6, 28), None)]),
    )
    table = occupancy_by_month(engine, rules, UNITS[:1], as_of=AS_OF)
    assert month_row(table, 1, date(2013, 6, 1))["bed_days"] == 3  # nights 28, 29, 30 June


def test_calendar_day_definition_counts_both_ends(
    engine: Engine, rules: RuleSet, tmp_path: Any
) -> None:
    override = tmp_path / "days.toml"
    override.write_text(
        '[rules."emergency_beds.bed_day_definition"]\n'
        '[[rules."emergency_beds.bed_day_definition".values]]\n'
        'valid_from = 2012-01-01\nvalue = "calendar_days"\nstatus = "unverified"\n'
        'source = "test"\n',
        encoding="utf-8",
    )
    engine.register_arrow("municipal_care", contract_table("municipal_care", CARE[:1]))
    table = occupancy_by_month(engine, rules.with_override(override), UNITS[:1], as_of=AS_OF)
    assert month_row(table, 1, date(2013, 3, 1))["bed_days"] == 6


@settings(max_examples=40, deadline=None)
@given(
    opened=st.dates(date(2013, 1, 1), date(2013, 12, 31)),
    changes=st.lists(
        st.tuples(st.integers(1, 400), st.integers(1, 9)),
        min_size=0,
        max_size=3,
        unique_by=lambda c: c[0],
    ),
    first_beds=st.integers(1, 9),
    window=st.tuples(st.dates(date(2012, 6, 1), date(2015, 6, 1)), st.integers(0, 500)),
)
def test_capacity_is_beds_summed_over_days(
    opened: date, changes: list[tuple[int, int]], first_beds: int, window: tuple[date, int]
) -> None:
    from datetime import timedelta

    counts = [(opened, first_beds)] + [(opened + timedelta(days=d), b) for d, b in changes]
    u = unit(9, "1804", opened, counts, closed=opened + timedelta(days=300))
    first, length = window
    until = first + timedelta(days=length)
    by_day = sum(u.beds_on(first + timedelta(days=i)) for i in range(length))
    assert u.capacity_days(first, until) == by_day


# ------------------------------------------------------------------------ grant rules


def population(_year: int) -> dict[str, int]:
    return {"1804": 50_000, "1841": 9_000, "1840": 4_000, "0301": 650_000, "9999": 4_287_000}


def signed_on(day: date | None) -> Any:
    def lookup(_municipality: str, point: str, on: date) -> date | None:
        assert point == "4"
        return day if day is not None and day <= on else None

    return lookup


def _hospital_stay(
    episode_id: str, patient: str, municipality: str, **changes: Any
) -> dict[str, Any]:
    return {
        "episode_id": episode_id,
        "patient_id": patient,
        "birth_year": 1940,
        "sex": 2,
        "municipality": municipality,
        "health_trust": NLSH,
        "provider_type": "public",
        "sector": "somatic",
        "care_level": "inpatient",
        "urgency": "emergency",
        "admitted_at": datetime(2013, 3, 1, 10),
        "discharged_at": datetime(2013, 3, 4, 12),
        "main_diagnosis": "J18",
        "drg": "89",
        "drg_type": "M",
        "drg_points": Decimal("1.234"),
        **changes,
    }


def test_kad_stays_versus_emergency_admissions(engine: Engine) -> None:
    """KAD stays and emergency medical hospital stays per 1 000, served or not, by hand.

    2013 KAD stays (CARE): a Bodø, b and c Oslo, d Saltdal, e Bergen (f is not KAD). Hospital:
    Oslo's one patient twice (emergency, DRG type M), Bodø elective, Saltdal surgical (type K),
    Tromsø once; only Oslo's two and Tromsø's count. Every unit served its municipalities some
    day of 2013 (U4 until 14 February); Tromsø (1902) has no unit.
    """
    engine.register_arrow("municipal_care", contract_table("municipal_care", CARE))
    hospital = [
        _hospital_stay("h1", "q1", "0301"),
        _hospital_stay(
            "h2",
            "q1",
            "0301",
            admitted_at=datetime(2013, 5, 1, 8),
            discharged_at=datetime(2013, 5, 2, 8),
        ),
        _hospital_stay("h3", "q2", "1804", urgency="elective"),
        _hospital_stay("h4", "q3", "1840", drg_type="K"),
        _hospital_stay("h5", "q4", "1902"),
    ]
    engine.register_arrow("episodes", contract_table("episodes", hospital))
    population = [
        {"year": 2013, "municipality": code, "sex": 2, "age": 80, "count": count}
        for code, count in (
            ("0301", 2000),
            ("1201", 1000),
            ("1804", 500),
            ("1840", 400),
            ("1841", 100),
            ("1902", 250),
        )
    ]
    engine.register_arrow("population", contract_table("population", population))
    table = stays_vs_admissions(engine, UNITS, [2013])
    got = [
        (
            r["municipality"],
            r["served"],
            r["population"],
            r["kad_stays"],
            r["kad_patients"],
            r["kad_per_1000"],
            r["emergency_stays"],
            r["emergency_patients"],
            r["emergency_per_1000"],
        )
        for r in table.to_pylist()
    ]
    assert got == [
        ("0301", True, 2000, 2, 2, 1.0, 2, 1, 1.0),  # 2 × 1 000 / 2 000
        ("1201", True, 1000, 1, 1, 1.0, 0, 0, 0.0),
        ("1804", True, 500, 1, 1, 2.0, 0, 0, 0.0),
        ("1840", True, 400, 1, 1, 2.5, 0, 0, 0.0),  # a participant of U3
        ("1841", True, 100, 0, 0, 0.0, 0, 0, 0.0),
        ("1902", False, 250, 0, 0, 0.0, 1, 1, 4.0),  # 1 × 1 000 / 250
    ]
    assert set(table["year"].to_pylist()) == {2013}


def test_grant_half_from_directorate_half_from_trust(rules: RuleSet) -> None:
    u = unit(1, "1804", date(2013, 3, 1), [(date(2013, 3, 1), 2)], applied=date(2013, 2, 1))
    [line] = grant_lines([u], rules, [2013], signed_on(date(2012, 12, 1)), population)
    # 1 March–31 December = 306 days × 2 beds = 612 bed days × 4 460 kr (unverified) / 2.
    assert (line.reason, line.capacity_days, line.daily_cost) == ("granted", 612, Decimal("4460"))
    assert line.grant == line.health_trust_part == Decimal("1364760.00")
    assert line.total == Decimal("2729520.00")
    assert line.unverified


def test_grant_2012_deadline_first_of_july(rules: RuleSet) -> None:
    u = unit(1, "1804", date(2012, 9, 1), [(date(2012, 9, 1), 2)], applied=date(2012, 7, 1))
    [line] = grant_lines([u], rules, [2012], signed_on(date(2012, 5, 1)), population)
    # 1 September–31 December = 122 days × 2 beds × 4 330 kr / 2.
    assert (line.reason, line.grant) == ("granted", Decimal("528260.00"))
    late = unit(1, "1804", date(2012, 9, 1), [(date(2012, 9, 1), 2)], applied=date(2012, 7, 2))
    lines = grant_lines([late], rules, [2012, 2013], signed_on(date(2012, 5, 1)), population)
    assert [(ln.year, ln.reason, ln.grant) for ln in lines] == [
        (2012, "deadline_missed", Decimal("0.00")),
        # From 2013 (deadline 1 March 2013): 365 × 2 × 4 460 / 2.
        (2013, "granted", Decimal("1627900.00")),
    ]


def test_deadline_missed_gives_grant_from_next_year(rules: RuleSet) -> None:
    u = unit(1, "1804", date(2013, 3, 1), [(date(2013, 3, 1), 2)], applied=date(2013, 4, 15))
    lines = grant_lines([u], rules, [2013, 2014], signed_on(date(2012, 12, 1)), population)
    assert [(ln.year, ln.reason, ln.first_grant_year) for ln in lines] == [
        (2013, "deadline_missed", 2014),
        (2014, "granted", 2014),
    ]
    assert lines[0].grant == Decimal("0.00")
    assert lines[1].grant == Decimal("1675350.00")  # 365 × 2 × 4 590 / 2


def test_agreement_signed_after_application_moves_the_start(rules: RuleSet) -> None:
    u = unit(1, "1804", date(2013, 3, 1), [(date(2013, 3, 1), 2)], applied=date(2013, 2, 1))
    lines = grant_lines([u], rules, [2013, 2014], signed_on(date(2013, 3, 10)), population)
    assert [ln.reason for ln in lines] == ["deadline_missed", "granted"]
    assert lines[0].effective_application == date(2013, 3, 10)


def test_no_point_4_agreement_no_grant(rules: RuleSet) -> None:
    u = unit(1, "1804", date(2013, 3, 1), [(date(2013, 3, 1), 2)], applied=date(2013, 2, 1))
    [line] = grant_lines([u], rules, [2013], signed_on(None), population)
    assert (line.reason, line.grant, line.health_trust_part) == (
        "no_agreement",
        Decimal("0.00"),
        Decimal("0.00"),
    )
    [unknown] = grant_lines([u], rules, [2013], None, population)
    assert unknown.reason == "no_registry"
    unapplied = unit(1, "1804", date(2013, 3, 1), [(date(2013, 3, 1), 2)])
    assert (
        grant_lines([unapplied], rules, [2013], signed_on(date(2012, 1, 1)), population)[0].reason
        == "not_applied"
    )


def test_intermunicipal_split_by_population(rules: RuleSet) -> None:
    u = unit(
        3,
        "1841",
        date(2014, 1, 1),
        [(date(2014, 1, 1), 1)],
        participants=("1840",),
        applied=date(2013, 12, 1),
    )
    lines = grant_lines([u], rules, [2014], signed_on(date(2013, 6, 1)), population)
    # 365 × 4 590 / 2 = 837 675,00 shared 9 000 : 4 000, to the øre by largest remainder.
    assert [(ln.municipality, ln.grant) for ln in lines] == [
        ("1841", Decimal("579928.85")),
        ("1840", Decimal("257746.15")),
    ]

    def only_host(municipality: str, point: str, on: date) -> date | None:
        return date(2013, 6, 1) if municipality == "1841" else None

    lines = grant_lines([u], rules, [2014], only_host, population)
    assert [(ln.municipality, ln.reason, ln.grant) for ln in lines] == [
        ("1841", "granted", Decimal("579928.85")),
        ("1840", "no_agreement", Decimal("0.00")),
    ]


def test_block_grant_from_2016(rules: RuleSet) -> None:
    u = unit(1, "1804", date(2013, 3, 1), [(date(2013, 3, 1), 2)], applied=date(2013, 2, 1))
    assert grant_lines([u], rules, [2016], signed_on(date(2012, 1, 1)), population) == []
    [line] = block_grant_lines(rules, 2016, ["1804"], population)
    # 1 048 000 000 × 50 000 / 5 000 000 inhabitants.
    assert (line.amount, line.national_population) == (Decimal("10480000.00"), 5_000_000)
    assert line.unverified  # the population key is the platform's estimate
    assert block_grant_lines(rules, 2017, ["1804"], population) == []


# ------------------------------------------------------------------------ registry (store)


def bodo(**changes: Any) -> UnitInput:
    base: dict[str, Any] = {
        "name": "Bodø ØHD",
        "host_municipality": "1804",
        "health_trust": NLSH,
        "opened_on": date(2013, 5, 15),
        "beds": 3,
        "patient_groups": ["observation_treatment"],
        "applied_on": date(2013, 2, 1),
    }
    return UnitInput(**{**base, **changes})


def test_store_tables_match_the_migration(store: Store) -> None:
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            assert {
                "emergency_bed_units",
                "emergency_bed_participants",
                "emergency_bed_counts",
            } <= names
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()
    assert UnitRow.__tablename__ == "emergency_bed_units"
    assert [d for d in diff if "emergency_bed" in repr(d)] == []


def test_register_and_keep_bed_history(store: Store, rules: RuleSet) -> None:
    created = register_unit(store, rules, bodo(participants=["1838"]), by="kari")
    assert created.municipalities == ("1804", "1838")
    changed = change_beds(store, created.id, date(2014, 1, 1), 5, by="ola")
    assert [(c.valid_from, c.beds, c.recorded_by) for c in changed.bed_counts] == [
        (date(2013, 5, 15), 3, "kari"),
        (date(2014, 1, 1), 5, "ola"),
    ]
    assert changed.beds_on(date(2013, 12, 31)) == 3 and changed.beds_on(date(2014, 1, 1)) == 5
    with pytest.raises(UnitValidationError, match="historikken endres ikke"):
        change_beds(store, created.id, date(2014, 1, 1), 6, by="ola")
    with pytest.raises(UnitValidationError, match="før enheten åpnet"):
        change_beds(store, created.id, date(2013, 1, 1), 6, by="ola")
    moved = update_unit(
        store,
        rules,
        created.id,
        bodo(opened_on=date(2013, 5, 1), closed_on=date(2015, 1, 1)),
        by="kari",
    )
    assert moved.bed_counts[0].valid_from == date(2013, 5, 1) and moved.participants == ()
    assert moved.beds_on(date(2015, 1, 1)) == 0
    assert [u.name for u in list_units(store)] == ["Bodø ØHD"]


def test_validation_lists_every_problem(store: Store, rules: RuleSet) -> None:
    with pytest.raises(UnitValidationError) as caught:
        register_unit(
            store,
            rules,
            bodo(
                name="",
                host_municipality="9999",
                health_trust="123",
                beds=0,
                closed_on=date(2013, 1, 1),
                participants=["1804"] * 2 + ["abc"],
                patient_groups=["flying", "mental_health_substance_use"],
            ),
            by="kari",
        )
    assert caught.value.problems == [
        "Navn mangler.",
        "Vertskommune 9999 fantes ikke i kommuneregisteret i 2013.",
        "En deltakerkommune står to ganger.",
        "Deltakerkommune «abc» er ikke et kommunenummer med fire sifre.",
        "Helseforetak «123» er ikke et organisasjonsnummer (9 sifre).",
        "Nedleggelsesdato må være etter åpningsdato.",
        "En enhet må ha minst én seng når den åpner.",
        "Ukjent pasientgruppe «flying».",
        "Pasientgruppen «mental_health_substance_use» gjaldt ikke mens enheten var åpen.",
    ]
    assert list_units(store) == []


def test_a_municipality_belongs_to_one_open_unit(store: Store, rules: RuleSet) -> None:
    register_unit(store, rules, bodo(closed_on=date(2014, 1, 1)), by="kari")
    with pytest.raises(UnitValidationError, match="betjenes allerede av «Bodø ØHD»"):
        register_unit(
            store,
            rules,
            bodo(
                name="Salten",
                host_municipality="1841",
                participants=["1804"],
                opened_on=date(2013, 9, 1),
            ),
            by="kari",
        )
    # After Bodø's own unit closed, the inter-municipal one may take the municipality over.
    later = register_unit(
        store,
        rules,
        bodo(
            name="Salten",
            host_municipality="1841",
            participants=["1804"],
            opened_on=date(2014, 1, 1),
        ),
        by="kari",
    )
    assert later.participants == ("1804",)


def test_text_input_errors_are_reported_together() -> None:
    with pytest.raises(UnitValidationError) as caught:
        UnitInput.from_text(
            name="X",
            host_municipality="1804",
            health_trust=NLSH,
            opened_on="15.05.2013",
            beds="tre",
        )
    assert caught.value.problems == [
        "Åpningsdato «15.05.2013» er ikke en dato (ÅÅÅÅ-MM-DD).",
        "Antall senger «tre» er ikke et helt tall.",
    ]


def test_data_cutoff_is_the_end_of_the_latest_year(engine: Engine) -> None:
    from samhandling.registries.emergency_beds.occupancy import data_cutoff, period_end

    assert period_end([2011, 2014, 2012]) == date(2015, 1, 1)
    assert period_end([]) is None

    engine.register_arrow("municipal_care", contract_table("municipal_care", CARE))
    assert data_cutoff(engine) == date(2014, 1, 1)


def kad_warehouse(base: Any, municipality: str = "0301") -> Any:
    """The tiny delivery plus nine two-night KAD stays in March 2013, ingested under ``base``."""
    import shutil
    from pathlib import Path

    from samhandling.warehouse import Warehouse

    tiny = Path(__file__).parent / "browser" / "tiny_warehouse"
    shutil.copytree(tiny, base / "delivery")
    rows = ["care_id,patient_id,municipality,service,start,end"] + [
        f"K{i},KP{i},{municipality},kad,2013-03-{1 + 2 * i:02d},2013-03-{3 + 2 * i:02d}"
        for i in range(9)
    ]
    (base / "delivery" / "municipal_care.csv").write_text("\n".join(rows) + "\n", "utf-8")
    warehouse = Warehouse(base / "warehouse")
    warehouse.ingest(base / "delivery", as_of=date(2014, 6, 30))
    return warehouse


def test_demo_units_are_seeded_once(store: Store, tmp_path: Any) -> None:
    from samhandling.registries.emergency_beds.demo import DEMO_UNITS, seed_demo

    warehouse = kad_warehouse(tmp_path)
    assert seed_demo(warehouse, store) == [
        "KAD-enheter: registrerte 12 demoenheter (sengetall tilpasset utvalget)."
    ]
    assert seed_demo(warehouse, store) == ["KAD-enheter: 12 demoenheter finnes allerede."]
    units = {u.name: u for u in list_units(store)}
    assert len(units) == len(DEMO_UNITS) == 12
    # Oslo: 18 nights in 2013 at a planned 90 % → round(18 / 328.5) = 0 → at least one bed.
    assert units["Oslo kommunale legevakt, KAD"].bed_counts[0].beds == 1
    bergen = units["Bergen legevakt, KAD"]
    assert [c.valid_from for c in bergen.bed_counts] == [date(2013, 1, 1), date(2014, 7, 1)]
    assert units["Salten interkommunale ØHD"].participants == ("1839", "1840", "1845")


def test_cli_registers_units_and_reports(tmp_path: Any) -> None:
    from openpyxl import load_workbook
    from typer.testing import CliRunner

    from samhandling.cli import app

    warehouse = kad_warehouse(tmp_path, "1804")
    runner = CliRunner()
    where = [
        "--warehouse",
        str(warehouse.path),
        "--database",
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
    ]
    result = runner.invoke(
        app,
        [
            "kad", "registrer", "--navn", "Bodø ØHD", "--kommune", "1804", "--hf", NLSH,
            "--åpnet", "2013-01-01", "--senger", "2", "--gruppe", "observation_treatment", *where,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Registrerte «Bodø ØHD» med id 1." in result.output
    bad = runner.invoke(
        app,
        ["kad", "registrer", "--navn", "X", "--kommune", "1804", "--hf", NLSH, "--åpnet",
         "2013-02-01", "--senger", "1", *where],
    )  # fmt: skip
    assert bad.exit_code != 0 and "betjenes allerede" in str(bad.exception)
    result = runner.invoke(
        app, ["kad", "senger", "1", "--fra", "2013-03-16", "--senger", "4", *where]
    )
    assert result.exit_code == 0, result.output
    # March 2013: 15 days × 2 + 16 days × 4 = 94 bed days of capacity; 9 stays × 2 nights = 18.
    result = runner.invoke(app, ["kad", "belegg", "--år", "2013", *where])
    assert result.exit_code == 0, result.output
    march = next(line for line in result.output.splitlines() if "2013-03" in line)
    cells = [c.strip() for c in march.split("│")[3:8]]
    assert cells == ["31", "94", "18", "9", "19,1\u00a0%"]
    result = runner.invoke(app, ["kad", "tilskudd", "--år", "2013", *where])
    assert result.exit_code == 0, result.output
    assert "Ikke søkt" in result.output
    out = tmp_path / "belegg.xlsx"
    result = runner.invoke(app, ["kad", "eksport", str(out), *where])
    assert result.exit_code == 0, result.output
    assert "Belegg" in load_workbook(out).sheetnames
