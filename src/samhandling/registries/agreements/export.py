"""The monitoring as a spreadsheet (XLSX): one sheet per view and a notes sheet."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from samhandling.formatting import date_no
from samhandling.registries.agreements.domain import (
    RULE_DEADLINES,
    RULE_RECOMMENDED,
    RULE_STATUTORY,
    Agreement,
)
from samhandling.registries.agreements.monitoring import AreaSummary, Monitoring
from samhandling.rules import RuleSet

__all__ = ["DEFINITIONS", "monitoring_workbook", "monitoring_xlsx", "write_monitoring"]

_BOLD = Font(bold=True)
_UNVERIFIED_FILL = PatternFill("solid", fgColor="FFF2CC")

SHEETS = ("Per RHF", "Per HF", "Per kommune", "Mangler", "Avtaler", "Merknader")

# The monitoring's definitions, shown on the notes sheet and the portal page (Norwegian).
DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "Med avtale",
        "Kommunen er part i en avtale der revisjonen som gjelder på datoen har minst én "
        "del (overordnet avtale eller delavtale) som er signert og gyldig den dagen.",
    ),
    ("Med overordnet avtale", "Den overordnede avtalen er signert og gyldig på datoen."),
    (
        "Fellesavtale / enkeltavtale",
        "Fellesavtale: avtalen har flere kommuner som parter. Enkeltavtale: én kommune. "
        "En kommune med begge deler telles i begge kolonnene.",
    ),
    (
        "Mangler",
        "Lovpålagte punkter som gjaldt på datoen uten en delavtale som er signert og gyldig "
        "den dagen.",
    ),
    (
        "Frist passert",
        "Manglende punkter der fristen for å inngå delavtalen (regel agreements.deadlines) "
        "var passert på datoen.",
    ),
    (
        "Signert etter frist",
        "Punkter med delavtale i kraft, men signert etter fristen.",
    ),
    (
        "Alle lovpålagte",
        "Kommunen har delavtale i kraft for alle lovpålagte punkter som gjaldt på datoen.",
    ),
    (
        "Revisjon i kraft",
        "Den høyest nummererte revisjonen som er signert og gyldig på datoen.",
    ),
)


def _header(sheet: Worksheet, title: str, columns: Sequence[str]) -> None:
    sheet.append([title])
    sheet["A1"].font = _BOLD
    sheet.append(list(columns))
    for cell in sheet[2]:
        cell.font = _BOLD
    sheet.freeze_panes = "A3"


def _area_columns(monitoring: Monitoring) -> list[str]:
    return [
        "Kommuner",
        "Med avtale",
        "Med overordnet avtale",
        "Fellesavtale",
        "Enkeltavtale",
        "Alle lovpålagte",
        "Mangler minst én",
        "Frist passert",
        *(f"Mangler punkt {p.key}" for p in monitoring.points),
        *(name for _, name in monitoring.recommended_names),
        "Andre delavtaler",
    ]


def _area_values(area: AreaSummary) -> list[Any]:
    return [
        area.municipalities,
        area.with_agreement,
        area.with_overall,
        area.joint,
        area.single,
        area.complete,
        area.missing_any,
        area.overdue_any,
        *(n for _, n in area.missing_by_point),
        *(n for _, n in area.recommended),
        area.with_other,
    ]


def monitoring_workbook(
    monitoring: Monitoring, items: Sequence[Agreement], rules: RuleSet
) -> Workbook:
    """The monitoring of one day as a workbook (sheets: see ``SHEETS``)."""
    title = f"Samarbeidsavtaler per {date_no(monitoring.on)} – regelsett {monitoring.rule_set}"
    book = Workbook()
    first = book.active
    if first is not None:
        book.remove(first)

    rhf = book.create_sheet("Per RHF")
    _header(rhf, title, ["RHF", *_area_columns(monitoring)])
    for area in (*monitoring.by_rhf, monitoring.country):
        rhf.append([area.name, *_area_values(area)])
    for cell in rhf[rhf.max_row]:
        cell.font = _BOLD

    hf = book.create_sheet("Per HF")
    _header(hf, title, ["RHF", "HF", "Organisasjonsnummer", *_area_columns(monitoring)])
    for area in monitoring.by_hf:
        hf.append([area.rhf_name, area.name, area.orgnr, *_area_values(area)])

    names = dict(monitoring.recommended_names)
    per = book.create_sheet("Per kommune")
    _header(
        per,
        title,
        [
            "Kommune",
            "Navn",
            "HF",
            "RHF",
            "Avtaler (id)",
            "Overordnet avtale",
            "Fellesavtale/enkeltavtale",
            "Signerte punkter",
            "Mangler",
            "Frist passert",
            "Signert etter frist",
            "Anbefalte",
            "Andre",
        ],
    )
    for s in monitoring.municipalities:
        per.append(
            [
                s.municipality,
                s.name,
                s.hf_name,
                s.rhf_name,
                ", ".join(str(i) for i in s.agreement_ids),
                "Ja" if s.has_overall else "Nei",
                {"felles": "Felles", "enkelt": "Enkelt", "begge": "Begge", "": ""}[s.form],
                ", ".join(f"{k} ({date_no(d)})" for k, d in s.signed),
                ", ".join(s.missing),
                ", ".join(s.overdue),
                ", ".join(s.late),
                ", ".join(names.get(k, k) for k in s.recommended),
                ", ".join(s.other),
            ]
        )

    gaps = book.create_sheet("Mangler")
    _header(
        gaps,
        title,
        ["Kommune", "Navn", "HF", "RHF", "Punkt", "Delavtale", "Frist", "Frist passert"],
    )
    points = {p.key: p for p in monitoring.points}
    for s in monitoring.municipalities:
        for key in s.missing:
            point = points[key]
            gaps.append(
                [
                    s.municipality,
                    s.name,
                    s.hf_name,
                    s.rhf_name,
                    int(key),
                    point.name,
                    point.deadline,
                    "Ja" if key in s.overdue else "Nei",
                ]
            )
            if point.deadline is not None:
                gaps.cell(row=gaps.max_row, column=7).number_format = "DD.MM.YYYY"

    registry = book.create_sheet("Avtaler")
    _header(
        registry,
        title,
        [
            "Avtale",
            "Helseforetak",
            "Revisjon i kraft",
            "Antall revisjoner",
            "Tittel",
            "Kommuner",
            "Felles",
            "Signert",
            "Gyldig fra",
            "Gyldig til",
            "Deler i kraft",
        ],
    )
    for item in items:
        rev = item.in_force(monitoring.on)
        if rev is None:
            continue
        registry.append(
            [
                item.id,
                item.health_trust,
                rev.revision_no,
                len(item.revisions),
                rev.title,
                ", ".join(rev.municipalities),
                "Ja" if rev.joint else "Nei",
                rev.signed_on,
                rev.valid_from,
                rev.valid_to,
                ", ".join(p.key for p in rev.parts if p.in_force(monitoring.on)),
            ]
        )
        for column in (8, 9, 10):
            registry.cell(row=registry.max_row, column=column).number_format = "DD.MM.YYYY"

    notes = book.create_sheet("Merknader")
    notes.append(["Samarbeidsavtaler – oppfølging per RHF og HF"])
    notes["A1"].font = _BOLD
    notes.append(["Dato", date_no(monitoring.on)])
    notes.append(["Regelsett", monitoring.rule_set])
    notes.append(
        [
            "Kommuner",
            f"Kommunene som gjaldt 1. januar {monitoring.on.year}, plassert i HF og RHF etter "
            "opptaksområdene (refdata.catchment).",
        ]
    )
    if monitoring.outside_catchment:
        notes.append(
            [
                "Utenfor kommunelisten",
                "Parter i avtaler i kraft som ikke var gyldige kommuner det året (telles ikke): "
                + ", ".join(monitoring.outside_catchment),
            ]
        )
    notes.append([])
    notes.append(["Begrep", "Definisjon"])
    for cell in notes[notes.max_row]:
        cell.font = _BOLD
    for term, text in DEFINITIONS:
        notes.append([term, text])
    notes.append([])
    notes.append(["Regel", "Nøkkel", "Verdi", "Gyldig fra", "Status", "Kilde"])
    for cell in notes[notes.max_row]:
        cell.font = _BOLD
    for rule_id in (RULE_STATUTORY, RULE_DEADLINES, RULE_RECOMMENDED):
        for row in rules[rule_id].rows:
            notes.append([rule_id, row.key, row.value, row.valid_from, row.status, row.source])
            notes.cell(row=notes.max_row, column=4).number_format = "DD.MM.YYYY"
            if row.status == "unverified":
                for cell in notes[notes.max_row]:
                    cell.fill = _UNVERIFIED_FILL
    notes.append([])
    notes.append(["Skraverte regelrader er ikke verifisert i en primærkilde (status unverified)."])
    for sheet in book.worksheets:
        sheet.column_dimensions["A"].width = 24
    return book


def write_monitoring(
    path: Path, monitoring: Monitoring, items: Sequence[Agreement], rules: RuleSet
) -> Path:
    """Write the monitoring workbook to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    monitoring_workbook(monitoring, items, rules).save(path)
    return path


def monitoring_xlsx(monitoring: Monitoring, items: Sequence[Agreement], rules: RuleSet) -> bytes:
    """The monitoring workbook as bytes (for downloads)."""
    buffer = io.BytesIO()
    monitoring_workbook(monitoring, items, rules).save(buffer)
    return buffer.getvalue()
