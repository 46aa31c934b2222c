"""The published pathway figures as rows for people: what the command line and the portal show
(the same labels, the same ``:`` for a withheld cell, the same readmission share)."""

from __future__ import annotations

from datetime import datetime

from samhandling.formatting import date_no, number, percent
from samhandling.pathways.patterns import READMITTED, PathwayReport, pattern_label

__all__ = ["DESTINATIONS", "SUPPRESSED", "local_time", "pattern_rows", "readmission_rows"]

SUPPRESSED = ":"
DESTINATIONS: dict[str | None, str] = {
    "home": "Utskrevet til hjemmet",
    "institution": "Utskrevet til institusjon",
    None: "Alle utskrivninger",
}


def local_time(value: datetime | None) -> str:
    """A timeline instant as written in the data (interchange times are local, no zone)."""
    if value is None:
        return "pågår"
    return f"{date_no(value.date())} kl. {value.hour:02d}:{value.minute:02d}"


def _shown(value: int | None) -> str:
    return SUPPRESSED if value is None else number(value)


def pattern_rows(report: PathwayReport, municipality: str | None) -> list[tuple[str, str, str]]:
    """(pattern key, label, published count) rows of a municipality or the country, in order."""
    rows: list[tuple[str, str, str]] = []
    for pattern in report.pattern_order:
        value, _reason = report.patterns.cell(municipality=municipality, pattern=pattern)
        rows.append((pattern, pattern_label(pattern, report.definition), _shown(value)))
    total, _ = report.patterns.cell(municipality=municipality, pattern=None)
    rows.append(("", "Alle forløp", _shown(total)))
    return rows


def readmission_rows(
    report: PathwayReport, municipality: str | None
) -> list[tuple[str, str, str, str]]:
    """(destination label, discharges, readmitted, share) published for a municipality."""
    rows: list[tuple[str, str, str, str]] = []
    for destination, label in DESTINATIONS.items():
        total, _ = report.readmissions.cell(
            municipality=municipality, destination=destination, readmitted=None
        )
        readmitted, _ = report.readmissions.cell(
            municipality=municipality, destination=destination, readmitted=READMITTED[0]
        )
        share = (
            percent(100 * readmitted / total)
            if total and readmitted is not None
            else SUPPRESSED
            if readmitted is None or total is None
            else "–"
        )
        rows.append((label, _shown(total), _shown(readmitted), share))
    return rows
