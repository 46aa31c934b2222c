"""CLI: ``samhandling cofinancing``, ``discharge-ready``, ``scenarios`` and ``explain``.

Each command opens the warehouse, registers its live data on the chosen engine, calls the one
function that computes the figure (the same the API, portal and exports call) and prints a
table, or writes it to ``--ut`` (CSV or XLSX by suffix). Every output names its rule set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.table import Table

from samhandling.cli.options import EngineOpt, RulesOpt, WarehouseOpt, parse_date
from samhandling.console import console, progress
from samhandling.engine import Engine, make_engine
from samhandling.errors import ConfigError
from samhandling.formatting import number
from samhandling.instruments.cofinancing import COFINANCING_RULES, Level, Period
from samhandling.instruments.discharge_ready import DISCHARGE_READY_RULES
from samhandling.rules import RuleSet, load_rules

__all__ = ["register"]

# Column labels shown to users (Norwegian); columns not listed keep their name.
LABELS: dict[str, str] = {
    "period": "Periode",
    "municipality": "Kommune",
    "paying_municipality": "Betalende kommune",
    "health_trust": "Helseforetak",
    "health_trust_name": "HF",
    "rhf": "RHF",
    "rhf_name": "RHF-navn",
    "episodes": "Episoder",
    "eligible_episodes": "Medfinansierte",
    "capped_points": "DRG-poeng (m/tak)",
    "amount": "Beløp (kr)",
    "unverified_amount": "Herav uverifisert (kr)",
    "forecast": "Prognose (kr)",
    "revised_forecast": "Justert prognose (kr)",
    "akonto": "À-konto (kr)",
    "akonto_paid": "Betalt à-konto (kr)",
    "actual": "Faktisk (kr)",
    "settlement": "Avregning (kr)",
    "document": "Dokument",
    "invoice_month": "Fakturamåned",
    "stays": "Opphold",
    "lines": "Linjer",
    "days": "Døgn",
    "patients": "Pasienter",
    "overligger_days": "Overliggerdøgn",
    "billed_days": "Fakturerte døgn",
    "billed_amount": "Fakturert (kr)",
    "difference_days": "Differanse",
    "reasons": "Forklaring",
    "population": "Innbyggere",
    "overligger_days_per_1000": "Overliggerdøgn per 1000",
    "scenario": "Scenario",
    "cost": "Kostnad (kr)",
    "pooled_cost": "Etter utjevning (kr)",
    "contacts": "Kontakter",
    "size_class": "Innbyggere",
    "municipalities": "Kommuner",
    "mean_change_pct": "Snitt endring %",
    "max_change_pct": "Maks endring %",
    "status": "Status",
    "old_amount": "Gammelt beløp (kr)",
    "new_amount": "Nytt beløp (kr)",
    "change": "Endring (kr)",
    "episode_id": "Episode",
    "month": "Måned",
    "reason": "Årsak",
    "line_from": "Fra",
    "line_until": "Til (ekskl.)",
    "daily_rate": "Døgnpris (kr)",
}

_MAX_ROWS_SHOWN = 60

OutOpt = Annotated[Path | None, typer.Option("--ut", help="Skriv til fil (.csv eller .xlsx).")]


@contextmanager
def _session(
    warehouse: Path | None, engine_name: str | None, as_of: int | None = None
) -> Iterator[Engine]:
    from samhandling.warehouse import Warehouse

    engine = make_engine(engine_name)
    try:
        Warehouse.open(warehouse).register(engine, as_of=as_of)
        yield engine
    finally:
        engine.close()


def _cell(value: object) -> str:
    """Norwegian number format for the terminal, as in the portal (``1 234,50``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nei"
    if isinstance(value, Decimal):
        return number(value, max(0, -int(value.as_tuple().exponent)))
    if isinstance(value, int):
        return number(value)
    if isinstance(value, float):
        return number(value, 2)
    return str(value)


def _print(table: pa.Table, title: str, rules: RuleSet, columns: Sequence[str]) -> None:
    shown = [c for c in columns if c in table.column_names]
    view = Table(title=f"{title}\nRegelsett: {rules.label}", show_lines=False)
    for name in shown:
        numeric = name in _NUMERIC
        view.add_column(
            LABELS.get(name, name), justify="right" if numeric else "left", no_wrap=numeric
        )
    for row in table.select(shown).slice(0, _MAX_ROWS_SHOWN).to_pylist():
        view.add_row(*[_cell(row[c]) for c in shown])
    console.print(view)
    if table.num_rows > _MAX_ROWS_SHOWN:
        console.print(f"Viser {_MAX_ROWS_SHOWN} av {table.num_rows} rader; bruk --ut for alle.")


_NUMERIC = {
    "episodes",
    "eligible_episodes",
    "capped_points",
    "amount",
    "unverified_amount",
    "forecast",
    "revised_forecast",
    "akonto",
    "akonto_paid",
    "actual",
    "settlement",
    "stays",
    "lines",
    "days",
    "patients",
    "overligger_days",
    "billed_days",
    "billed_amount",
    "difference_days",
    "population",
    "cost",
    "pooled_cost",
    "contacts",
    "municipalities",
    "mean_change_pct",
    "max_change_pct",
    "old_amount",
    "new_amount",
    "change",
    "daily_rate",
    "overligger_days_per_1000",
}


def _filter(table: pa.Table, column: str, value: str | None) -> pa.Table:
    if value is None or column not in table.column_names:
        return table
    import pyarrow.compute as pc

    return table.filter(pc.equal(table.column(column), pa.scalar(value, pa.string())))


def _run(
    description: str,
    work: Callable[[Engine, RuleSet], pa.Table],
    *,
    warehouse: Path | None,
    engine_name: str | None,
    rules_file: Path | None,
    as_of: int | None = None,
) -> tuple[pa.Table, RuleSet]:
    rules = load_rules(rules_file)
    with progress() as bar:
        task = bar.add_task(description, total=2)
        with _session(warehouse, engine_name, as_of) as engine:
            bar.advance(task)
            table = work(engine, rules)
            bar.advance(task)
    return table, rules


def _emit(
    table: pa.Table,
    *,
    out: Path | None,
    rules: RuleSet,
    title: str,
    columns: Sequence[str],
    rule_ids: Sequence[str],
) -> None:
    if out is not None:
        from samhandling.instruments.exports import export_table

        export_table(table, out, rules, rule_ids=rule_ids, title=title)
        console.print(f"Skrev {table.num_rows} rader til {out} (regelsett {rules.label}).")
        return
    _print(table, title, rules, columns)


def register(app: typer.Typer) -> None:
    """Add the instrument commands to the ``samhandling`` CLI."""

    @app.command("cofinancing")
    def cofinancing_cmd(
        *,
        year: Annotated[int, typer.Option("--år", help="År (2012–2014).")] = 2012,
        view: Annotated[
            str,
            typer.Option(
                "--visning",
                help="oppgave, prognose, akonto, avregning, episoder eller korreksjoner.",
            ),
        ] = "oppgave",
        period: Annotated[str, typer.Option("--periode", help="month, tertial, year.")] = "month",
        level: Annotated[
            str,
            typer.Option(
                "--nivå", help="municipality, municipality_rhf, health_trust, rhf, national."
            ),
        ] = "municipality",
        municipality: Annotated[
            str | None, typer.Option("--kommune", help="Bare denne kommunen.")
        ] = None,
        previous: Annotated[
            int | None,
            typer.Option("--forrige", help="Korreksjoner: sammenlign med lagerpost nr."),
        ] = None,
        warehouse: WarehouseOpt = None,
        rules_file: RulesOpt = None,
        engine_name: EngineOpt = None,
        out: OutOpt = None,
    ) -> None:
        """Kommunal medfinansiering: oppgaver, prognose, à-konto, avregning og korreksjoner."""
        from samhandling.instruments import cofinancing as cof

        def work(engine: Engine, rules: RuleSet) -> pa.Table:
            if view == "oppgave":
                return cof.cofinancing_statement(
                    engine, rules, year, period=_period(period), level=_level(level)
                )
            if view == "prognose":
                return cof.cofinancing_forecast(engine, rules, year)
            if view == "akonto":
                return cof.cofinancing_akonto(engine, rules, year)
            if view == "avregning":
                return cof.cofinancing_settlement(engine, rules, year)
            if view == "episoder":
                return cof.cofinancing_episodes(engine, rules, year=year)
            if view == "korreksjoner":
                if previous is None:
                    raise ConfigError(
                        "korreksjoner trenger --forrige (lagerpost å sammenligne med)"
                    )
                from samhandling.warehouse import Warehouse

                Warehouse.open(warehouse).register(engine, as_of=previous)
                engine.create_table("episodes_previous", "SELECT * FROM episodes")
                Warehouse.open(warehouse).register(engine)
                return cof.cofinancing_corrections(engine, rules, year)
            raise ConfigError(f"ukjent visning {view!r}")

        table, rules = _run(
            "Beregner kommunal medfinansiering",
            work,
            warehouse=warehouse,
            engine_name=engine_name,
            rules_file=rules_file,
        )
        table = _filter(table, "municipality", municipality)
        columns = {
            "oppgave": [
                "period",
                "municipality",
                "health_trust_name",
                "rhf_name",
                "episodes",
                "eligible_episodes",
                "capped_points",
                "amount",
                "unverified_amount",
            ],
            "prognose": [
                "municipality",
                "rhf_name",
                "base_amount",
                "pop_base",
                "pop_target",
                "forecast",
            ],
            "akonto": [
                "municipality",
                "rhf_name",
                "month",
                "forecast",
                "revised_forecast",
                "akonto",
            ],
            "avregning": [
                "municipality",
                "rhf_name",
                "forecast",
                "akonto_paid",
                "actual",
                "settlement",
                "document",
            ],
            "episoder": [
                "episode_id",
                "municipality",
                "activity_date",
                "drg",
                "reason",
                "capped_points",
                "amount",
            ],
            "korreksjoner": [
                "episode_id",
                "status",
                "old_municipality",
                "new_municipality",
                "old_amount",
                "new_amount",
                "change",
            ],
        }[view]
        if view == "oppgave" and "amount" in table.column_names:
            import pyarrow.compute as pc

            total = pc.sum(table.column("amount")).as_py()
            console.print(f"Sum {year}: {total} kr")
        _emit(
            table,
            out=out,
            rules=rules,
            title=f"Kommunal medfinansiering {year} ({view})",
            columns=columns,
            rule_ids=_cof_rules(),
        )

    @app.command("discharge-ready")
    def discharge_ready_cmd(
        *,
        year: Annotated[
            int | None, typer.Option("--år", help="Fakturaår (alle når utelatt).")
        ] = None,
        view: Annotated[
            str, typer.Option("--visning", help="fakturaer, linjer, opphold eller statistikk.")
        ] = "fakturaer",
        health_trust: Annotated[
            str | None, typer.Option("--hf", help="Bare dette helseforetaket (orgnr).")
        ] = None,
        municipality: Annotated[
            str | None, typer.Option("--kommune", help="Bare denne kommunen.")
        ] = None,
        as_of: Annotated[
            str | None,
            typer.Option("--per", help="Fakturer inneliggende pasienter til denne datoen."),
        ] = None,
        warehouse: WarehouseOpt = None,
        rules_file: RulesOpt = None,
        engine_name: EngineOpt = None,
        out: OutOpt = None,
    ) -> None:
        """Betaling for utskrivningsklare pasienter: fakturaer, linjer, opphold, statistikk."""
        from samhandling.instruments import discharge_ready as dr

        until = parse_date(as_of, "--per")

        def work(engine: Engine, rules: RuleSet) -> pa.Table:
            if view == "fakturaer":
                return dr.discharge_ready_invoices(engine, rules, year=year, as_of=until)
            if view == "linjer":
                return dr.discharge_ready_lines(engine, rules, as_of=until)
            if view == "opphold":
                return dr.discharge_ready_stays(engine, rules, as_of=until)
            if view == "statistikk":
                if year is None:
                    raise ConfigError("statistikk trenger --år")
                return dr.discharge_ready_statistics(engine, rules, year, as_of=until)
            raise ConfigError(f"ukjent visning {view!r}")

        table, rules = _run(
            "Beregner utskrivningsklare pasienter",
            work,
            warehouse=warehouse,
            engine_name=engine_name,
            rules_file=rules_file,
        )
        table = _filter(table, "health_trust", health_trust)
        table = _filter(
            table,
            "paying_municipality" if view in ("fakturaer", "linjer") else "municipality",
            municipality,
        )
        columns = {
            "fakturaer": [
                "health_trust",
                "paying_municipality",
                "invoice_month",
                "stays",
                "lines",
                "days",
                "amount",
                "unverified_amount",
            ],
            "linjer": [
                "episode_id",
                "paying_municipality",
                "invoice_month",
                "line_from",
                "line_until",
                "days",
                "daily_rate",
                "amount",
            ],
            "opphold": [
                "episode_id",
                "municipality",
                "overligger_days",
                "billed_days",
                "difference_days",
                "reasons",
            ],
            "statistikk": [
                "municipality",
                "patients",
                "stays",
                "overligger_days",
                "billed_days",
                "population",
                "overligger_days_per_1000",
            ],
        }[view]
        _emit(
            table,
            out=out,
            rules=rules,
            title=f"Utskrivningsklare pasienter ({view})",
            columns=columns,
            rule_ids=_dr_rules(),
        )

    @app.command("scenarios")
    def scenarios_cmd(
        *,
        year: Annotated[int, typer.Option("--år", help="År å beregne kostnad for.")] = 2012,
        years: Annotated[
            str | None,
            typer.Option(
                "--risiko-år", help="Risikokurve over disse årene, f.eks. 2012,2013,2014."
            ),
        ] = None,
        scenario: Annotated[
            list[str] | None, typer.Option("--scenario", help="Bare disse scenarioene.")
        ] = None,
        warehouse: WarehouseOpt = None,
        rules_file: RulesOpt = None,
        engine_name: EngineOpt = None,
        out: OutOpt = None,
    ) -> None:
        """Medfinansieringsmodeller fra St.meld. 47 kap. 9.4: kostnad per kommune og risiko."""
        from samhandling.instruments import scenarios as sc

        wanted = scenario or None

        def work(engine: Engine, rules: RuleSet) -> pa.Table:
            if years is not None:
                parsed = [int(y) for y in years.split(",") if y.strip()]
                return sc.scenario_variation(engine, rules, parsed, scenarios=wanted)
            return sc.scenario_costs(engine, rules, year, scenarios=wanted)

        table, rules = _run(
            "Beregner scenarioer",
            work,
            warehouse=warehouse,
            engine_name=engine_name,
            rules_file=rules_file,
        )
        columns = (
            ["scenario", "size_class", "municipalities", "mean_change_pct", "max_change_pct"]
            if years is not None
            else ["scenario", "municipality", "contacts", "cost", "pooled_cost", "population"]
        )
        _emit(
            table,
            out=out,
            rules=rules,
            title="Scenarioer for kommunal medfinansiering",
            columns=columns,
            rule_ids=sc.SCENARIO_RULES,
        )

    @app.command("explain")
    def explain_cmd(
        episode_id: Annotated[str, typer.Argument(help="Episode-id.")],
        warehouse: WarehouseOpt = None,
        rules_file: RulesOpt = None,
        engine_name: EngineOpt = None,
    ) -> None:
        """Forklar en episode: hver regel som ble brukt, versjon og utregning."""
        from samhandling.instruments.explain import explain_episode, format_explanation

        rules = load_rules(rules_file)
        with _session(warehouse, engine_name) as engine:
            explanation = explain_episode(engine, rules, episode_id)
        console.print(format_explanation(explanation), markup=False, highlight=False)


_PERIODS: dict[str, Period] = {"month": "month", "tertial": "tertial", "year": "year"}
_LEVELS: dict[str, Level] = {
    "municipality": "municipality",
    "municipality_rhf": "municipality_rhf",
    "health_trust": "health_trust",
    "rhf": "rhf",
    "national": "national",
}


def _period(value: str) -> Period:
    try:
        return _PERIODS[value]
    except KeyError:
        raise ConfigError(f"ukjent periode {value!r}: velg month, tertial eller year") from None


def _level(value: str) -> Level:
    try:
        return _LEVELS[value]
    except KeyError:
        raise ConfigError(f"ukjent nivå {value!r}: velg " + ", ".join(sorted(_LEVELS))) from None


def _cof_rules() -> tuple[str, ...]:
    return (
        *COFINANCING_RULES,
        "cofinancing.forecast_base_lag",
        "cofinancing.akonto_revision_month",
    )


def _dr_rules() -> tuple[str, ...]:
    return DISCHARGE_READY_RULES
