"""``samhandling demo``: synthetic national data → ingest → computations → summary → portal.

The demo is the README's first command. It is re-runnable: generating the same seed and fraction
again gives the same files, and ingesting a delivery that is already loaded changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.table import Table

from samhandling.console import console
from samhandling.engine import DuckDBEngine
from samhandling.errors import ConfigError
from samhandling.formatting import number
from samhandling.overview import activity_by_year_sector
from samhandling.rules import RuleSet, load_rules
from samhandling.warehouse import Warehouse

SECTOR_NO = {
    "somatic": "Somatikk",
    "mental_health": "Psykisk helsevern",
    "substance_abuse": "TSB",
    "rehabilitation": "Rehabilitering",
}
# The seeds' national co-financing forecast for 2012 (seed 000, minutes of 24.10.2012), shown
# beside the synthetic total for comparison only; it is not used in any computation.
SEED_COFINANCING_FORECAST_2012 = Decimal("5200000000")
# Areas that put demo records in the operational store (agreements, emergency-bed units, ...):
# each module has ``seed_demo(warehouse, store) -> list[str]`` returning lines to print.
DEMO_SEEDERS = (
    "samhandling.instruments.agreements.demo",
    "samhandling.instruments.emergency_beds.demo",
    "samhandling.messages.demo",
)


@dataclass(frozen=True)
class DemoOptions:
    years: tuple[int, ...]
    fraction: float
    seed: int
    warehouse: Path
    inbox: Path


def parse_years(text: str) -> tuple[int, ...]:
    """``2011-2014`` or ``2011,2013`` → the years."""
    years: set[int] = set()
    try:
        for part in text.split(","):
            if "-" in part:
                first, last = (int(x) for x in part.split("-", 1))
                years.update(range(first, last + 1))
            elif part.strip():
                years.add(int(part))
    except ValueError:
        raise ConfigError(
            f"ugyldige år: {text!r} (bruk f.eks. 2011-2014 eller 2011,2013)"
        ) from None
    if not years:
        raise ConfigError("ingen år valgt")
    return tuple(sorted(years))


def _nok(value: Decimal) -> str:
    return f"{number(value)} kr"


def _activity_table(activity: pa.Table) -> Table:
    table = Table(title="Innhold i datavarehuset per år og sektor")
    for header in ("År", "Sektor", "Kontakter", "Døgnopphold", "Liggedøgn", "Pasienter"):
        table.add_column(header, justify="left" if header == "Sektor" else "right", no_wrap=True)
    for row in activity.to_pylist():
        table.add_row(
            str(row["year"]),
            SECTOR_NO.get(row["sector"], row["sector"]),
            number(row["contacts"]),
            number(row["inpatient_stays"]),
            number(row["bed_days"]),
            number(row["patients"]),
        )
    return table


def run_demo(options: DemoOptions) -> None:
    """Generate, ingest and summarise; prints as it goes."""
    from samhandling.instruments.cofinancing import national_cofinancing_total
    from samhandling.synth import generate

    console.rule("[bold]samhandling – demo")
    console.print(
        f"Syntetiske data for {options.years[0]}–{options.years[-1]}, "
        f"andel av befolkningen {options.fraction:g}, frø {options.seed}"
    )
    summary = generate(options.inbox, options.years, options.fraction, options.seed)
    console.print(f"Skrevet: {number(summary.total('episodes'))} episoder")

    warehouse = Warehouse(options.warehouse)
    reports = warehouse.ingest_all(options.inbox, progress=True)
    loaded = sum(1 for r in reports if not r.already_loaded)
    rejected = sum(r.rejected for r in reports)
    console.print(
        f"Lastet inn {loaded} nye leveranser ({len(reports) - loaded} var lastet fra før), "
        f"{rejected} rader i karantene. Datavarehus: {options.warehouse}"
    )

    rules = load_rules()
    with DuckDBEngine() as engine:
        warehouse.register(engine)
        console.print(_activity_table(activity_by_year_sector(engine)))
        if 2012 in options.years:
            sample_total = national_cofinancing_total(engine, rules, 2012)
            national = (sample_total / Decimal(str(options.fraction))).quantize(Decimal("1"))
            console.print(
                f"Kommunal medfinansiering 2012, hele landet (utvalg skalert med 1/"
                f"{options.fraction:g}): [bold]{_nok(national)}[/]  –  prognose i "
                f"styringsdokumentene: {_nok(SEED_COFINANCING_FORECAST_2012)} "
                f"(regelsett {rules.label})"
            )
    _build_tables(warehouse, rules)
    _seed_store(warehouse)


def _build_tables(warehouse: Warehouse, rules: RuleSet) -> None:
    """The published tables (table generator, API, public statistics), built once and stored."""
    import time

    from samhandling.tables.published import catalog_folder, load_catalog, published_catalog
    from samhandling.web.tables import BORDERS

    started = time.perf_counter()
    stored = load_catalog(warehouse, rules, BORDERS)
    catalog = stored or published_catalog(warehouse, rules, BORDERS)
    hidden = sum(c.suppressed_cells for c in catalog.cubes.values())
    cells = sum(c.cells.num_rows for c in catalog.cubes.values())
    what = "fantes fra før" if stored else f"bygget på {time.perf_counter() - started:.0f} s"
    console.print(
        f"Tabellkatalog ({len(catalog.cubes)} tabeller, {number(cells)} celler, "
        f"{number(hidden)} prikket) {what}: {catalog_folder(warehouse, rules, BORDERS)}"
    )


def _seed_store(warehouse: Warehouse) -> None:
    """Demo records in the operational store; re-running leaves one copy of each."""
    from importlib import import_module

    from samhandling.store import Store

    with Store.open(warehouse=warehouse.path) as store:
        for name in DEMO_SEEDERS:
            try:
                module = import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                    continue  # the area is not part of this build
                raise
            for line in module.seed_demo(warehouse, store):
                console.print(line)


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        *,
        years: Annotated[str, typer.Option(help="År, f.eks. 2009-2014")] = "2009-2014",
        fraction: Annotated[
            float, typer.Option(help="Andel av befolkningen (1.0 = hele landet)")
        ] = 0.05,
        seed: Annotated[int, typer.Option(help="Frø for de syntetiske dataene")] = 2012,
        warehouse: Annotated[
            Path | None, typer.Option(help="Datavarehusmappe (standard: ./samhandling-data)")
        ] = None,
        serve: Annotated[
            bool, typer.Option("--portal/--uten-portal", help="Start webportalen til slutt.")
        ] = True,
        port: Annotated[int, typer.Option(help="Port for webportalen.")] = 8000,
    ) -> None:
        """Demo: syntetiske nasjonale data → innlesing → beregninger → oppsummering → portal."""
        from samhandling.config import warehouse_dir

        home = warehouse_dir(warehouse)
        inbox = home.parent / f"{home.name}-leveranser" / f"demo-{seed}-{fraction:g}"
        run_demo(DemoOptions(parse_years(years), fraction, seed, home, inbox))
        if serve:
            from samhandling.web.commands import serve_portal

            serve_portal(home, port=port, demo_users=True)
