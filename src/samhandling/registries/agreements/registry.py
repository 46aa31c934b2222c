"""Store access for the agreement registry: register, revise, read, documents, point_signed.

Every write is one transaction: a draft is validated completely first, and either the whole
revision (with its parties and parts) is saved or nothing is. Nothing is ever updated: a
change is a new revision with the next number.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import PurePath

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from samhandling.registries.agreements.domain import (
    OTHER,
    OVERALL,
    RULE_DOCUMENT_FORMATS,
    RULE_DOCUMENT_MAX_BYTES,
    RULE_RECOMMENDED,
    RULE_STATUTORY,
    Agreement,
    AgreementDraft,
    AgreementError,
    AgreementValidationError,
    DocumentInfo,
    Part,
    PartDraft,
    Revision,
    validate_draft,
)
from samhandling.rules import RuleSet, load_rules
from samhandling.store import Store
from samhandling.store.agreements import (
    AgreementDocumentRow,
    AgreementPartRow,
    AgreementPartyRow,
    AgreementRevisionRow,
    AgreementRow,
)

__all__ = [
    "add_revision",
    "agreement",
    "agreements",
    "document",
    "point_signed",
    "register_agreement",
    "store_document",
]

_FILENAME_MAX = 255


def _now() -> datetime:
    return datetime.now(UTC)


def _doc_info(row: AgreementDocumentRow) -> DocumentInfo:
    return DocumentInfo(
        sha256=row.sha256,
        filename=row.filename,
        media_type=row.media_type,
        size=row.size,
        uploaded_at=row.uploaded_at,
        uploaded_by=row.uploaded_by,
    )


def _load(session: Session, ids: Iterable[int]) -> list[Agreement]:
    """Agreements with all revisions, parties, parts and document infos (four queries)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    heads = session.scalars(select(AgreementRow).where(AgreementRow.id.in_(wanted))).all()
    revs = session.scalars(
        select(AgreementRevisionRow)
        .where(AgreementRevisionRow.agreement_id.in_(wanted))
        .order_by(AgreementRevisionRow.agreement_id, AgreementRevisionRow.revision_no)
    ).all()
    rev_ids = [r.id for r in revs]
    parties: dict[int, list[str]] = {}
    parts: dict[int, list[Part]] = {}
    if rev_ids:
        for party in session.scalars(
            select(AgreementPartyRow).where(AgreementPartyRow.revision_id.in_(rev_ids))
        ).all():
            parties.setdefault(party.revision_id, []).append(party.municipality)
        part_rows = session.scalars(
            select(AgreementPartRow)
            .where(AgreementPartRow.revision_id.in_(rev_ids))
            .order_by(AgreementPartRow.id)
        ).all()
        doc_ids = {p.document_id for p in part_rows if p.document_id is not None}
        docs: dict[int, DocumentInfo] = {}
        if doc_ids:
            # Only the metadata columns: the bytes stay in the database until downloaded.
            for doc_row in session.execute(
                select(
                    AgreementDocumentRow.id,
                    AgreementDocumentRow.sha256,
                    AgreementDocumentRow.filename,
                    AgreementDocumentRow.media_type,
                    AgreementDocumentRow.size,
                    AgreementDocumentRow.uploaded_at,
                    AgreementDocumentRow.uploaded_by,
                ).where(AgreementDocumentRow.id.in_(doc_ids))
            ).all():
                docs[doc_row.id] = DocumentInfo(
                    sha256=doc_row.sha256,
                    filename=doc_row.filename,
                    media_type=doc_row.media_type,
                    size=doc_row.size,
                    uploaded_at=doc_row.uploaded_at,
                    uploaded_by=doc_row.uploaded_by,
                )
        for p in part_rows:
            parts.setdefault(p.revision_id, []).append(
                Part(
                    key=p.key,
                    title=p.title,
                    signed_on=p.signed_on,
                    valid_from=p.valid_from,
                    valid_to=p.valid_to,
                    document_url=p.document_url,
                    document=None if p.document_id is None else docs[p.document_id],
                    note=p.note,
                )
            )
    trust_of = {h.id: h.health_trust for h in heads}
    by_agreement: dict[int, list[Revision]] = {}
    for r in revs:
        by_agreement.setdefault(r.agreement_id, []).append(
            Revision(
                agreement_id=r.agreement_id,
                revision_no=r.revision_no,
                health_trust=trust_of[r.agreement_id],
                title=r.title,
                municipalities=tuple(sorted(parties.get(r.id, []))),
                signed_on=r.signed_on,
                valid_from=r.valid_from,
                valid_to=r.valid_to,
                publication_url=r.publication_url,
                change_note=r.change_note,
                recorded_at=r.recorded_at,
                recorded_by=r.recorded_by,
                parts=tuple(sorted(parts.get(r.id, []), key=_part_order)),
            )
        )
    return [
        Agreement(
            id=h.id,
            health_trust=h.health_trust,
            created_at=h.created_at,
            created_by=h.created_by,
            revisions=tuple(by_agreement.get(h.id, [])),
        )
        for h in sorted(heads, key=lambda h: h.id)
        if by_agreement.get(h.id)
    ]


