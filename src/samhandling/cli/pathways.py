"""CLI: ``samhandling forlop monstre`` (protected patterns) and ``forlop pasient`` (one timeline).

Both call the functions the portal calls (:func:`pathway_report`, :func:`patient_timeline`).
``monstre`` prints only published figures: suppressed cells show ``:``.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from samhandling.cli.options import EngineOpt, RulesOpt, WarehouseOpt
from samhandling.console import console, progress
from samhandling.engine import make_engine
from samhandling.errors import ConfigError
from samhandling.formatting import number
from samhandling.pathways.patient import patient_timeline
from samhandling.pathways.patterns import pathway_report, pattern_label
from samhandling.pathways.rows import SUPPRESSED, local_time, pattern_rows, readmission_rows
from samhandling.pathways.timeline import build_pathways
from samhandling.rules import load_rules

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``forlop`` (pasientforløp) to the ``samhandling`` CLI."""
    forlop = typer.Typer(
        help="Pasientforløp: mønstre per kommune og én pasients tidslinje.", no_args_is_help=True
    )
    app.add_typer(forlop, name="forlop")

    @forlop.command("monstre")
    def patterns_cmd(  # noqa: PLR0917 - typer options
        year: Annotated[int, typer.Option("--ar", "--år", help="År for første innleggelse.")],
        municipality: Annotated[
            str | None, typer.Option("--kommune", help="Kommunenummer (ellers hele landet).")
        ] = None,
        warehouse: WarehouseOpt = None,
        rules_file: RulesOpt = None,
        engine_name: EngineOpt = None,
        out: Annotated[
            Path | None, typer.Option("--ut", help="Skriv mønstertabellen til CSV-fil.")
        ] = None,
    ) -> None:
        """Forløpsmønstre med antall (prikket) og reinnleggelser etter utskrivningssted."""
        from samhandling.pathways.definition import pathway_definition
        from samhandling.warehouse import Warehouse

        if municipality is not None and not (municipality.isdigit() and len(municipality) == 4):
            raise ConfigError("--kommune må være et firesifret kommunenummer")
        rules = load_rules(rules_file)
        with progress() as bar:
            task = bar.add_task("Pasientforløp", total=3)
            engine = make_engine(engine_name)
            try:
                bar.update(task, description="Leser lageret")
                Warehouse.open(warehouse).register(engine)
                bar.advance(task)
                bar.update(task, description="Bygger tidslinjer og forløp")
                build_pathways(engine, pathway_definition(rules, date(year, 12, 31)))
                bar.advance(task)
                bar.update(task, description="Teller mønstre og prikker små tall")
                report = pathway_report(engine, rules, year, built=True, on=date(year, 12, 31))
                bar.advance(task)
            finally:
                engine.close()
        if municipality is not None and municipality not in report.municipalities():
            console.print(f"Ingen forløp for kommune {municipality} i {year}.")
            return
        where = f"kommune {municipality}" if municipality else "hele landet"
        rows = pattern_rows(report, municipality)
        if out is not None:
            with out.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["kommune", "ar", "monster", "beskrivelse", "forlop"])
                for key, label, value in rows:
                    writer.writerow([municipality or "", year, key, label, value])
                writer.writerow([f"# regelsett {rules.label}; {report.threshold_rule}"])
            console.print(f"Skrev {len(rows)} rader til {out}.")
            return
        view = Table(title=f"Forløpsmønstre {year}, {where}\nRegelsett: {rules.label}")
        view.add_column("Mønster")
        view.add_column("Forløp", justify="right")
        for _key, label, value in rows:
            view.add_row(label, value)
        console.print(view)
        d = report.definition
        readmit = Table(
            title=f"Reinnleggelse {d.readmission_min_days}–{d.readmission_max_days} dager "
            f"etter utskrivning, {where}"
        )
        for name in ("Utskrevet til", "Utskrivninger", "Reinnlagt", "Andel"):
            readmit.add_column(name, justify="left" if name == "Utskrevet til" else "right")
        for row in readmission_rows(report, municipality):
            readmit.add_row(*row)
        console.print(readmit)
        unverified = ", ".join(report.definition.unverified)
        console.print(
            f"«{SUPPRESSED}» = prikket (færre enn {report.threshold} pasienter, eller skjult for å "
            f"hindre tilbakeregning; {report.threshold_rule})."
            + (f" Ikke verifiserte regler: {unverified}." if unverified else "")
        )

    @forlop.command("pasient")
    def patient_cmd(
        patient_id: Annotated[str, typer.Argument(help="Pasientens løpenummer (pseudonym).")],
        warehouse: WarehouseOpt = None,
        rules_file: RulesOpt = None,
        engine_name: EngineOpt = None,
    ) -> None:
        """Tidslinjen til én pasient: tilstander, tider og radene de bygger på."""
        from samhandling.warehouse import Warehouse

        rules = load_rules(rules_file)
        with progress() as bar:
            task = bar.add_task("Bygger tidslinjen", total=2)
            engine = make_engine(engine_name)
            try:
                Warehouse.open(warehouse).register(engine)
                bar.advance(task)
                timeline = patient_timeline(engine, rules, patient_id)
                bar.advance(task)
            finally:
                engine.close()
        view = Table(title=f"Pasient {patient_id}\nRegelsett: {rules.label}")
        for name in ("Forløp", "Tilstand", "Fra", "Til", "Døgn", "Rader"):
            view.add_column(name, justify="right" if name in ("Forløp", "Døgn") else "left")
        for island in timeline.islands:
            view.add_row(
                "" if island.pathway_no is None else str(island.pathway_no + 1),
                island.label,
                local_time(island.start_at),
                local_time(island.end_at),
                "" if island.days is None else number(island.days, 1),
                " ".join((*island.episode_ids, *island.care_ids)),
            )
        console.print(view)
        for p in timeline.pathways:
            console.print(
                f"Forløp {int(p['pathway_no']) + 1} ({p['municipality']}, {p['year']}): "
                + pattern_label(str(p["pattern"]), timeline.definition)
            )
