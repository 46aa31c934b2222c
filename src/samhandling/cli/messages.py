"""CLI: ``samhandling meldinger les | skriv | kvittering | liste | akseptansetest``.

``les MAPPE`` reads every ``*.xml`` in a folder (one batch), answers each message with an AppRec,
loads the time points into the warehouse and prints a summary. ``skriv`` writes the logistics
messages and/or the admission and discharge reports of stays in the warehouse. ``kvittering``
prints the receipt of a received message. ``akseptansetest MAPPE`` runs KITH's receive
acceptance suites for PLO 1.5 (a folder with their ``Testcase-mottak-*.zip``) against the inbox
(:mod:`samhandling.messages.acceptance`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from samhandling.cli.options import parse_date
from samhandling.console import console, progress
from samhandling.errors import SamhandlingError
from samhandling.formatting import number
from samhandling.messages.acceptance import report_markdown, run_suites
from samhandling.messages.inbox import Inbox, receive
from samhandling.messages.outgoing import stay_messages, stay_reports, stays_from_warehouse
from samhandling.rules import load_rules
from samhandling.warehouse import Warehouse

__all__ = ["read_folder", "register"]

WAREHOUSE_HELP = "Datavarehusmappe (standard: $SAMHANDLING_HOME eller ./samhandling-data)"


def read_folder(folder: Path) -> list[tuple[str, bytes]]:
    """Every ``*.xml`` file under ``folder`` (sorted by path), as (relative name, bytes)."""
    if not folder.is_dir():
        raise SamhandlingError(f"fant ikke mappen {folder}")
    files = sorted(p for p in folder.rglob("*.xml") if p.is_file())
    if not files:
        raise SamhandlingError(f"ingen meldinger (*.xml) i {folder}")
    items: list[tuple[str, bytes]] = []
    with progress() as bar:
        task = bar.add_task("Leser meldinger", total=len(files))
        for path in files:
            items.append((str(path.relative_to(folder)), path.read_bytes()))
            bar.advance(task)
    return items


def register(app: typer.Typer) -> None:
    """Add ``samhandling meldinger …`` to the main CLI."""
    group = typer.Typer(help="Elektroniske pleie- og omsorgsmeldinger (PLO) og kvitteringer.")
    app.add_typer(group, name="meldinger")

    @group.command("les")
    def read(
        folder: Annotated[Path, typer.Argument(help="Mappe med meldinger (*.xml)")],
        warehouse: Annotated[Path | None, typer.Option(help=WAREHOUSE_HELP)] = None,
        as_of: Annotated[
            str | None, typer.Option("--as-of", help="Uttrekksdato (ÅÅÅÅ-MM-DD), standard i dag")
        ] = None,
    ) -> None:
        """Les meldinger, send kvitteringer og last tidspunktene inn i datavarehuset."""
        wh = Warehouse.open(warehouse)
        day = parse_date(as_of, "--as-of")
        items = read_folder(folder)
        result = receive(wh, items, as_of=day)
        inbox = Inbox(wh)
        table = Table(title=f"Meldinger lest fra {folder}")
        for column in ("Mottak", "Fil", "Type", "Versjon", "Status", "Feil", "Tidspunkter"):
            table.add_column(column)
        for r in result.received:
            table.add_row(
                r.received_id,
                r.source,
                r.msg_type or "–",
                r.version or "–",
                "godtatt" if r.accepted else "avvist",
                f"{r.error_code}: {r.reason}" if r.error_code else "",
                number(len(r.event_ids)),
            )
        console.print(table)
        console.print(
            f"Godtatt: {number(result.accepted)}, avvist: {number(result.rejected)}, "
            f"tidspunkter lastet: {number(result.events)}"
            + (
                f" (leveranse {result.ingest.delivery_id}"
                + (", allerede lastet" if result.ingest.already_loaded else "")
                + ")"
                if result.ingest is not None
                else ""
            )
        )
        console.print(f"Kvitteringer (AppRec): {inbox.path / 'receipts'}")
        console.print(f"Meldingene slik de kom inn: {inbox.path / 'raw'}")
        if result.rejected:
            raise typer.Exit(code=1)

    @group.command("skriv")
    def write(
        episodes: Annotated[list[str], typer.Argument(help="Episode-id for oppholdene")],
        out: Annotated[Path, typer.Option("--ut", help="Mappe meldingene skrives til")],
        version: Annotated[str, typer.Option("--versjon", help="PLO-versjon: 1.5, 1.6, 2.0")] = (
            "1.6"
        ),
        warehouse: Annotated[Path | None, typer.Option(help=WAREHOUSE_HELP)] = None,
        kinds: Annotated[
            str,
            typer.Option(
                "--meldinger",
                help="Hvilke meldinger: logistikk, rapporter (innleggelses- og "
                "utskrivningsrapport, PLO 1.5 og 1.6) eller alle",
            ),
        ] = "logistikk",
    ) -> None:
        """Skriv logistikkmeldinger og/eller rapporter for utskrivningsklare opphold."""
        if version not in ("1.5", "1.6", "2.0"):
            raise SamhandlingError(f"ukjent PLO-versjon {version} (bruk 1.5, 1.6 eller 2.0)")
        if kinds not in ("logistikk", "rapporter", "alle"):
            raise SamhandlingError(
                f"ukjent meldingsvalg {kinds} (bruk logistikk, rapporter eller alle)"
            )
        if kinds != "logistikk" and version == "2.0":
            raise SamhandlingError(
                "innleggelses- og utskrivningsrapport finnes bare i PLO 1.5 og 1.6"
            )
        rules = load_rules()
        stays = stays_from_warehouse(Warehouse.open(warehouse), episodes)
        missing = sorted(set(episodes) - {s.episode_id for s in stays})
        if missing:
            raise SamhandlingError("fant ikke utskrivningsklare døgnopphold: " + ", ".join(missing))
        out.mkdir(parents=True, exist_ok=True)
        written = 0
        for stay in stays:
            messages: list[tuple[str, bytes]] = []
            if kinds in ("logistikk", "alle"):
                messages += stay_messages(stay, version=version, rules=rules)
            if kinds in ("rapporter", "alle"):
                messages += stay_reports(stay, version=version, rules=rules)
            for name, data in messages:
                (out / name).write_bytes(data)
                written += 1
        console.print(f"Skrev {number(written)} meldinger (PLO {version}) til {out}")

    @group.command("kvittering")
    def receipt(
        received_id: Annotated[str, typer.Argument(help="Mottaksnummer, f.eks. M000001")],
        warehouse: Annotated[Path | None, typer.Option(help=WAREHOUSE_HELP)] = None,
    ) -> None:
        """Skriv ut kvitteringen (AppRec) for en mottatt melding."""
        inbox = Inbox(Warehouse.open(warehouse))
        entry = inbox.entry(received_id)
        if entry is None:
            raise SamhandlingError(f"ukjent mottaksnummer {received_id}")
        if not entry.answered:
            raise SamhandlingError(
                f"{received_id} er selv en kvittering ({entry.msg_type}); den besvares ikke"
            )
        typer.echo(inbox.receipt_path(entry).read_text("utf-8"), nl=False)

    @group.command("akseptansetest")
    def acceptance(
        folder: Annotated[
            Path,
            typer.Argument(help="Mappe med mottakstestene (Testcase-mottak-*.zip eller -mapper)"),
        ],
        report: Annotated[
            Path | None, typer.Option("--rapport", help="Skriv resultatet som Markdown hit")
        ] = None,
    ) -> None:
        """Kjør KITHs akseptansetester for mottak av PLO 1.5 mot meldingsmottaket."""
        _acceptance(folder, report)

    @group.command("liste")
    def listing(
        warehouse: Annotated[Path | None, typer.Option(help=WAREHOUSE_HELP)] = None,
        limit: Annotated[int, typer.Option(help="Antall siste meldinger")] = 50,
    ) -> None:
        """Vis de siste mottatte meldingene med status."""
        entries = Inbox(Warehouse.open(warehouse)).entries()
        table = Table(title=f"Mottatte meldinger ({number(len(entries))} i alt)")
        for column in (
            "Mottak",
            "Mottatt",
            "Type",
            "Pasient",
            "Opphold",
            "Status",
            "Feil",
            "Merknad",
        ):
            table.add_column(column)
        for r in entries[-limit:]:
            table.add_row(
                r.received_id,
                r.received_at[:19],
                r.msg_type or "–",
                r.patient_id or "–",
                r.episode_id or "–",
                "godtatt" if r.accepted else "avvist",
                r.error_code or "",
                r.reason.removeprefix("Godtatt; ") if r.accepted else r.reason,
            )
        console.print(table)


def _acceptance(folder: Path, report: Path | None) -> None:
    with progress() as bar:
        task = bar.add_task("Akseptansetest", total=None)

        def tick(name: str, total: int) -> None:
            bar.update(task, total=total, description=name)
            bar.advance(task)

        results = run_suites(folder, progress=tick)
    table = Table(title=f"Akseptansetest for mottak av PLO 1.5 ({folder})")
    for column in ("Testsett", "Caser", "Bestått"):
        table.add_column(column)
    for suite in sorted({r.suite for r in results}):
        mine = [r for r in results if r.suite == suite]
        table.add_row(suite, number(len(mine)), number(sum(r.passed for r in mine)))
    console.print(table)
    failed = [r for r in results if not r.passed]
    for r in failed:
        console.print(
            f"[red]Ikke bestått[/red] {r.suite} {r.file}: forventet "
            f"{'OK' if r.expected.accepted else 'avvist ' + '/'.join(r.expected.codes)}, fikk "
            f"{'OK' if r.accepted else 'avvist ' + (r.code or '')} ({r.reason})"
        )
    console.print(f"Bestått: {number(len(results) - len(failed))} av {number(len(results))}")
    if report is not None:
        report.write_text(report_markdown(results), "utf-8")
        console.print(f"Rapport: {report}")
    if failed:
        raise typer.Exit(code=1)
