"""Demo units for the synthetic warehouse: larger municipalities and a few inter-municipal units.

Idempotent: a unit whose name is already registered is left as it is. The demo warehouse is a
sample of the population (5 % by default), so real bed counts would look nearly empty: each
unit's beds are sized from the synthetic ``kad`` nights of the municipalities it serves in the
latest year with data, at a planned occupancy that differs between units (seed 003 reports
occupancy "from very low to nearly full"), with at least one bed. One unit gets more beds from
1 July 2014 (a bed-count change); units opening in 2015–2016 have no data in a 2009–2014 demo.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from samhandling.engine import make_engine
from samhandling.registries.emergency_beds.units import (
    UnitInput,
    change_beds,
    list_units,
    register_unit,
)
from samhandling.rules import load_rules
from samhandling.store import Store
from samhandling.warehouse import Warehouse

__all__ = ["DEMO_UNITS", "seed_demo"]

_GROUPS = ["known_condition_worsening", "acute_worsening_known_cause", "observation_treatment"]

# name, host, participants, health trust, opened, applied for the grant, planned occupancy
DEMO_UNITS: tuple[tuple[str, str, tuple[str, ...], str, date, date | None, str], ...] = (
    (
        "Oslo kommunale legevakt, KAD",
        "0301",
        (),
        "993467049",
        date(2012, 9, 1),
        date(2012, 6, 15),
        "0.90",
    ),
    ("Bergen legevakt, KAD", "1201", (), "983974724", date(2013, 1, 1), date(2012, 11, 1), "0.70"),
    (
        "Trondheim helse- og velferdssenter, KAD",
        "1601",
        (),
        "883974832",
        date(2012, 10, 1),
        date(2012, 6, 20),
        "0.55",
    ),
    ("Stavanger ØHD", "1103", (), "983974678", date(2014, 1, 1), date(2013, 2, 20), "0.40"),
    ("Bærum ØHD", "0219", (), "894166762", date(2013, 4, 1), date(2013, 4, 10), "0.25"),
    ("Tromsø KAD", "1902", (), "983974899", date(2014, 3, 1), date(2014, 2, 1), "0.60"),
    ("Bodø ØHD", "1804", (), "983974910", date(2013, 5, 15), date(2013, 2, 1), "0.30"),
    ("Kristiansand ØHD", "1001", (), "983975240", date(2012, 11, 1), date(2012, 6, 1), "0.80"),
    ("Drammen KAD", "0602", (), "894166762", date(2015, 1, 1), date(2014, 12, 1), "0.50"),
    (
        "Salten interkommunale ØHD",
        "1841",
        ("1839", "1840", "1845"),
        "983974910",
        date(2013, 9, 1),
        date(2013, 2, 25),
        "0.15",
    ),
    (
        "Kongsvingerregionen ØHD",
        "0402",
        ("0418", "0419", "0420", "0423"),
        "983971709",
        date(2012, 12, 1),
        date(2012, 6, 30),
        "0.45",
    ),
    ("Nedre Glomma ØHD", "0106", ("0101",), "983971768", date(2016, 1, 1), None, "0.50"),
)
# Unit that gets more beds mid-year, and from when.
_EXTRA_BEDS = ("Bergen legevakt, KAD", date(2014, 7, 1))


def _nights_per_year(warehouse: Warehouse) -> tuple[int | None, dict[str, int]]:
    with make_engine() as engine:
        warehouse.register(engine)
        if not engine.has_relation("municipal_care"):
            return None, {}
        got = engine.query(
            "SELECT CAST(EXTRACT(YEAR FROM c.start) AS INTEGER) AS year, c.municipality, "
            "SUM(DATE_DIFF('day', c.start, COALESCE(c.\"end\", c.start))) AS nights "
            "FROM municipal_care AS c WHERE c.service = 'kad' GROUP BY 1, 2"
        ).to_pylist()
    if not got:
        return None, {}
    last = max(int(r["year"]) for r in got)
    return last, {str(r["municipality"]): int(r["nights"] or 0) for r in got if r["year"] == last}


def seed_demo(warehouse: Warehouse, store: Store) -> list[str]:
    """Register the demo units that are not there yet; Norwegian lines saying what was done."""
    rules = load_rules()
    known = {u.name for u in list_units(store)}
    missing = [u for u in DEMO_UNITS if u[0] not in known]
    if not missing:
        return [f"KAD-enheter: {len(DEMO_UNITS)} demoenheter finnes allerede."]
    _year, nights = _nights_per_year(warehouse)
    added = 0
    for name, host, participants, trust, opened, applied, planned in missing:
        used = sum(nights.get(m, 0) for m in (host, *participants))
        beds = int(
            max(Decimal(1), (Decimal(used) / (365 * Decimal(planned)))).to_integral_value(
                ROUND_HALF_UP
            )
        )
        unit = register_unit(
            store,
            rules,
            UnitInput(
                name=name,
                host_municipality=host,
                health_trust=trust,
                opened_on=opened,
                beds=beds,
                participants=list(participants),
                patient_groups=_GROUPS,
                applied_on=applied,
            ),
            by="demo",
        )
        if name == _EXTRA_BEDS[0]:
            change_beds(store, unit.id, _EXTRA_BEDS[1], beds + max(1, beds // 2), by="demo")
        added += 1
    return [f"KAD-enheter: registrerte {added} demoenheter (sengetall tilpasset utvalget)."]
