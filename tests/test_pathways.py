"""Patient pathways: hand-made patients, one per rule, computed by hand, on every engine.

Conventions of the standard rule set used below (``pathways.*``, ``readmission.steering``):
stays less than 8 hours apart are one episode of care; a municipal care spell covers its start
day 00:00 up to the day after its end date (end date included); a pathway ends when the patient
has been home (or in home services, or in an own long-term place) for 30 days or more, or died;
a readmission is an emergency admission 1–30 calendar days after the discharge.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from samhandling.engine import Engine
from samhandling.errors import RuleError
from samhandling.instruments.frames import contract_table
from samhandling.pathways import (
    OTHER,
    build_pathways,
    discharge_destinations,
    flows,
    pathway_definition,
    pathway_report,
    patient_timeline,
)
from samhandling.pathways.patterns import fold_municipality
from samhandling.rules import RuleSet, load_rules
from samhandling.tables.disclosure import (
    PRIMARY,
    PUBLISHED,
    REASON_NAMES,
    SECONDARY,
    attack_intervals,
)

NLSH = "983974910"
FAR = datetime(9999, 12, 31)
# The day the pathway rules are read for (the data are of 2012-2013).
ON = date(2013, 12, 31)

STAY: dict[str, Any] = {
    "birth_year": 1935,
    "sex": 2,
    "municipality": "1804",
    "health_trust": NLSH,
    "provider_type": "public",
    "sector": "somatic",
    "care_level": "inpatient",
    "urgency": "emergency",
    "main_diagnosis": "J44",
}


def stay(
    episode_id: str, patient: str, admitted: datetime, discharged: datetime | None, **kw: Any
) -> dict[str, Any]:
    return {
        **STAY,
        "episode_id": episode_id,
        "patient_id": patient,
        "admitted_at": admitted,
        "discharged_at": discharged,
        **kw,
    }


def care(care_id: str, patient: str, service: str, start: date, end: date | None) -> dict[str, Any]:
    return {
        "care_id": care_id,
        "patient_id": patient,
        "municipality": "1804",
        "service": service,
        "start": start,
        "end": end,
    }


def event(event_id: str, episode_id: str, kind: str, at: datetime) -> dict[str, Any]:
    return {"event_id": event_id, "episode_id": episode_id, "type": kind, "at": at}


def D(*parts: int) -> datetime:  # noqa: N802 - short constructor for the tables below
    return datetime(*parts)  # type: ignore[arg-type]


EPISODES = [
    # P1: home → emergency → discharge-ready (event 07.03 09:00) → short-term → home.
    stay("a1", "P1", D(2013, 3, 1, 10), D(2013, 3, 10, 12), discharged_to="other_municipal"),
    # P2: two stays 5 hours apart (a transfer) are one episode of care; then home.
    stay("b1", "P2", D(2013, 5, 1, 8), D(2013, 5, 3, 10), discharged_to="other_hospital"),
    stay("b2", "P2", D(2013, 5, 3, 15), D(2013, 5, 6, 9), health_trust="993467049"),
    # P3: 10 hours apart: two episodes with 10 hours at home between (same day: no readmission).
    stay("c1", "P3", D(2013, 5, 1, 8), D(2013, 5, 3, 10), discharged_to="home"),
    stay("c2", "P3", D(2013, 5, 3, 20), D(2013, 5, 5, 9), discharged_to="home"),
    # P4: discharged home 10.04, emergency readmission 20.04 (10 days): readmitted from home.
    stay("d1", "P4", D(2013, 4, 1, 9), D(2013, 4, 10, 12), discharged_to="home"),
    stay("d2", "P4", D(2013, 4, 20, 9), D(2013, 4, 22, 12), discharged_to="home"),
    # P5: discharged to short-term 10.04 (until 15.04), emergency readmission 30.04 (20 days).
    stay("e1", "P5", D(2013, 4, 1, 9), D(2013, 4, 10, 12), discharged_to="other_municipal"),
    stay("e2", "P5", D(2013, 4, 30, 9), D(2013, 5, 2, 12), discharged_to="home"),
    # P6: dies in hospital; the home-nursing spell that runs on is masked by death.
    stay("f1", "P6", D(2013, 6, 1, 9), D(2013, 6, 5, 3), discharged_to="died"),
    # P7: no municipal care at all, elective; back after 40 days, electively: two pathways.
    stay("g1", "P7", D(2013, 2, 1, 9), D(2013, 2, 3, 12), urgency="elective"),
    stay("g2", "P7", D(2013, 3, 15, 9), D(2013, 3, 16, 12), urgency="elective"),
    # P8: long-term resident; emergency stay; back to the nursing home.
    stay("h1", "P8", D(2013, 7, 1, 9), D(2013, 7, 4, 12), discharged_to="nursing_home"),
    # P9: KAD 01.08–03.08 then hospital 03.08 10:00–06.08, with a withdrawn discharge-ready.
    stay("i1", "P9", D(2013, 8, 3, 10), D(2013, 8, 9, 12), discharged_to="home"),
    # P10: discharge-ready date on the stay, no events: wait from 12.09 00:00.
    stay(
        "j1",
        "P10",
        D(2013, 9, 10, 9),
        D(2013, 9, 14, 12),
        discharge_ready_at=date(2013, 9, 12),
    ),
    # P11: home services throughout; still in hospital at the end of the data.
    stay("k1", "P11", D(2013, 12, 20, 9), None),
]
EVENTS = [
    event("v1", "a1", "discharge_ready", D(2013, 3, 7, 9)),
    event("v2", "i1", "discharge_ready", D(2013, 8, 5, 9)),
    event("v3", "i1", "withdrawn", D(2013, 8, 6, 9)),
    event("v4", "i1", "discharge_ready", D(2013, 8, 8, 9)),
]
CARE = [
    care("m1", "P1", "short_term_institution", date(2013, 3, 10), date(2013, 3, 31)),
    care("m2", "P5", "short_term_institution", date(2013, 4, 10), date(2013, 4, 15)),
    care("m3", "P6", "home_nursing", date(2013, 1, 1), None),
    care("m4", "P8", "long_term_institution", date(2012, 1, 1), None),
    care("m5", "P9", "kad", date(2013, 8, 1), date(2013, 8, 3)),
    care("m6", "P11", "home_nursing", date(2013, 1, 1), None),
]


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


def load(engine: Engine, episodes: list[dict[str, Any]], events: list[dict[str, Any]],
         care_rows: list[dict[str, Any]]) -> None:  # fmt: skip
    engine.register_arrow("episodes", contract_table("episodes", episodes))
    engine.register_arrow("events", contract_table("events", events))
    engine.register_arrow("municipal_care", contract_table("municipal_care", care_rows))


def _naive(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def rows(engine: Engine, sql: str) -> list[dict[str, Any]]:
    return [{k: _naive(v) for k, v in r.items()} for r in engine.query(sql).to_pylist()]


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def built(
    request: pytest.FixtureRequest, rules: RuleSet, engine_factory: Callable[[str], Engine]
) -> Iterator[Engine]:
    """The hand-made patients' pathways, built once per engine for the tests that only read them
    (on Spark a build costs seconds)."""
    engine = engine_factory(request.param)
    load(engine, EPISODES, EVENTS, CARE)
    build_pathways(engine, pathway_definition(rules, ON))
    yield engine
    engine.close()


def timeline(engine: Engine, patient: str) -> list[tuple[str, datetime, datetime | None]]:
    got = rows(
        engine,
        f"SELECT state, start_at, end_at FROM pathway_timeline WHERE patient_id = '{patient}' "
        "ORDER BY seq",
    )
    return [(r["state"], r["start_at"], r["end_at"]) for r in got]


def patterns(engine: Engine, patient: str) -> list[str]:
    got = rows(
        engine, f"SELECT pattern FROM pathways WHERE patient_id = '{patient}' ORDER BY pathway_no"
    )
    return [r["pattern"] for r in got]


# ----------------------------------------------------------------------------- transitions


def test_discharge_ready_wait_then_short_term_then_home(built: Engine) -> None:
    assert timeline(built, "P1") == [
        ("emergency_admission", D(2013, 3, 1, 10), D(2013, 3, 7, 9)),
        ("discharge_ready", D(2013, 3, 7, 9), D(2013, 3, 10, 12)),
        # the short-term place ends 31.03 (included): home from 01.04
        ("short_term", D(2013, 3, 10, 12), D(2013, 4, 1)),
        ("home", D(2013, 4, 1), None),
    ]
    assert patterns(built, "P1") == ["home>emergency_admission>discharge_ready>short_term>home"]


def test_stays_less_than_8_hours_apart_are_one_episode_of_care(built: Engine) -> None:
    assert timeline(built, "P2") == [
        ("emergency_admission", D(2013, 5, 1, 8), D(2013, 5, 6, 9)),
        ("home", D(2013, 5, 6, 9), None),
    ]
    got = rows(built, "SELECT health_trust, stays FROM pathway_episodes WHERE patient_id = 'P2'")
    assert got == [{"health_trust": NLSH, "stays": 2}]  # the first stay's trust


def test_stays_10_hours_apart_are_two_episodes_in_one_pathway(built: Engine) -> None:
    assert timeline(built, "P3") == [
        ("emergency_admission", D(2013, 5, 1, 8), D(2013, 5, 3, 10)),
        ("home", D(2013, 5, 3, 10), D(2013, 5, 3, 20)),
        ("emergency_admission", D(2013, 5, 3, 20), D(2013, 5, 5, 9)),
        ("home", D(2013, 5, 5, 9), None),
    ]
    assert patterns(built, "P3") == ["home>emergency_admission>home>emergency_admission>home"]


def test_death_ends_the_pathway_and_masks_later_care(built: Engine) -> None:
    assert timeline(built, "P6") == [
        ("home_services", D(2013, 1, 1), D(2013, 6, 1, 9)),
        ("emergency_admission", D(2013, 6, 1, 9), D(2013, 6, 5, 3)),
        ("died", D(2013, 6, 5, 3), None),
    ]
    assert patterns(built, "P6") == ["home_services>emergency_admission>died"]
    got = rows(built, "SELECT died, open_end FROM pathways WHERE patient_id = 'P6'")
    assert got == [{"died": 1, "open_end": 0}]


def test_patient_without_municipal_care_and_a_40_day_gap_has_two_pathways(
    built: Engine,
) -> None:
    assert patterns(built, "P7") == [
        "home>elective_admission>home",
        "home>elective_admission>home",
    ]
    got = rows(
        built, "SELECT pathway_no, admitted_at FROM pathways WHERE patient_id = 'P7' ORDER BY 1"
    )
    assert got == [
        {"pathway_no": 0, "admitted_at": D(2013, 2, 1, 9)},
        {"pathway_no": 1, "admitted_at": D(2013, 3, 15, 9)},
    ]


def test_long_term_resident_returns_to_the_nursing_home(built: Engine) -> None:
    assert timeline(built, "P8") == [
        ("long_term", D(2012, 1, 1), D(2013, 7, 1, 9)),
        ("emergency_admission", D(2013, 7, 1, 9), D(2013, 7, 4, 12)),
        ("long_term", D(2013, 7, 4, 12), None),
    ]
    assert patterns(built, "P8") == ["long_term>emergency_admission>long_term"]


def test_kad_before_admission_and_a_withdrawn_discharge_ready(built: Engine) -> None:
    # KAD 01.08–03.08 (included) overlaps the admission 03.08 10:00: the hospital wins.
    # Ready 05.08 was withdrawn 06.08; the wait starts at the new ready 08.08 09:00.
    assert timeline(built, "P9") == [
        ("kad", D(2013, 8, 1), D(2013, 8, 3, 10)),
        ("emergency_admission", D(2013, 8, 3, 10), D(2013, 8, 8, 9)),
        ("discharge_ready", D(2013, 8, 8, 9), D(2013, 8, 9, 12)),
        ("home", D(2013, 8, 9, 12), None),
    ]
    assert patterns(built, "P9") == [
        "home>kad>emergency_admission>discharge_ready>home",
    ]


def test_discharge_ready_date_without_events(built: Engine) -> None:
    assert timeline(built, "P10")[:2] == [
        ("emergency_admission", D(2013, 9, 10, 9), D(2013, 9, 12)),
        ("discharge_ready", D(2013, 9, 12), D(2013, 9, 14, 12)),
    ]


def test_still_in_hospital_at_the_end_of_the_data(built: Engine) -> None:
    assert timeline(built, "P11") == [
        ("home_services", D(2013, 1, 1), D(2013, 12, 20, 9)),
        ("emergency_admission", D(2013, 12, 20, 9), None),
    ]
    got = rows(built, "SELECT pattern, open_end FROM pathways WHERE patient_id = 'P11'")
    assert got == [{"pattern": "home_services>emergency_admission", "open_end": 1}]


# ----------------------------------------------------------------------------- readmission


def test_readmission_after_discharge_home_vs_to_an_institution(
    built: Engine, rules: RuleSet
) -> None:
    got = {
        r["first_episode_id"]: (r["destination_state"], r["destination"], r["readmitted"])
        for r in discharge_destinations(built, pathway_definition(rules, ON)).to_pylist()
    }
    assert got["d1"] == ("home", "home", 1)  # 10 days later, emergency
    assert got["e1"] == ("short_term", "institution", 1)  # 20 days later, emergency
    assert got["c1"] == ("home", "home", 0)  # same day: 0 days, outside 1–30
    assert got["g1"] == ("home", "home", 0)  # 40 days later and elective
    assert got["f1"] == ("died", "died", 0)
    assert got["h1"] == ("long_term", "institution", 0)
    assert "k1" not in got  # still in hospital
    assert patterns(built, "P4") == ["home>emergency_admission>home>emergency_admission>home"]
    assert patterns(built, "P5") == [
        "home>emergency_admission>short_term>home>emergency_admission>home"
    ]


# ----------------------------------------------------------------------------- patterns


def _many(
    n: int, municipality: str, month: int, prefix: str, urgency: str = "emergency"
) -> list[dict[str, Any]]:
    return [
        stay(
            f"{prefix}{i}",
            f"{prefix}{i}",
            D(2013, month, 1 + i, 9),
            D(2013, month, 2 + i, 9),
            municipality=municipality,
            urgency=urgency,
            discharged_to="home",
        )
        for i in range(n)
    ]


EM, EL = "home>emergency_admission>home", "home>elective_admission>home"


def test_pattern_counts_fold_rare_patterns_and_suppress(engine: Engine, rules: RuleSet) -> None:
    # Bodø: 8 emergency, 6 elective, 2 patients with two emergency stays 10 days apart;
    # Oslo: 5 emergency, 5 elective; Tromsø: 3 emergency.
    readmitted = [
        row
        for i in range(2)
        for row in (
            stay(f"r{i}a", f"r{i}", D(2013, 9, 1, 9), D(2013, 9, 2, 9), discharged_to="home"),
            stay(f"r{i}b", f"r{i}", D(2013, 9, 12, 9), D(2013, 9, 13, 9), discharged_to="home"),
        )
    ]
    episodes = [
        *_many(8, "1804", 1, "b"),
        *_many(6, "1804", 2, "be", "elective"),
        *readmitted,
        *_many(5, "0301", 3, "o"),
        *_many(5, "0301", 4, "oe", "elective"),
        *_many(3, "1902", 5, "t"),
    ]
    load(engine, episodes, [], [])
    report = pathway_report(engine, rules, 2013)
    # Nationally 16 emergency, 11 elective, 2 readmitted patients: the last is "other".
    assert report.pattern_order == [EM, EL, OTHER]
    got = {
        k: (v, REASON_NAMES[r])
        for k, v, r in zip(
            report.patterns.keys, report.patterns.values, report.patterns.reasons, strict=True
        )
    }
    assert got == {
        # Bodø: "other" would hold 2 patients, so the smallest shown pattern (elective, 6)
        # is folded into it as well: other = 6 + 2 pathways.
        ("1804", EM): (8, "published"),
        ("1804", EL): (6, "secondary"),
        ("1804", OTHER): (8, "published"),
        ("1804", None): (16, "published"),
        ("0301", EM): (5, "published"),
        ("0301", EL): (5, "published"),
        ("0301", OTHER): (0, "published"),
        ("0301", None): (10, "published"),
        # Tromsø: 3 patients in all: hidden whole.
        ("1902", EM): (3, "primary"),
        ("1902", EL): (0, "secondary"),
        ("1902", OTHER): (3, "primary"),  # all of it folded
        ("1902", None): (3, "primary"),
        # The country: sums of the published municipal cells.
        (None, EM): (13, "published"),
        (None, EL): (5, "published"),
        (None, OTHER): (8, "published"),
        (None, None): (26, "published"),
    }
    assert report.hidden_municipalities == ["1902"]
    # The flow diagram draws only published cells: 13 emergency + 5 elective nationally.
    flow = flows(report, None)
    assert flow.nodes == {
        (0, "home"): 18,
        (1, "emergency_admission"): 13,
        (1, "elective_admission"): 5,
        (2, "home"): 18,
    }
    assert (flow.shown, flow.not_shown) == (18, 8)


def test_readmission_table_is_protected_per_municipality(engine: Engine, rules: RuleSet) -> None:
    load(engine, EPISODES, EVENTS, CARE)
    report = pathway_report(engine, rules, 2013)
    # All hand-made patients live in Bodø. Finished 2013 episodes of care by destination:
    # home: P2, c1, c2, d1 (readmitted), d2, e2, g1, g2, i1, j1 = 10 (1 readmitted, 7 patients);
    # institution: a1, e1 (readmitted), h1 = 3 (P1, P5, P8); f1 (died) and k1 (open) are out.
    r = report.readmissions
    cells = {k[1:]: (v, reason) for k, v, reason in zip(r.keys, r.values, r.reasons, strict=True)
             if k[0] == "1804"}  # fmt: skip
    assert {k: v for k, (v, _) in cells.items()} == {
        ("home", "ja"): 1,
        ("home", "nei"): 9,
        ("home", None): 10,
        ("institution", "ja"): 1,
        ("institution", "nei"): 2,
        ("institution", None): 3,
        (None, "ja"): 2,
        (None, "nei"): 11,
        (None, None): 13,
    }
    primary = {k for k, (_, reason) in cells.items() if reason == PRIMARY}
    assert primary == {
        ("home", "ja"),
        ("institution", "ja"),
        ("institution", "nei"),
        ("institution", None),
        (None, "ja"),
    }
    keys = [k for k in r.keys if k[0] == "1804"]
    index = {k[1:]: i for i, k in enumerate(keys)}
    lines = [
        [index[(d, None)], index[(d, "ja")], index[(d, "nei")]]
        for d in ("home", "institution", None)
    ] + [
        [index[(None, x)], index[("home", x)], index[("institution", x)]]
        for x in ("ja", "nei", None)
    ]
    values = [cells[k[1:]][0] for k in keys]
    reasons = [PUBLISHED if cells[k[1:]][1] == PUBLISHED else SECONDARY for k in keys]
    for i, (low, high) in attack_intervals(values, lines, reasons).items():
        if 1 <= values[i] < 5:
            assert high - low >= 5 - 1e-6
    # The country sums the municipalities published in full: none here.
    assert report.readmission_municipalities == (0, 1)
    assert r.cell(municipality=None, destination=None, readmitted=None) == (0, "published")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=12), min_size=4, max_size=4),
        min_size=1,
        max_size=4,
    )
)
def test_suppressed_counts_cannot_be_recovered_from_published_totals(
    grid: list[list[int]],
) -> None:
    """grid[m][p]: pathways of municipality m with pattern p, one patient each (p = 3: other).

    The attacker knows every published municipal cell and every line (total = shown patterns
    + other, other = the folded patterns); the national figures are sums of published cells and
    add no line. Every folded count of 1–4 must keep an interval at least 5 wide.
    """
    threshold = 5
    patterns = ["a", "b", "c", OTHER]
    values: list[int] = []
    reasons: list[int] = []
    lines: list[list[int]] = []

    def add(value: int, published: bool) -> int:
        values.append(value)
        reasons.append(PUBLISHED if published else SECONDARY)
        return len(values) - 1

    for m, row in enumerate(grid):
        cells = {
            p: (n, {f"{m}-{p}-{i}" for i in range(n)})
            for p, n in zip(patterns, row, strict=True)
            if n
        }
        fold = fold_municipality(cells, threshold)
        assert all(n >= threshold for n in fold.shown.values())
        assert fold.hidden or fold.other == 0 or fold.other >= threshold
        assert fold.total == sum(row)
        total = add(fold.total, not fold.hidden)
        other = add(fold.other, not fold.hidden)
        shown = [add(fold.shown[p], not fold.hidden) for p in fold.shown]
        folded = [add(n, False) for p, n in zip(patterns, row, strict=True)
                  if p != OTHER and p not in fold.shown]  # fmt: skip
        # "other" also holds the nationally folded pathways (pattern 3), unknown to anyone.
        national_other = add(row[3], False)
        lines.append([total, *shown, other])
        lines.append([other, *folded, national_other])
    intervals = attack_intervals(values, lines, reasons)
    for i, reason in enumerate(reasons):
        if reason != PUBLISHED and 1 <= values[i] < threshold:
            low, high = intervals[i]
            assert high - low >= threshold - 1e-6, (grid, i, values[i], low, high)


# ----------------------------------------------------------------------------- one patient


def test_patient_timeline_traces_rows(engine: Engine, rules: RuleSet) -> None:
    load(engine, EPISODES, EVENTS, CARE)
    t = patient_timeline(engine, rules, "P1")
    assert [(i.state, i.episode_ids, i.care_ids, i.pathway_no) for i in t.islands] == [
        ("emergency_admission", ("a1",), (), 0),
        ("discharge_ready", ("a1",), (), 0),
        ("short_term", (), ("m1",), 0),
        ("home", (), (), 0),
    ]
    assert t.islands[1].days == pytest.approx(3 + 3 / 24)  # 07.03 09:00 → 10.03 12:00
    assert t.municipalities == {"1804"} and t.health_trusts == {NLSH}


def test_unknown_patient_is_not_found(engine: Engine, rules: RuleSet) -> None:
    from samhandling.pathways import PatientNotFoundError

    load(engine, EPISODES, EVENTS, CARE)
    with pytest.raises(PatientNotFoundError):
        patient_timeline(engine, rules, "nobody")


# ----------------------------------------------------------------------------- rules, CLI


def test_definition_reads_and_checks_the_rules(rules: RuleSet, tmp_path: Path) -> None:
    d = pathway_definition(rules, ON)
    assert (d.end_gap_days, d.merge_gap_hours, d.readmission_min_days) == (30, 8, 1)
    assert d.states_by_priority[0] == "died" and d.states_by_priority[-1] == "home"
    assert "pathways.settings" in d.unverified
    override = tmp_path / "override.toml"
    override.write_text(
        '[[rules."pathways.care_states".values]]\nkey = "kad"\nvalid_from = 2000-01-01\n'
        'value = "hospice"\nstatus = "unverified"\nsource = "test"\n',
        "utf-8",
    )
    with pytest.raises(RuleError, match="hospice"):
        pathway_definition(rules.with_override(override), ON)


def test_cli_patterns_print_only_published_figures(tmp_path: Path) -> None:
    from samhandling.cli import app
    from samhandling.warehouse import Warehouse

    folder = tmp_path / "delivery"
    folder.mkdir()
    import pyarrow.parquet as pq

    episodes = _many(6, "1804", 1, "b") + _many(1, "1804", 2, "x")
    episodes[-1]["urgency"] = "elective"
    for row in episodes:
        row.update(drg="88", drg_type="M", drg_points=1)
    table = contract_table("episodes", episodes).drop_columns(["delivery_id"])
    pq.write_table(table, folder / "episodes.parquet")
    Warehouse(tmp_path / "wh").ingest(folder, as_of=date(2014, 6, 30))
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["forlop", "monstre", "--kommune", "1804", "--ar", "2013", "-w", str(tmp_path / "wh")],
    )
    assert result.exit_code == 0, result.output
    assert "Hjemme → Øyeblikkelig hjelp-innleggelse → Hjemme" in result.output
    lines = [re.sub(r"\s+", " ", line) for line in result.output.splitlines()]
    # "Other" (the elective pathway, 1 patient) takes in the emergency pattern (6) as well.
    assert "│ Hjemme → Øyeblikkelig hjelp-innleggelse → Hjemme │ : │" in lines
    assert "│ Andre forløp │ 7 │" in lines
    assert "│ Alle forløp │ 7 │" in lines
    assert "│ Utskrevet til hjemmet │ 7 │ 0 │ 0,0 % │" in lines
    result = runner.invoke(app, ["forlop", "pasient", "b0", "-w", str(tmp_path / "wh")])
    assert result.exit_code == 0, result.output
    assert "Øyeblikkelig hjelp-innleggelse" in result.output and "b0" in result.output
