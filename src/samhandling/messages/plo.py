"""Reading and writing PLO messages (pleie- og omsorgsmeldinger) inside a MsgHead 1.2 envelope.

:func:`inspect_message` reads any bytes and says what they are: a MsgHead message (type from
code list 8279, id, sender, receiver, patient, payload standard and version, Forsendelsesstatus
and every ``TidsfestetHendelse``), an AppRec receipt, or something the platform cannot accept,
with the AppRec error code (code list 8221) and a Norwegian reason. It never raises on bad input.

:func:`write_logistics` writes the logistics messages (Pasientlogistikk: admitted, discharge-ready,
withdrawn, discharged, dead, and in PLO 2.0 the municipality's answer) in PLO 1.5, 1.6 or 2.0; what
it writes validates against the official schemas (the tests check every variant).
:func:`write_report` writes the admission report (Innleggelsesrapport) and the discharge report
(Utskrivningsrapport, payload TverrfagligEpikrise) in PLO 1.5 or 1.6.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from lxml import etree

from samhandling.messages.schemas import (
    APPREC_NAMESPACES,
    MSGHEAD_FILE,
    MSGHEAD_NS,
    PAYLOADS,
    parse_xml,
    validation_errors,
)
from samhandling.rules import RuleSet

__all__ = [
    "APPLICATIONS",
    "OID",
    "REPORTS",
    "Inspection",
    "OutgoingEvent",
    "OutgoingMessage",
    "OutgoingReport",
    "Party",
    "TimedEvent",
    "given_idents",
    "inspect_message",
    "parse_timestamp",
    "write_logistics",
    "write_report",
]

LOCAL_TZ = ZoneInfo("Europe/Oslo")
OID = "2.16.578.1.12.4.1.1."  # prefix of the Volven code-list OIDs (kodeverk)
MIG_VERSION = "v1.2 2006-05-24"

# The Pasientlogistikk element (meldingsanvendelse) of each logistics message type.
APPLICATIONS: dict[str, str] = {
    "LOG_INNLAGT": "MeldingInnlagtPasient",
    "LOG_UTSKRIVNINGSKLAR": "MeldingUtskrivningsklarPasient",
    "LOG_AVMELDING": "AvmeldingUtskrivningsklarPasient",
    "LOG_UTSKREVET": "MeldingOmUtskrevetPasient",
    "LOG_DOD": "OrienteringOmDod",
    "LOG_TILBAKEMELDING": "TilbakemeldingUtskrivningsklarPasient",
}
_LOGISTICS_NS: dict[str, str] = {
    "1.5": "http://www.kith.no/xmlstds/po/Pasientlogistikk/2009-06-30",
    "1.6": "http://www.kith.no/xmlstds/po/Pasientlogistikk/2012-04-01",
    "2.0": "http://ehelse.no/xmlstds/po/Pasientlogistikk/2016-05-30",
}
_PO_NS: dict[str, str] = {
    "1.5": "http://www.kith.no/xmlstds/po/poKomponent/2009-06-30",
    "1.6": "http://www.kith.no/xmlstds/po/poKomponent/2012-04-01",
    "2.0": "http://ehelse.no/xmlstds/po/poKomponent/2017-11-30",
}

ErrorCode = Literal["T01", "T02", "T10", "E10", "E20", "E21", "E30", "E31", "E35", "E36", "X99"]

# Patient identifier types (code list 8116) that carry a national identity number with
# modulus-11 control digits: fødselsnummer, D-nummer, H-nummer.
_NUMBERED_IDS = frozenset({"FNR", "DNR", "HNR"})
_PATIENT_ID_LIST = OID + "8116"


@dataclass(frozen=True)
class Party:
    """Sender or receiver: top organisation, optional unit, and their first identifier.

    ``idents`` are every identifier of the organisation as ``TYPE:ID`` (``HER:56704``,
    ``ENH:971318864``); ``unit_idents`` those of its unit (sub-organisation) and ``person`` /
    ``person_idents`` the health professional it is addressed to, when the message names one.
    """

    name: str
    ident: str = ""
    id_type: str = ""
    unit: str = ""
    idents: tuple[str, ...] = ()
    unit_idents: tuple[str, ...] = ()
    person: str = ""
    person_idents: tuple[str, ...] = ()

    @property
    def given(self) -> set[str]:
        """The organisation's identifiers that carry an id (``TYPE:`` alone does not)."""
        return given_idents(self.idents)

    @property
    def services(self) -> set[str]:
        """The identifiers of the unit and the health professional it names."""
        return given_idents((*self.unit_idents, *self.person_idents))

    @property
    def blank(self) -> bool:
        """No name and no identifier: nobody to answer."""
        return not self.name and not self.given


