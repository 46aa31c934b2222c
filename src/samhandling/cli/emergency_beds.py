"""CLI: ``samhandling kad enheter|registrer|senger|belegg|spredning|avlastning|tilskudd|eksport``.

The units live in the operational store (SQLite in the warehouse folder, or
``$SAMHANDLING_DB_URL``); occupancy is computed from the warehouse's ``municipal_care`` rows of
service ``kad`` on the chosen engine. Every figure comes from the same functions as the portal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.table import Table

from samhandling.cli.options import DbOpt, EngineOpt, RulesOpt, WarehouseOpt, parse_years
from samhandling.console import console, progress
from samhandling.engine import Engine, make_engine
from samhandling.errors import ConfigError
from samhandling.formatting import money, number, percent
from samhandling.registries.emergency_beds import grant as grants
from samhandling.registries.emergency_beds import occupancy as occ
from samhandling.registries.emergency_beds import units as registry
from samhandling.rules import RuleSet, load_rules
from samhandling.store import Store

__all__ = ["register"]


def _store(warehouse: Path | None, database: str | None) -> Store:
    from samhandling.config import warehouse_dir

    return Store.open(database, warehouse=warehouse_dir(warehouse))


def _units(warehouse: Path | None, database: str | None) -> list[registry.Unit]:
    """The registered units, read from the operational store."""
    with _store(warehouse, database) as store:
        return registry.list_units(store)


@contextmanager
def _engine(warehouse: Path | None, name: str | None) -> Iterator[tuple[Engine, date | None]]:
    """An engine with the warehouse registered, and the end of the warehouse's period."""
    from samhandling.warehouse import Warehouse

    engine = make_engine(name)
    try:
        opened = Warehouse.open(warehouse)
        opened.register(engine)
        yield engine, occ.period_end(opened.status().years)
    finally:
        engine.close()


def _total(table: pa.Table, column: str) -> int:
    return sum(int(v or 0) for v in table[column].to_pylist())


def _pct(value: float | None) -> str:
    return "–" if value is None else percent(value)


def _print_units(units: list[registry.Unit]) -> None:
    view = Table(title="KAD-enheter (øyeblikkelig hjelp døgnopphold)")
    for label in (
        "Id",
        "Navn",
        "Vertskommune",
        "Deltakere",
        "HF",
        "Åpnet",
        "Nedlagt",
        "Senger nå",
        "Søkt",
    ):
        view.add_column(label)
    today = date.today()
    for u in units:
        current = u.bed_counts[-1].beds if u.bed_counts else 0
        view.add_row(
            str(u.id),
            u.name,
            u.host_municipality,
            " ".join(u.participants) or "–",
            u.health_trust,
            u.opened_on.isoformat(),
            u.closed_on.isoformat() if u.closed_on else "–",
            str(u.beds_on(today) if u.open_on(today) else current),
            u.applied_on.isoformat() if u.applied_on else "–",
        )
    console.print(view)


def _occupancy_table(table: pa.Table, title: str, rules: RuleSet) -> None:
    view = Table(title=f"{title}\nRegelsett: {rules.label}")
    monthly = "month" in table.column_names
    for label in (
        "Enhet",
        "Måned" if monthly else "År",
        "Dager åpen",
        "Sengedøgn",
        "Liggedøgn",
        "Opphold",
        "Belegg %",
    ):
        view.add_column(label, justify="left" if label in ("Enhet", "Måned", "År") else "right")
    for row in table.to_pylist():
        view.add_row(
            f"{row['name']} ({row['unit_id']})",
            row["month"].strftime("%Y-%m") if monthly else str(row["year"]),
            number(row["days_open"]),
            number(row["capacity_days"]),
            number(row["bed_days"]),
            number(row["stays"]),
            _pct(row["occupancy_pct"]),
        )
    console.print(view)


