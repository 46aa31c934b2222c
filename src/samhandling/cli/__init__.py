"""Command-line interface: ``samhandling <command>``.

The command line is the application layer: each area's commands are a module of this package
(``cli/<area>.py`` with a ``register(app)`` function) that calls the area's functions and prints
what they return; the options every area shares (warehouse, rules, engine, years) are in
:mod:`samhandling.cli.options`. This module wires them together and turns user errors into a
short message and a non-zero exit code instead of a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from samhandling.console import err_console
from samhandling.errors import SamhandlingError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="samhandling: Samhandlingsreformens virkemidler.",
)


@app.callback()
def _root(
    motor: Annotated[
        str | None,
        typer.Option(
            "--motor",
            help="Motor for alle jobbene: duckdb (standard) eller spark "
            "(hvor: $SAMHANDLING_SPARK_MASTER eller $SAMHANDLING_SPARK_REMOTE).",
        ),
    ] = None,
) -> None:
    """samhandling: Samhandlingsreformens virkemidler på DuckDB eller Spark."""
    if motor is not None:
        from samhandling.engine.settings import ENV_ENGINE, engine_name

        # The process's choice: every job (and every worker it starts) asks make_engine.
        os.environ[ENV_ENGINE] = engine_name(motor)


@app.command()
def version() -> None:
    """Skriv ut versjonsnummeret."""
    from samhandling.version import __version__

    typer.echo(__version__)


def _register_all() -> None:
    # Imported here so that `samhandling --help` stays cheap and areas stay independent.
    from importlib import import_module

    for module in (
        "samhandling.cli.synth",
        "samhandling.cli.ingest",
        "samhandling.cli.instruments",
        "samhandling.cli.tables",
        "samhandling.cli.web",
        "samhandling.cli.agreements",
        "samhandling.cli.emergency_beds",
        "samhandling.cli.messages",
        "samhandling.cli.pathways",
        "samhandling.demo",
    ):
        try:
            mod = import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
                continue  # the area is not part of this build
            raise
        mod.register(app)


_register_all()


def main() -> None:
    """Entry point: run the app; user errors print a message (exit 2), not a traceback."""
    try:
        app(standalone_mode=True)
    except SamhandlingError as exc:
        err_console.print(f"[bold red]Feil:[/] {exc}")
        sys.exit(2)