def given_idents(idents: tuple[str, ...]) -> set[str]:
    """The ``TYPE:ID`` identifiers whose id is not empty."""
    return {i for i in idents if i.split(":", 1)[-1]}


@dataclass(frozen=True)
class PatientIdent:
    """One ``Patient/Ident`` of the header: its id, type (code list 8116) and the list's OID."""

    id: str
    type: str
    code_list: str


@dataclass(frozen=True)
class TimedEvent:
    """One ``TidsfestetHendelse`` of a payload (code list from the OID in ``S``)."""

    application: str
    code_list: str
    code: str
    description: str
    at: datetime
    estimate: bool


@dataclass
class Inspection:
    """What a piece of bytes is; ``error`` set when the platform must reject it."""

    raw_sha256: str
    kind: Literal["message", "apprec", "unknown"] = "unknown"
    msg_type: str = ""
    msg_type_name: str = ""
    msg_id: str = ""
    gen_date: datetime | None = None
    sender: Party = field(default_factory=lambda: Party(""))
    receiver: Party = field(default_factory=lambda: Party(""))
    patient_id: str = ""
    patient_id_type: str = ""
    patient_ids: list[PatientIdent] = field(default_factory=list)
    # ConversationRef: the message this one answers, changes or cancels, and its conversation.
    ref_to_parent: str = ""
    ref_to_conversation: str = ""
    copy_receivers: list[Party] = field(default_factory=list)
    # SHA-256 of the canonical document without MsgId and GenDate: the same message sent twice.
    content_key: str = ""
    standard: str = ""
    version: str = ""
    namespaces: list[str] = field(default_factory=list)
    payload_roots: list[str] = field(default_factory=list)
    application: str = ""
    status: str = ""
    events: list[TimedEvent] = field(default_factory=list)
    error: ErrorCode | None = None
    reason: str = ""
    details: list[str] = field(default_factory=list)
    # For a received AppRec: its status and the message it answers.
    apprec_status: str = ""
    apprec_original_id: str = ""


def parse_timestamp(text: str) -> datetime:
    """An xs:date or xs:dateTime as naive local (Norwegian) time; a zone is converted."""
    value = text.strip()
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), datetime.min.time())
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return parsed


def _local(el: Any) -> str:
    return str(etree.QName(el).localname) if isinstance(el.tag, str) else ""


def _child(el: Any, name: str) -> Any:
    for c in el:
        if _local(c) == name:
            return c
    return None


def _text(el: Any, name: str) -> str:
    c = _child(el, name)
    return (c.text or "").strip() if c is not None else ""


def _idents(el: Any) -> tuple[str, ...]:
    """Every ``Ident`` directly under ``el`` as ``TYPE:ID`` (blank ids kept as ``TYPE:``)."""
    out: list[str] = []
    for c in el:
        if _local(c) == "Ident":
            type_id = _child(c, "TypeId")
            kind = type_id.get("V", "") if type_id is not None else ""
            out.append(f"{kind}:{''.join(_text(c, 'Id').split())}")
    return tuple(out)


def _person(el: Any) -> tuple[str, tuple[str, ...]]:
    hcp = _child(el, "HealthcareProfessional") if el is not None else None
    if hcp is None:
        return "", ()
    name = " ".join(t for t in (_text(hcp, "GivenName"), _text(hcp, "FamilyName")) if t)
    return name, _idents(hcp)


