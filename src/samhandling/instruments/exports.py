"""Exports of instrument outputs: CSV (one table) and XLSX (several sheets, totals, rule set).

Every export names the rule set it was computed with: the tables carry ``rule_set`` and
``rule_versions`` columns, and the workbook has a sheet ``Regelsett`` listing each rule used,
its version, status and source. Rows resting on unverified rule values are marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from samhandling.errors import ConfigError
from samhandling.rules import RuleSet

__all__ = ["export_csv", "export_table", "export_xlsx"]

_UNVERIFIED_FILL = PatternFill(start_color="FFF2CC", end_color="FFF2CC", fill_type="solid")
_BOLD = Font(bold=True)
_TOTAL_LABEL = "Sum"
# Identifiers and counts that must not be summed in the totals row.
_NOT_SUMMED = {"month", "tertial", "year", "period_no", "base_year", "size_from"}


def export_csv(table: pa.Table, path: Path) -> Path:
    """Write ``table`` as UTF-8 CSV with a header row (decimals keep their øre)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path)
    return path


def _unverified_flags(table: pa.Table) -> list[bool]:
    """Rows resting on unverified rule values (``unverified``, or ``unverified_amount`` ≠ 0)."""
    if "unverified" in table.column_names:
        return [bool(v) for v in table.column("unverified").to_pylist()]
    if "unverified_amount" in table.column_names:
        return [bool(v) for v in table.column("unverified_amount").to_pylist()]
    return [False] * table.num_rows


def _totals(table: pa.Table) -> list[Any]:
    row: list[Any] = []
    for i, fld in enumerate(table.schema):
        if i == 0:
            row.append(_TOTAL_LABEL)
        elif fld.name not in _NOT_SUMMED and (
            pa.types.is_decimal(fld.type) or pa.types.is_integer(fld.type)
        ):
            values = [v for v in table.column(i).to_pylist() if v is not None]
            row.append(sum(values, Decimal(0)) if values else None)
        else:
            row.append(None)
    return row


def export_xlsx(
    path: Path,
    sheets: Mapping[str, pa.Table],
    rules: RuleSet,
    *,
    rule_ids: Sequence[str] = (),
    title: str = "",
) -> Path:
    """A workbook with one sheet per table (header, rows, a totals row) and a ``Regelsett`` sheet.

    Rows whose ``unverified`` column is true are shaded and the sheet says why.
    """
    if not sheets:
        raise ConfigError("ingenting å eksportere")
    book = Workbook()
    first = book.active
    if first is not None:
        book.remove(first)
    for name, table in sheets.items():
        sheet = book.create_sheet(name[:31])
        sheet.append([f"{title} – regelsett {rules.label}".strip(" –")])
        sheet["A1"].font = _BOLD
        sheet.append(table.column_names)
        for cell in sheet[2]:
            cell.font = _BOLD
        flags = _unverified_flags(table)
        for values, unverified in zip(table.to_pylist(), flags, strict=True):
            sheet.append(list(values.values()))
            if unverified:
                for cell in sheet[sheet.max_row]:
                    cell.fill = _UNVERIFIED_FILL
        sheet.append(_totals(table))
        for cell in sheet[sheet.max_row]:
            cell.font = _BOLD
        for column, fld in enumerate(table.schema, start=1):
            if pa.types.is_decimal(fld.type) and fld.type.scale == 2:
                for row in sheet.iter_rows(min_row=3, min_col=column, max_col=column):
                    for cell in row:
                        cell.number_format = "#,##0.00"
        if any(flags):
            sheet.append([])
            sheet.append(["Skraverte rader bygger på regelverdier som ikke er verifisert."])
    meta = book.create_sheet("Regelsett")
    meta.append(["Regelsett", rules.label])
    meta.append([])
    meta.append(
        [
            "Regel",
            "Navn",
            "Versjon",
            "Gyldig fra",
            "Gyldig til",
            "Nøkkel",
            "Verdi",
            "Status",
            "Kilde",
        ]
    )
    for cell in meta[3]:
        cell.font = _BOLD
    for rule_id in rule_ids or sorted(rules.tables):
        rule = rules[rule_id]
        for row in rule.rows:
            meta.append(
                [
                    rule_id,
                    rule.name_no,
                    rule.version,
                    row.valid_from,
                    row.valid_to,
                    row.key,
                    row.value,
                    row.status,
                    row.source,
                ]
            )
            if row.status == "unverified":
                for cell in meta[meta.max_row]:
                    cell.fill = _UNVERIFIED_FILL
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def export_table(
    table: pa.Table,
    path: Path,
    rules: RuleSet,
    *,
    sheet: str = "Data",
    rule_ids: Sequence[str] = (),
    title: str = "",
) -> Path:
    """CSV or XLSX by the file suffix (``.csv`` / ``.xlsx``)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return export_csv(table, path)
    if suffix == ".xlsx":
        return export_xlsx(path, {sheet: table}, rules, rule_ids=rule_ids, title=title)
    raise ConfigError(f"ukjent filtype {path.suffix!r}: bruk .csv eller .xlsx")