def _part_order(part: Part) -> tuple[int, int, str]:
    """Overall agreement first, then points 1..13, recommended, other (by title)."""
    if part.kind == "overordnet":
        return (0, 0, "")
    if part.kind == "lovpålagt":
        return (1, int(part.key), "")
    if part.kind == "anbefalt":
        return (2, 0, part.key)
    return (3, 0, part.title)


def agreement(store: Store, agreement_id: int) -> Agreement:
    """One agreement with its whole history."""
    with store._tx() as session:
        found = _load(session, [agreement_id])
    if not found:
        raise AgreementError(f"Avtale {agreement_id} finnes ikke")
    return found[0]


def agreements(
    store: Store, *, health_trust: str | None = None, municipality: str | None = None
) -> list[Agreement]:
    """All agreements (optionally of one health trust, or that ever had a municipality)."""
    with store._tx() as session:
        query = select(AgreementRow.id)
        if health_trust is not None:
            query = query.where(AgreementRow.health_trust == health_trust)
        if municipality is not None:
            query = query.where(
                AgreementRow.id.in_(
                    select(AgreementRevisionRow.agreement_id)
                    .join(
                        AgreementPartyRow,
                        AgreementPartyRow.revision_id == AgreementRevisionRow.id,
                    )
                    .where(AgreementPartyRow.municipality == municipality)
                )
            )
        return _load(session, session.scalars(query).all())


def _clean(draft: AgreementDraft) -> AgreementDraft:
    """Trim free text; municipalities keep their order for messages but are stored sorted."""
    return AgreementDraft(
        health_trust=draft.health_trust.strip(),
        municipalities=tuple(m.strip() for m in draft.municipalities),
        title=draft.title.strip(),
        signed_on=draft.signed_on,
        valid_from=draft.valid_from,
        valid_to=draft.valid_to,
        parts=tuple(
            PartDraft(
                key=p.key.strip(),
                signed_on=p.signed_on,
                valid_from=p.valid_from,
                valid_to=p.valid_to,
                title=p.title.strip(),
                document_url=p.document_url.strip(),
                document_sha256=p.document_sha256.strip().lower(),
                note=p.note.strip(),
            )
            for p in draft.parts
        ),
        publication_url=draft.publication_url.strip(),
        change_note=draft.change_note.strip(),
    )


def _part_title(part: PartDraft, rules: RuleSet) -> str:
    """A statutory or recommended part without its own title gets the rule table's name."""
    if part.title or part.key == OTHER:
        return part.title
    if part.key == OVERALL:
        return "Overordnet samarbeidsavtale"
    for rule_id in (RULE_STATUTORY, RULE_RECOMMENDED):
        rows = [r for r in rules[rule_id].rows if r.key == part.key]
        if rows:
            return rows[-1].value
    return part.key