def _party(el: Any) -> Party:
    if el is None:
        return Party("")
    org = _child(el, "Organisation")
    if org is None:
        return Party("")
    idents = _idents(org)
    first = idents[0] if idents else ":"
    sub = _child(org, "Organisation")
    person, person_idents = _person(sub if sub is not None else org)
    return Party(
        name=_text(org, "OrganisationName"),
        ident=first.split(":", 1)[1],
        id_type=first.split(":", 1)[0],
        unit=_text(sub, "OrganisationName") if sub is not None else "",
        idents=idents,
        unit_idents=_idents(sub) if sub is not None else (),
        person=person,
        person_idents=person_idents,
    )


def valid_identity_number(number: str) -> bool:
    """Whether an 11-digit fødselsnummer, D-nummer or H-nummer has correct control digits."""
    if len(number) != 11 or not number.isdigit():
        return False
    digits = [int(c) for c in number]
    for weights, position in (
        ((3, 7, 6, 1, 8, 9, 4, 5, 2), 9),
        ((5, 4, 3, 2, 7, 6, 5, 4, 3, 2), 10),
    ):
        control = 11 - sum(w * d for w, d in zip(weights, digits, strict=False)) % 11
        if (0 if control == 11 else control) != digits[position]:
            return False
    return True


def _content_key(root: Any) -> str:
    """The document's canonical form (C14N) without MsgId and GenDate, hashed."""
    doc = copy.deepcopy(root)
    info = _child(doc, "MsgInfo")
    if info is not None:
        for name in ("MsgId", "GenDate"):
            el = _child(info, name)
            if el is not None:
                info.remove(el)
    return hashlib.sha256(etree.tostring(doc, method="c14n")).hexdigest()


def _code_list(oid: str) -> str:
    return oid[len(OID) :] if oid.startswith(OID) else oid


def _timed_events(payload: Any) -> list[TimedEvent]:
    events: list[TimedEvent] = []
    for el in payload.iter():
        if _local(el) != "TidsfestetHendelse":
            continue
        code_el = _child(el, "Hendelsekode")
        when = _child(el, "TidspunktForHendelse")
        if when is None:
            continue
        stamp = when.get("V") or (when.text or "")
        try:
            at = parse_timestamp(stamp)
        except ValueError:
            continue
        parent = el.getparent()
        events.append(
            TimedEvent(
                application=_local(parent) if parent is not None else "",
                code_list=_code_list(code_el.get("S", "")) if code_el is not None else "",
                code=code_el.get("V", "") if code_el is not None else "",
                description=(code_el.get("DN", "") if code_el is not None else "")
                or _text(el, "BeskrivelseAvHendelse"),
                at=at,
                estimate=_text(el, "Anslag").lower() == "true",
            )
        )
    return events


