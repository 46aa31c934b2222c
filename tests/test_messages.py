"""PLO messages and AppRec receipts: reading every published example, each error, the round trip
XML → events → discharge-ready invoice, what we write, golden files and idempotence.

Hand-computed round trip (rule table ``discharge_ready.daily_rate``: 2017 4 622 kr, confirmed):
stay R1 of patient P100 (Bodø 1804, Nordlandssykehuset 983974910) admitted 03.03.2017 08:00,
discharged 12.03.2017 10:00. Messages: admitted-patient notice 03.03 09:30 (1,5 hours after
admission, within 24), discharge-ready notice 05.03 11:00 with discharge-ready day 05.03, and in
PLO 2.0 the municipality's answer "cannot receive" 05.03 15:00. Billable days 5–11 March = 7
days × 4 622 kr = 32 354,00 kr. In PLO 1.6 there is no answer message ("did not answer"), which
bills the same 7 days.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from typer.testing import CliRunner

from samhandling.cli import app as cli_app
from samhandling.engine import DuckDBEngine, Engine
from samhandling.instruments import discharge_ready_invoices
from samhandling.messages import demo as messages_demo
from samhandling.messages.addresses import ADDRESS_FILE, book_text
from samhandling.messages.apprec import ReceiptError, write_apprec
from samhandling.messages.inbox import Inbox, receive
from samhandling.messages.outgoing import Stay, stay_messages, stay_reports
from samhandling.messages.plo import (
    OutgoingEvent,
    OutgoingMessage,
    Party,
    inspect_message,
    write_logistics,
)
from samhandling.messages.schemas import parse_xml, schema_dir, validation_errors
from samhandling.rules import load_rules
from samhandling.warehouse import Warehouse

GOLDEN = Path(__file__).parent / "golden" / "messages"
EXAMPLES = GOLDEN / "examples"
UPDATE = os.environ.get("SAMHANDLING_UPDATE_GOLDEN") == "1"
RULES = load_rules()
APPREC_10 = "http://www.kith.no/xmlstds/apprec/2004-11-21"
APPREC_11 = "http://www.kith.no/xmlstds/apprec/2012-02-15"
HEADER = (
    "episode_id,patient_id,birth_year,sex,municipality,health_trust,provider_type,sector,"
    "care_level,urgency,admitted_at,discharged_at,main_diagnosis,drg,drg_type,drg_points\n"
)


def sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def make_warehouse(base: Path, rows: list[str]) -> Warehouse:
    folder = base / "leveranse"
    folder.mkdir(parents=True)
    (folder / "episodes.csv").write_text(HEADER + "".join(r + "\n" for r in rows), "utf-8")
    wh = Warehouse(base / "lager")
    report = wh.ingest(folder, as_of=date(2024, 1, 1))
    assert report.rejected == 0
    return wh


def events_of(wh: Warehouse) -> list[dict[str, Any]]:
    with DuckDBEngine() as engine:
        wh.register(engine)
        rows: list[dict[str, Any]] = engine.query(
            'SELECT event_id, episode_id, type, "at", source FROM events ORDER BY event_id'
        ).to_pylist()
    return rows


def apprec(raw: bytes) -> tuple[str, str, list[str]]:
    """(namespace, status code, error codes) of a receipt; asserts it validates."""
    tree = parse_xml(raw)
    ns = etree.QName(tree.getroot()).namespace or ""
    schema = "AppRec-v1-2004-11-21.xsd" if ns == APPREC_10 else "AppRec-v1.1.xsd"
    assert validation_errors(tree, [schema]) == []
    status = tree.getroot().find(f"{{{ns}}}Status")
    assert status is not None
    codes = [e.get("V", "") for e in tree.getroot().findall(f"{{{ns}}}Error")]
    return ns, status.get("V", ""), codes


# ------------------------------------------------------------------------ published examples


def example_files() -> list[Path]:
    return sorted(EXAMPLES.rglob("*.xml"))


def reading(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    info = inspect_message(raw, RULES, sha256=sha(raw))
    return {
        "kind": info.kind,
        "type": info.msg_type,
        "version": info.version,
        "status": info.status,
        "application": info.application,
        "error": info.error,
        "events": [[e.code_list, e.code, e.at.isoformat(), e.estimate] for e in info.events],
    }


def test_every_published_example_is_read_as_in_the_golden_file() -> None:
    golden = GOLDEN / "examples.json"
    got = {str(p.relative_to(EXAMPLES)): reading(p) for p in example_files()}
    assert len(got) == 52
    if UPDATE:
        golden.write_text(json.dumps(got, ensure_ascii=False, indent=1) + "\n", "utf-8")
    assert got == json.loads(golden.read_text("utf-8"))


def test_logistics_examples_field_by_field() -> None:
    base = EXAMPLES / "plo" / "1_6" / "pasientlogistikk_1_6_mottak"
    ready = reading(base / "Pasientlogistikk_Utskrivningsklar_pasient_v1-6_Ny.xml")
    assert ready["type"] == "LOG_UTSKRIVNINGSKLAR" and ready["version"] == "1.6"
    assert ready["status"] == "N" and ready["application"] == "MeldingUtskrivningsklarPasient"
    assert ready["events"] == [
        ["9121", "1", "2018-01-29T10:00:00", False],
        ["9121", "3", "2018-01-31T00:00:00", True],
    ]
    withdrawn = reading(base / "Pasientlogistikk_Avmelding_av_utskrivningsklar_pasient_v1-6_Ny.xml")
    assert withdrawn["events"][-1] == ["9121", "4", "2018-01-31T00:00:00", False]
    dead = reading(base / "Pasientlogistikk_Orientering_om_dodsfall_v1-6_Kansellering.xml")
    assert (dead["type"], dead["status"], dead["events"][0][:2]) == ("LOG_DOD", "C", ["9121", "13"])
    old = reading(
        EXAMPLES
        / "plo"
        / "1_5"
        / "Pasientlogistikk_dodsfall-v1_5"
        / "Pasientlogistikk_Melding_om_utskrevet_pasient_v1-5_Ny.xml"
    )
    assert (old["version"], old["events"]) == ("1.5", [["9121", "2", "2018-02-01T00:00:00", False]])


def test_every_plo_1x_example_and_dialog_validates_and_the_2_0_drafts_are_refused() -> None:
    for path in example_files():
        got = reading(path)
        rel = str(path.relative_to(EXAMPLES))
        if rel.startswith("plo/v2.0/"):
            # 2015 draft namespaces and e-resept payloads: not the final PLO 2.0 schemas.
            assert got["error"] == "T10", rel
        else:
            assert got["error"] is None, rel
    raw = (EXAMPLES / "plo" / "v2.0" / "Grunncase.xml").read_bytes()
    info = inspect_message(raw, RULES, sha256=sha(raw))
    assert "http://www.kith.no/xmlstds/po/Sammenfatning/2015-xx-xx" in info.reason


@pytest.fixture
def example_warehouse(tmp_path: Path) -> Warehouse:
    # The examples' fictitious patients, each with a stay covering their messages' dates; the
    # inbox serves the examples' receivers (their address book).
    receivers = [
        inspect_message(p.read_bytes(), RULES, sha256="").receiver for p in example_files()
    ]
    (tmp_path / "lager" / "meldinger").mkdir(parents=True)
    (tmp_path / "lager" / "meldinger" / ADDRESS_FILE).write_text(
        book_text(receivers, reference=True), "utf-8"
    )
    return make_warehouse(
        tmp_path,
        [
            "X1,15076500565,1965,1,0438,883974832,public,somatic,inpatient,emergency,"
            "2018-01-17 08:00,2018-02-20 18:00,S720,211,K,2.000",
            "X2,13116900216,1969,2,5001,883974832,public,somatic,inpatient,emergency,"
            "2018-01-24 08:00,2018-02-02 12:00,A46,277,M,1.000",
            "X3,13116900216,1969,2,1601,883974832,public,somatic,inpatient,emergency,"
            "2012-09-04 14:00,2012-09-07 10:00,A46,277,M,1.000",
            "X4,12057900499,1979,1,5001,883974832,public,somatic,inpatient,emergency,"
            "2018-01-10 08:00,2018-01-26 12:00,I21,121,M,1.500",
        ],
    )


def test_every_1_6_example_is_received_with_the_right_time_points(
    example_warehouse: Warehouse,
) -> None:
    folder = EXAMPLES / "plo" / "1_6"
    items = [(str(p.relative_to(folder)), p.read_bytes()) for p in sorted(folder.rglob("*.xml"))]
    result = receive(example_warehouse, items, as_of=date(2024, 1, 1))
    assert result.rejected == 0 and result.accepted == 22
    by_source = {r.source: r for r in result.received}
    notice = by_source[
        "helseopplysninger_1_6_mottak/Helseopplysninger_Varsel_om_innlagt_pasient_v1-6_Ny.xml"
    ]
    assert notice.event_types == ["admission_notified"] and notice.episode_id == "X4"
    assert by_source[
        "pasientlogistikk_1_6_mottak/Pasientlogistikk_Utskrivningsklar_pasient_v1-6_Ny.xml"
    ].event_types == ["discharge_ready_notified", "discharge_ready"]
    # The examples cancel their admitted-patient notice (Pasientlogistikk_Innlagt_pasient_
    # Kansellering, same sender, patient and type): no admission_notified for X1. The notice of
    # admission to X4 is changed twice (Helseopplysninger Endring1, Endring2, same
    # conversation): the latest, Endring2 of 15.01 10:50:12, replaces it.
    rows = events_of(example_warehouse)
    assert sorted((r["episode_id"], r["type"], r["at"]) for r in rows) == [
        ("X1", "discharge_ready", datetime(2018, 1, 31)),
        ("X1", "discharge_ready_notified", datetime(2018, 1, 31, 10, 20, 11)),
        ("X1", "withdrawn", datetime(2018, 1, 31)),
        ("X4", "admission_notified", datetime(2018, 1, 15, 10, 50, 12)),
    ]
    assert {r["source"] for r in rows} == {"plo"}
    # Every message got a receipt: OK, AppRec 1.1 for PLO 1.6.
    for entry in result.received:
        ns, status, codes = apprec(result.receipts[entry.received_id])
        assert (ns, status, codes) == (APPREC_11, "1", [])


def test_the_1_5_examples_are_answered_with_apprec_1_0(example_warehouse: Warehouse) -> None:
    folder = EXAMPLES / "plo" / "1_5"
    items = [(p.name, p.read_bytes()) for p in sorted(folder.rglob("*.xml"))]
    result = receive(example_warehouse, items, as_of=date(2024, 1, 1))
    assert result.accepted == 22
    assert {apprec(r)[0] for r in result.receipts.values()} == {APPREC_10}


def test_a_received_apprec_is_recorded_and_not_answered(example_warehouse: Warehouse) -> None:
    raw = (EXAMPLES / "NPRbehandlerkravmelding" / "apprec-eksempel.xml").read_bytes()
    result = receive(example_warehouse, [("kvittering.xml", raw)])
    entry = result.received[0]
    assert (entry.kind, entry.accepted, entry.answered, result.receipts) == (
        "apprec",
        True,
        False,
        {},
    )
    assert entry.msg_id == "fe6225205b3d3049e5f600a44a34ca77"


# ------------------------------------------------------------------------------------ errors

VALID = (
    (EXAMPLES / "plo" / "1_6" / "pasientlogistikk_1_6_mottak")
    .joinpath("Pasientlogistikk_Utskrivningsklar_pasient_v1-6_Ny.xml")
    .read_bytes()
)


@pytest.mark.parametrize(
    ("name", "raw", "code", "ns", "reason"),
    [
        ("malformed", VALID[:-40], "T01", APPREC_10, "ikke gyldig XML"),
        (
            "invalid",
            VALID.replace(b"<Anslag>true</Anslag>", b""),
            "T02",
            APPREC_11,
            "validerer ikke",
        ),
        (
            "unknown_type",
            VALID.replace(b'V="LOG_UTSKRIVNINGSKLAR"', b'V="LOG_UKJENT"'),
            "T10",
            APPREC_11,
            "LOG_UKJENT",
        ),
        (
            "unknown_patient",
            VALID.replace(b"<Id>15076500565</Id>", b"<Id>13116800114</Id>"),
            "E35",
            APPREC_11,
            "13116800114 finnes ikke",
        ),
        (
            "no_stay",
            VALID.replace(b"2018-01-29T10:00:00", b"2017-06-01T10:00:00"),
            "E35",
            APPREC_11,
            "Fant ikke noe sykehusopphold",
        ),
    ],
)
def test_each_error_gives_a_rejecting_apprec_and_keeps_the_raw_message(  # noqa: PLR0917
    example_warehouse: Warehouse, name: str, raw: bytes, code: str, ns: str, reason: str
) -> None:
    result = receive(example_warehouse, [(f"{name}.xml", raw)], as_of=date(2024, 1, 1))
    entry = result.received[0]
    assert not entry.accepted and entry.error_code == code and reason in entry.reason
    got_ns, status, codes = apprec(result.receipts[entry.received_id])
    assert (got_ns, status, codes[0]) == (ns, "2", code)
    assert codes[1:] == (["T02"] * len(entry.details) if code == "T02" else [])
    inbox = Inbox(example_warehouse)
    assert inbox.raw_path(entry).read_bytes() == raw
    assert inbox.receipt_path(entry).read_bytes() == result.receipts[entry.received_id]
    assert events_of(example_warehouse) == []


def test_a_duplicate_message_id_is_rejected_and_applied_once(
    example_warehouse: Warehouse,
) -> None:
    first = receive(example_warehouse, [("a.xml", VALID)], as_of=date(2024, 1, 1))
    assert first.accepted == 1 and first.events == 2
    # Same id again, also with other bytes (a resend with a changed comment).
    again = receive(
        example_warehouse,
        [("b.xml", VALID), ("c.xml", VALID.replace(b"<!-- -->", b"<!-- x -->"))],
        as_of=date(2024, 1, 1),
    )
    assert [(r.error_code, r.accepted) for r in again.received] == [("E10", False)] * 2
    assert "M000001" in again.received[0].reason
    assert apprec(again.receipts["M000002"]) == (APPREC_11, "2", ["E10"])
    assert len(events_of(example_warehouse)) == 2
    assert len(Inbox(example_warehouse).entries()) == 3
    # Two copies in one batch: the second is the duplicate. The message itself has another
    # MsgId but the same content as a.xml (receiver and copy receiver at one organisation, case
    # 20 of the acceptance suites): accepted and processed once; the two are one chain whose
    # latest (same GenDate: the larger MsgId, d.xml) gives the time points.
    other = VALID.replace(b"79c55ed0-0692", b"79c55ed0-0693")
    both = receive(example_warehouse, [("d.xml", other), ("e.xml", other)])
    assert [r.error_code for r in both.received] == [None, "E10"]
    assert "samme innhold som mottak M000001" in both.received[0].reason
    rows = events_of(example_warehouse)
    assert sorted((r["event_id"][:17], r["type"]) for r in rows) == [
        ("plo-79c55ed0-0693", "discharge_ready"),
        ("plo-79c55ed0-0693", "discharge_ready_notified"),
    ]
    # Rejected messages do not count as received: the fixed message with the id of a message
    # that was rejected (unknown patient) is accepted.
    bad = VALID.replace(b"79c55ed0-0692", b"79c55ed0-0694").replace(
        b"<Id>15076500565</Id>", b"<Id>13116800114</Id>"
    )
    fixed = VALID.replace(b"79c55ed0-0692", b"79c55ed0-0694").replace(b"2018-01-31", b"2018-02-01")
    first_bad, then_fixed = (
        receive(example_warehouse, [(n, m)]) for n, m in (("f", bad), ("g", fixed))
    )
    assert first_bad.received[0].error_code == "E35"
    assert then_fixed.received[0].accepted


# ------------------------------------------------------------------------ round trip, writing

R1 = Stay(
    episode_id="R1",
    patient_id="P100",
    health_trust="983974910",
    health_trust_name="NORDLANDSSYKEHUSET HF",
    municipality="1804",
    municipality_name="Bodø",
    admitted_at=datetime(2017, 3, 3, 8),
    admission_notified_at=datetime(2017, 3, 3, 9, 30),
    ready_on=date(2017, 3, 5),
    ready_notified_at=datetime(2017, 3, 5, 11),
    discharged_at=datetime(2017, 3, 12, 10),
    answer="cannot_receive",
    answered_at=datetime(2017, 3, 5, 15),
)
R1_ROW = (
    "R1,P100,1940,2,1804,983974910,public,somatic,inpatient,emergency,"
    "2017-03-03 08:00,2017-03-12 10:00,J441,88,M,1.000"
)


@pytest.mark.parametrize("version", ["1.6", "2.0"])
def test_round_trip_xml_events_invoice(tmp_path: Path, engine: Engine, version: str) -> None:
    wh = make_warehouse(tmp_path, [R1_ROW])
    messages = stay_messages(R1, version=version, rules=RULES)
    assert [n.split("-", 2)[2] for n, _ in messages] == [
        "LOG_INNLAGT.xml",
        "LOG_UTSKRIVNINGSKLAR.xml",
        *(["LOG_TILBAKEMELDING.xml"] if version == "2.0" else []),
        "LOG_UTSKREVET.xml",
    ]
    result = receive(wh, messages, as_of=date(2024, 1, 1))
    assert result.rejected == 0
    wh.register(engine)
    invoices = discharge_ready_invoices(engine, RULES).to_pylist()
    assert len(invoices) == 1
    inv = invoices[0]
    assert (inv["health_trust"], inv["paying_municipality"], inv["invoice_month"]) == (
        "983974910",
        "1804",
        date(2017, 3, 1),
    )
    assert inv["days"] == 7
    assert inv["amount"] == Decimal("32354.00")  # 7 × 4 622 kr


def test_what_we_write_validates_for_every_version_and_type() -> None:
    stay = replace(R1, withdrawn_on=date(2017, 3, 8))
    seen: set[tuple[str, str]] = set()
    for version in ("1.5", "1.6", "2.0"):
        for name, raw in stay_messages(stay, version=version, rules=RULES):
            info = inspect_message(raw, RULES, sha256=sha(raw))
            assert info.error is None, (version, name, info.reason, info.details)
            assert info.version == version and info.patient_id == "P100"
            seen.add((version, info.msg_type))
    assert ("2.0", "LOG_TILBAKEMELDING") in seen and ("1.5", "LOG_AVMELDING") in seen
    assert len(seen) == 4 + 4 + 5
    # Orientering om dødsfall (not part of a stay's flow above) in every version.
    for version in ("1.5", "1.6", "2.0"):
        raw = write_logistics(
            OutgoingMessage(
                msg_type="LOG_DOD",
                version=version,
                msg_id=f"dod-{version}",
                gen_date=datetime(2017, 3, 9, 14),
                sender=Party("NORDLANDSSYKEHUSET HF", "983974910", "ENH"),
                receiver=Party("Bodø kommune", "1804", "LOK"),
                patient_id="P100",
                events=(OutgoingEvent("9121", "13", "Pasienten er død", datetime(2017, 3, 9)),),
            ),
            RULES,
        )
        info = inspect_message(raw, RULES, sha256=sha(raw))
        assert (info.error, info.application, info.events[0].code) == (
            None,
            "OrienteringOmDod",
            "13",
        )


R1_REPORTED = replace(R1, main_diagnosis="J44.1")


@pytest.mark.parametrize("version", ["1.5", "1.6"])
def test_written_reports_validate_and_are_read_back(version: str) -> None:
    reports = stay_reports(R1_REPORTED, version=version, rules=RULES)
    assert [name for name, _ in reports] == [
        "R1-R01-INNLEGGELSESRAPPORT.xml",
        "R1-R02-UTSKRIVNINGSRAPPORT.xml",
    ]
    (_, admission), (_, discharge) = reports
    payload = {"1.5": "2009-06-30", "1.6": "2012-04-01"}[version]
    for raw, schema in (
        (admission, f"Innleggelsesrapport-v{version}.xsd"),
        (discharge, f"TverrfagligEpikrise-v{version}.xsd"),
    ):
        assert validation_errors(parse_xml(raw), ["MsgHead-v1_2.xsd", schema]) == []
    info = inspect_message(admission, RULES, sha256=sha(admission))
    assert (info.error, info.msg_type, info.version, info.patient_id) == (
        None,
        "INNLEGGELSESRAPPORT",
        version,
        "P100",
    )
    assert info.namespaces == [f"http://www.kith.no/xmlstds/po/Innleggelsesrapport/{payload}"]
    assert (info.sender.ident, info.receiver.ident, info.status) == ("1804", "983974910", "N")
    assert info.sender.name == "Bodø kommune" and info.events == []
    assert info.gen_date == datetime(2017, 3, 3, 8)
    info = inspect_message(discharge, RULES, sha256=sha(discharge))
    assert (info.error, info.msg_type, info.version) == (None, "UTSKRIVNINGSRAPPORT", version)
    assert info.namespaces == [f"http://www.kith.no/xmlstds/po/TverrfagligEpikrise/{payload}"]
    assert (info.sender.ident, info.receiver.ident) == ("983974910", "1804")
    assert [(e.application, e.code_list, e.code, e.at) for e in info.events] == [
        ("OpplysningOpphold", "9121", "1", datetime(2017, 3, 3, 8)),
        ("OpplysningOpphold", "9121", "2", datetime(2017, 3, 12, 10)),
    ]
    root = parse_xml(discharge).getroot()
    po = f"{{http://www.kith.no/xmlstds/po/poKomponent/{payload}}}"
    kind = root.find(f".//{po}TypeInnhold")
    assert (kind.get("V"), kind.get("DN")) == ("11", "Utskrivningsrapport")
    diagnosis = root.find(f".//{po}MedisinskDiagnose")
    assert diagnosis.findtext(f"{po}Hoveddiagnose") == "true"
    assert diagnosis.find(f"{po}Diagnosekode").attrib == {
        "V": "J441",
        "S": "2.16.578.1.12.4.1.1.7110",
    }
    # Nothing clinical beyond what the data hold: no free text, no other sections.
    assert [
        etree.QName(c).localname for c in root.find(f".//{po}InformasjonOmForsendelsen").getparent()
    ] == [
        "InformasjonOmForsendelsen",
        "TypeInnholdIMelding",
        "OpplysningOpphold",
        "OpplysningOpphold",
        "InfoMedisinskDiagnose",
    ]
    assert root.find(f".//{po}DiagnoseBeskrivelse") is None


def test_reports_follow_the_stay_and_exist_only_in_plo_1x() -> None:
    admitted_only = replace(R1_REPORTED, discharged_at=None)
    names = [n for n, _ in stay_reports(admitted_only, version="1.6", rules=RULES)]
    assert names == ["R1-R01-INNLEGGELSESRAPPORT.xml"]
    without_diagnosis = replace(R1, main_diagnosis="")
    (_, raw) = stay_reports(without_diagnosis, version="1.6", rules=RULES)[1]
    assert inspect_message(raw, RULES, sha256=sha(raw)).error is None
    assert b"InfoMedisinskDiagnose" not in raw
    with pytest.raises(ValueError, match=r"PLO 1\.5 og 1\.6"):
        stay_reports(R1_REPORTED, version="2.0", rules=RULES)


def test_received_reports_are_accepted_and_give_no_time_points(tmp_path: Path) -> None:
    wh = make_warehouse(tmp_path, [R1_ROW])
    reports = stay_reports(R1_REPORTED, version="1.6", rules=RULES)
    result = receive(wh, reports, as_of=date(2024, 1, 1))
    assert (result.accepted, result.rejected, result.events) == (2, 0, 0)
    assert [r.msg_type for r in result.received] == ["INNLEGGELSESRAPPORT", "UTSKRIVNINGSRAPPORT"]
    assert events_of(wh) == []


def test_written_messages_and_receipts_match_the_golden_files() -> None:
    folder = GOLDEN / "written"
    produced: dict[str, bytes] = {}
    for version in ("1.5", "1.6", "2.0"):
        for name, raw in stay_messages(R1, version=version, rules=RULES):
            produced[f"plo-{version}-{name}"] = raw
    for version in ("1.5", "1.6"):
        for name, raw in stay_reports(R1_REPORTED, version=version, rules=RULES):
            produced[f"plo-{version}-{name}"] = raw
    for version in ("1.0", "1.1"):
        produced[f"apprec-{version}.xml"] = write_apprec(
            RULES,
            version=version,
            apprec_id="00000000-0000-0000-0000-000000000001",
            gen_date=datetime(2017, 3, 5, 11, 0, 5),
            sender=Party("Samhandlingsplattformen", "samhandling", "LOK"),
            receiver=Party("NORDLANDSSYKEHUSET HF", "983974910", "ENH"),
            accepted=version == "1.0",
            errors=[]
            if version == "1.0"
            else [ReceiptError("E35", "Pasienten P999 finnes ikke i datavarehuset")],
            original_type="LOG_UTSKRIVNINGSKLAR",
            original_type_name="Melding om utskrivningsklar pasient",
            original_issued=datetime(2017, 3, 5, 11),
            original_id="abc",
        )
    if UPDATE:
        folder.mkdir(parents=True, exist_ok=True)
        for name, raw in produced.items():
            (folder / name).write_bytes(raw)
    assert sorted(p.name for p in folder.iterdir()) == sorted(produced)
    for name, raw in produced.items():
        assert (folder / name).read_bytes() == raw, name


def test_schemas_never_touch_the_network() -> None:
    msghead = (schema_dir() / "MsgHead-v1_2.xsd").read_bytes()
    assert b"http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd" in msghead
    # An instance pointing at a remote schema is validated with the local files only.
    assert (
        validation_errors(parse_xml(VALID), ["MsgHead-v1_2.xsd", "Pasientlogistikk-v1.6.xsd"]) == []
    )
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "http://example.invalid/x">]><x>&e;</x>'
    info = inspect_message(evil, RULES, sha256=sha(evil))
    assert info.error == "T10"  # parsed without fetching the entity, then refused


# ----------------------------------------------------------------------------- idempotence


def test_a_crash_between_load_and_ledger_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = make_warehouse(tmp_path, [R1_ROW])
    messages = stay_messages(R1, version="2.0", rules=RULES)

    def boom(self: Inbox, entries: list[Any]) -> None:
        raise OSError("strømbrudd")

    with monkeypatch.context() as m:
        m.setattr(Inbox, "_append_ledger", boom)
        with pytest.raises(OSError, match="strømbrudd"):
            receive(wh, messages, as_of=date(2024, 1, 1))
    assert Inbox(wh).entries() == [] and len(events_of(wh)) == 4
    again = receive(wh, messages, as_of=date(2024, 1, 1))
    assert again.accepted == 4 and again.ingest is not None and again.ingest.already_loaded
    assert len(events_of(wh)) == 4 and len(wh.deliveries()) == 2
    # A crash in the middle of appending leaves a torn last line: it is not a row, and the next
    # append cuts it off.
    ledger = Inbox(wh).path / "ledger.jsonl"
    with ledger.open("ab") as handle:
        handle.write(b'{"received_id": "M0000')
    assert len(Inbox(wh).entries()) == 4
    junk = receive(wh, [("x.xml", b"<x")], as_of=date(2024, 1, 1))
    assert [e.received_id for e in Inbox(wh).entries()][-1] == junk.received[0].received_id
    assert len(Inbox(wh).entries()) == 5


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(order=st.permutations(range(4)), repeats=st.lists(st.integers(0, 3), max_size=3))
def test_order_and_resends_do_not_change_what_is_applied(
    tmp_path_factory: pytest.TempPathFactory, order: list[int], repeats: list[int]
) -> None:
    wh = make_warehouse(tmp_path_factory.mktemp("perm"), [R1_ROW])
    messages = stay_messages(R1, version="2.0", rules=RULES)
    batch = [messages[i] for i in order] + [messages[i] for i in repeats]
    result = receive(wh, batch[:3], as_of=date(2024, 1, 1))
    result2 = receive(wh, batch[3:], as_of=date(2024, 1, 1))
    accepted = result.accepted + result2.accepted
    assert accepted == 4
    assert result.rejected + result2.rejected == len(repeats)
    got = sorted((r["type"], r["at"]) for r in events_of(wh))
    assert got == sorted(
        [
            ("admission_notified", datetime(2017, 3, 3, 9, 30)),
            ("discharge_ready_notified", datetime(2017, 3, 5, 11)),
            ("discharge_ready", datetime(2017, 3, 5)),
            ("cannot_receive", datetime(2017, 3, 5, 15)),
        ]
    )


# ------------------------------------------------------------------------------- CLI, demo


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    wh = make_warehouse(tmp_path, [R1_ROW])
    monkeypatch.setenv("SAMHANDLING_HOME", str(wh.path))
    yield wh


def test_cli_read_write_and_receipt(home: Warehouse, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "ut"
    # R1 has no events yet: skriv needs a discharge-ready stay, so load its messages first.
    inbox = tmp_path / "inn"
    inbox.mkdir()
    for name, raw in stay_messages(R1, version="1.6", rules=RULES):
        (inbox / name).write_bytes(raw)
    (inbox / "søppel.xml").write_bytes(b"<ikke xml")
    res = runner.invoke(cli_app, ["meldinger", "les", str(inbox), "--as-of", "2024-01-01"])
    assert res.exit_code == 1, res.output
    assert "Godtatt: 3, avvist: 1, tidspunkter lastet: 3" in res.output
    assert "Kvitteringer (AppRec):" in res.output and "Meldingene slik de kom inn:" in res.output
    res = runner.invoke(cli_app, ["meldinger", "kvittering", "M000004"])
    assert res.exit_code == 0 and 'V="T01"' in res.output
    res = runner.invoke(cli_app, ["meldinger", "skriv", "R1", "--versjon", "2.0", "--ut", str(out)])
    assert res.exit_code == 0, res.output
    assert len(list(out.glob("*.xml"))) == 3  # innlagt, utskrivningsklar, utskrevet (no answer)
    both = tmp_path / "begge"
    res = runner.invoke(
        cli_app, ["meldinger", "skriv", "R1", "--meldinger", "alle", "--ut", str(both)]
    )
    assert res.exit_code == 0, res.output
    names = sorted(p.name.split("-", 1)[1] for p in both.glob("*.xml"))
    assert names == [
        "01-LOG_INNLAGT.xml",
        "02-LOG_UTSKRIVNINGSKLAR.xml",
        "03-LOG_UTSKREVET.xml",
        "R01-INNLEGGELSESRAPPORT.xml",
        "R02-UTSKRIVNINGSRAPPORT.xml",
    ]
    assert b'<po:Diagnosekode V="J441"' in (both / "R1-R02-UTSKRIVNINGSRAPPORT.xml").read_bytes()
    res = runner.invoke(
        cli_app,
        [
            "meldinger",
            "skriv",
            "R1",
            "--meldinger",
            "rapporter",
            "--versjon",
            "2.0",
            "--ut",
            str(both),
        ],
    )
    assert res.exit_code != 0 and "PLO 1.5 og 1.6" in str(res.exception)
    res = runner.invoke(cli_app, ["meldinger", "liste"])
    assert res.exit_code == 0 and "M000004" in res.output


def test_demo_round_trip_is_idempotent(tmp_path: Path) -> None:
    rows = [
        f"D{i},DP{i},1940,2,1804,983974910,public,somatic,inpatient,emergency,"
        f"2014-0{i}-02 08:00,2014-0{i}-09 10:00,J441,88,M,1.000"
        for i in range(1, 4)
    ]
    wh = make_warehouse(tmp_path, rows)
    first = messages_demo.seed_demo(wh, None)  # type: ignore[arg-type]
    assert "9 meldinger for 3 opphold" in first[0]
    assert "9 godtatt, 0 avvist, 9 tidspunkter" in first[1]
    # Each stay: ready 4th, discharged 9th: 5 days × 4 255 kr (2014).
    with DuckDBEngine() as engine:
        wh.register(engine)
        total = sum(r["amount"] for r in discharge_ready_invoices(engine, RULES).to_pylist())
    assert total == Decimal("63825.00")  # 3 × 5 × 4 255
    again = messages_demo.seed_demo(wh, None)  # type: ignore[arg-type]
    assert "allerede lest" in again[0]
    assert len(Inbox(wh).entries()) == 9 and len(events_of(wh)) == 9


def test_bundled_schemas_match_their_provenance() -> None:
    text = (schema_dir() / "PROVENANCE.md").read_text("utf-8")
    listed = {
        line.split()[1]: line.split()[0]
        for line in text.splitlines()
        if len(line) > 66 and line[64:66] == "  "
    }
    files = {p.name for p in schema_dir().glob("*.xsd")}
    assert set(listed) == files
    for name, digest in listed.items():
        assert sha((schema_dir() / name).read_bytes()) == digest, name
    shutil.disk_usage(schema_dir())  # the folder is a real directory in the package


def test_two_receivers_at_once_wait_for_each_other(tmp_path: Path) -> None:
    import threading

    wh = make_warehouse(tmp_path, [R1_ROW])
    messages = stay_messages(R1, version="2.0", rules=RULES)
    errors: list[BaseException] = []

    def run(part: list[tuple[str, bytes]]) -> None:
        try:
            receive(wh, part, as_of=date(2024, 1, 1))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(messages[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    entries = Inbox(wh).entries()
    assert [e.received_id for e in entries] == ["M000001", "M000002", "M000003", "M000004"]
    assert all(e.accepted for e in entries) and len(events_of(wh)) == 4
