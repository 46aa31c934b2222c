"""The domain of the agreement registry: what an agreement is, and the rules it must obey.

A cooperation agreement (samarbeidsavtale, helse- og omsorgstjenesteloven § 6-2) is entered
into by one health trust (HF) and one municipality (single agreement, enkeltavtale) or several
(joint agreement, fellesavtale). It consists of parts: the overall agreement (overordnet
avtale) and sub-agreements (delavtaler) for the statutory points, the recommended topics and
any other topic. Agreements are renegotiated, so the registry keeps every version (revisjon).

Which revision is in force on a day: the highest-numbered revision that was signed by then and
whose validity covers the day (a correction and a renegotiation are both new revisions; a
renegotiation usually starts later, so earlier days keep the earlier text). A part is in force
on a day when its revision is and the part itself was signed by then and is valid that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Literal

from samhandling.errors import SamhandlingError
from samhandling.refdata import catchment, health_trusts, valid_codes
from samhandling.refdata.municipalities import FIRST_YEAR, LAST_YEAR
from samhandling.rules import RuleSet

__all__ = [
    "OTHER",
    "OVERALL",
    "RULE_DEADLINES",
    "RULE_DOCUMENT_FORMATS",
    "RULE_DOCUMENT_MAX_BYTES",
    "RULE_RECOMMENDED",
    "RULE_STATUTORY",
    "Agreement",
    "AgreementDraft",
    "AgreementError",
    "AgreementValidationError",
    "DocumentInfo",
    "Part",
    "PartDraft",
    "PartKind",
    "Revision",
    "health_trust_names",
    "part_kind",
    "validate_draft",
]

OVERALL = "overordnet"
OTHER = "annet"
RULE_STATUTORY = "agreements.statutory_points"
RULE_RECOMMENDED = "agreements.recommended_points"
RULE_DEADLINES = "agreements.deadlines"
RULE_DOCUMENT_MAX_BYTES = "agreements.document_max_bytes"
RULE_DOCUMENT_FORMATS = "agreements.document_formats"

PartKind = Literal["overordnet", "lovpålagt", "anbefalt", "annet"]

_TITLE_MAX = 300
_URL_MAX = 500


class AgreementError(SamhandlingError):
    """A request to the agreement registry that cannot be carried out (not found, not allowed)."""


class AgreementValidationError(AgreementError):
    """A draft agreement or revision breaks one or more rules; nothing was saved.

    ``errors`` lists every problem found (in Norwegian), not only the first.
    """

    def __init__(self, errors: list[str]) -> None:
        self.errors = tuple(errors)
        super().__init__("Avtalen ble ikke lagret: " + "; ".join(errors))


@dataclass(frozen=True)
class DocumentInfo:
    """An uploaded agreement document (without its bytes)."""

    sha256: str
    filename: str
    media_type: str
    size: int
    uploaded_at: datetime
    uploaded_by: str


@dataclass(frozen=True)
class PartDraft:
    """A part as entered: the overall agreement, a statutory point, a recommended code, other.

    ``key`` is ``"overordnet"``, a statutory point (``"1"``..``"13"``), a recommended code
    (``"avvik"``, ``"tvist"``, ``"kvalitet"``) or ``"annet"`` (then ``title`` names it).
    ``document_sha256`` refers to a document already uploaded to the registry.
    """

    key: str
    signed_on: date
    valid_from: date
    valid_to: date | None = None
    title: str = ""
    document_url: str = ""
    document_sha256: str = ""
    note: str = ""


@dataclass(frozen=True)
class AgreementDraft:
    """A new agreement, or a new revision of one, as entered by a user."""

    health_trust: str
    municipalities: tuple[str, ...]
    title: str
    signed_on: date
    valid_from: date
    valid_to: date | None
    parts: tuple[PartDraft, ...]
    publication_url: str = ""
    change_note: str = ""


@dataclass(frozen=True)
class Part:
    """A registered part of a revision."""

    key: str
    title: str
    signed_on: date
    valid_from: date
    valid_to: date | None
    document_url: str = ""
    document: DocumentInfo | None = None
    note: str = ""

    @property
    def kind(self) -> PartKind:
        return part_kind(self.key)

    @property
    def identity(self) -> tuple[str, str]:
        """What makes a part the 'same' part across revisions (for the diff)."""
        return (self.key, self.title if self.key == OTHER else "")

    def in_force(self, on: date) -> bool:
        return (
            self.signed_on <= on
            and self.valid_from <= on
            and (self.valid_to is None or on <= self.valid_to)
        )


@dataclass(frozen=True)
class Revision:
    """One version of an agreement: its parties and parts, and who registered it when."""

    agreement_id: int
    revision_no: int
    health_trust: str
    title: str
    municipalities: tuple[str, ...]
    signed_on: date
    valid_from: date
    valid_to: date | None
    publication_url: str
    change_note: str
    recorded_at: datetime
    recorded_by: str
    parts: tuple[Part, ...] = field(default_factory=tuple)

    @property
    def joint(self) -> bool:
        """A joint agreement (fellesavtale): several municipalities with one health trust."""
        return len(self.municipalities) > 1

    def covers(self, on: date) -> bool:
        return (
            self.signed_on <= on
            and self.valid_from <= on
            and (self.valid_to is None or on <= self.valid_to)
        )

    def part(self, key: str) -> Part | None:
        """The part for ``key`` (the first one for ``"annet"``)."""
        return next((p for p in self.parts if p.key == key), None)


@dataclass(frozen=True)
class Agreement:
    """An agreement with all its revisions, oldest first."""

    id: int
    health_trust: str
    created_at: datetime
    created_by: str
    revisions: tuple[Revision, ...]

    @property
    def current(self) -> Revision:
        """The newest revision."""
        return self.revisions[-1]

    def revision(self, revision_no: int) -> Revision:
        for rev in self.revisions:
            if rev.revision_no == revision_no:
                return rev
        raise AgreementError(f"Avtale {self.id} har ingen revisjon {revision_no}")

    def in_force(self, on: date) -> Revision | None:
        """The revision in force on ``on``: the highest-numbered one that covers the day."""
        covering = [r for r in self.revisions if r.covers(on)]
        return covering[-1] if covering else None


def part_kind(key: str) -> PartKind:
    if key == OVERALL:
        return "overordnet"
    if key == OTHER:
        return "annet"
    if key.isdigit():
        return "lovpålagt"
    return "anbefalt"


@cache
def health_trust_names() -> dict[str, str]:
    """Health trusts (level 2 under one of the four RHFs) that can be party to an agreement."""
    table = health_trusts()
    rhfs = {
        orgnr
        for orgnr, level, parent in zip(
            table["orgnr"].to_pylist(),
            table["level"].to_pylist(),
            table["parent_orgnr"].to_pylist(),
            strict=True,
        )
        if level == 1 and parent is None and orgnr != "999"
    }
    # The catchment lists spell the names as people write them ("Nordlandssykehuset HF");
    # the org tree has the register's capitals, used only where the lists lack the trust.
    usual: dict[str, str] = {}
    for borders in (2020, 2024):
        rows = catchment(borders)
        for orgnr, name in zip(
            rows["hf_orgnr"].to_pylist(), rows["hf_name"].to_pylist(), strict=True
        ):
            usual[str(orgnr)] = str(name)
    return {
        str(orgnr): usual.get(str(orgnr), str(name))
        for orgnr, name, level, parent in zip(
            table["orgnr"].to_pylist(),
            table["name"].to_pylist(),
            table["level"].to_pylist(),
            table["parent_orgnr"].to_pylist(),
            strict=True,
        )
        if level == 2 and parent in rhfs
    }


def _check_url(url: str, what: str, errors: list[str]) -> None:
    if not url:
        return
    if len(url) > _URL_MAX:
        errors.append(f"{what}: lenken er lengre enn {_URL_MAX} tegn")
    elif not (url.startswith("https://") or url.startswith("http://")) or any(
        c.isspace() for c in url
    ):
        errors.append(f"{what}: lenken må begynne med https:// eller http:// (fikk {url!r})")


def _check_period(
    signed_on: date, valid_from: date, valid_to: date | None, what: str, errors: list[str]
) -> None:
    if valid_to is not None and valid_to < valid_from:
        errors.append(
            f"{what}: gyldig til ({valid_to.isoformat()}) er før gyldig fra "
            f"({valid_from.isoformat()})"
        )
    if valid_to is not None and signed_on > valid_to:
        errors.append(
            f"{what}: signert ({signed_on.isoformat()}) etter at den sluttet å gjelde "
            f"({valid_to.isoformat()})"
        )


def _part_label(part: PartDraft) -> str:
    kind = part_kind(part.key)
    if kind == "overordnet":
        return "Overordnet avtale"
    if kind == "lovpålagt":
        return f"Delavtale punkt {part.key}"
    if kind == "annet":
        return f"Annen delavtale {part.title!r}" if part.title else "Annen delavtale"
    return f"Delavtale {part.key}"


def validate_draft(draft: AgreementDraft, rules: RuleSet) -> list[str]:
    """Every rule the draft breaks, as Norwegian messages (empty: the draft is valid)."""
    errors: list[str] = []
    trust = draft.health_trust
    if len(trust) != 9 or not trust.isdigit():
        errors.append(f"Helseforetaket må oppgis med 9-sifret organisasjonsnummer (fikk {trust!r})")
    elif trust not in health_trust_names():
        errors.append(
            f"Ukjent helseforetak {trust}: ikke et helseforetak under et regionalt helseforetak"
        )

    if not draft.municipalities:
        errors.append("Avtalen må ha minst én kommune som part")
    year = draft.signed_on.year
    known: frozenset[str] | None = None
    if FIRST_YEAR <= year <= LAST_YEAR:
        known = valid_codes(year)
    else:
        errors.append(
            f"Signeringsdatoen {draft.signed_on.isoformat()} er utenfor årene det finnes "
            f"kommunelister for ({FIRST_YEAR}–{LAST_YEAR})"
        )
    seen: set[str] = set()
    for code in draft.municipalities:
        if code in seen:
            errors.append(f"Kommune {code} er oppført mer enn én gang")
            continue
        seen.add(code)
        if len(code) != 4 or not code.isdigit():
            errors.append(f"Kommunenummer må ha 4 sifre (fikk {code!r})")
        elif known is not None and code not in known:
            errors.append(f"Ukjent kommune {code}: fantes ikke i {year} (året avtalen ble signert)")

    title = draft.title.strip()
    if not title:
        errors.append("Avtalen må ha en tittel")
    elif len(title) > _TITLE_MAX:
        errors.append(f"Tittelen er lengre enn {_TITLE_MAX} tegn")
    _check_period(draft.signed_on, draft.valid_from, draft.valid_to, "Avtalen", errors)
    _check_url(draft.publication_url, "Publiseringslenken", errors)

    if not draft.parts:
        errors.append("Avtalen må ha minst én del (overordnet avtale eller en delavtale)")
    statutory = rules[RULE_STATUTORY]
    recommended = rules[RULE_RECOMMENDED]
    statutory_keys = {r.key for r in statutory.rows if r.key is not None}
    recommended_keys = {r.key for r in recommended.rows if r.key is not None}
    used: set[tuple[str, str]] = set()
    for part in draft.parts:
        label = _part_label(part)
        if part.key == OTHER:
            if not part.title.strip():
                errors.append("En annen delavtale (annet) må ha en tittel")
        elif part.key == OVERALL:
            pass
        elif part.key in statutory_keys:
            in_law = statutory.keys_on(part.valid_from)
            if part.key not in in_law:
                first = min(r.valid_from for r in statutory.rows if r.key == part.key)
                errors.append(
                    f"{label} kan ikke gjelde fra {part.valid_from.isoformat()}: punkt "
                    f"{part.key} fantes ikke i helse- og omsorgstjenesteloven § 6-2 da "
                    f"(gjelder fra {first.isoformat()})"
                )
        elif part.key in recommended_keys:
            if part.key not in recommended.keys_on(part.valid_from):
                errors.append(
                    f"{label} kan ikke gjelde fra {part.valid_from.isoformat()}: "
                    "den anbefalte delavtalen fantes ikke da"
                )
        else:
            points = sorted(statutory_keys, key=int)
            errors.append(
                f"Ukjent delavtale {part.key!r}: bruk {OVERALL}, et lovpålagt punkt "
                f"({points[0]}–{points[-1]}), {', '.join(sorted(recommended_keys))} eller {OTHER}"
            )
            continue
        identity = (part.key, part.title.strip() if part.key == OTHER else "")
        if identity in used:
            errors.append(f"{label} er oppført mer enn én gang i samme revisjon")
        used.add(identity)
        if len(part.title) > _TITLE_MAX:
            errors.append(f"{label}: tittelen er lengre enn {_TITLE_MAX} tegn")
        _check_period(part.signed_on, part.valid_from, part.valid_to, label, errors)
        _check_url(part.document_url, label, errors)
    return errors
