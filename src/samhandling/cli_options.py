"""Command-line options shared by every area's commands (one definition each)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["EngineOpt"]

EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--motor",
        help="duckdb eller spark (ellers samhandling --motor …, $SAMHANDLING_MOTOR eller duckdb).",
    ),
]