def inspect_message(
    raw: bytes, rules: RuleSet, *, sha256: str, on: date | None = None
) -> Inspection:
    """Read ``raw``: what it is, its header and time points, or why it must be rejected.

    ``on`` is the day the platform receives the message (default today): the message type must
    be one the platform reads on that day (``messages.message_types``, dated by the standard
    version that introduced the type), whatever day the sender generated it.
    """
    info = Inspection(raw_sha256=sha256)
    try:
        tree = parse_xml(raw)
    except etree.XMLSyntaxError as exc:
        info.error, info.reason = "T01", f"Meldingen er ikke gyldig XML: {exc}"
        return info
    root = tree.getroot()
    namespace = etree.QName(root).namespace or ""
    if namespace in APPREC_NAMESPACES and _local(root) == "AppRec":
        return _inspect_apprec(tree, info, namespace)
    if namespace != MSGHEAD_NS or _local(root) != "MsgHead":
        info.error = "T10"
        info.reason = (
            f"Rotelementet {{{namespace}}}{_local(root)} er verken en hodemelding "
            "(MsgHead 1.2) eller en applikasjonskvittering"
        )
        return info
    info.kind = "message"
    msg_info = _child(root, "MsgInfo")
    if msg_info is not None:
        type_el = _child(msg_info, "Type")
        if type_el is not None:
            info.msg_type = type_el.get("V", "")
            info.msg_type_name = type_el.get("DN", "")
        info.msg_id = _text(msg_info, "MsgId")
        try:
            info.gen_date = parse_timestamp(_text(msg_info, "GenDate"))
        except ValueError:
            info.gen_date = None
        ref = _child(msg_info, "ConversationRef")
        if ref is not None:
            info.ref_to_parent = _text(ref, "RefToParent")
            info.ref_to_conversation = _text(ref, "RefToConversation")
        info.sender = _party(_child(msg_info, "Sender"))
        info.receiver = _party(_child(msg_info, "Receiver"))
        # Other receivers (copy receivers, RoleReceiver COP; a blank role is read the same).
        info.copy_receivers = [
            _party(other) for other in msg_info if _local(other) == "OtherReceiver"
        ]
        patient = _child(msg_info, "Patient")
        if patient is not None:
            for ident in patient:
                if _local(ident) != "Ident":
                    continue
                type_id = _child(ident, "TypeId")
                info.patient_ids.append(
                    PatientIdent(
                        _text(ident, "Id"),
                        type_id.get("V", "") if type_id is not None else "",
                        type_id.get("S", "") if type_id is not None else "",
                    )
                )
            if info.patient_ids:
                info.patient_id = info.patient_ids[0].id
                info.patient_id_type = info.patient_ids[0].type
    payloads = [
        c
        for content in root.iter(f"{{{MSGHEAD_NS}}}Content")
        for c in content
        if isinstance(c.tag, str)
    ]
    info.namespaces = [etree.QName(p).namespace or "" for p in payloads]
    info.payload_roots = [_local(p) for p in payloads]
    known = [PAYLOADS[ns] for ns in info.namespaces if ns in PAYLOADS]
    if known:
        info.standard, info.version = known[0].standard, known[0].version
    unknown = sorted({ns for ns in info.namespaces if ns not in PAYLOADS})
    if unknown:
        info.error = "T10"
        info.reason = "Innholdet har navnerom som ikke støttes: " + ", ".join(unknown)
        return info
    day = on or date.today()
    types = rules["messages.message_types"].keys_on(day)
    if info.msg_type not in types:
        info.error = "T10"
        info.reason = (
            f"Meldingstypen {info.msg_type or '(mangler)'} (kodeverk 8279) støttes ikke"
            + (f" på {day.isoformat()}" if info.msg_type else "")
        )
        return info
    info.msg_type_name = types[info.msg_type].value
    errors = validation_errors(tree, [MSGHEAD_FILE, *(p.schema for p in known)])
    if errors:
        info.error = "T02"
        info.reason = "Meldingen validerer ikke mot XML-skjemaene (XSD)"
        info.details = errors
        return info
    if not info.msg_id:
        info.error, info.reason = "E10", "Meldingen mangler meldingsidentifikator (MsgId)"
        return info
    if info.sender.blank:
        info.error = "X99"
        info.reason = "Avsenderen mangler navn og identifikator: meldingen kan ikke besvares"
        return info
    if _patient_error(info):
        return info
    info.content_key = _content_key(root)
    for payload in payloads:
        for el in payload.iter():
            if _local(el) == "Forsendelsesstatus" and not info.status:
                info.status = el.get("V", "")
        for child in payload:
            if _local(child) in APPLICATIONS.values():
                info.application = _local(child)
        info.events.extend(_timed_events(payload))
    return info


def _patient_error(info: Inspection) -> bool:
    """Set the receipt error for a header without a usable patient identifier."""
    given = [p for p in info.patient_ids if p.id]
    if not given:
        info.error = "E30"
        info.reason = "Meldingen mangler pasientens fødselsnummer eller annen identifikator"
        return True
    for p in given:
        if p.code_list and p.code_list != _PATIENT_ID_LIST:
            info.error = "E31"
            info.reason = (
                f"Pasientidentifikatoren {p.id} har typen {p.type} fra kodeverket {p.code_list}, "
                f"ikke fra kodeverk 8116 ({_PATIENT_ID_LIST})"
            )
            return True
        if p.type in _NUMBERED_IDS and not valid_identity_number(p.id):
            info.error = "E31"
            info.reason = (
                f"Pasientens {p.type} {p.id} er ikke et gyldig nummer "
                "(11 siffer med kontrollsiffer)"
            )
            return True
    return False