def _insert_revision(
    session: Session,
    agreement_id: int,
    revision_no: int,
    draft: AgreementDraft,
    *,
    rules: RuleSet,
    by: str,
    errors: list[str],
    uploads: Mapping[str, _Upload],
) -> None:
    docs: dict[str, int] = {}
    if not errors:
        for upload in uploads.values():
            docs[upload.sha256] = _insert_document(session, upload, by).id
    wanted = {p.document_sha256 for p in draft.parts if p.document_sha256} - set(docs)
    if wanted:
        for doc_id, sha in session.execute(
            select(AgreementDocumentRow.id, AgreementDocumentRow.sha256).where(
                AgreementDocumentRow.sha256.in_(sorted(wanted))
            )
        ).all():
            docs[sha] = doc_id
    for sha in sorted(wanted - set(docs)):
        errors.append(f"Dokumentet {sha[:12]}… finnes ikke i registeret; last det opp først")
    if errors:
        raise AgreementValidationError(errors)
    rev = AgreementRevisionRow(
        agreement_id=agreement_id,
        revision_no=revision_no,
        title=draft.title,
        signed_on=draft.signed_on,
        valid_from=draft.valid_from,
        valid_to=draft.valid_to,
        publication_url=draft.publication_url,
        change_note=draft.change_note,
        recorded_at=_now(),
        recorded_by=by[:64],
    )
    session.add(rev)
    session.flush()
    for code in sorted(set(draft.municipalities)):
        session.add(AgreementPartyRow(revision_id=rev.id, municipality=code))
    for part in draft.parts:
        session.add(
            AgreementPartRow(
                revision_id=rev.id,
                key=part.key,
                title=_part_title(part, rules),
                signed_on=part.signed_on,
                valid_from=part.valid_from,
                valid_to=part.valid_to,
                document_url=part.document_url,
                document_id=docs.get(part.document_sha256) if part.document_sha256 else None,
                note=part.note,
            )
        )
    session.flush()


def _with_uploads(
    draft: AgreementDraft,
    uploads: Mapping[int, tuple[str, bytes]] | None,
    rules: RuleSet,
    errors: list[str],
) -> tuple[AgreementDraft, dict[str, _Upload]]:
    """Check the uploaded files (by part index) and point their parts at them."""
    if not uploads:
        return draft, {}
    parts = list(draft.parts)
    checked: dict[str, _Upload] = {}
    for index, (filename, content) in sorted(uploads.items()):
        if not 0 <= index < len(parts):
            errors.append(f"Opplastet fil {filename!r} hører ikke til noen del av avtalen")
            continue
        upload = _check_upload(filename, content, rules, errors, _label(parts[index]))
        if upload is not None:
            checked[upload.sha256] = upload
            parts[index] = replace(parts[index], document_sha256=upload.sha256)
    return replace(draft, parts=tuple(parts)), checked


def _label(part: PartDraft) -> str:
    if part.key == OVERALL:
        return "Overordnet avtale"
    if part.key.isdigit():
        return f"Delavtale punkt {part.key}"
    return f"Delavtale {part.title or part.key}"


def register_agreement(
    store: Store,
    draft: AgreementDraft,
    *,
    by: str,
    rules: RuleSet | None = None,
    uploads: Mapping[int, tuple[str, bytes]] | None = None,
) -> Agreement:
    """Register a new agreement (its revision 1); raises with every problem, saves nothing.

    ``uploads`` maps a part's index in ``draft.parts`` to a document (file name, bytes) that
    is stored in the same transaction as the revision.
    """
    rules = rules or load_rules()
    draft = _clean(draft)
    errors: list[str] = []
    draft, checked = _with_uploads(draft, uploads, rules, errors)
    errors.extend(validate_draft(draft, rules))
    with store._tx() as session:
        head = AgreementRow(health_trust=draft.health_trust, created_at=_now(), created_by=by[:64])
        if not errors:
            session.add(head)
            session.flush()
        _insert_revision(
            session, head.id, 1, draft, rules=rules, by=by, errors=errors, uploads=checked
        )
        agreement_id = head.id
    return agreement(store, agreement_id)


