"""CLI: ``samhandling table`` (cut a protected table and write it) and ``samhandling serve-api``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from samhandling.cli.options import EngineOpt
from samhandling.config import warehouse_dir
from samhandling.console import console
from samhandling.errors import ConfigError

__all__ = ["register"]


def _selection(values: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in values:
        if "=" not in item:
            raise ConfigError(f"Utvalg må skrives variabel=kode1,kode2, ikke «{item}»")
        var, codes = item.split("=", 1)
        out[var.strip()] = [c.strip() for c in codes.split(",") if c.strip()]
    return out


def register(app: typer.Typer) -> None:
    """Add the table commands to the main CLI."""

    @app.command("table")
    def table(  # noqa: PLR0917 - typer options
        table_id: Annotated[str, typer.Argument(help="Tabell-id, f.eks. SD02")],
        select: Annotated[
            list[str] | None, typer.Option("--select", "-s", help="variabel=kode1,kode2")
        ] = None,
        measure: Annotated[
            list[str] | None, typer.Option("--measure", "-m", help="Mål (ContentsCode)")
        ] = None,
        fmt: Annotated[
            str, typer.Option("--format", "-f", help="json-stat2, csv, xlsx, parquet")
        ] = "csv",
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Fil (ellers skjerm)")] = None,
        borders: Annotated[int, typer.Option(help="Kommunegrenser per 1. januar i år")] = 2024,
        warehouse: Annotated[str | None, typer.Option(help="Lagerkatalog")] = None,
        engine_name: EngineOpt = None,
    ) -> None:
        """Lag en prikket tabell fra lageret og skriv den i valgt format."""
        from samhandling.rules import load_rules
        from samhandling.tables.build import catalog_from_warehouse
        from samhandling.tables.output import FORMATS, render
        from samhandling.tables.published import load_catalog
        from samhandling.warehouse import Warehouse

        if fmt not in FORMATS:
            raise ConfigError(f"Ukjent format «{fmt}»; velg blant {', '.join(FORMATS)}")
        home = warehouse_dir(warehouse)
        catalog = load_catalog(Warehouse.open(home), load_rules(), borders)
        if catalog is None:  # not built for this state: count and protect this table only
            catalog = catalog_from_warehouse(
                home, borders=borders, only=[table_id], engine_name=engine_name
            )
        result = catalog.cube(table_id).slice(_selection(select or []), measure or None)
        body = render(result, fmt)
        if out is None:
            if fmt in ("xlsx", "parquet"):
                raise ConfigError(f"Formatet {fmt} er binært: oppgi --out FIL")
            typer.echo(body.decode("utf-8"))
            return
        out.write_bytes(body)
        console.print(
            f"Skrev {table_id} ({len(result.values)} celler, "
            f"{len(result.reasons)} prikket) til {out}"
        )

    @app.command("table-build")
    def table_build(
        borders: Annotated[int, typer.Option(help="Kommunegrenser per 1. januar i år")] = 2024,
        warehouse: Annotated[str | None, typer.Option(help="Lagerkatalog")] = None,
        engine_name: EngineOpt = None,
    ) -> None:
        """Bygg og prikk alle tabellene for lagerets nåværende innhold og lagre dem.

        Tellingen går på valgt motor (DuckDB her, Spark på en klynge); prikkingen her.
        """
        import time

        from samhandling.engine.settings import engine_settings
        from samhandling.formatting import number
        from samhandling.rules import load_rules
        from samhandling.tables.published import MANIFEST, catalog_folder, published_catalog
        from samhandling.warehouse import Warehouse

        home = Warehouse.open(warehouse_dir(warehouse))
        rules = load_rules()
        folder = catalog_folder(home, rules, borders)
        if (folder / MANIFEST).is_file():
            console.print(f"Tabellene er allerede bygget for lagerets innhold: {folder}")
            return
        started = time.perf_counter()
        catalog = published_catalog(home, rules, borders, engine_name=engine_name)
        for cube in catalog.cubes.values():
            console.print(
                f"{cube.spec.id}: {number(cube.cells.num_rows)} celler, "
                f"{number(cube.suppressed_cells)} prikket"
            )
        where = engine_settings(engine_name).where
        console.print(
            f"Bygget på {time.perf_counter() - started:.0f} s ({where}) og lagret i {folder}"
        )

    @app.command("serve-api")
    def serve_api(
        host: Annotated[str, typer.Option(help="Adresse")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port")] = 8000,
        borders: Annotated[int, typer.Option(help="Kommunegrenser per 1. januar i år")] = 2024,
        warehouse: Annotated[str | None, typer.Option(help="Lagerkatalog")] = None,
    ) -> None:
        """Start styringsdata-API-et (PxWebApi 2.0) mot lageret."""
        import uvicorn

        from samhandling.api import create_app

        uvicorn.run(create_app(warehouse_dir(warehouse), borders=borders), host=host, port=port)
