"""Application receipts (applikasjonskvittering, AppRec 1.0 and 1.1): OK or rejected with reasons.

Status codes come from the rule table ``messages.apprec_status`` (code list 8258), error codes
from ``messages.apprec_errors`` (code list 8221) and the version from ``messages.apprec_version``
(by the version of the message answered). What is written validates against the AppRec schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from samhandling.messages.plo import OID, Party
from samhandling.messages.schemas import APPREC_NAMESPACES
from samhandling.rules import RuleSet

__all__ = ["ReceiptError", "apprec_version_for", "write_apprec"]

_NS_BY_VERSION: dict[str, str] = {v: ns for ns, (_f, v) in APPREC_NAMESPACES.items()}
_MIG: dict[str, str] = {"1.0": "1.0 2004-11-21", "1.1": "v1.1 2012-02-15"}


@dataclass(frozen=True)
class ReceiptError:
    """One error in a receipt: 8221 code and the detail (written as ``OT``, original text)."""

    code: str
    detail: str


def apprec_version_for(rules: RuleSet, payload_version: str, day: datetime) -> str:
    """The AppRec version to answer a message of ``payload_version`` with ('' = unknown)."""
    table = rules["messages.apprec_version"]
    keys = table.keys_on(day.date())
    row = keys.get(payload_version) or keys["ukjent"]
    return row.value


def write_apprec(
    rules: RuleSet,
    *,
    version: str,
    apprec_id: str,
    gen_date: datetime,
    sender: Party,
    receiver: Party,
    accepted: bool,
    errors: list[ReceiptError],
    original_type: str,
    original_type_name: str,
    original_issued: datetime | None,
    original_id: str,
) -> bytes:
    """An AppRec document (bytes, UTF-8) answering one message."""
    if version not in _NS_BY_VERSION:
        raise ValueError(f"ukjent AppRec-versjon {version}")
    ns = _NS_BY_VERSION[version]
    a = f"{{{ns}}}"
    day = gen_date.date()
    statuses = rules["messages.apprec_status"].keys_on(day)
    codes = rules["messages.apprec_errors"].keys_on(day)
    root = etree.Element(f"{a}AppRec", nsmap={None: ns})  # type: ignore[dict-item]
    msg_type = etree.SubElement(root, f"{a}MsgType")
    msg_type.set("V", "APPREC")
    etree.SubElement(root, f"{a}MIGversion").text = _MIG[version]
    etree.SubElement(root, f"{a}SoftwareName").text = "samhandling"
    etree.SubElement(root, f"{a}GenDate").text = gen_date.replace(microsecond=0).isoformat()
    etree.SubElement(root, f"{a}Id").text = apprec_id
    for tag, party in (("Sender", sender), ("Receiver", receiver)):
        holder = etree.SubElement(root, f"{a}{tag}")
        hcp = etree.SubElement(holder, f"{a}HCP")
        inst = etree.SubElement(hcp, f"{a}Inst")
        if party.name:
            etree.SubElement(inst, f"{a}Name").text = party.name
        if party.ident:
            etree.SubElement(inst, f"{a}Id").text = party.ident
            type_id = etree.SubElement(inst, f"{a}TypeId")
            type_id.set("V", party.id_type or "XXX")
        if party.unit:
            dept = etree.SubElement(inst, f"{a}Dept")
            etree.SubElement(dept, f"{a}Name").text = party.unit
    status_key = "1" if accepted else "2"
    status = etree.SubElement(root, f"{a}Status")
    status.set("V", status_key)
    status.set("DN", statuses[status_key].value)
    for error in errors:
        el = etree.SubElement(root, f"{a}Error")
        el.set("V", error.code)
        el.set("DN", codes[error.code].value)
        el.set("S", OID + "8221")
        if error.detail:
            el.set("OT", error.detail[:1000])
    original = etree.SubElement(root, f"{a}OriginalMsgId")
    orig_type = etree.SubElement(original, f"{a}MsgType")
    orig_type.set("V", original_type or "UKJENT")
    if original_type_name:
        orig_type.set("DN", original_type_name)
    issued = original_issued or gen_date
    etree.SubElement(original, f"{a}IssueDate").text = issued.replace(microsecond=0).isoformat()
    etree.SubElement(original, f"{a}Id").text = original_id or "ukjent"
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return out
