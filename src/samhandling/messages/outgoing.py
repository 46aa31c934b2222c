"""Writing the logistics messages of one hospital stay (what a hospital and a municipality send).

:func:`stay_messages` turns the facts of a discharge-ready stay into the PLO messages that carry
them: admitted-patient notice, discharge-ready notice, withdrawal, the municipality's answer
(PLO 2.0 only: earlier versions have no answer message) and the discharged notice.
:func:`stay_reports` writes the stay's admission report (Innleggelsesrapport, from the
municipality) and discharge report (Utskrivningsrapport, from the hospital; PLO 1.5/1.6).
Message ids are derived from the stay (UUID 5), so writing the same stay twice gives the same
messages.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from samhandling.engine import make_engine
from samhandling.engine.sql import sql_string
from samhandling.errors import SamhandlingError
from samhandling.messages.plo import (
    OutgoingEvent,
    OutgoingMessage,
    OutgoingReport,
    Party,
    write_logistics,
    write_report,
)
from samhandling.rules import RuleSet
from samhandling.warehouse import Warehouse

__all__ = ["Stay", "message_id", "stay_messages", "stay_reports", "stays_from_warehouse"]


@dataclass(frozen=True)
class Stay:
    """What the messages of one stay say."""

    episode_id: str
    patient_id: str
    health_trust: str
    health_trust_name: str
    municipality: str
    municipality_name: str
    admitted_at: datetime
    admission_notified_at: datetime | None
    ready_on: date
    ready_notified_at: datetime | None
    discharged_at: datetime | None = None
    withdrawn_on: date | None = None
    answer: Literal["cannot_receive", "can_receive"] | None = None
    answered_at: datetime | None = None
    main_diagnosis: str = ""


def message_id(episode_id: str, msg_type: str) -> str:
    """The deterministic MsgId of a stay's message of one type."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"samhandling-plo:{episode_id}:{msg_type}"))


def _event(rules: RuleSet, code_list: str, code: str, at: datetime) -> OutgoingEvent:
    if code_list == "9121":
        name = rules["messages.event_codes"].keys_on(at.date())[code].value
    else:
        row = rules["messages.time_points"].keys_on(at.date())[code]
        name = row.note or row.value
    return OutgoingEvent(code_list, code, name, at)


def stay_messages(stay: Stay, *, version: str, rules: RuleSet) -> list[tuple[str, bytes]]:
    """``(file name, XML bytes)`` of every message of ``stay`` in PLO ``version``."""
    hospital = Party(stay.health_trust_name, stay.health_trust, "ENH")
    municipality = Party(f"{stay.municipality_name} kommune", stay.municipality, "LOK")
    day = datetime.combine(stay.ready_on, datetime.min.time())
    admitted = _event(rules, "9121", "1", stay.admitted_at)
    plan: list[tuple[str, datetime, Party, Party, tuple[OutgoingEvent, ...]]] = []
    if stay.admission_notified_at is not None:
        plan.append(
            ("LOG_INNLAGT", stay.admission_notified_at, hospital, municipality, (admitted,))
        )
    if stay.ready_notified_at is not None:
        plan.append(
            (
                "LOG_UTSKRIVNINGSKLAR",
                stay.ready_notified_at,
                hospital,
                municipality,
                (admitted, _event(rules, "9121", "3", day)),
            )
        )
    if stay.withdrawn_on is not None:
        withdrawn = datetime.combine(stay.withdrawn_on, datetime.min.time())
        plan.append(
            (
                "LOG_AVMELDING",
                withdrawn + timedelta(hours=10),
                hospital,
                municipality,
                (admitted, _event(rules, "9121", "3", day), _event(rules, "9121", "4", withdrawn)),
            )
        )
    if stay.answer is not None and stay.answered_at is not None and version == "2.0":
        code = "6" if stay.answer == "cannot_receive" else "7"
        plan.append(
            (
                "LOG_TILBAKEMELDING",
                stay.answered_at,
                municipality,
                hospital,
                (_event(rules, "8477", code, stay.answered_at),),
            )
        )
    if stay.discharged_at is not None:
        plan.append(
            (
                "LOG_UTSKREVET",
                stay.discharged_at,
                hospital,
                municipality,
                (_event(rules, "9121", "2", stay.discharged_at),),
            )
        )
    out: list[tuple[str, bytes]] = []
    for n, (msg_type, when, sender, receiver, events) in enumerate(plan, start=1):
        message = OutgoingMessage(
            msg_type=msg_type,
            version=version,
            msg_id=message_id(stay.episode_id, msg_type),
            gen_date=when,
            sender=sender,
            receiver=receiver,
            patient_id=stay.patient_id,
            events=events,
        )
        name = f"{stay.episode_id}-{n:02d}-{msg_type}.xml"
        out.append((name, write_logistics(message, rules)))
    return out


