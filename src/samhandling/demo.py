"""``samhandling demo``: synthetic data → ingest → computations → summary → portal.

The demo is the README's first command. By default it generates one health region (Helse Nord)
at full density, so a municipality's figures have their real size; ``--helseregion alle`` gives
the whole country (by default a 5 % sample). It is re-runnable: a year already generated with the
same options and generator is not generated again, and ingesting a delivery that is already
loaded changes nothing.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.table import Table

from samhandling.cli.options import parse_years
from samhandling.console import console
from samhandling.engine import Engine, make_engine
from samhandling.formatting import number, percent
from samhandling.overview import activity_by_year_sector
from samhandling.rules import RuleSet, load_rules
from samhandling.tables.elimination import warm_up
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
DEFAULT_REGION = "nord"
WHOLE_COUNTRY = ("alle", "landet", "hele-landet", "norge")
REGION_FRACTION = 1.0
NATIONAL_FRACTION = 0.05
# Areas that put demo records in the operational store (agreements, emergency-bed units, ...):
# each module has ``seed_demo(warehouse, store) -> list[str]`` returning lines to print.
DEMO_SEEDERS = (
    "samhandling.registries.agreements.demo",
    "samhandling.registries.emergency_beds.demo",
    "samhandling.messages.demo",
)


@dataclass(frozen=True)
class DemoOptions:
    years: tuple[int, ...]
    fraction: float
    seed: int
    warehouse: Path
    inbox: Path
    region: str | None = None  # the RHF's name; None: the whole country
    municipalities: tuple[str, ...] | None = None  # the region's 2024 municipalities
    national_2012: bool = False  # also generate and ingest the whole country's 2012 at 1.0


def region_choice(text: str) -> tuple[str | None, tuple[str, ...] | None]:
    """``--helseregion``: (RHF name, its 2024 municipalities), or (None, None) for the country."""
    from samhandling.synth.generate import health_region

    if text.strip().casefold() in WHOLE_COUNTRY:
        return None, None
    return health_region(text)


def _fingerprint(fraction: float, seed: int, municipalities: tuple[str, ...] | None) -> str:
    """What a generated year depends on: the options and the generator's code and model."""
    import samhandling.contract
    import samhandling.synth

    digest = hashlib.sha256(f"{fraction!r}|{seed}|{municipalities!r}".encode())
    synth = Path(samhandling.synth.__file__).parent
    for path in sorted([*synth.glob("*.py"), *synth.glob("*.toml")]):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(Path(samhandling.contract.__file__).read_bytes())
    return digest.hexdigest()


def _marker(inbox: Path, year: int) -> Path:
    # Beside the year folders, not in them: a delivery folder holds delivery files only.
    return inbox / f".generert-{year}"


def generate_missing(
    inbox: Path,
    years: tuple[int, ...],
    fraction: float,
    seed: int,
    municipalities: tuple[str, ...] | None,
) -> tuple[int, tuple[int, ...]]:
    """Generate the years not already generated with the same inputs (episodes, years skipped).

    A year counts as generated when its marker holds the fingerprint of the options and of the
    generator's code; the marker is written after the year's files are closed, so an interrupted
    run generates that year again.
    """
    from samhandling.synth import generate

    stamp = _fingerprint(fraction, seed, municipalities)
    done = tuple(
        y
        for y in years
        if _marker(inbox, y).is_file() and _marker(inbox, y).read_text("utf-8") == stamp
    )
    missing = [y for y in years if y not in done]
    episodes = sum(pq.read_metadata(inbox / str(y) / "episodes.parquet").num_rows for y in done)
    for year in missing:  # one at a time: a year's files do not depend on the others
        summary = generate(
            inbox,
            [year],
            fraction,
            seed,
            municipalities=municipalities,
            # The planted cases live in Oslo: a regional demo has no one outside its region.
            edge_cases_planted=municipalities is None,
        )
        episodes += summary.total("episodes")
        _marker(inbox, year).write_text(stamp, "utf-8")
    return episodes, done


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
    console.rule("[bold]samhandling – demo")
    where = options.region or "hele landet"
    console.print(
        f"Syntetiske data for {options.years[0]}–{options.years[-1]}: {where}, "
        f"andel av befolkningen {options.fraction:g}, frø {options.seed}"
    )
    # The table build's compiled elimination compiles on the other core meanwhile.
    threading.Thread(target=warm_up, name="kompilering", daemon=True).start()
    started = time.perf_counter()
    episodes, done = generate_missing(
        options.inbox, options.years, options.fraction, options.seed, options.municipalities
    )
    existed = f" ({_years_text(done)} fantes fra før)" if done else ""
    console.print(
        f"Syntetiske data: {number(episodes)} episoder{existed}, "
        f"{time.perf_counter() - started:.0f} s"
    )

    started = time.perf_counter()
    warehouse = Warehouse(options.warehouse)
    reports = warehouse.ingest_all(options.inbox, progress=True)
    loaded = sum(1 for r in reports if not r.already_loaded)
    rejected = sum(r.rejected for r in reports)
    console.print(
        f"Lastet inn {loaded} nye leveranser ({len(reports) - loaded} var lastet fra før), "
        f"{rejected} rader i karantene, {time.perf_counter() - started:.0f} s. "
        f"Datavarehus: {options.warehouse}"
    )

    rules = load_rules()
    with make_engine() as engine:
        warehouse.register(engine)
        console.print(_activity_table(activity_by_year_sector(engine)))
        if 2012 in options.years:
            _cofinancing_2012(engine, rules, options)
    # The store's demo records first: the PLO messages land as an events delivery, which is
    # part of the warehouse state the stored tables are built for (a re-run then finds them).
    _seed_store(warehouse)
    _build_tables(warehouse, rules)


