"""CLI: ``samhandling synth`` writes the synthetic national data set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from samhandling.cli.options import parse_years
from samhandling.console import console


def register(app: typer.Typer) -> None:
    """Add the ``synth`` command to the application."""

    @app.command()
    def synth(
        *,
        out: Annotated[
            Path, typer.Option("--out", help="Mappe for leveransene (én undermappe per år).")
        ],
        years: Annotated[
            str, typer.Option("--years", help="År, f.eks. 2011-2014 eller 2012,2019.")
        ] = "2011-2014",
        fraction: Annotated[
            float,
            typer.Option(
                "--fraction", help="Andel av befolkningen som tas med (1.0 = hele landet)."
            ),
        ] = 0.01,
        seed: Annotated[
            int, typer.Option("--seed", help="Frø for tilfeldige tall (samme frø gir samme filer).")
        ] = 42,
        fmt: Annotated[
            str, typer.Option("--format", help="Filformat: parquet eller csv.")
        ] = "parquet",
        region: Annotated[
            str | None,
            typer.Option(
                "--helseregion",
                help="Bare innbyggerne i én helseregion (RHF): nord, midt-norge, vest, sør-øst "
                "eller regionkoden 1–4 (standard: hele landet).",
            ),
        ] = None,
    ) -> None:
        """Lag syntetiske nasjonale data (episoder, hendelser, kommunale tjenester, befolkning)."""
        from samhandling.synth.generate import generate, health_region

        municipalities = None
        if region is not None:
            name, municipalities = health_region(region)
            console.print(f"{name}: {len(municipalities)} kommuner")
        summary = generate(
            out, parse_years(years), fraction, seed, fmt, municipalities=municipalities
        )
        for year in summary.years:
            counts = summary.rows[year]
            console.print(
                f"{year}: {counts['episodes']:,} episoder, {counts['events']:,} hendelser, "
                f"{counts['municipal_care']:,} kommunale tjenesteforløp".replace(",", " ")
            )
        console.print(f"Skrevet til {out}")
