"""Table outputs: JSON-stat 2.0, CSV, XLSX and Parquet, all with the suppression marks.

Suppressed cells carry the status symbol ``:`` (SSB/PxWeb: confidential) and no value; the reason
(primary / secondary) is in the dataset extension ``suppression`` (JSON-stat), a ``prikking``
column (CSV, Parquet) or a footnote (XLSX).
"""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from importlib import resources
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from jsonschema import Draft202012Validator, FormatChecker

from samhandling.tables.cube import CONTENTS, SUPPRESSED, StatTable

__all__ = ["FORMATS", "MEDIA_TYPES", "Format", "render", "to_jsonstat", "validate_jsonstat"]

Format = Literal["json-stat2", "csv", "xlsx", "parquet"]
FORMATS: tuple[Format, ...] = ("json-stat2", "csv", "xlsx", "parquet")
MEDIA_TYPES: dict[Format, str] = {
    "json-stat2": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
REASON_LABELS = {
    "primary": "færre enn {threshold} pasienter (primærprikking)",
    "secondary": "prikket for å beskytte en annen celle (sekundærprikking)",
}


def to_jsonstat(table: StatTable) -> dict[str, Any]:
    """The table as a JSON-stat 2.0 dataset (PxWeb style: measures in ``ContentsCode``)."""
    dims: dict[str, Any] = {}
    role: dict[str, list[str]] = {}
    for dim_id, label, codes, dim_role in table.dimensions:
        category: dict[str, Any] = {
            "index": {c: i for i, (c, _) in enumerate(codes)},
            "label": dict(codes),
        }
        if dim_id == CONTENTS:
            category["unit"] = {
                c: {"label": table.units[c][0], "decimals": table.units[c][1]} for c, _ in codes
            }
        entry: dict[str, Any] = {"label": label, "category": category}
        notes = table.dimension_notes.get(dim_id)
        if notes:
            entry["note"] = list(notes.values())
        dims[dim_id] = entry
        if dim_role:
            role.setdefault(dim_role, []).append(dim_id)
    status = {str(i): SUPPRESSED for i in table.reasons}
    return {
        "version": "2.0",
        "class": "dataset",
        "label": table.title,
        "source": table.source,
        "updated": table.updated,
        "note": table.notes,
        "id": [d[0] for d in table.dimensions],
        "size": table.shape,
        "role": role,
        "dimension": dims,
        "value": table.values,
        "status": status,
        "extension": {
            "px": {"tableid": table.id, "decimals": 1},
            "suppression": {
                "symbol": SUPPRESSED,
                "threshold": table.threshold,
                "rule": table.rule_version,
                "reasons": {str(i): r for i, r in table.reasons.items()},
            },
        },
    }


@cache
def _dataset_validator() -> Draft202012Validator:
    folder = resources.files("samhandling.tables").joinpath("specs", "jsonstat")
    schema = json.loads(folder.joinpath("dataset.json").read_text("utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def validate_jsonstat(document: dict[str, Any]) -> list[str]:
    """Every violation of the JSON-stat 2.0 dataset schema (format checking on); [] when valid."""
    errors = sorted(_dataset_validator().iter_errors(document), key=lambda e: list(e.path))
    return [f"{'/'.join(str(p) for p in e.path)}: {e.message}" for e in errors]


def _flat_rows(table: StatTable) -> tuple[list[str], list[list[Any]]]:
    header: list[str] = []
    for dim_id, _, _, _ in table.dimensions:
        header += [dim_id, f"{dim_id}_tekst"]
    header += ["verdi", "prikking"]
    labels = [dict(codes) for _, _, codes, _ in table.dimensions]
    rows = []
    for codes, value, reason in table.rows():
        row: list[Any] = []
        for code, lab in zip(codes, labels, strict=True):
            row += [code, lab[code]]
        row += [value, reason or ""]
        rows.append(row)
    return header, rows


def _csv(table: StatTable) -> bytes:
    header, rows = _flat_rows(table)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    ids = [d[0] for d in table.dimensions]
    measure_at = 2 * ids.index(CONTENTS) if CONTENTS in ids else None
    for row in rows:
        value = row[-2]
        if isinstance(value, float) and measure_at is not None:
            # A decimal measure keeps its decimals (money 4834267.70, not 4834267.7).
            value = f"{value:.{table.units[row[measure_at]][1]}f}"
        row[-2] = SUPPRESSED if row[-1] else ("" if value is None else value)
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def _parquet(table: StatTable) -> bytes:
    header, rows = _flat_rows(table)
    columns: dict[str, pa.Array[Any]] = {}
    for i, name in enumerate(header):
        values = [r[i] for r in rows]
        if name == "verdi":
            columns[name] = pa.array(
                [None if v is None else float(v) for v in values], pa.float64()
            )
        else:
            columns[name] = pa.array([str(v) for v in values], pa.string())
    meta = {
        b"title": table.title.encode(),
        b"notes": json.dumps(table.notes, ensure_ascii=False).encode(),
        b"suppression_rule": table.rule_version.encode(),
    }
    sink = io.BytesIO()
    pq.write_table(pa.table(columns).replace_schema_metadata(meta), sink)
    return sink.getvalue()


def _xlsx(table: StatTable) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    header, rows = _flat_rows(table)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.id
    sheet.append([table.title])
    sheet["A1"].font = Font(bold=True)
    sheet.append([])
    sheet.append([h for h in header if not h.endswith("_tekst") and h != "prikking"])
    marks: dict[str, int] = {}
    for row in rows:
        codes_and_labels = row[:-2]
        shown = [f"{codes_and_labels[i + 1]}" for i in range(0, len(codes_and_labels), 2)]
        reason = row[-1]
        if reason:
            mark = marks.setdefault(reason, len(marks) + 1)
            sheet.append([*shown, f"{SUPPRESSED} ({mark})"])
        else:
            sheet.append([*shown, row[-2]])
    sheet.append([])
    for reason, mark in marks.items():
        text = REASON_LABELS[reason].format(threshold=table.threshold)
        sheet.append([f"({mark}) {SUPPRESSED} = {text}"])
    for note in table.notes:
        sheet.append([note])
    sheet.append(
        [f"Kilde: {table.source}. Oppdatert {table.updated}. Prikkeregel {table.rule_version}."]
    )
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


def render(table: StatTable, fmt: Format) -> bytes:
    """The table in one of :data:`FORMATS`."""
    if fmt == "json-stat2":
        return json.dumps(to_jsonstat(table), ensure_ascii=False).encode("utf-8")
    if fmt == "csv":
        return _csv(table)
    if fmt == "xlsx":
        return _xlsx(table)
    if fmt == "parquet":
        return _parquet(table)
    raise ValueError(f"unknown format {fmt!r}")
