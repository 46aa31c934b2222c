"""Small server-side SVG charts without dependencies, each drawn from the table shown beside it.

A chart is an illustration of a table, never the only place a number is: every page renders the
same :class:`Series` as an HTML table ("Vis tallene"). The SVG carries a title and a description
for screen readers and uses presentation attributes only (the portal's content security policy
allows no inline styles).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from html import escape

from markupsafe import Markup

from samhandling.formatting import number

__all__ = ["Series", "bar_chart"]

_WIDTH = 640
_BAR_AREA_LEFT = 80
_TOP = 16
_BOTTOM = 48
_HEIGHT = 260
_NARROW_GROUP = 56  # px per category below which labels are slanted
_SLANT_ROOM = 80  # extra height for slanted labels
_COLOURS = ("#1f5f8b", "#c2571a", "#4d7c0f", "#6b21a8")


@dataclass(frozen=True)
class Series:
    """One named series of values over the same categories (e.g. months)."""

    name: str
    values: tuple[Decimal | int | None, ...]


def _nice_max(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5 or 5 × 10^n at or above ``value`` (axis top)."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        top = step.scaleb(exponent)
        if top >= value:
            return top
    return Decimal(10).scaleb(exponent)


def bar_chart(
    chart_id: str,
    title: str,
    categories: list[str],
    series: list[Series],
    *,
    description: str = "",
    decimals: int = 0,
) -> Markup:
    """Grouped vertical bars, one group per category and one bar per series, with a legend.

    ``chart_id`` must be unique on the page (it names the title and description elements).
    """
    if not series or any(len(s.values) != len(categories) for s in series):
        raise ValueError("every series needs one value per category")
    values = [Decimal(v) for s in series for v in s.values if v is not None]
    top = _nice_max(max([*values, Decimal(0)]))
    plot_w = _WIDTH - _BAR_AREA_LEFT - 8
    group_w = plot_w / max(len(categories), 1)
    narrow = group_w < _NARROW_GROUP
    height = _HEIGHT + (_SLANT_ROOM if narrow else 0)
    plot_h = _HEIGHT - _TOP - _BOTTOM
    bar_w = group_w * 0.8 / len(series)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" class="chart">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description or title)}</desc>',
    ]
    for i in range(5):
        tick = top * i / 4
        y = _TOP + plot_h - float(tick / top) * plot_h
        parts.append(
            f'<line x1="{_BAR_AREA_LEFT}" x2="{_WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d0d4d9" stroke-width="1"/>'
            f'<text x="{_BAR_AREA_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#333">{escape(number(tick, decimals))}</text>'
        )
    for c, label in enumerate(categories):
        x0 = _BAR_AREA_LEFT + c * group_w + group_w * 0.1
        for s_no, s in enumerate(series):
            value = s.values[c]
            if value is None:
                continue
            h = float(Decimal(value) / top) * plot_h if top else 0.0
            x = x0 + s_no * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{_COLOURS[s_no % len(_COLOURS)]}">'
                f"<title>{escape(s.name)}, {escape(label)}: {escape(number(value, decimals))}"
                f"</title></rect>"
            )
        x_label = x0 + group_w * 0.4
        y_label = _TOP + plot_h + 14
        if narrow:
            # Many categories: slant the labels so that long names do not overlap.
            parts.append(
                f'<text x="{x_label:.1f}" y="{y_label}" text-anchor="end" font-size="10" '
                f'fill="#333" transform="rotate(-35 {x_label:.1f} {y_label})">'
                f"{escape(label)}</text>"
            )
        else:
            parts.append(
                f'<text x="{x_label:.1f}" y="{y_label + 2}" text-anchor="middle" '
                f'font-size="11" fill="#333">{escape(label)}</text>'
            )
    for s_no, s in enumerate(series):
        x = _BAR_AREA_LEFT + s_no * 180
        y = height - 12
        parts.append(
            f'<rect x="{x}" y="{y - 10}" width="12" height="12" '
            f'fill="{_COLOURS[s_no % len(_COLOURS)]}"/>'
            f'<text x="{x + 18}" y="{y}" font-size="12" fill="#111">{escape(s.name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
