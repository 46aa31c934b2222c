"""Definition metadata of the steering-data indicators (styringsdataindikatorer).

Every indicator the platform publishes has one :class:`IndicatorDefinition` next to the code that
computes it; :func:`all_definitions` is what ``docs/indicators.md`` and the API list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = ["IndicatorDefinition", "all_definitions", "definition", "register"]


@dataclass(frozen=True)
class IndicatorDefinition:
    """What an indicator counts, against what, from when, and on whose authority."""

    id: str
    name: str
    name_no: str
    version: str
    valid_from: date
    valid_to: date | None
    numerator: str
    denominator: str
    source: str
    unit: str = "antall"
    rules: tuple[str, ...] = ()


_REGISTRY: dict[str, IndicatorDefinition] = {}


def register(definition: IndicatorDefinition) -> IndicatorDefinition:
    """Add a definition to the library (module import time); ids are unique."""
    if definition.id in _REGISTRY and _REGISTRY[definition.id] != definition:
        raise ValueError(f"indicator {definition.id!r} defined twice")
    _REGISTRY[definition.id] = definition
    return definition


def definition(indicator_id: str) -> IndicatorDefinition:
    """The definition of one indicator."""
    _load_families()
    return _REGISTRY[indicator_id]


def all_definitions() -> list[IndicatorDefinition]:
    """Every indicator of every family, sorted by id."""
    _load_families()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def _load_families() -> None:
    # Importing a family module registers its definitions.
    from samhandling.indicators import (  # noqa: F401
        acsc,
        activity,
        discharge,
        length_of_stay,
        payments,
        readmission,
        selvmating,
        standardisation,
    )
