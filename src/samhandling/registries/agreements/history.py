"""What changed between two revisions of an agreement (the diff), and the history as text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from samhandling.formatting import date_no, datetime_no
from samhandling.registries.agreements.domain import Agreement, Part, Revision

__all__ = [
    "FieldChange",
    "PartChange",
    "RevisionDiff",
    "describe_diff",
    "diff_revisions",
    "history_lines",
    "validity",
]

# Norwegian labels of the revision and part fields the diff compares.
REVISION_FIELDS: tuple[tuple[str, str], ...] = (
    ("title", "Tittel"),
    ("signed_on", "Signert"),
    ("valid_from", "Gyldig fra"),
    ("valid_to", "Gyldig til"),
    ("publication_url", "Publisert på"),
)
PART_FIELDS: tuple[tuple[str, str], ...] = (
    ("title", "Tittel"),
    ("signed_on", "Signert"),
    ("valid_from", "Gyldig fra"),
    ("valid_to", "Gyldig til"),
    ("document_url", "Dokumentlenke"),
    ("document", "Opplastet dokument"),
    ("note", "Merknad"),
)


@dataclass(frozen=True)
class FieldChange:
    """One field with its old and new value, as shown to users."""

    field: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class PartChange:
    """A part added, removed or changed between two revisions."""

    key: str
    title: str
    change: Literal["lagt til", "fjernet", "endret"]
    fields: tuple[FieldChange, ...] = ()

    @property
    def label(self) -> str:
        if self.key == "overordnet":
            return "Overordnet avtale"
        if self.key.isdigit():
            return f"Punkt {self.key}: {self.title}"
        return self.title or self.key


@dataclass(frozen=True)
class RevisionDiff:
    """Changes from revision ``old_no`` to ``new_no`` of one agreement."""

    agreement_id: int
    old_no: int
    new_no: int
    fields: tuple[FieldChange, ...]
    added_municipalities: tuple[str, ...]
    removed_municipalities: tuple[str, ...]
    parts: tuple[PartChange, ...]

    @property
    def empty(self) -> bool:
        return not (
            self.fields or self.added_municipalities or self.removed_municipalities or self.parts
        )


def _show(value: object) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, date):
        return date_no(value)
    return str(value)


def _part_value(part: Part, name: str) -> str:
    if name == "document":
        doc = part.document
        return "–" if doc is None else f"{doc.filename} (SHA-256 {doc.sha256[:12]}…)"
    return _show(getattr(part, name))


def diff_revisions(old: Revision, new: Revision) -> RevisionDiff:
    """Which fields, parties and parts differ between two revisions of the same agreement."""
    fields = tuple(
        FieldChange(name, label, _show(getattr(old, name)), _show(getattr(new, name)))
        for name, label in REVISION_FIELDS
        if getattr(old, name) != getattr(new, name)
    )
    before = {p.identity: p for p in old.parts}
    after = {p.identity: p for p in new.parts}
    changes: list[PartChange] = []
    for identity, part in after.items():
        if identity not in before:
            changes.append(PartChange(part.key, part.title, "lagt til"))
            continue
        previous = before[identity]
        changed = tuple(
            FieldChange(name, label, _part_value(previous, name), _part_value(part, name))
            for name, label in PART_FIELDS
            if _part_value(previous, name) != _part_value(part, name)
        )
        if changed:
            changes.append(PartChange(part.key, part.title, "endret", changed))
    changes.extend(
        PartChange(part.key, part.title, "fjernet")
        for identity, part in before.items()
        if identity not in after
    )
    order: dict[tuple[str, str], int] = {}
    for i, p in enumerate((*new.parts, *old.parts)):
        order.setdefault(p.identity, i)
    changes.sort(key=lambda c: order[(c.key, c.title if c.key == "annet" else "")])
    return RevisionDiff(
        agreement_id=new.agreement_id,
        old_no=old.revision_no,
        new_no=new.revision_no,
        fields=fields,
        added_municipalities=tuple(sorted(set(new.municipalities) - set(old.municipalities))),
        removed_municipalities=tuple(sorted(set(old.municipalities) - set(new.municipalities))),
        parts=tuple(changes),
    )


def validity(valid_from: date, valid_to: date | None) -> str:
    """``gyldig fra 20.01.2012`` or ``gyldig 20.01.2012–31.12.2015``."""
    if valid_to is None:
        return f"gyldig fra {date_no(valid_from)}"
    return f"gyldig {date_no(valid_from)}–{date_no(valid_to)}"


def history_lines(item: Agreement) -> list[str]:
    """The agreement's history, newest last, one paragraph per revision (Norwegian text)."""
    lines: list[str] = []
    previous: Revision | None = None
    for rev in item.revisions:
        head = (
            f"Revisjon {rev.revision_no}, registrert {datetime_no(rev.recorded_at)} "
            f"av {rev.recorded_by}: {rev.title} (signert {date_no(rev.signed_on)}, "
            f"{validity(rev.valid_from, rev.valid_to)})"
        )
        lines.append(head)
        if rev.change_note:
            lines.append(f"  Endringsnotat: {rev.change_note}")
        if previous is None:
            lines.append(
                f"  Parter: {', '.join(rev.municipalities)}; "
                f"{len(rev.parts)} deler: {', '.join(p.key for p in rev.parts)}"
            )
        else:
            lines.extend("  " + line for line in describe_diff(diff_revisions(previous, rev)))
        previous = rev
    return lines


def describe_diff(diff: RevisionDiff) -> list[str]:
    """The diff as Norwegian sentences."""
    if diff.empty:
        return ["Ingen endringer."]
    lines = [f"{c.label}: {c.old} → {c.new}" for c in diff.fields]
    if diff.added_municipalities:
        lines.append(f"Nye parter: {', '.join(diff.added_municipalities)}")
    if diff.removed_municipalities:
        lines.append(f"Parter som gikk ut: {', '.join(diff.removed_municipalities)}")
    for part in diff.parts:
        if part.change == "endret":
            details = "; ".join(f"{f.label}: {f.old} → {f.new}" for f in part.fields)
            lines.append(f"{part.label} endret ({details})")
        else:
            lines.append(f"{part.label} {part.change}")
    return lines
