"""Command-line interface (placeholder entry point replaced below as commands are added)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command()
def version() -> None:
    """Print the version."""
    from samhandling import __version__

    typer.echo(__version__)


def main() -> None:
    app()