def _inspect_apprec(tree: Any, info: Inspection, namespace: str) -> Inspection:
    info.kind = "apprec"
    schema, version = APPREC_NAMESPACES[namespace]
    info.standard, info.version = "Applikasjonskvittering", version
    info.namespaces = [namespace]
    root = tree.getroot()
    info.msg_type = "APPREC"
    info.msg_id = _text(root, "Id")
    try:
        info.gen_date = parse_timestamp(_text(root, "GenDate"))
    except ValueError:
        info.gen_date = None
    status = _child(root, "Status")
    info.apprec_status = status.get("V", "") if status is not None else ""
    original = _child(root, "OriginalMsgId")
    info.apprec_original_id = _text(original, "Id") if original is not None else ""
    errors = validation_errors(tree, [schema])
    if errors:
        info.error, info.reason, info.details = "T02", "Kvitteringen validerer ikke", errors
    return info


# --------------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class OutgoingEvent:
    """A time point to write: code list (``9121`` or ``8477``), code, name, time."""

    code_list: str
    code: str
    name: str
    at: datetime
    estimate: bool = False


@dataclass(frozen=True)
class OutgoingMessage:
    """A logistics message to write."""

    msg_type: str
    version: str
    msg_id: str
    gen_date: datetime
    sender: Party
    receiver: Party
    patient_id: str
    events: tuple[OutgoingEvent, ...]
    status: str = "N"


def _ts(value: datetime) -> str:
    if value.time() == datetime.min.time():
        return value.date().isoformat()
    return value.replace(microsecond=0).isoformat()


def _cv(tag: str, v: str, dn: str, s: str | None = None) -> Any:
    el = etree.Element(tag)
    el.set("V", v)
    el.set("DN", dn)
    if s is not None:
        el.set("S", s)
    return el


def _organisation(tag: str, party: Party) -> Any:
    mh = f"{{{MSGHEAD_NS}}}"
    outer = etree.Element(f"{mh}{tag}")
    org = etree.SubElement(outer, f"{mh}Organisation")
    etree.SubElement(org, f"{mh}OrganisationName").text = party.name
    ident = etree.SubElement(org, f"{mh}Ident")
    etree.SubElement(ident, f"{mh}Id").text = party.ident
    ident.append(_cv(f"{mh}TypeId", party.id_type, _ID_TYPES.get(party.id_type, ""), OID + "9051"))
    if party.unit:
        sub = etree.SubElement(org, f"{mh}Organisation")
        etree.SubElement(sub, f"{mh}OrganisationName").text = party.unit
        sub_ident = etree.SubElement(sub, f"{mh}Ident")
        etree.SubElement(sub_ident, f"{mh}Id").text = f"{party.ident}-{party.unit[:20]}"
        sub_ident.append(_cv(f"{mh}TypeId", "LOK", _ID_TYPES["LOK"], OID + "9051"))
    return outer


# Identifier types the platform writes (code list 9051); synthetic parties have no HER-id.
_ID_TYPES: dict[str, str] = {
    "ENH": "Organisasjonsnummeret i Enhetsregisteret",
    "LOK": "Lokal identifikator",
    "HER": "HER-id",
}


