"""Demo: PLO messages for a sample of synthetic stays, written to a demo inbox and read back.

The synthetic discharge-ready stays already carry their time points (``events`` from the NPR
extract), and a second copy of the same time points through messages would open a second
discharge-ready period. So the demo takes the first :data:`SAMPLE` somatic inpatient stays of the
latest year that have no time points and last at least four days, and gives each a complete
message flow in PLO 1.6 (the version in use in that period): admitted-patient notice two hours
after admission, discharge-ready two days after the admission day with the notice at 11:00 the
same day, and the discharged notice. The municipality's answer exists only in PLO 2.0 and is not
sent, so each stay is billed from the discharge-ready day to the discharge day. Running the demo
again finds its messages in the ledger and changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from samhandling.engine import make_engine
from samhandling.formatting import money, number
from samhandling.messages.inbox import Inbox, receive
from samhandling.messages.outgoing import Stay, municipality_name, stay_messages, trust_name
from samhandling.rules import load_rules
from samhandling.store import Store
from samhandling.warehouse import Warehouse

__all__ = ["DEMO_SUBMITTER", "SAMPLE", "seed_demo"]

SAMPLE = 12
DEMO_SUBMITTER = "demo"
VERSION = "1.6"


def _candidates(warehouse: Warehouse) -> list[Stay]:
    with make_engine("duckdb") as engine:
        warehouse.register(engine)
        rows = engine.query(
            f"""
WITH latest AS (SELECT MAX(EXTRACT(YEAR FROM admitted_at)) AS y FROM episodes)
SELECT e.episode_id, e.patient_id, e.health_trust, e.municipality, e.admitted_at,
    e.discharged_at
FROM episodes AS e, latest
WHERE e.care_level = 'inpatient' AND e.sector = 'somatic'
    AND EXTRACT(YEAR FROM e.admitted_at) = latest.y
    AND e.discharge_ready_at IS NULL AND e.discharged_at IS NOT NULL
    AND DATE_DIFF('day', CAST(e.admitted_at AS DATE), CAST(e.discharged_at AS DATE)) >= 4
    AND CAST(e.discharged_at AS DATE) < DATE '{datetime.now().date().isoformat()}'
    AND NOT EXISTS (SELECT 1 FROM events AS v WHERE v.episode_id = e.episode_id)
ORDER BY e.episode_id
LIMIT {SAMPLE}
"""
        ).to_pylist()
    stays: list[Stay] = []
    for r in rows:
        admitted: datetime = r["admitted_at"]
        ready = admitted.date() + timedelta(days=2)
        stays.append(
            Stay(
                episode_id=r["episode_id"],
                patient_id=r["patient_id"],
                health_trust=r["health_trust"],
                health_trust_name=trust_name(r["health_trust"]),
                municipality=r["municipality"],
                municipality_name=municipality_name(r["municipality"], admitted.year),
                admitted_at=admitted,
                admission_notified_at=admitted + timedelta(hours=2),
                ready_on=ready,
                ready_notified_at=datetime.combine(ready, datetime.min.time())
                + timedelta(hours=11),
                discharged_at=r["discharged_at"],
            )
        )
    return stays


def seed_demo(warehouse: Warehouse, store: Store) -> list[str]:
    """Write and read back the demo messages; Norwegian lines to print."""
    del store  # the inbox lives beside the warehouse; nothing of it goes in the store
    inbox = Inbox(warehouse)
    done = [e for e in inbox.entries() if e.submitted_by == DEMO_SUBMITTER]
    if done:
        return [
            f"Meldinger (PLO): demoens {number(len(done))} meldinger er allerede lest "
            f"({inbox.path})."
        ]
    rules = load_rules()
    stays = _candidates(warehouse)
    if not stays:
        return ["Meldinger (PLO): fant ingen opphold å lage demomeldinger for."]
    folder = inbox.path / "demo-innboks"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[tuple[str, bytes]] = []
    for stay in stays:
        for name, data in stay_messages(stay, version=VERSION, rules=rules):
            (folder / name).write_bytes(data)
            items.append((name, data))
    result = receive(warehouse, items, rules=rules, submitted_by=DEMO_SUBMITTER)
    rate_year = max(s.admitted_at.year for s in stays)
    lines = [
        f"Meldinger (PLO {VERSION}): skrev {number(len(items))} meldinger for "
        f"{number(len(stays))} opphold til {folder}",
        f"  lest tilbake: {number(result.accepted)} godtatt, {number(result.rejected)} avvist, "
        f"{number(result.events)} tidspunkter lastet"
        + (f" (leveranse {result.ingest.delivery_id})" if result.ingest else ""),
        f"  kvitteringer i {inbox.path / 'receipts'}; døgnpris {rate_year}: "
        + money(rules["discharge_ready.daily_rate"].value_on(stays[0].ready_on).decimal),
    ]
    return lines