def add_revision(
    store: Store,
    agreement_id: int,
    draft: AgreementDraft,
    *,
    by: str,
    rules: RuleSet | None = None,
    uploads: Mapping[int, tuple[str, bytes]] | None = None,
) -> Agreement:
    """Register a new revision of an agreement (renegotiation or correction)."""
    rules = rules or load_rules()
    draft = _clean(draft)
    current = agreement(store, agreement_id)
    errors: list[str] = []
    draft, checked = _with_uploads(draft, uploads, rules, errors)
    errors.extend(validate_draft(draft, rules))
    if draft.health_trust != current.health_trust:
        errors.append(
            f"Helseforetaket kan ikke endres i en revisjon (avtalen er med "
            f"{current.health_trust}); registrer en ny avtale"
        )
    if not draft.change_note:
        errors.append("En ny revisjon må ha et endringsnotat som sier hva som er endret")
    if not errors and _same_content(current.current, draft, rules):
        errors.append(
            f"Revisjonen er lik revisjon {current.current.revision_no}; ingenting å registrere"
        )
    try:
        with store._tx() as session:
            last = session.scalar(
                select(func.max(AgreementRevisionRow.revision_no)).where(
                    AgreementRevisionRow.agreement_id == agreement_id
                )
            )
            _insert_revision(
                session,
                agreement_id,
                int(last or 0) + 1,
                draft,
                rules=rules,
                by=by,
                errors=errors,
                uploads=checked,
            )
    except IntegrityError as exc:
        raise AgreementError(
            f"Noen andre registrerte en revisjon av avtale {agreement_id} samtidig; "
            "last siden på nytt og prøv igjen"
        ) from exc
    return agreement(store, agreement_id)


def _same_content(previous: Revision, draft: AgreementDraft, rules: RuleSet) -> bool:
    """Whether the draft registers exactly what the previous revision holds."""
    if (
        previous.title,
        previous.municipalities,
        previous.signed_on,
        previous.valid_from,
        previous.valid_to,
        previous.publication_url,
    ) != (
        draft.title,
        tuple(sorted(set(draft.municipalities))),
        draft.signed_on,
        draft.valid_from,
        draft.valid_to,
        draft.publication_url,
    ):
        return False

    def old(p: Part) -> tuple[object, ...]:
        sha = p.document.sha256 if p.document else ""
        return (p.key, p.title, p.signed_on, p.valid_from, p.valid_to, p.document_url, sha, p.note)

    def new(p: PartDraft) -> tuple[object, ...]:
        return (
            p.key,
            _part_title(p, rules),
            p.signed_on,
            p.valid_from,
            p.valid_to,
            p.document_url,
            p.document_sha256,
            p.note,
        )

    return sorted(map(old, previous.parts), key=repr) == sorted(map(new, draft.parts), key=repr)


def _media_type(filename: str, content: bytes, rules: RuleSet) -> str:
    """The media type of an allowed document, checked by suffix and by the bytes themselves."""
    formats = {r.key: r.value for r in rules[RULE_DOCUMENT_FORMATS].rows if r.key is not None}
    suffix = PurePath(filename).suffix.lower().lstrip(".")
    allowed = ", ".join(s.upper() for s in sorted(formats))
    if suffix not in formats:
        raise AgreementValidationError(
            [f"Filtypen .{suffix or '?'} er ikke tillatt; last opp {allowed}"]
        )
    ok = content.startswith(b"%PDF-") if suffix == "pdf" else _zip_has(content, suffix)
    if not ok:
        raise AgreementValidationError(
            [f"Filen {filename!r} er ikke en gyldig {suffix.upper()}-fil (innholdet stemmer ikke)"]
        )
    return formats[suffix]


def _zip_has(content: bytes, suffix: str) -> bool:
    """DOCX and ODT are ZIP packages with a known part; look for it without unpacking."""
    if not content.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as package:
            names = set(package.namelist())
            if suffix == "docx":
                return "[Content_Types].xml" in names and "word/document.xml" in names
            if "mimetype" not in names:
                return False
            return package.read("mimetype").strip() == b"application/vnd.oasis.opendocument.text"
    except (zipfile.BadZipFile, KeyError, OSError):
        return False