def _envelope(  # noqa: PLR0917
    msg_type: str,
    msg_id: str,
    gen_date: datetime,
    sender: Party,
    receiver: Party,
    patient_id: str,
    rules: RuleSet,
) -> tuple[Any, Any]:
    """The MsgHead 1.2 document and its empty ``Content`` element."""
    mh = f"{{{MSGHEAD_NS}}}"
    head = etree.Element(f"{mh}MsgHead", nsmap={None: MSGHEAD_NS})  # type: ignore[dict-item]
    info = etree.SubElement(head, f"{mh}MsgInfo")
    names = rules["messages.message_types"].keys_on(gen_date.date())
    if msg_type not in names:
        raise ValueError(f"meldingstypen {msg_type} finnes ikke i kodeverk 8279 på datoen")
    info.append(_cv(f"{mh}Type", msg_type, names[msg_type].value))
    etree.SubElement(info, f"{mh}MIGversion").text = MIG_VERSION
    etree.SubElement(info, f"{mh}GenDate").text = gen_date.replace(microsecond=0).isoformat()
    etree.SubElement(info, f"{mh}MsgId").text = msg_id
    info.append(_organisation("Sender", sender))
    info.append(_organisation("Receiver", receiver))
    patient = etree.SubElement(info, f"{mh}Patient")
    ident = etree.SubElement(patient, f"{mh}Ident")
    etree.SubElement(ident, f"{mh}Id").text = patient_id
    ident.append(_cv(f"{mh}TypeId", "XXX", "Pseudonym (løpenummer)", OID + "8116"))
    document = etree.SubElement(head, f"{mh}Document")
    ref = etree.SubElement(document, f"{mh}RefDoc")
    etree.SubElement(ref, f"{mh}IssueDate").set("V", _ts(gen_date))
    ref.append(_cv(f"{mh}MsgType", "XML", "XML-instans"))
    content = etree.SubElement(ref, f"{mh}Content")
    return head, content


