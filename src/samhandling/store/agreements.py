"""Tables of the cooperation-agreement registry (samarbeidsavtaler) in the operational store.

Append-only: an agreement (``agreements``) is an identity with a health trust; everything that
can change lives in numbered revisions (``agreement_revisions``) with their parties
(``agreement_parties``) and parts (``agreement_parts``: the overall agreement and the
sub-agreements). A change is a new revision; no history row is ever updated or deleted (the ORM
refuses it, see :func:`_refuse_change`). Uploaded documents are stored once per SHA-256.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from samhandling.store import StoreError
from samhandling.store.models import Base, UTCDateTime


class AgreementRow(Base):
    """A cooperation agreement (samarbeidsavtale) between one health trust and its parties."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    health_trust: Mapped[str] = mapped_column(String(9), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))


class AgreementRevisionRow(Base):
    """One version of an agreement (revisjon): what was registered, when and by whom."""

    __tablename__ = "agreement_revisions"
    __table_args__ = (UniqueConstraint("agreement_id", "revision_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    revision_no: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    signed_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    publication_url: Mapped[str] = mapped_column(String(500), default="")
    change_note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(64))


class AgreementPartyRow(Base):
    """A municipality that is party to a revision (one row: single agreement; more: joint)."""

    __tablename__ = "agreement_parties"

    revision_id: Mapped[int] = mapped_column(ForeignKey("agreement_revisions.id"), primary_key=True)
    municipality: Mapped[str] = mapped_column(String(4), primary_key=True, index=True)


class AgreementDocumentRow(Base):
    """An uploaded agreement document (PDF, DOCX or ODT), stored once per content hash."""

    __tablename__ = "agreement_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uploaded_by: Mapped[str] = mapped_column(String(64))


class AgreementPartRow(Base):
    """A part of a revision: the overall agreement (overordnet) or a sub-agreement (delavtale)."""

    __tablename__ = "agreement_parts"
    __table_args__ = (UniqueConstraint("revision_id", "key", "title"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("agreement_revisions.id"), index=True)
    # "overordnet", a statutory point ("1".."13"), a recommended code, or "annet".
    key: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    signed_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    document_url: Mapped[str] = mapped_column(String(500), default="")
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("agreement_documents.id"), nullable=True
    )
    note: Mapped[str] = mapped_column(Text, default="")


HISTORY_ROWS: tuple[type[Base], ...] = (
    AgreementRow,
    AgreementRevisionRow,
    AgreementPartyRow,
    AgreementDocumentRow,
    AgreementPartRow,
)


def _refuse_change(_mapper: Any, _connection: Any, target: Base) -> None:
    raise StoreError(
        f"avtaleregisteret er bare for tilføyelse: {type(target).__name__} kan ikke endres "
        "eller slettes; registrer en ny revisjon"
    )


for _row in HISTORY_ROWS:
    event.listen(_row, "before_update", _refuse_change)
    event.listen(_row, "before_delete", _refuse_change)
