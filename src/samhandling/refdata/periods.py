"""Tertials (tertial): the four-month periods of the activity steering data.

Tertial 1 is January–April, tertial 2 May–August, tertial 3 September–December.
"""

from __future__ import annotations

from samhandling.errors import SamhandlingError

MONTHS_PER_TERTIAL = 4


def tertial(month: int) -> int:
    """The tertial (1, 2 or 3) that calendar month ``month`` (1..12) belongs to."""
    if not 1 <= month <= 12:
        raise SamhandlingError(f"Ugyldig måned: {month} (må være 1–12)")
    return (month - 1) // MONTHS_PER_TERTIAL + 1


def months_in_tertial(tertial: int) -> tuple[int, ...]:
    """The calendar months of ``tertial``, e.g. ``(5, 6, 7, 8)`` for tertial 2."""
    _check_tertial(tertial)
    first = (tertial - 1) * MONTHS_PER_TERTIAL + 1
    return tuple(range(first, first + MONTHS_PER_TERTIAL))


def tertial_label(year: int, tertial: int) -> str:
    """The label used in steering data, e.g. ``"2012T1"``."""
    _check_tertial(tertial)
    return f"{year}T{tertial}"


def _check_tertial(tertial: int) -> None:
    if tertial not in (1, 2, 3):
        raise SamhandlingError(f"Ugyldig tertial: {tertial} (må være 1, 2 eller 3)")