def write_logistics(message: OutgoingMessage, rules: RuleSet) -> bytes:
    """A MsgHead 1.2 document carrying one Pasientlogistikk payload (PLO 1.5, 1.6 or 2.0)."""
    if message.version not in _LOGISTICS_NS:
        raise ValueError(f"PLO-versjon {message.version} kan ikke skrives")
    application = APPLICATIONS.get(message.msg_type)
    if application is None:
        raise ValueError(f"meldingstypen {message.msg_type} er ikke en logistikkmelding")
    if application == "TilbakemeldingUtskrivningsklarPasient" and message.version != "2.0":
        raise ValueError("tilbakemelding på utskrivningsklar pasient finnes først i PLO 2.0")
    p1_ns, po_ns = _LOGISTICS_NS[message.version], _PO_NS[message.version]
    p1, po = f"{{{p1_ns}}}", f"{{{po_ns}}}"
    head, content = _envelope(
        message.msg_type,
        message.msg_id,
        message.gen_date,
        message.sender,
        message.receiver,
        message.patient_id,
        rules,
    )
    payload = etree.SubElement(content, f"{p1}Pasientlogistikk", nsmap={"p1": p1_ns, "po": po_ns})
    admin = (
        etree.SubElement(payload, f"{po}FellesAdministrativeOpplysninger")
        if message.version == "2.0"
        else payload
    )
    sending = etree.SubElement(admin, f"{po}InformasjonOmForsendelsen")
    sending.append(
        _cv(f"{po}Forsendelsesstatus", message.status, _STATUS_NAMES.get(message.status, ""))
    )
    body = etree.SubElement(payload, f"{p1}{application}")
    if application == "MeldingOmUtskrevetPasient":
        where = etree.SubElement(body, f"{po}UtskrevetTil")
        codes = rules["messages.discharged_to"].keys_on(message.gen_date.date())
        for tag, code_list in (("Uttilstand", "8431"), ("UtTil", "8408")):
            row = codes[code_list]
            where.append(_cv(f"{po}{tag}", row.value, row.note, OID + code_list))
    for event in message.events:
        timed = etree.SubElement(body, f"{po}TidsfestetHendelse")
        timed.append(_cv(f"{po}Hendelsekode", event.code, event.name, OID + event.code_list))
        when = etree.SubElement(timed, f"{po}TidspunktForHendelse")
        if message.version == "2.0":
            when.text = event.at.replace(microsecond=0).isoformat()
        else:
            when.set("V", _ts(event.at))
        etree.SubElement(timed, f"{po}Anslag").text = "true" if event.estimate else "false"
    out: bytes = etree.tostring(head, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return out


_STATUS_NAMES: dict[str, str] = {"N": "Ny", "M": "Endring", "C": "Kansellering"}


# The payload root element of each report message type (PLO 1.5 and 1.6).
REPORTS: dict[str, str] = {
    "INNLEGGELSESRAPPORT": "Innleggelsesrapport",
    "UTSKRIVNINGSRAPPORT": "TverrfagligEpikrise",
}
_REPORT_NS: dict[tuple[str, str], str] = {
    ("Innleggelsesrapport", "1.5"): "http://www.kith.no/xmlstds/po/Innleggelsesrapport/2009-06-30",
    ("Innleggelsesrapport", "1.6"): "http://www.kith.no/xmlstds/po/Innleggelsesrapport/2012-04-01",
    ("TverrfagligEpikrise", "1.5"): "http://www.kith.no/xmlstds/po/TverrfagligEpikrise/2009-06-30",
    ("TverrfagligEpikrise", "1.6"): "http://www.kith.no/xmlstds/po/TverrfagligEpikrise/2012-04-01",
}


@dataclass(frozen=True)
class OutgoingReport:
    """An admission or discharge report to write (PLO 1.5 or 1.6).

    Only what the data hold is written: the stay's time points (``OpplysningOpphold``, discharge
    report only) and the main diagnosis (ICD-10, discharge report only); no clinical free text.
    """

    msg_type: str
    version: str
    msg_id: str
    gen_date: datetime
    sender: Party
    receiver: Party
    patient_id: str
    stay_events: tuple[OutgoingEvent, ...] = ()
    main_diagnosis: str = ""
    status: str = "N"


def write_report(report: OutgoingReport, rules: RuleSet) -> bytes:
    """A MsgHead 1.2 document carrying an Innleggelsesrapport or Utskrivningsrapport payload."""
    application = REPORTS.get(report.msg_type)
    if application is None:
        raise ValueError(f"meldingstypen {report.msg_type} er ikke en rapport")
    if (application, report.version) not in _REPORT_NS:
        raise ValueError(
            f"{report.msg_type} kan bare skrives i PLO 1.5 og 1.6, ikke {report.version}"
        )
    if application == "Innleggelsesrapport" and (report.stay_events or report.main_diagnosis):
        raise ValueError("innleggelsesrapporten har ikke plass til opphold eller diagnose")
    p_ns, po_ns = _REPORT_NS[(application, report.version)], _PO_NS[report.version]
    p, po = f"{{{p_ns}}}", f"{{{po_ns}}}"
    head, content = _envelope(
        report.msg_type,
        report.msg_id,
        report.gen_date,
        report.sender,
        report.receiver,
        report.patient_id,
        rules,
    )
    payload = etree.SubElement(content, f"{p}{application}", nsmap={"p": p_ns, "po": po_ns})
    sending = etree.SubElement(payload, f"{po}InformasjonOmForsendelsen")
    sending.append(
        _cv(f"{po}Forsendelsesstatus", report.status, _STATUS_NAMES.get(report.status, ""))
    )
    if application == "TverrfagligEpikrise":
        kinds = rules["messages.report_content"].keys_on(report.gen_date.date())
        if report.msg_type not in kinds:
            raise ValueError(f"ingen innholdstype (kodeverk 9139) for {report.msg_type}")
        kind = kinds[report.msg_type]
        typed = etree.SubElement(payload, f"{po}TypeInnholdIMelding")
        typed.append(_cv(f"{po}TypeInnhold", kind.value, kind.note, OID + "9139"))
        for event in report.stay_events:
            stay = etree.SubElement(payload, f"{po}OpplysningOpphold")
            timed = etree.SubElement(stay, f"{po}TidsfestetHendelse")
            timed.append(_cv(f"{po}Hendelsekode", event.code, event.name, OID + event.code_list))
            etree.SubElement(timed, f"{po}TidspunktForHendelse").set("V", _ts(event.at))
            etree.SubElement(timed, f"{po}Anslag").text = "true" if event.estimate else "false"
        if report.main_diagnosis:
            info = etree.SubElement(payload, f"{po}InfoMedisinskDiagnose")
            diagnosis = etree.SubElement(info, f"{po}MedisinskDiagnose")
            etree.SubElement(diagnosis, f"{po}Hoveddiagnose").text = "true"
            code = etree.SubElement(diagnosis, f"{po}Diagnosekode")
            code.set("V", report.main_diagnosis.replace(".", "").strip())
            code.set("S", OID + "7110")
    out: bytes = etree.tostring(head, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return out