def _years_text(years: tuple[int, ...]) -> str:
    if len(years) > 1 and years == tuple(range(years[0], years[-1] + 1)):
        return f"{years[0]}–{years[-1]}"
    return ", ".join(str(y) for y in years)


def _cofinancing_2012(engine: Engine, rules: RuleSet, options: DemoOptions) -> None:
    """The 2012 co-financing total beside the seeds' forecast, never scaled up unannounced."""
    from samhandling.instruments.cofinancing import national_cofinancing_total

    forecast = _nok(SEED_COFINANCING_FORECAST_2012)
    if options.municipalities is None:
        total = national_cofinancing_total(engine, rules, 2012)
        if options.fraction >= 1.0:
            what = "hele landet"
        else:
            total = (total / Decimal(str(options.fraction))).quantize(Decimal("1"))
            what = f"hele landet (utvalg skalert med 1/{options.fraction:g})"
        console.print(
            f"Kommunal medfinansiering 2012, {what}: [bold]{_nok(total)}[/]  –  prognose i "
            f"styringsdokumentene: {forecast} (regelsett {rules.label})"
        )
        return
    region_total, share = _region_total_2012(engine, rules, options.municipalities)
    console.print(
        f"Kommunal medfinansiering 2012, kommunene i {options.region} (fullt befolkningsgrunnlag): "
        f"[bold]{_nok(region_total)}[/]  –  regionens andel av prognosen i "
        f"styringsdokumentene ({forecast}) etter folketall ({percent(share * 100)}): "
        f"{_nok((SEED_COFINANCING_FORECAST_2012 * Decimal(str(share))).quantize(Decimal('1')))} "
        f"(regelsett {rules.label}). "
        + (
            "Landstallet beregnes fra hele landet 2012, generert i eget datavarehus:"
            if options.national_2012
            else f"Landstallet er ikke beregnet: demoen lager bare {options.region}; "
            "--nasjonal-2012 lager også hele landet for 2012 (om lag 5 minutter første gang)."
        )
    )
    if options.national_2012:
        national = national_total_2012(options)
        console.print(
            f"Kommunal medfinansiering 2012, hele landet (fullt befolkningsgrunnlag, eget "
            f"datavarehus): [bold]{_nok(national)}[/]  –  prognose i styringsdokumentene: "
            f"{forecast}"
        )


