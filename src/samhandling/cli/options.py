"""What every area's commands share: the option types and the parsers of years and dates, once.

An area's module (``cli/<area>.py``) takes its options from here, so that ``--warehouse``,
``--regler``, ``--database`` and ``--motor`` read and explain themselves the same way in every
command, and a year list or a date is parsed (and refused) one way.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from samhandling.errors import ConfigError

__all__ = ["DbOpt", "EngineOpt", "RulesOpt", "WarehouseOpt", "parse_date", "parse_years"]

EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--motor",
        help="duckdb eller spark (ellers samhandling --motor …, $SAMHANDLING_MOTOR eller duckdb).",
    ),
]
WarehouseOpt = Annotated[
    Path | None, typer.Option("--warehouse", "-w", help="Lagerkatalog (ellers $SAMHANDLING_HOME).")
]
RulesOpt = Annotated[
    Path | None, typer.Option("--regler", help="Regelfil som overstyrer standardreglene.")
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Driftsdatabase (SQLAlchemy-URL); ellers $SAMHANDLING_DB_URL, ellers SQLite "
        "i lageret.",
    ),
]


def parse_years(text: str) -> list[int]:
    """``2011-2014`` or ``2011,2013`` (or a mix) to the years, sorted, each once."""
    years: set[int] = set()
    try:
        for raw in text.split(","):
            part = raw.strip()
            if "-" in part:
                first, last = (int(p) for p in part.split("-", 1))
                if last < first:
                    raise ConfigError(f"ugyldig årsintervall {part!r}")
                years.update(range(first, last + 1))
            elif part:
                years.add(int(part))
    except ValueError:
        raise ConfigError(f"ugyldige år {text!r}: skriv f.eks. 2011-2014 eller 2011,2013") from None
    if not years:
        raise ConfigError("ingen år valgt")
    return sorted(years)


def parse_date(value: str | None, option: str) -> date | None:
    """An option's date (``ÅÅÅÅ-MM-DD``), None when not given; a clear error naming the
    option otherwise."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} må være en dato (ÅÅÅÅ-MM-DD), ikke {value!r}") from None