@dataclass(frozen=True)
class _Upload:
    """A document checked and ready to store."""

    filename: str
    media_type: str
    sha256: str
    content: bytes


def _check_upload(
    filename: str, content: bytes, rules: RuleSet, errors: list[str], what: str = ""
) -> _Upload | None:
    """The upload if its name, size and format are allowed; else the reasons in ``errors``."""
    prefix = f"{what}: " if what else ""
    name = PurePath(filename.replace("\\", "/")).name.strip()
    if not name or len(name) > _FILENAME_MAX:
        errors.append(f"{prefix}Ugyldig filnavn {filename!r}")
        return None
    limit = int(rules[RULE_DOCUMENT_MAX_BYTES].value_on(date.today()).decimal)
    if not content:
        errors.append(f"{prefix}Filen {name!r} er tom")
        return None
    if len(content) > limit:
        errors.append(
            f"{prefix}Filen {name!r} er {len(content)} byte; største tillatte er {limit} byte"
        )
        return None
    try:
        media_type = _media_type(name, content, rules)
    except AgreementValidationError as exc:
        errors.extend(prefix + e for e in exc.errors)
        return None
    return _Upload(name, media_type, hashlib.sha256(content).hexdigest(), content)


def _insert_document(session: Session, upload: _Upload, by: str) -> AgreementDocumentRow:
    existing = session.scalar(
        select(AgreementDocumentRow).where(AgreementDocumentRow.sha256 == upload.sha256)
    )
    if existing is not None:
        return existing
    row = AgreementDocumentRow(
        sha256=upload.sha256,
        filename=upload.filename,
        media_type=upload.media_type,
        size=len(upload.content),
        content=upload.content,
        uploaded_at=_now(),
        uploaded_by=by[:64],
    )
    session.add(row)
    session.flush()
    return row


def store_document(
    store: Store,
    filename: str,
    content: bytes,
    *,
    by: str,
    rules: RuleSet | None = None,
) -> DocumentInfo:
    """Store an agreement document once per SHA-256 (PDF, DOCX or ODT, size-limited)."""
    rules = rules or load_rules()
    errors: list[str] = []
    upload = _check_upload(filename, content, rules, errors)
    if upload is None:
        raise AgreementValidationError(errors)
    try:
        with store._tx() as session:
            return _doc_info(_insert_document(session, upload, by))
    except IntegrityError:
        # The same file was uploaded at the same moment by someone else: use theirs.
        with store._tx() as session:
            again = session.scalar(
                select(AgreementDocumentRow).where(AgreementDocumentRow.sha256 == upload.sha256)
            )
            if again is None:
                raise
            return _doc_info(again)


def document(store: Store, sha256: str) -> tuple[DocumentInfo, bytes]:
    """An uploaded document and its bytes."""
    with store._tx() as session:
        row = session.scalar(
            select(AgreementDocumentRow).where(AgreementDocumentRow.sha256 == sha256.lower())
        )
        if row is None:
            raise AgreementError(f"Dokumentet {sha256[:12]} finnes ikke")
        return _doc_info(row), bytes(row.content)


def point_signed(store: Store, municipality: str, point: str, on: date) -> date | None:
    """When the sub-agreement for statutory ``point`` covering ``municipality`` was signed.

    Looks at every agreement whose revision in force on ``on`` has ``municipality`` as a party
    and a part for ``point`` in force that day; returns the earliest signing date among them,
    or ``None`` when the municipality has no such sub-agreement in force on ``on``.
    """
    found: list[date] = []
    for item in agreements(store, municipality=municipality):
        revision = item.in_force(on)
        if revision is None or municipality not in revision.municipalities:
            continue
        found.extend(p.signed_on for p in revision.parts if p.key == point and p.in_force(on))
    return min(found) if found else None