def stay_reports(stay: Stay, *, version: str, rules: RuleSet) -> list[tuple[str, bytes]]:
    """``(file name, XML bytes)`` of the admission and discharge reports of ``stay``.

    The admission report goes from the municipality to the hospital when the patient is admitted;
    it carries only the envelope and the sending status (the data hold nothing the municipality
    reported). The discharge report goes from the hospital to the municipality at discharge (only
    when the stay is discharged) with the admission and discharge times and the main diagnosis.
    Reports exist in PLO 1.5 and 1.6 only.
    """
    hospital = Party(stay.health_trust_name, stay.health_trust, "ENH")
    municipality = Party(f"{stay.municipality_name} kommune", stay.municipality, "LOK")
    reports = [
        OutgoingReport(
            msg_type="INNLEGGELSESRAPPORT",
            version=version,
            msg_id=message_id(stay.episode_id, "INNLEGGELSESRAPPORT"),
            gen_date=stay.admitted_at,
            sender=municipality,
            receiver=hospital,
            patient_id=stay.patient_id,
        )
    ]
    if stay.discharged_at is not None:
        reports.append(
            OutgoingReport(
                msg_type="UTSKRIVNINGSRAPPORT",
                version=version,
                msg_id=message_id(stay.episode_id, "UTSKRIVNINGSRAPPORT"),
                gen_date=stay.discharged_at,
                sender=hospital,
                receiver=municipality,
                patient_id=stay.patient_id,
                stay_events=(
                    _event(rules, "9121", "1", stay.admitted_at),
                    _event(rules, "9121", "2", stay.discharged_at),
                ),
                main_diagnosis=stay.main_diagnosis,
            )
        )
    return [
        (f"{stay.episode_id}-R{n:02d}-{report.msg_type}.xml", write_report(report, rules))
        for n, report in enumerate(reports, start=1)
    ]


@functools.cache
def _trust_names() -> dict[str, str]:
    from samhandling.refdata import health_trusts

    rows = health_trusts().select(["orgnr", "name"]).to_pylist()
    return {str(r["orgnr"]): str(r["name"]) for r in rows}


def trust_name(orgnr: str) -> str:
    """The health trust's registered name (the organisation number when unknown)."""
    return _trust_names().get(orgnr, orgnr)


@functools.cache
def _municipality_names(year: int) -> dict[str, str]:
    from samhandling.refdata import names

    try:
        return names(year)
    except SamhandlingError:
        return {}


def municipality_name(code: str, year: int) -> str:
    """The municipality's name in ``year`` (the code when unknown)."""
    return _municipality_names(year).get(code, code)


def stays_from_warehouse(warehouse: Warehouse, episode_ids: list[str]) -> list[Stay]:
    """The discharge-ready stays ``episode_ids`` as the warehouse holds them (episode + events).

    A message is written for each time point the stay has: the admission notice, the
    discharge-ready notice (with the first ``discharge_ready`` day, else the stay's
    ``discharge_ready_at``), the withdrawal, the municipality's answer and the discharge.
    """
    if not episode_ids:
        return []
    values = ", ".join(f"({sql_string(e)})" for e in sorted(set(episode_ids)))
    with make_engine("duckdb") as engine:
        warehouse.register(engine)
        rows = engine.query(
            f"""
SELECT e.episode_id, e.patient_id, e.health_trust, e.municipality, e.admitted_at,
    e.discharged_at, e.main_diagnosis, CAST(e.discharge_ready_at AS DATE) AS ready_at_stay,
    MIN(CASE WHEN v.type = 'admission_notified' THEN v."at" END) AS admission_notified_at,
    MIN(CASE WHEN v.type = 'discharge_ready' THEN v."at" END) AS ready_at,
    MIN(CASE WHEN v.type = 'discharge_ready_notified' THEN v."at" END) AS ready_notified_at,
    MIN(CASE WHEN v.type = 'withdrawn' THEN v."at" END) AS withdrawn_at,
    MIN(CASE WHEN v.type = 'cannot_receive' THEN v."at" END) AS cannot_at,
    MIN(CASE WHEN v.type = 'can_receive' THEN v."at" END) AS can_at
FROM episodes AS e JOIN (VALUES {values}) AS w(id) ON w.id = e.episode_id
LEFT JOIN events AS v ON v.episode_id = e.episode_id
WHERE e.care_level = 'inpatient'
GROUP BY ALL
ORDER BY e.episode_id
"""
        ).to_pylist()
    stays: list[Stay] = []
    for r in rows:
        ready = r["ready_at"].date() if r["ready_at"] is not None else r["ready_at_stay"]
        if ready is None:
            continue
        answer: Literal["cannot_receive", "can_receive"] | None = None
        answered = None
        if r["cannot_at"] is not None:
            answer, answered = "cannot_receive", r["cannot_at"]
        elif r["can_at"] is not None:
            answer, answered = "can_receive", r["can_at"]
        admitted: datetime = r["admitted_at"]
        stays.append(
            Stay(
                episode_id=r["episode_id"],
                patient_id=r["patient_id"],
                health_trust=r["health_trust"],
                health_trust_name=trust_name(r["health_trust"]),
                municipality=r["municipality"],
                municipality_name=municipality_name(r["municipality"], admitted.year),
                admitted_at=admitted,
                admission_notified_at=r["admission_notified_at"],
                ready_on=ready,
                ready_notified_at=r["ready_notified_at"],
                discharged_at=r["discharged_at"],
                withdrawn_on=r["withdrawn_at"].date() if r["withdrawn_at"] else None,
                answer=answer,
                answered_at=answered,
                main_diagnosis=r["main_diagnosis"] or "",
            )
        )
    return stays
