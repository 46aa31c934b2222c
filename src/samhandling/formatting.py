"""Numbers and dates the Norwegian way: ``1 234 567,89``, ``31.01.2013``, ``januar 2013``.

Used by the portal and the CLI alike.

The thousands separator is a no-break space (U+00A0), so that a number never wraps in a table
cell; the decimal separator is a comma. Money is shown with two decimals, to the øre.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

__all__ = [
    "MONTHS",
    "date_no",
    "datetime_no",
    "money",
    "month_no",
    "number",
    "percent",
]

THOUSANDS = "\u00a0"
MISSING = "–"
MONTHS = (
    "januar",
    "februar",
    "mars",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "desember",
)
_OSLO = ZoneInfo("Europe/Oslo")


def number(value: Decimal | float | int | None, decimals: int = 0) -> str:
    """``1234567.891`` with 2 decimals → ``1 234 567,89`` (half up); ``None`` → ``–``."""
    if value is None:
        return MISSING
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    quantum = Decimal(1).scaleb(-decimals)
    rounded = exact.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    text = f"{abs(rounded):.{decimals}f}"
    whole, _, fraction = text.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = sign + THOUSANDS.join(groups)
    return f"{out},{fraction}" if fraction else out


def money(value: Decimal | int | None) -> str:
    """An amount in NOK to the øre: ``4125`` → ``4 125,00``."""
    return number(value, 2)


def percent(value: Decimal | float | None, decimals: int = 1) -> str:
    """A share already in per cent: ``12.34`` → ``12,3 %``."""
    if value is None:
        return MISSING
    return f"{number(value, decimals)}{THOUSANDS}%"


def date_no(value: date | None) -> str:
    """``2013-01-31`` → ``31.01.2013``."""
    if value is None:
        return MISSING
    return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"


def datetime_no(value: datetime | None) -> str:
    """An instant in Norwegian local time: ``31.01.2013 kl. 14:05``."""
    if value is None:
        return MISSING
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(_OSLO)
    return f"{date_no(local.date())} kl. {local.hour:02d}:{local.minute:02d}"


def month_no(value: date | str | None) -> str:
    """``2013-01-01`` or ``"2013-01"`` → ``januar 2013``."""
    if value is None:
        return MISSING
    if isinstance(value, str):
        year, month = int(value[:4]), int(value[5:7])
    else:
        year, month = value.year, value.month
    return f"{MONTHS[month - 1]} {year}"
