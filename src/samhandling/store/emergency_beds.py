"""Store tables of the emergency-bed registry (KAD-enheter): units, participants, bed counts.

A unit (enhet for øyeblikkelig hjelp døgnopphold) belongs to a host municipality and, when it is
inter-municipal, serves the participating municipalities too. The number of beds is a dated
history (``emergency_bed_counts``): a change adds a row from its first day, nothing is
overwritten, so occupancy of any past month uses the beds in force on each of its days.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from samhandling.store.models import Base, UTCDateTime

__all__ = ["BedCountRow", "ParticipantRow", "UnitRow"]


class UnitRow(Base):
    """A unit with emergency 24-hour beds (KAD-enhet)."""

    __tablename__ = "emergency_bed_units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    host_municipality: Mapped[str] = mapped_column(String(4), index=True)
    # The health trust (HF) whose agreement covers the unit and which pays the other half.
    health_trust: Mapped[str] = mapped_column(String(9))
    opened_on: Mapped[date] = mapped_column(Date)
    # First day the unit is no longer open (exclusive); none while it is open.
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # JSON list of keys of the rule table emergency_beds.patient_groups.
    patient_groups: Mapped[str] = mapped_column(Text, default="[]")
    # Day Helsedirektoratet received the grant application (søknad om tilskudd); none: not applied.
    applied_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class ParticipantRow(Base):
    """A municipality other than the host that an inter-municipal unit serves (deltaker)."""

    __tablename__ = "emergency_bed_participants"

    unit_id: Mapped[int] = mapped_column(
        ForeignKey("emergency_bed_units.id", ondelete="CASCADE"), primary_key=True
    )
    municipality: Mapped[str] = mapped_column(String(4), primary_key=True)


class BedCountRow(Base):
    """The number of beds from ``valid_from`` until the next row of the same unit."""

    __tablename__ = "emergency_bed_counts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("emergency_bed_units.id", ondelete="CASCADE"), index=True
    )
    valid_from: Mapped[date] = mapped_column(Date)
    beds: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(64), default="")