def _region_total_2012(
    engine: Engine, rules: RuleSet, municipalities: tuple[str, ...]
) -> tuple[Decimal, float]:
    """The 2012 total of the region's residents and the region's share of the population."""
    import pyarrow.compute as pc

    from samhandling.instruments.cofinancing import cofinancing_statement
    from samhandling.refdata import code_map, population

    mapping = code_map(2012, 2024)
    chosen = set(municipalities)
    codes = {
        older
        for older, newer in zip(
            [str(c) for c in mapping["from_code"].to_pylist()],
            [str(c) for c in mapping["to_code"].to_pylist()],
            strict=True,
        )
        if newer in chosen
    }
    table = cofinancing_statement(engine, rules, 2012, period="year", level="municipality")
    amounts = table.filter(pc.is_in(table["municipality"], value_set=pa.array(sorted(codes))))
    total = sum((Decimal(v) for v in amounts["amount"].to_pylist() if v is not None), Decimal(0))
    people = population([2012], borders=2012)
    inside = pc.sum(
        people.filter(pc.is_in(people["municipality"], value_set=pa.array(sorted(codes))))["count"]
    ).as_py()
    return total.quantize(Decimal("0.01")), float(inside) / float(pc.sum(people["count"]).as_py())


def national_total_2012(options: DemoOptions) -> Decimal:
    """The whole country's 2012 total at full density, in a warehouse of its own.

    Generated and ingested once next to the demo's warehouse (``<warehouse>-nasjonal-2012``);
    a re-run finds both and only computes the total.
    """
    from samhandling.instruments.cofinancing import national_cofinancing_total

    home = options.warehouse
    inbox = home.parent / f"{home.name}-leveranser" / f"nasjonal-{options.seed}-1-2012"
    started = time.perf_counter()
    generate_missing(inbox, (2012,), 1.0, options.seed, None)
    warehouse = Warehouse(home.parent / f"{home.name}-nasjonal-2012")
    warehouse.ingest_all(inbox, progress=True)
    rules = load_rules()
    with make_engine() as engine:
        warehouse.register(engine)
        total = national_cofinancing_total(engine, rules, 2012)
    console.print(
        f"Hele landet 2012 (fullt befolkningsgrunnlag): {time.perf_counter() - started:.0f} s, "
        f"datavarehus {warehouse.path}"
    )
    return total


def _build_tables(warehouse: Warehouse, rules: RuleSet) -> None:
    """The published tables (table generator, API, public statistics), built once and stored."""
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
        region: Annotated[
            str,
            typer.Option(
                "--helseregion",
                help="Helseregionen (RHF) som lages: nord, midt-norge, vest, sør-øst eller "
                "regionkoden 1–4; alle = hele landet.",
            ),
        ] = DEFAULT_REGION,
        fraction: Annotated[
            float | None,
            typer.Option(
                help="Andel av befolkningen (standard: 1.0 for en helseregion, "
                f"{NATIONAL_FRACTION:g} for hele landet)"
            ),
        ] = None,
        seed: Annotated[int, typer.Option(help="Frø for de syntetiske dataene")] = 2012,
        national_2012: Annotated[
            bool,
            typer.Option(
                "--nasjonal-2012",
                help="Lag også hele landet for 2012 med full tetthet (eget datavarehus) og vis "
                "landets medfinansiering ved siden av prognosen.",
            ),
        ] = False,
        warehouse: Annotated[
            Path | None, typer.Option(help="Datavarehusmappe (standard: ./samhandling-data)")
        ] = None,
        serve: Annotated[
            bool, typer.Option("--portal/--uten-portal", help="Start webportalen til slutt.")
        ] = True,
        port: Annotated[int, typer.Option(help="Port for webportalen.")] = 8000,
    ) -> None:
        """Demo: syntetiske data (standard: Helse Nord i full tetthet) → innlesing →
        beregninger → oppsummering → portal."""
        from samhandling.config import warehouse_dir

        name, municipalities = region_choice(region)
        if fraction is None:
            fraction = NATIONAL_FRACTION if municipalities is None else REGION_FRACTION
        home = warehouse_dir(warehouse)
        folder = f"demo-{seed}-{fraction:g}"
        if municipalities is not None:
            folder += f"-{_region_slug(name)}"
        inbox = home.parent / f"{home.name}-leveranser" / folder
        options = DemoOptions(
            tuple(parse_years(years)),
            fraction,
            seed,
            home,
            inbox,
            region=name,
            municipalities=municipalities,
            national_2012=national_2012,
        )
        run_demo(options)
        if serve:
            from samhandling.cli.web import serve_portal

            serve_portal(home, port=port, demo_users=True)


def _region_slug(name: str | None) -> str:
    """``Helse Sør-Øst RHF`` → ``sorost`` (for folder names)."""
    from samhandling.synth.generate import region_key

    return region_key(name or "")