def register(app: typer.Typer) -> None:
    """Add ``samhandling kad ...`` to the CLI."""
    kad = typer.Typer(
        no_args_is_help=True, help="Kommunale akutte døgnplasser (KAD): enheter, belegg, tilskudd."
    )
    app.add_typer(kad, name="kad")

    @kad.command("enheter")
    def list_cmd(*, warehouse: WarehouseOpt = None, database: DbOpt = None) -> None:
        """Vis registrerte KAD-enheter."""
        with _store(warehouse, database) as store:
            _print_units(registry.list_units(store))

    @kad.command("registrer")
    def register_cmd(
        *,
        name: Annotated[str, typer.Option("--navn", help="Enhetens navn.")],
        host: Annotated[str, typer.Option("--kommune", help="Vertskommune (4 sifre).")],
        health_trust: Annotated[str, typer.Option("--hf", help="Helseforetakets org.nr.")],
        opened: Annotated[str, typer.Option("--åpnet", help="Åpningsdato ÅÅÅÅ-MM-DD.")],
        beds: Annotated[str, typer.Option("--senger", help="Antall senger ved åpning.")],
        participants: Annotated[
            str, typer.Option("--deltakere", help="Deltakerkommuner, f.eks. '1838 1839'.")
        ] = "",
        groups: Annotated[
            list[str] | None, typer.Option("--gruppe", help="Pasientgruppe (nøkkel); kan gjentas.")
        ] = None,
        applied: Annotated[str, typer.Option("--søkt", help="Søknadsdato for tilskudd.")] = "",
        closed: Annotated[
            str, typer.Option("--nedlagt", help="Første dag enheten er stengt.")
        ] = "",
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
        rules_file: RulesOpt = None,
    ) -> None:
        """Registrer en ny KAD-enhet."""
        data = registry.UnitInput.from_text(
            name=name,
            host_municipality=host,
            health_trust=health_trust,
            opened_on=opened,
            beds=beds,
            closed_on=closed,
            participants=participants,
            patient_groups=groups or [],
            applied_on=applied,
        )
        with _store(warehouse, database) as store:
            unit = registry.register_unit(store, load_rules(rules_file), data, by="cli")
            store.audit(None, "kad_register", f"kad/enhet/{unit.id}")
        console.print(f"Registrerte «{unit.name}» med id {unit.id}.")

    @kad.command("senger")
    def beds_cmd(
        unit_id: Annotated[int, typer.Argument(help="Enhetens id.")],
        *,
        valid_from: Annotated[str, typer.Option("--fra", help="Gjelder fra ÅÅÅÅ-MM-DD.")],
        beds: Annotated[str, typer.Option("--senger", help="Nytt antall senger.")],
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Registrer endret sengetall fra en dato (historikken beholdes)."""
        day = registry.parse_date_field(valid_from, "Fra-dato")
        count = registry.parse_beds_field(beds)
        with _store(warehouse, database) as store:
            unit = registry.change_beds(store, unit_id, day, count, by="cli")
            store.audit(None, "kad_beds", f"kad/enhet/{unit.id}")
        console.print(f"«{unit.name}» har {count} senger fra {day.isoformat()}.")

    @kad.command("belegg")
    def occupancy_cmd(
        *,
        year: Annotated[int | None, typer.Option("--år", help="Bare dette året.")] = None,
        per: Annotated[str, typer.Option("--per", help="måned eller år.")] = "måned",
        unit_id: Annotated[int | None, typer.Option("--enhet", help="Bare denne enheten.")] = None,
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
        rules_file: RulesOpt = None,
        engine_name: EngineOpt = None,
    ) -> None:
        """Belegg per enhet og måned (eller år): liggedøgn × 100 / (senger × dager)."""
        if per not in ("måned", "år"):
            raise ConfigError("--per må være måned eller år")
        rules = load_rules(rules_file)
        units = _units(warehouse, database)
        if unit_id is not None:
            units = [u for u in units if u.id == unit_id]
            if not units:
                raise registry.UnitNotFoundError(f"fant ingen KAD-enhet med id {unit_id}")
        with progress() as bar:
            task = bar.add_task("Beregner belegg", total=2)
            with _engine(warehouse, engine_name) as (engine, end):
                bar.advance(task)
                compute = occ.occupancy_by_month if per == "måned" else occ.occupancy_by_year
                table = compute(engine, rules, units, as_of=end)
                loose = occ.unattributed_stays(engine, rules, units, as_of=end)
                bar.advance(task)
        if year is not None:
            import pyarrow.compute as pc

            table = table.filter(pc.equal(table["year"], pa.scalar(year, pa.int32())))
            loose = loose.filter(pc.equal(loose["year"], pa.scalar(year, pa.int32())))
        _occupancy_table(table, "Belegg i KAD-enheter", rules)
        if loose.num_rows:
            console.print(
                f"KAD-opphold uten registrert enhet: {number(_total(loose, 'stays'))} "
                f"opphold, {number(_total(loose, 'bed_days'))} liggedøgn "
                f"i {len(set(loose['municipality'].to_pylist()))} kommuner."
            )

    @kad.command("spredning")
    def spread_cmd(
        *,
        year: Annotated[int, typer.Option("--år", help="År.")],
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
        rules_file: RulesOpt = None,
        engine_name: EngineOpt = None,
    ) -> None:
        """Spredning i årsbelegg mellom enhetene: minimum, kvartiler, maksimum."""
        rules = load_rules(rules_file)
        units = _units(warehouse, database)
        with _engine(warehouse, engine_name) as (engine, end):
            yearly = occ.occupancy_by_year(engine, rules, units, as_of=end)
        spread = occ.occupancy_spread(yearly, year)
        if spread is None:
            console.print(f"Ingen enheter med kapasitet i {year}.")
            return
        console.print(
            f"Belegg {year}, {spread.units} enheter: min {_pct(spread.minimum)}, "
            f"1. kvartil {_pct(spread.q1)}, median {_pct(spread.median)}, "
            f"3. kvartil {_pct(spread.q3)}, maks {_pct(spread.maximum)}"
        )

    @kad.command("avlastning")
    def relief_cmd(
        *,
        years: Annotated[str, typer.Option("--år", help="År, f.eks. 2011-2014.")],
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
        engine_name: EngineOpt = None,
    ) -> None:
        """KAD-opphold mot øyeblikkelig hjelp medisinske sykehusinnleggelser per 1 000."""

        wanted = parse_years(years)
        units = _units(warehouse, database)
        with progress() as bar:
            task = bar.add_task("Beregner per år", total=1)
            with _engine(warehouse, engine_name) as (engine, _end):
                table = occ.stays_vs_admissions(engine, units, wanted)
            bar.advance(task)
        view = Table(title="Avlaster KAD sykehuset? Per 1 000 innbyggere")
        for label in (
            "År",
            "Kommuner",
            "Innbyggere",
            "KAD-opphold",
            "KAD per 1 000",
            "ØH med. innl.",
            "ØH per 1 000",
        ):
            view.add_column(label, justify="right")
        for row in occ.relief_summary(table):
            view.add_row(
                f"{row['year']} {'med enhet' if row['served'] else 'uten enhet'}",
                number(row["municipalities"]),
                number(row["population"]),
                number(row["kad_stays"]),
                number(row["kad_per_1000"], 2),
                number(row["emergency_stays"]),
                number(row["emergency_per_1000"], 2),
            )
        console.print(view)

    @kad.command("tilskudd")
    def grant_cmd(
        *,
        years: Annotated[str, typer.Option("--år", help="År, f.eks. 2012-2016.")] = "2012-2016",
        municipality: Annotated[
            str | None, typer.Option("--kommune", help="Bare denne kommunen.")
        ] = None,
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
        rules_file: RulesOpt = None,
    ) -> None:
        """Finansiering per kommune: tilskudd og HF-andel 2012–2015, rammetilskudd fra 2016."""

        rules = load_rules(rules_file)
        wanted = parse_years(years)
        with _store(warehouse, database) as store:
            units = registry.list_units(store)
            lookup = grants.agreement_lookup(store)
            lines = grants.grant_lines(units, rules, wanted, lookup, grants.refdata_population)
        if municipality:
            lines = [ln for ln in lines if ln.municipality == municipality]
        view = Table(title=f"Finansiering av KAD\nRegelsett: {rules.label}")
        for label in (
            "År",
            "Kommune",
            "Enhet",
            "Sengedøgn",
            "Tilskudd (kr)",
            "Fra HF (kr)",
            "Status",
        ):
            view.add_column(
                label, justify="right" if "kr" in label or label == "Sengedøgn" else "left"
            )
        for ln in lines:
            view.add_row(
                str(ln.year),
                ln.municipality,
                ln.unit_name,
                number(ln.capacity_days),
                money(ln.grant) + (" ⚠" if ln.unverified and ln.grant else ""),
                money(ln.health_trust_part) + (" ⚠" if ln.unverified and ln.grant else ""),
                grants.REASONS[ln.reason],
            )
        console.print(view)
        if lookup is None:
            console.print(
                "[yellow]Avtaleregisteret finnes ikke i denne installasjonen: "
                "ingen tilskudd kan innvilges.[/]"
            )
        served = sorted({m for u in units for m in u.municipalities})
        if municipality:
            served = [municipality]
        for year in [y for y in wanted if y not in grants.scheme_years(rules)]:
            block = grants.block_grant_lines(rules, year, served, grants.refdata_population)
            if not block:
                console.print(f"{year}: beløpet i rammetilskuddet er ikke i regeltabellen.")
                continue
            total = sum((b.amount for b in block), Decimal(0))
            console.print(
                f"{year}: i rammetilskuddet (anslag etter innbyggertall, ikke verifisert ⚠): "
                f"{money(total)} kr til {len(block)} kommuner med enhet"
            )
        console.print("⚠ = bygger på regelverdier som ikke er verifisert i en offentlig kilde.")

    @kad.command("eksport")
    def export_cmd(
        out: Annotated[Path, typer.Argument(help="Fil (.csv eller .xlsx).")],
        *,
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
        rules_file: RulesOpt = None,
        engine_name: EngineOpt = None,
    ) -> None:
        """Skriv belegg per enhet og måned til CSV eller XLSX."""
        from samhandling.instruments.exports import export_table

        rules = load_rules(rules_file)
        units = _units(warehouse, database)
        with _engine(warehouse, engine_name) as (engine, end):
            table = occ.occupancy_by_month(engine, rules, units, as_of=end)
        export_table(
            table,
            out,
            rules,
            sheet="Belegg",
            rule_ids=occ.OCCUPANCY_RULES,
            title="Belegg i KAD-enheter per måned",
        )
        console.print(f"Skrev {table.num_rows} rader til {out} (regelsett {rules.label}).")
