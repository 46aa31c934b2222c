"""Cooperation agreements (samarbeidsavtaler): rules, validation, revisions, monitoring, export.

Hand-made cases on the real reference data: Nordlandssykehuset HF (983974910) had 20
municipalities in its catchment area in 2012 (Bodø 1804, Meløy 1837, Gildeskål 1838, ...), and
Helse Nord RHF 88. Deadlines: points 1, 2, 3 and 5 by 31 January 2012, the rest by 1 July 2012.
The registry tests run on SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import io
import tomllib
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from samhandling.cli.agreements import parse_draft
from samhandling.registries.agreements import (
    Agreement,
    AgreementDraft,
    AgreementError,
    AgreementValidationError,
    Part,
    PartDraft,
    Revision,
    add_revision,
    agreement,
    agreements,
    document,
    point_signed,
    register_agreement,
    store_document,
)
from samhandling.registries.agreements.demo import demo_pdf, seed_demo
from samhandling.registries.agreements.export import SHEETS, monitoring_xlsx
from samhandling.registries.agreements.history import (
    describe_diff,
    diff_revisions,
    history_lines,
)
from samhandling.registries.agreements.monitoring import monitor, monitor_agreements
from samhandling.rules import load_rules
from samhandling.store import Store, StoreError, head_revision
from samhandling.store.agreements import (
    AgreementDocumentRow,
    AgreementPartRow,
    AgreementPartyRow,
    AgreementRevisionRow,
    AgreementRow,
)

NLSH = "983974910"  # Nordlandssykehuset HF
UNN = "983974899"  # Universitetssykehuset Nord-Norge HF
RULES = load_rules()
ALL_POINTS = tuple(str(n) for n in range(1, 12))


def part(key: str, signed: date, **kw: object) -> PartDraft:
    return PartDraft(key=key, signed_on=signed, valid_from=kw.pop("valid_from", signed), **kw)  # type: ignore[arg-type]


def draft(
    municipalities: tuple[str, ...] = ("1804",),
    parts: tuple[PartDraft, ...] | None = None,
    *,
    signed: date = date(2012, 1, 20),
    **kw: object,
) -> AgreementDraft:
    base = AgreementDraft(
        health_trust=NLSH,
        municipalities=municipalities,
        title="Samarbeidsavtale",
        signed_on=signed,
        valid_from=signed,
        valid_to=None,
        parts=parts if parts is not None else (part("overordnet", signed), part("1", signed)),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def errors_of(store: Store, bad: AgreementDraft) -> tuple[str, ...]:
    with pytest.raises(AgreementValidationError) as caught:
        register_agreement(store, bad, by="test", rules=RULES)
    return caught.value.errors


def row_counts(store: Store) -> tuple[int, ...]:
    with store._tx() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in (
                AgreementRow,
                AgreementRevisionRow,
                AgreementPartyRow,
                AgreementPartRow,
                AgreementDocumentRow,
            )
        )


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def odt_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        package.writestr("content.xml", "<office:document-content/>")
    return buffer.getvalue()


# ----------------------------------------------------------------------------- rule tables


def test_statutory_points_come_from_the_rule_table_with_their_dates() -> None:
    points = RULES["agreements.statutory_points"]
    assert sorted(points.keys_on(date(2015, 1, 1)), key=int) == list(ALL_POINTS)
    assert points.keys_on(date(2011, 12, 31)) == {}
    assert "12" in points.keys_on(date(2022, 1, 1))
    assert "13" not in points.keys_on(date(2022, 7, 31))
    assert sorted(points.keys_on(date(2022, 8, 1)), key=int) == [str(n) for n in range(1, 14)]
    assert points.value_on(date(2012, 1, 1), "5").value == (
        "Retningslinjer for samarbeid om utskrivningsklare pasienter"
    )
    # Unconfirmed in-force dates are marked so, with a source.
    assert points.value_on(date(2023, 1, 1), "12").status == "unverified"
    assert all(r.source for r in points.rows)


def test_deadlines_are_31_january_for_1_2_3_5_and_1_july_for_the_rest() -> None:
    deadlines = RULES["agreements.deadlines"].keys_on(date(2012, 1, 1))
    assert {k: r.value for k, r in deadlines.items()} == {
        **dict.fromkeys(("1", "2", "3", "5"), "2012-01-31"),
        **dict.fromkeys(("4", "6", "7", "8", "9", "10", "11"), "2012-07-01"),
    }
    recommended = RULES["agreements.recommended_points"].keys_on(date(2012, 1, 1))
    assert {k: r.value for k, r in recommended.items()} == {
        "avvik": "Avvikshåndtering",
        "tvist": "Bruk av nasjonal tvisteløsningsnemnd",
        "kvalitet": "Kvalitetsforbedring og pasient- og brukersikkerhet",
    }


# ----------------------------------------------------------------------------- validation


def test_a_valid_agreement_is_registered_with_titles_from_the_rules(store: Store) -> None:
    saved = register_agreement(store, draft(), by="kari", rules=RULES)
    rev = saved.current
    assert (saved.health_trust, rev.revision_no, rev.municipalities, rev.joint) == (
        NLSH,
        1,
        ("1804",),
        False,
    )
    assert [(p.key, p.title) for p in rev.parts] == [
        ("overordnet", "Overordnet samarbeidsavtale"),
        ("1", RULES["agreements.statutory_points"].value_on(date(2012, 1, 1), "1").value),
    ]
    assert rev.recorded_by == "kari"
    assert agreement(store, saved.id) == saved


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            draft(("5001",)),
            "Ukjent kommune 5001: fantes ikke i 2012 (året avtalen ble signert)",
        ),
        (draft(("180",)), "Kommunenummer må ha 4 sifre (fikk '180')"),
        (draft(("1804", "1804")), "Kommune 1804 er oppført mer enn én gang"),
        (draft(()), "Avtalen må ha minst én kommune som part"),
        (
            draft(health_trust="123456789"),
            "Ukjent helseforetak 123456789: ikke et helseforetak under et regionalt helseforetak",
        ),
        # A private hospital (under the pseudo-node "Private") is no party to these agreements.
        (
            draft(health_trust="943545634"),
            "Ukjent helseforetak 943545634: ikke et helseforetak under et regionalt helseforetak",
        ),
        (
            draft(health_trust="98397491"),
            "Helseforetaket må oppgis med 9-sifret organisasjonsnummer (fikk '98397491')",
        ),
        (
            draft(valid_to=date(2011, 12, 31)),
            "Avtalen: gyldig til (2011-12-31) er før gyldig fra (2012-01-20)",
        ),
        (
            draft(valid_from=date(2011, 1, 1), valid_to=date(2011, 12, 31)),
            "Avtalen: signert (2012-01-20) etter at den sluttet å gjelde (2011-12-31)",
        ),
        (
            draft(
                parts=(part("5", date(2012, 1, 20), valid_to=date(2012, 1, 1)),),
            ),
            "Delavtale punkt 5: gyldig til (2012-01-01) er før gyldig fra (2012-01-20)",
        ),
        (
            draft(signed=date(2015, 3, 1), parts=(part("12", date(2015, 3, 1)),)),
            "Delavtale punkt 12 kan ikke gjelde fra 2015-03-01: punkt 12 fantes ikke i "
            "helse- og omsorgstjenesteloven § 6-2 da (gjelder fra 2022-01-01)",
        ),
        (
            draft(signed=date(2022, 6, 1), parts=(part("13", date(2022, 6, 1)),)),
            "Delavtale punkt 13 kan ikke gjelde fra 2022-06-01: punkt 13 fantes ikke i "
            "helse- og omsorgstjenesteloven § 6-2 da (gjelder fra 2022-08-01)",
        ),
        (
            draft(signed=date(2011, 11, 1), parts=(part("4", date(2011, 11, 1)),)),
            "Delavtale punkt 4 kan ikke gjelde fra 2011-11-01: punkt 4 fantes ikke i "
            "helse- og omsorgstjenesteloven § 6-2 da (gjelder fra 2012-01-01)",
        ),
        (
            draft(parts=(part("4", date(2012, 6, 1)), part("4", date(2012, 6, 2)))),
            "Delavtale punkt 4 er oppført mer enn én gang i samme revisjon",
        ),
        (
            draft(parts=(part("annet", date(2012, 6, 1)),)),
            "En annen delavtale (annet) må ha en tittel",
        ),
        (
            draft(
                parts=(
                    part("annet", date(2012, 6, 1), title="Smittevern"),
                    part("annet", date(2012, 6, 1), title="Smittevern"),
                )
            ),
            "Annen delavtale 'Smittevern' er oppført mer enn én gang i samme revisjon",
        ),
        (
            draft(parts=(part("14", date(2012, 6, 1)),)),
            "Ukjent delavtale '14': bruk overordnet, et lovpålagt punkt (1–13), avvik, "
            "kvalitet, tvist eller annet",
        ),
        (draft(parts=()), "Avtalen må ha minst én del (overordnet avtale eller en delavtale)"),
        (draft(title="  "), "Avtalen må ha en tittel"),
        (
            draft(publication_url="ftp://hf.no/avtaler"),
            "Publiseringslenken: lenken må begynne med https:// eller http:// "
            "(fikk 'ftp://hf.no/avtaler')",
        ),
        (
            draft(signed=date(2030, 1, 1)),
            "Signeringsdatoen 2030-01-01 er utenfor årene det finnes kommunelister for (2006–2026)",
        ),
        (
            draft(parts=(part("overordnet", date(2012, 1, 20), document_sha256="ab" * 32),)),
            "Dokumentet abababababab… finnes ikke i registeret; last det opp først",
        ),
    ],
)
def test_every_rule_has_a_clear_message_and_nothing_is_saved(
    store: Store, bad: AgreementDraft, message: str
) -> None:
    assert message in errors_of(store, bad)
    assert row_counts(store) == (0, 0, 0, 0, 0)


def test_a_municipality_is_checked_in_the_year_of_signing(store: Store) -> None:
    # Trondheim has code 5001 from 2018 (1601 before the merger of the counties).
    assert "Ukjent kommune 1601: fantes ikke i 2018 (året avtalen ble signert)" in errors_of(
        store, draft(("1601",), signed=date(2018, 3, 1), health_trust="883974832")
    )
    saved = register_agreement(
        store,
        draft(("5001",), signed=date(2018, 3, 1), health_trust="883974832"),
        by="t",
        rules=RULES,
    )
    assert saved.current.municipalities == ("5001",)


def test_all_problems_are_reported_together(store: Store) -> None:
    errors = errors_of(
        store,
        draft(("9999", "180"), health_trust="1", parts=(part("4", date(2011, 1, 1)),)),
    )
    assert len(errors) == 4
    assert errors[0].startswith("Helseforetaket må oppgis")


def test_point_12_is_accepted_from_2022(store: Store) -> None:
    signed = date(2022, 3, 1)
    saved = register_agreement(
        store, draft(signed=signed, parts=(part("12", signed),)), by="t", rules=RULES
    )
    assert [p.key for p in saved.current.parts] == ["12"]


# ----------------------------------------------------------------------------- documents


def test_documents_pdf_docx_odt_are_stored_once_per_hash(store: Store) -> None:
    pdf = demo_pdf("Avtale")
    first = store_document(store, "avtale.pdf", pdf, by="kari", rules=RULES)
    again = store_document(store, "kopi.PDF", pdf, by="ola", rules=RULES)
    assert first == again  # same bytes: the first upload is kept
    assert first.media_type == "application/pdf" and first.size == len(pdf)
    assert document(store, first.sha256) == (first, pdf)
    docx = store_document(store, "avtale.docx", docx_bytes(), by="kari", rules=RULES)
    odt = store_document(store, r"C:\mapper\avtale.odt", odt_bytes(), by="kari", rules=RULES)
    assert (docx.media_type, odt.filename) == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "avtale.odt",
    )
    assert row_counts(store)[4] == 3


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("avtale.exe", b"MZ", "Filtypen .exe er ikke tillatt; last opp DOCX, ODT, PDF"),
        ("avtale", b"%PDF-1.4", "Filtypen .? er ikke tillatt; last opp DOCX, ODT, PDF"),
        (
            "avtale.pdf",
            b"<html>",
            "Filen 'avtale.pdf' er ikke en gyldig PDF-fil (innholdet stemmer ikke)",
        ),
        ("avtale.docx", odt_bytes(), "er ikke en gyldig DOCX-fil"),
        ("avtale.odt", docx_bytes(), "er ikke en gyldig ODT-fil"),
        ("avtale.docx", b"PK\x03\x04 not a zip", "er ikke en gyldig DOCX-fil"),
        ("avtale.pdf", b"", "Filen 'avtale.pdf' er tom"),
        (
            "stor.pdf",
            b"%PDF-" + b"0" * 10_485_756,
            "Filen 'stor.pdf' er 10485761 byte; største tillatte er 10485760 byte",
        ),
    ],
)
def test_documents_of_other_kinds_or_too_large_are_refused(
    store: Store, name: str, content: bytes, message: str
) -> None:
    with pytest.raises(AgreementValidationError) as caught:
        store_document(store, name, content, by="t", rules=RULES)
    assert any(message in e for e in caught.value.errors)
    assert row_counts(store)[4] == 0


def test_an_upload_is_saved_with_its_revision_or_not_at_all(store: Store) -> None:
    pdf = demo_pdf("Bodø")
    bad = draft(("9999",))
    with pytest.raises(AgreementValidationError):
        register_agreement(store, bad, by="t", rules=RULES, uploads={0: ("a.pdf", pdf)})
    assert row_counts(store) == (0, 0, 0, 0, 0)
    with pytest.raises(AgreementValidationError) as caught:
        register_agreement(store, draft(), by="t", rules=RULES, uploads={1: ("a.txt", b"x")})
    assert caught.value.errors == (
        "Delavtale punkt 1: Filtypen .txt er ikke tillatt; last opp DOCX, ODT, PDF",
    )
    assert row_counts(store) == (0, 0, 0, 0, 0)
    saved = register_agreement(store, draft(), by="t", rules=RULES, uploads={0: ("a.pdf", pdf)})
    doc = saved.current.parts[0].document
    assert doc is not None and document(store, doc.sha256)[1] == pdf
    assert row_counts(store) == (1, 1, 1, 2, 1)


# ----------------------------------------------------------------------------- revisions


def test_revisions_are_appended_and_history_rows_never_change(store: Store) -> None:
    first = register_agreement(store, draft(), by="kari", rules=RULES)
    before = agreement(store, first.id).revisions[0]
    second_draft = draft(
        ("1804", "1838"),
        (
            part("overordnet", date(2012, 1, 20)),
            part("1", date(2012, 1, 20), document_url="https://hf.no/1.pdf"),
            part("5", date(2012, 1, 25)),
        ),
        title="Samarbeidsavtale (revidert)",
        change_note="Gildeskål tiltrer; punkt 5 lagt til",
    )
    updated = add_revision(store, first.id, second_draft, by="ola", rules=RULES)
    assert [r.revision_no for r in updated.revisions] == [1, 2]
    assert updated.revisions[0] == before
    assert updated.current.joint and updated.current.municipalities == ("1804", "1838")
    # The ORM refuses to change or delete history rows.
    with pytest.raises(StoreError, match="bare for tilføyelse"), store._tx() as session:
        row = session.scalar(
            select(AgreementRevisionRow).where(AgreementRevisionRow.revision_no == 1)
        )
        assert row is not None
        row.title = "Forfalsket"
    with pytest.raises(StoreError, match="bare for tilføyelse"), store._tx() as session:
        session.delete(session.scalars(select(AgreementPartRow)).first())
    assert agreement(store, first.id).revisions[0] == before


def test_a_revision_needs_a_change_note_a_change_and_the_same_health_trust(
    store: Store,
) -> None:
    first = register_agreement(store, draft(), by="t", rules=RULES)
    same = draft(change_note="ingen endring")
    with pytest.raises(AgreementValidationError) as caught:
        add_revision(store, first.id, same, by="t", rules=RULES)
    assert caught.value.errors == ("Revisjonen er lik revisjon 1; ingenting å registrere",)
    with pytest.raises(AgreementValidationError) as caught:
        add_revision(store, first.id, draft(title="Ny"), by="t", rules=RULES)
    assert caught.value.errors == (
        "En ny revisjon må ha et endringsnotat som sier hva som er endret",
    )
    with pytest.raises(AgreementValidationError) as caught:
        add_revision(store, first.id, draft(health_trust=UNN, change_note="x"), by="t")
    assert caught.value.errors == (
        f"Helseforetaket kan ikke endres i en revisjon (avtalen er med {NLSH}); "
        "registrer en ny avtale",
    )
    with pytest.raises(AgreementError, match="Avtale 999 finnes ikke"):
        add_revision(store, 999, draft(change_note="x"), by="t", rules=RULES)
    assert [r.revision_no for r in agreement(store, first.id).revisions] == [1]


def test_diff_names_the_changed_fields_parties_and_parts(store: Store) -> None:
    pdf = demo_pdf("v2")
    first = register_agreement(
        store,
        draft(
            ("1804", "1837"),
            (
                part("overordnet", date(2012, 1, 20)),
                part("1", date(2012, 1, 20)),
                part("2", date(2012, 1, 20)),
                part("annet", date(2012, 1, 20), title="Smittevern"),
            ),
        ),
        by="t",
        rules=RULES,
    )
    second = add_revision(
        store,
        first.id,
        draft(
            ("1804", "1838"),
            (
                part("overordnet", date(2014, 2, 1), valid_from=date(2014, 3, 1)),
                part("1", date(2012, 1, 20)),
                part("avvik", date(2014, 2, 1)),
            ),
            valid_to=date(2017, 12, 31),
            change_note="Reforhandlet 2014",
        ),
        by="t",
        rules=RULES,
        uploads={0: ("ny.pdf", pdf)},
    )
    diff = diff_revisions(second.revisions[0], second.revisions[1])
    assert [(f.label, f.old, f.new) for f in diff.fields] == [("Gyldig til", "–", "31.12.2017")]
    assert (diff.added_municipalities, diff.removed_municipalities) == (("1838",), ("1837",))
    assert [(c.key, c.change) for c in diff.parts] == [
        ("overordnet", "endret"),
        ("avvik", "lagt til"),
        ("2", "fjernet"),
        ("annet", "fjernet"),
    ]
    overall = diff.parts[0]
    uploaded = second.current.parts[0].document
    assert uploaded is not None
    assert [(f.label, f.old, f.new) for f in overall.fields] == [
        ("Signert", "20.01.2012", "01.02.2014"),
        ("Gyldig fra", "20.01.2012", "01.03.2014"),
        (
            "Opplastet dokument",
            "–",
            f"ny.pdf (SHA-256 {uploaded.sha256[:12]}…)",
        ),
    ]
    lines = describe_diff(diff)
    assert "Nye parter: 1838" in lines and "Parter som gikk ut: 1837" in lines
    assert "Annen delavtale" not in " ".join(lines)  # other parts are named by their title
    assert "Smittevern fjernet" in lines
    assert diff_revisions(second.current, second.current).empty
    history = history_lines(second)
    assert history[0].startswith("Revisjon 1, registrert ")
    assert "  Endringsnotat: Reforhandlet 2014" in history


def _revision(no: int, keys: frozenset[str]) -> Revision:
    return Revision(
        agreement_id=1,
        revision_no=no,
        health_trust=NLSH,
        title="T",
        municipalities=("1804",),
        signed_on=date(2012, 1, 1),
        valid_from=date(2012, 1, 1),
        valid_to=None,
        publication_url="",
        change_note="",
        recorded_at=datetime(2012, 1, 1, tzinfo=UTC),
        recorded_by="t",
        parts=tuple(Part(k, k, date(2012, 1, 1), date(2012, 1, 1), None) for k in sorted(keys)),
    )


@given(
    st.frozensets(st.sampled_from(["overordnet", *ALL_POINTS, "avvik"])),
    st.frozensets(st.sampled_from(["overordnet", *ALL_POINTS, "avvik"])),
)
def test_diff_adds_and_removes_exactly_the_set_difference(
    old: frozenset[str], new: frozenset[str]
) -> None:
    diff = diff_revisions(_revision(1, old), _revision(2, new))
    assert {c.key for c in diff.parts if c.change == "lagt til"} == new - old
    assert {c.key for c in diff.parts if c.change == "fjernet"} == old - new
    assert not any(c.change == "endret" for c in diff.parts)
    back = diff_revisions(_revision(2, new), _revision(1, old))
    assert {c.key for c in back.parts if c.change == "lagt til"} == old - new


# ----------------------------------------------------------------------------- point_signed


def test_point_signed_finds_the_sub_agreement_in_force(store: Store) -> None:
    single = register_agreement(
        store,
        draft(
            ("1804",),
            (part("overordnet", date(2012, 1, 20)), part("4", date(2012, 6, 1))),
        ),
        by="t",
        rules=RULES,
    )
    register_agreement(
        store,
        draft(
            ("1837", "1838"),
            (part("4", date(2012, 5, 2), valid_to=date(2013, 12, 31)),),
            signed=date(2012, 5, 2),
        ),
        by="t",
        rules=RULES,
    )
    assert point_signed(store, "1804", "4", date(2012, 6, 1)) == date(2012, 6, 1)
    assert point_signed(store, "1804", "4", date(2012, 5, 31)) is None  # not signed yet
    assert point_signed(store, "1804", "5", date(2013, 1, 1)) is None  # no such point
    assert point_signed(store, "1838", "4", date(2013, 12, 31)) == date(2012, 5, 2)  # joint
    assert point_signed(store, "1838", "4", date(2014, 1, 1)) is None  # expired
    assert point_signed(store, "1839", "4", date(2013, 1, 1)) is None  # not a party
    # Renegotiated from 2014-03-01 without point 4: the old text holds before that day only.
    add_revision(
        store,
        single.id,
        draft(
            ("1804",),
            (part("overordnet", date(2014, 2, 1)),),
            signed=date(2014, 2, 1),
            valid_from=date(2014, 3, 1),
            change_note="Punkt 4 tatt ut",
        ),
        by="t",
        rules=RULES,
    )
    assert point_signed(store, "1804", "4", date(2014, 2, 28)) == date(2012, 6, 1)
    assert point_signed(store, "1804", "4", date(2014, 3, 1)) is None
    # A second agreement with the same point: the earliest signing in force counts.
    register_agreement(
        store,
        draft(("1804",), (part("4", date(2014, 5, 5)),), signed=date(2014, 5, 5)),
        by="t",
        rules=RULES,
    )
    register_agreement(
        store,
        draft(("1804",), (part("4", date(2014, 4, 4)),), signed=date(2014, 4, 4)),
        by="t",
        rules=RULES,
    )
    assert point_signed(store, "1804", "4", date(2014, 6, 1)) == date(2014, 4, 4)


def test_in_force_is_the_newest_revision_that_covers_the_day() -> None:
    old = _revision(1, frozenset({"1"}))
    later = replace(_revision(2, frozenset({"2"})), valid_from=date(2014, 3, 1))
    item = Agreement(1, NLSH, datetime(2012, 1, 1, tzinfo=UTC), "t", (old, later))
    assert item.in_force(date(2011, 12, 31)) is None
    assert item.in_force(date(2014, 2, 28)) == old
    assert item.in_force(date(2014, 3, 1)) == later


# ----------------------------------------------------------------------------- monitoring


def _monitoring_case(store: Store) -> None:
    """Salten pair with a joint agreement on time; Bodø single with point 4 late."""
    on_time = tuple(
        part(k, date(2012, 1, 25) if k in ("1", "2", "3", "5") else date(2012, 6, 20))
        for k in ALL_POINTS
    )
    register_agreement(
        store,
        draft(
            ("1837", "1838"),
            (part("overordnet", date(2012, 1, 25)), *on_time, part("avvik", date(2012, 6, 20))),
            signed=date(2012, 1, 25),
        ),
        by="t",
        rules=RULES,
    )
    register_agreement(
        store,
        draft(
            ("1804",),
            (
                part("overordnet", date(2012, 1, 20)),
                *(part(k, date(2012, 1, 20)) for k in ("1", "2", "3", "5")),
                part("4", date(2012, 8, 1)),
                part("annet", date(2012, 8, 1), title="Smittevern"),
            ),
        ),
        by="t",
        rules=RULES,
    )
    # Meløy also has a single agreement on a recommended topic: joint and single.
    register_agreement(
        store,
        draft(("1837",), (part("tvist", date(2012, 9, 1)),), signed=date(2012, 9, 1)),
        by="t",
        rules=RULES,
    )


def test_monitoring_per_municipality_hf_and_rhf(store: Store) -> None:
    _monitoring_case(store)
    result = monitor(store, date(2012, 12, 31), RULES)
    by_code = {m.municipality: m for m in result.municipalities}
    bodo, meloy, gildeskal, beiarn = (by_code[c] for c in ("1804", "1837", "1838", "1839"))
    assert (bodo.has_overall, bodo.form, bodo.missing, bodo.overdue, bodo.late) == (
        True,
        "enkelt",
        ("6", "7", "8", "9", "10", "11"),
        ("6", "7", "8", "9", "10", "11"),
        ("4",),
    )
    assert dict(bodo.signed)["4"] == date(2012, 8, 1) and bodo.other == ("Smittevern",)
    assert (meloy.form, meloy.complete, meloy.recommended) == ("begge", True, ("avvik", "tvist"))
    assert (gildeskal.form, gildeskal.complete, gildeskal.recommended) == (
        "felles",
        True,
        ("avvik",),
    )
    assert (beiarn.has_agreement, beiarn.form, beiarn.missing, beiarn.overdue) == (
        False,
        "",
        ALL_POINTS,
        ALL_POINTS,
    )
    hf = next(a for a in result.by_hf if a.orgnr == NLSH)
    assert (
        hf.municipalities,
        hf.with_agreement,
        hf.with_overall,
        hf.joint,
        hf.single,
        hf.complete,
        hf.missing_any,
        hf.overdue_any,
        hf.with_other,
    ) == (20, 3, 3, 2, 2, 2, 18, 18, 1)
    assert dict(hf.missing_by_point) == {
        **dict.fromkeys(("1", "2", "3", "4", "5"), 17),
        **dict.fromkeys(("6", "7", "8", "9", "10", "11"), 18),
    }
    assert dict(hf.recommended) == {"avvik": 2, "kvalitet": 0, "tvist": 1}
    rhf = next(a for a in result.by_rhf if a.name == "Helse Nord RHF")
    assert (rhf.municipalities, rhf.with_agreement, rhf.complete) == (88, 3, 2)
    assert (result.country.municipalities, result.country.with_agreement) == (429, 3)
    assert sum(a.municipalities for a in result.by_rhf) == 429
    assert result.unverified  # the deadlines are not confirmed in a primary source


def test_monitoring_against_the_deadlines_on_chosen_days(store: Store) -> None:
    _monitoring_case(store)
    items = agreements(store)
    # Before the law: no statutory point is required.
    before = monitor_agreements(items, date(2011, 12, 31), RULES)
    assert before.points == () and before.country.missing_any == 0
    # 25 January 2012: Bodø has 1, 2, 3, 5; nothing is overdue yet.
    early = {
        m.municipality: m
        for m in monitor_agreements(items, date(2012, 1, 25), RULES).municipalities
    }
    assert early["1804"].missing == ("4", "6", "7", "8", "9", "10", "11")
    assert early["1804"].overdue == () and early["1839"].overdue == ()
    # 1 February 2012: points 1, 2, 3, 5 are overdue where missing.
    february = {
        m.municipality: m for m in monitor_agreements(items, date(2012, 2, 1), RULES).municipalities
    }
    assert february["1839"].overdue == ("1", "2", "3", "5")
    assert february["1804"].overdue == ()
    # 1 July 2012 is the last day for the rest; 2 July they are overdue.
    assert {
        m.municipality: m for m in monitor_agreements(items, date(2012, 7, 1), RULES).municipalities
    }["1804"].overdue == ()
    july = {
        m.municipality: m for m in monitor_agreements(items, date(2012, 7, 2), RULES).municipalities
    }
    assert july["1804"].overdue == ("4", "6", "7", "8", "9", "10", "11")
    # From August 2022 points 12 and 13 are in the law without a registered deadline:
    # missing, never overdue.
    later = {
        m.municipality: m for m in monitor_agreements(items, date(2022, 9, 1), RULES).municipalities
    }
    assert later["1838"].missing == ("12", "13") and later["1838"].overdue == ()


def test_monitoring_xlsx_has_a_sheet_per_view_and_notes(store: Store) -> None:
    _monitoring_case(store)
    items = agreements(store)
    result = monitor_agreements(items, date(2012, 12, 31), RULES)
    book = load_workbook(io.BytesIO(monitoring_xlsx(result, items, RULES)))
    assert tuple(book.sheetnames) == SHEETS
    hf = book["Per HF"]
    header = [c.value for c in hf[2]]
    row = next(r for r in hf.iter_rows(min_row=3, values_only=True) if r[2] == NLSH)
    values = dict(zip(header, row, strict=True))
    assert (values["HF"], values["Kommuner"], values["Med avtale"], values["Frist passert"]) == (
        "Nordlandssykehuset HF",
        20,
        3,
        18,
    )
    assert values["Mangler punkt 6"] == 18 and values["Avvikshåndtering"] == 2
    gaps = [r for r in book["Mangler"].iter_rows(min_row=3, values_only=True) if r[0] == "1804"]
    assert [r[4] for r in gaps] == [6, 7, 8, 9, 10, 11]
    assert all(r[7] == "Ja" for r in gaps)
    totals = list(book["Per RHF"].iter_rows(min_row=3, values_only=True))[-1]
    assert totals[:3] == ("Hele landet", 429, 3)
    notes = list(book["Merknader"].iter_rows(values_only=True))
    assert ("Regelsett", RULES.label) in [tuple(r[:2]) for r in notes]
    assert any(r[0] == "agreements.deadlines" and r[4] == "unverified" for r in notes)
    registry = list(book["Avtaler"].iter_rows(min_row=3, values_only=True))
    assert [r[0] for r in registry] == [1, 2, 3]


# ----------------------------------------------------------------------------- CLI, demo, store


def test_parse_draft_reports_every_problem_of_the_file() -> None:
    doc = tomllib.loads(
        'helseforetak = "983974910"\nkommuner = ["1804"]\ntittel = "T"\nsignert = "20.01.2012"\n'
        'farge = "blå"\n[[deler]]\npunkt = "1"\n'
    )
    with pytest.raises(AgreementValidationError) as caught:
        parse_draft(doc)
    assert caught.value.errors == (
        "Ukjent felt 'farge' (kjente felt: deler, endringsnotat, gyldig_fra, gyldig_til, "
        "helseforetak, kommuner, publisert, signert, tittel)",
        "signert: '20.01.2012' er ikke en dato (ÅÅÅÅ-MM-DD)",
        "del 1: feltet 'signert' mangler",
    )


def test_cli_registers_revises_and_monitors(tmp_path: Path) -> None:
    from samhandling.cli import app

    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    (tmp_path / "avtale.pdf").write_bytes(demo_pdf("CLI"))
    (tmp_path / "avtale.toml").write_text(
        'helseforetak = "983974910"\nkommuner = ["1804"]\n'
        'tittel = "Samarbeidsavtale Bodø"\nsignert = 2012-01-20\n\n'
        '[[deler]]\npunkt = "overordnet"\nsignert = 2012-01-20\ndokument = "avtale.pdf"\n\n'
        '[[deler]]\npunkt = "5"\nsignert = 2012-01-20\n',
        encoding="utf-8",
    )
    (tmp_path / "rev.toml").write_text(
        (tmp_path / "avtale.toml")
        .read_text("utf-8")
        .replace(
            'tittel = "Samarbeidsavtale Bodø"',
            'tittel = "Samarbeidsavtale Bodø"\nendringsnotat = "Punkt 4 lagt til"',
        )
        + '\n[[deler]]\npunkt = "4"\nsignert = 2012-06-28\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    db = ["--database", url]
    result = runner.invoke(app, ["avtaler", "registrer", str(tmp_path / "avtale.toml"), *db])
    assert result.exit_code == 0, result.output
    assert "Registrerte avtale 1, revisjon 1 (2 deler, 1 kommuner)." in result.output
    result = runner.invoke(
        app, ["avtaler", "registrer", str(tmp_path / "rev.toml"), "--avtale", "1", *db]
    )
    assert result.exit_code == 0, result.output
    assert "revisjon 2" in result.output
    result = runner.invoke(app, ["avtaler", "diff", "1", "1", "2", *db])
    assert "lagt til" in result.output and "Punkt 4" in result.output
    result = runner.invoke(app, ["avtaler", "historikk", "1", *db])
    assert "Endringsnotat: Punkt 4 lagt til" in result.output
    result = runner.invoke(
        app, ["avtaler", "oppfolging", "--dato", "2012-12-31", "--hf", NLSH, *db]
    )
    assert result.exit_code == 0, result.output
    assert "Bodø" in result.output
    out = tmp_path / "oppfolging.xlsx"
    result = runner.invoke(app, ["avtaler", "eksport", str(out), "--dato", "2012-12-31", *db])
    assert result.exit_code == 0, result.output
    assert load_workbook(out).sheetnames == list(SHEETS)
    with Store(url) as store:
        sha = agreement(store, 1).current.parts[0].document.sha256  # type: ignore[union-attr]
    result = runner.invoke(app, ["avtaler", "dokument", sha, str(tmp_path / "ut.pdf"), *db])
    assert (tmp_path / "ut.pdf").read_bytes() == demo_pdf("CLI")
    # A bad file changes nothing and says why.
    (tmp_path / "bad.toml").write_text(
        (tmp_path / "avtale.toml").read_text("utf-8").replace('"1804"', '"9999"'),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["avtaler", "registrer", str(tmp_path / "bad.toml"), *db])
    assert result.exit_code != 0
    assert "Ukjent kommune 9999" in str(result.exception)
    with Store(url) as store:
        assert len(agreements(store)) == 1


def test_demo_agreements_are_seeded_once_and_show_gaps(store: Store) -> None:
    first = seed_demo(None, store)  # type: ignore[arg-type]  # the warehouse is not used
    assert first[0].startswith("Samarbeidsavtaler: registrerte 12 demoavtaler")
    assert seed_demo(None, store) == ["Samarbeidsavtaler: 12 demoavtaler finnes allerede"]  # type: ignore[arg-type]
    items = agreements(store)
    assert len(items) == 12
    bodo = agreements(store, municipality="1804")
    assert [len(a.revisions) for a in bodo] == [2]
    assert sum(a.current.joint for a in items) == 1
    result = monitor_agreements(items, date(2012, 12, 31), RULES)
    hf = next(a for a in result.by_hf if a.orgnr == NLSH)
    assert (hf.municipalities, hf.with_agreement, hf.complete) == (20, 19, 14)
    moskenes = next(m for m in result.municipalities if m.municipality == "1874")
    assert not moskenes.has_agreement
    assert point_signed(store, "1804", "4", date(2013, 1, 1)) == date(2012, 6, 28)


def test_the_migration_builds_exactly_the_agreement_models(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from samhandling.store.models import Base

    assert store.revision() == head_revision()
    assert "0002" in store.revision().split("+") or "0002" not in head_revision()
    mine = {"agreements", "agreement_revisions", "agreement_parties", "agreement_parts"}
    mine |= {"agreement_documents"}
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            tables = set(
                conn.execute(
                    text(
                        "SELECT name FROM sqlite_master WHERE type='table'"
                        if store.dialect == "sqlite"
                        else "SELECT tablename FROM pg_tables WHERE schemaname='public'"
                    )
                ).scalars()
            )
            assert mine <= tables
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()

    # Only this area's tables: other areas' branches are checked by their own tests.
    assert [d for d in diffs if any(f"'{t}'" in repr(d) for t in mine)] == []
