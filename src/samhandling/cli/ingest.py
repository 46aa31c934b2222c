"""CLI: ``samhandling ingest``, ``samhandling status`` and ``samhandling quarantine``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from samhandling.cli.options import EngineOpt, parse_date
from samhandling.console import console
from samhandling.ingest.delivery import delivery_folders
from samhandling.ingest.reasons import REASONS
from samhandling.warehouse import QUARANTINE, IngestReport, Warehouse

WarehouseOption = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        help="Datavarehusmappe (standard: $SAMHANDLING_HOME eller ./samhandling-data).",
    ),
]


def _print_report(report: IngestReport) -> None:
    title = f"Leveranse {report.delivery_id} ({report.sender}, {report.period})"
    if report.already_loaded:
        console.print(f"{title}: allerede lastet, ingenting endret.")
        return
    table = Table(title=title)
    for label in ("Filtype", "Rader inn", "Lastet", "Avvist"):
        table.add_column(label, justify="left" if label == "Filtype" else "right")
    for kind, counts in report.rows.items():
        table.add_row(kind, f"{counts.rows_in}", f"{counts.landed}", f"{counts.quarantined}")
    console.print(table)
    if report.supersedes is not None:
        changes = ", ".join(
            f"{kind}: +{c.added} −{c.removed} ~{c.changed}" for kind, c in report.changes.items()
        )
        console.print(f"Erstatter leveranse {report.supersedes} ({changes}).")
    if report.reasons:
        reasons = Table(title="Avviste rader per årsak")
        reasons.add_column("Kode")
        reasons.add_column("Årsak")
        reasons.add_column("Rader", justify="right")
        for code, n in report.reasons.items():
            reasons.add_row(code, REASONS[code].message, f"{n}")
        console.print(reasons)
        console.print(
            f"Avviste rader ligger i {report.quarantine_dir} "
            f"(se dem med: samhandling quarantine --delivery {report.delivery_id})."
        )


def ingest(
    folder: Annotated[Path, typer.Argument(help="Leveransemappe (eller mappe med én per år).")],
    warehouse: WarehouseOption = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Uttrekksdato: senere datoer avvises (standard: i dag)."),
    ] = None,
    motor: EngineOpt = None,
) -> None:
    """Valider og last inn en leveranse i datavarehuset."""
    wh = Warehouse.open(warehouse)
    as_of_date = parse_date(as_of, "--as-of")
    rejected = 0
    for sub in delivery_folders(folder):
        report = wh.ingest(sub, as_of=as_of_date, progress=True, engine_name=motor)
        _print_report(report)
        rejected += report.rejected
    if rejected:
        console.print(f"[bold red]{rejected} rader ble avvist.[/]")
        raise typer.Exit(code=1)


def status(warehouse: WarehouseOption = None) -> None:
    """Vis hva datavarehuset inneholder."""
    state = Warehouse.open(warehouse).status()
    console.print(f"Datavarehus: {state.path}")
    if not state.deliveries:
        console.print("Ingen leveranser er lastet.")
        return
    deliveries = Table(title="Leveranser")
    labels = (
        "Nr",
        "Id",
        "Avsender",
        "Periode",
        "Lastet inn (UTC)",
        "Rader lastet",
        "Avvist",
        "Erstattet av",
    )
    for label in labels:
        deliveries.add_column(label)
    for d in state.deliveries:
        rows = ", ".join(f"{kind} {c.landed}" for kind, c in d.rows.items())
        deliveries.add_row(
            f"{d.seq}",
            d.delivery_id,
            d.sender,
            d.period,
            d.loaded_at.strftime("%Y-%m-%d %H:%M"),
            rows,
            f"{d.quarantined}",
            d.superseded_by or "",
        )
    console.print(deliveries)
    console.print("År: " + (", ".join(str(y) for y in state.years) or "ingen"))
    cells = Table(title="Episoder per år og sektor")
    for label in ("År", "Sektor", "Rader"):
        cells.add_column(label)
    for year, sector, n in state.rows_by_year_sector:
        cells.add_row(f"{year}", sector, f"{n}")
    console.print(cells)
    if state.quarantine_by_reason:
        reasons = Table(title="Avviste rader per årsak (gjeldende leveranser)")
        for label in ("Kode", "Årsak", "Rader"):
            reasons.add_column(label)
        for code, n in state.quarantine_by_reason.items():
            reasons.add_row(code, REASONS[code].message, f"{n}")
        console.print(reasons)


def quarantine(
    delivery: Annotated[
        str | None, typer.Option("--delivery", help="Bare denne leveransen (f.eks. D0003).")
    ] = None,
    warehouse: WarehouseOption = None,
    limit: Annotated[int, typer.Option("--limit", help="Vis høyst så mange rader.")] = 50,
) -> None:
    """List avviste rader med årsak."""
    wh = Warehouse.open(warehouse)
    rows = wh.quarantine(delivery)
    if rows.num_rows == 0:
        console.print("Ingen avviste rader.")
        return
    table = Table(title=f"Avviste rader ({rows.num_rows})")
    for label in ("Leveranse", "Filtype", "Rad", "Årsaker", "Verdier"):
        table.add_column(label, overflow="fold")
    for row in rows.slice(0, limit).to_pylist():
        reasons = "\n".join(f"{r['code']} ({r['column']}): {r['message']}" for r in row["reasons"])
        values = json.loads(row["values"])
        shown = ", ".join(f"{k}={v}" for k, v in values.items() if v is not None)
        table.add_row(row["delivery_id"], row["kind"], f"{row['row_number']}", reasons, shown)
    console.print(table)
    if rows.num_rows > limit:
        console.print(f"… og {rows.num_rows - limit} rader til (bruk --limit).")
    ids = sorted({str(v) for v in rows.column("delivery_id").to_pylist()})
    for delivery_id in ids:
        console.print(f"Parquet-filer: {wh.delivery_path(delivery_id) / QUARANTINE}")


def register(app: typer.Typer) -> None:
    """Add the ingest commands to the CLI."""
    app.command("ingest")(ingest)
    app.command("status")(status)
    app.command("quarantine")(quarantine)
