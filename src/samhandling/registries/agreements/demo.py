"""Demo agreements: Nordlandssykehuset HF with the municipalities of its area (synthetic).

Made up to show the registry and the monitoring with gaps, not a record of the real agreements:
one joint agreement (Salten), Bodø's single agreement renegotiated in two revisions (the first
round by 31 January 2012, the rest by 1 July 2012), single agreements in Lofoten and Vesterålen
with missing or late sub-agreements, and one municipality (Moskenes) without any agreement.
"""

from __future__ import annotations

from datetime import date

from samhandling.registries.agreements.domain import AgreementDraft, PartDraft
from samhandling.registries.agreements.registry import (
    add_revision,
    agreements,
    register_agreement,
    store_document,
)
from samhandling.rules import load_rules
from samhandling.store import Store
from samhandling.warehouse import Warehouse

__all__ = ["DEMO_USER", "NORDLANDSSYKEHUSET", "demo_pdf", "seed_demo"]

DEMO_USER = "demo"
NORDLANDSSYKEHUSET = "983974910"
_PUBLISHED = "https://nordlandssykehuset.example/samarbeidsavtaler"

_FIRST_ROUND = ("overordnet", "1", "2", "3", "5")
_SECOND_ROUND = ("4", "6", "7", "8", "9", "10", "11")
_SALTEN = ("1837", "1838", "1839", "1840", "1841", "1845", "1848", "1849")
# Single agreements: municipality -> (first-round signing, second-round signing or None,
# statutory points left out, recommended codes included).
_SINGLE: dict[str, tuple[date, date | None, tuple[str, ...], tuple[str, ...]]] = {
    "1856": (date(2012, 1, 27), date(2012, 6, 25), ("4", "8"), ()),
    "1857": (date(2012, 1, 27), date(2012, 6, 25), ("4", "8"), ()),
    "1859": (date(2012, 1, 30), date(2012, 6, 29), (), ("avvik",)),
    "1860": (date(2012, 1, 26), date(2012, 6, 27), ("11",), ("avvik", "tvist")),
    "1865": (date(2012, 1, 24), date(2012, 6, 21), (), ("avvik", "tvist", "kvalitet")),
    "1866": (date(2012, 1, 31), date(2012, 9, 14), (), ()),
    "1867": (date(2012, 1, 31), date(2012, 6, 28), ("9",), ()),
    "1868": (date(2012, 1, 30), date(2012, 6, 28), (), ("avvik",)),
    "1870": (date(2012, 1, 25), date(2012, 6, 26), (), ("kvalitet",)),
    "1871": (date(2012, 3, 15), None, (), ()),
}


def demo_pdf(text: str) -> bytes:
    """A minimal one-page PDF showing ``text`` (ASCII), built by hand for the demo upload."""
    safe = text.encode("ascii", "replace").replace(b"(", b"[").replace(b")", b"]")
    stream = b"BT /F1 14 Tf 60 760 Td (" + safe + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def _parts(
    keys: tuple[str, ...], signed: date, *, document: str = "", url: str = ""
) -> tuple[PartDraft, ...]:
    return tuple(
        PartDraft(
            key=key,
            signed_on=signed,
            valid_from=signed,
            document_sha256=document if key == "overordnet" else "",
            document_url=url if key == "overordnet" else "",
        )
        for key in keys
    )


def seed_demo(warehouse: Warehouse, store: Store) -> list[str]:
    """Register the demo agreements once; re-running finds them and adds nothing."""
    del warehouse  # the registry lives in the operational store only
    existing = [a for a in agreements(store) if a.created_by == DEMO_USER]
    if existing:
        return [f"Samarbeidsavtaler: {len(existing)} demoavtaler finnes allerede"]
    rules = load_rules()
    doc = store_document(
        store,
        "samarbeidsavtale-bodo-2012.pdf",
        demo_pdf("Samarbeidsavtale Bodo kommune - Nordlandssykehuset HF (syntetisk demo)"),
        by=DEMO_USER,
        rules=rules,
    )
    count = 0

    first = date(2012, 1, 20)
    bodo = register_agreement(
        store,
        AgreementDraft(
            health_trust=NORDLANDSSYKEHUSET,
            municipalities=("1804",),
            title="Samarbeidsavtale mellom Bodø kommune og Nordlandssykehuset HF",
            signed_on=first,
            valid_from=first,
            valid_to=None,
            parts=_parts(_FIRST_ROUND, first, document=doc.sha256),
            publication_url=_PUBLISHED,
        ),
        by=DEMO_USER,
        rules=rules,
    )
    second = date(2012, 6, 28)
    add_revision(
        store,
        bodo.id,
        AgreementDraft(
            health_trust=NORDLANDSSYKEHUSET,
            municipalities=("1804",),
            title="Samarbeidsavtale mellom Bodø kommune og Nordlandssykehuset HF",
            signed_on=first,
            valid_from=first,
            valid_to=None,
            parts=(
                *_parts(_FIRST_ROUND, first, document=doc.sha256),
                *_parts((*_SECOND_ROUND, "tvist", "kvalitet"), second),
            ),
            publication_url=_PUBLISHED,
            change_note="Andre forhandlingsrunde: delavtale 4 og 6–11, tvisteløsning og "
            "kvalitetsforbedring lagt til",
        ),
        by=DEMO_USER,
        rules=rules,
    )
    count += 1

    salten_first = date(2012, 1, 25)
    register_agreement(
        store,
        AgreementDraft(
            health_trust=NORDLANDSSYKEHUSET,
            municipalities=_SALTEN,
            title="Samarbeidsavtale mellom Salten-kommunene og Nordlandssykehuset HF",
            signed_on=salten_first,
            valid_from=salten_first,
            valid_to=None,
            parts=(
                *_parts(_FIRST_ROUND, salten_first),
                *_parts((*_SECOND_ROUND, "avvik"), date(2012, 6, 20)),
            ),
            publication_url=_PUBLISHED,
        ),
        by=DEMO_USER,
        rules=rules,
    )
    count += 1

    names = {"1856": "Røst", "1857": "Værøy", "1859": "Flakstad", "1860": "Vestvågøy"}
    names |= {"1865": "Vågan", "1866": "Hadsel", "1867": "Bø", "1868": "Øksnes"}
    names |= {"1870": "Sortland", "1871": "Andøy"}
    for code, (signed, later, left_out, recommended) in _SINGLE.items():
        keys = tuple(k for k in _FIRST_ROUND if k not in left_out)
        parts = _parts(keys, signed)
        if later is not None:
            rest = tuple(k for k in _SECOND_ROUND if k not in left_out)
            parts = (*parts, *_parts((*rest, *recommended), later))
        register_agreement(
            store,
            AgreementDraft(
                health_trust=NORDLANDSSYKEHUSET,
                municipalities=(code,),
                title=f"Samarbeidsavtale mellom {names[code]} kommune og Nordlandssykehuset HF",
                signed_on=signed,
                valid_from=signed,
                valid_to=None,
                parts=parts,
                publication_url=_PUBLISHED,
            ),
            by=DEMO_USER,
            rules=rules,
        )
        count += 1
    return [
        f"Samarbeidsavtaler: registrerte {count} demoavtaler med Nordlandssykehuset HF "
        "(én fellesavtale for Salten, Bodø med to revisjoner, Moskenes uten avtale)"
    ]
