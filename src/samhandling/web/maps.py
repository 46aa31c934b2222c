"""Server-side SVG maps of municipalities (kommuner) coloured by an indicator (a choropleth).

The municipality borders are Kartverket's (CC BY 4.0, "© Kartverket"; see
``refdata/data/maps/PROVENANCE.md``), shipped as GeoJSON in WGS84 longitude/latitude. They are
projected once per borders year with an equirectangular projection whose longitudes are scaled
by the cosine of the map's middle latitude (good enough for a country-sized overview), rounded
to a tenth of a pixel and cached as SVG path data.

Like the bar charts, a map illustrates a table and is never the only place a number is: the
page renders the same values as an HTML table ("Vis tallene"). Suppressed municipalities
(prikket: fewer patients than the ``disclosure.threshold`` rule) are hatched and missing ones
grey, each with its own legend key and text mark.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from html import escape
from importlib import resources
from itertools import pairwise
from typing import Any

import pyarrow as pa
from markupsafe import Markup

from samhandling.formatting import number
from samhandling.refdata import code_map
from samhandling.tables.cube import NOT_AVAILABLE

__all__ = [
    "ATTRIBUTION",
    "PALETTE",
    "STAY_RATE_INDICATORS",
    "Basemap",
    "IndicatorMap",
    "MapRow",
    "basemap",
    "borders_for",
    "choropleth_svg",
    "class_breaks",
    "class_of",
    "discharge_ready_map",
    "indicator_map",
    "stay_rate_map",
]

ATTRIBUTION = "© Kartverket"
# Viridis in five steps, light to dark: sequential, readable for the common colour-vision
# deficiencies and in greyscale.
PALETTE = ("#fde725", "#5ec962", "#21918c", "#3b528b", "#440154")
MISSING_FILL = "#d4d6d9"
SUPPRESSED_MARK = ":"  # Statistics Norway's symbol for a figure withheld for confidentiality
MISSING_MARK = NOT_AVAILABLE  # Statistics Norway's symbol for a figure that is not available

_WIDTH = 560.0
_MARGIN = 4.0
_FILES = {2020: "kommuner_2020_medium.geojson", 2024: "kommuner_2024_S.geojson"}


@dataclass(frozen=True)
class Shape:
    """One municipality's outline as SVG path data in map pixels."""

    code: str
    name: str
    path: str


@dataclass(frozen=True)
class Basemap:
    """The projected municipality outlines of one borders year."""

    borders: int
    width: float
    height: float
    shapes: tuple[Shape, ...]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(s.code for s in self.shapes)


def borders_for(year: int) -> int:
    """The borders year of the map drawn for data of ``year`` (the 2020 map until 2023)."""
    return 2024 if year >= 2024 else 2020


def _features(borders: int) -> list[dict[str, Any]]:
    if borders not in _FILES:
        raise ValueError(f"no municipality map for the borders of {borders}")
    resource = resources.files("samhandling.refdata").joinpath("data", "maps", _FILES[borders])
    with resource.open("rb") as handle:
        features: list[dict[str, Any]] = json.load(handle)["features"]
    return features


def _polygons(geometry: dict[str, Any]) -> list[list[list[list[float]]]]:
    """The polygons (each a list of rings of [lon, lat]) of a Polygon or MultiPolygon."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        polygons: list[list[list[list[float]]]] = geometry["coordinates"]
        return polygons
    raise ValueError(f"unexpected geometry {geometry['type']}")


def _ring_path(points: Iterable[tuple[float, float]]) -> tuple[str, int]:
    """``M x y l dx dy … Z`` with consecutive repeated points (after rounding) dropped."""
    kept: list[tuple[float, float]] = []
    for point in points:
        if not kept or kept[-1] != point:
            kept.append(point)
    if len(kept) > 1 and kept[0] == kept[-1]:
        kept.pop()
    # Relative steps after the first point: short numbers keep the page small.
    steps = [f"{x:g} {y:g}" for x, y in kept[:1]]
    steps += [f"{round(x - px, 1):g} {round(y - py, 1):g}" for (px, py), (x, y) in pairwise(kept)]
    return f"M{steps[0]}l{' '.join(steps[1:])}Z" if steps else "", len(set(kept))


@cache
def basemap(borders: int) -> Basemap:
    """Project and simplify the municipality map of ``borders`` (2020 or 2024); cached."""
    features = _features(borders)
    lons: list[float] = []
    lats: list[float] = []
    for feature in features:
        for polygon in _polygons(feature["geometry"]):
            for ring in polygon:
                lons.extend(p[0] for p in ring)
                lats.extend(p[1] for p in ring)
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    shrink = math.cos(math.radians((south + north) / 2))
    scale = (_WIDTH - 2 * _MARGIN) / ((east - west) * shrink)
    height = round((north - south) * scale + 2 * _MARGIN, 1)

    def project(lon: float, lat: float) -> tuple[float, float]:
        return (
            round((lon - west) * shrink * scale + _MARGIN, 1),
            round((north - lat) * scale + _MARGIN, 1),
        )

    shapes = []
    for feature in features:
        props = feature["properties"]
        code = str(props["kommunenummer"]).zfill(4)
        name = str(props.get("kommunenavn") or props.get("navn") or props.get("name") or code)
        rings = [
            _ring_path(project(p[0], p[1]) for p in ring)
            for polygon in _polygons(feature["geometry"])
            for ring in polygon
        ]
        # Rings that collapse below a triangle at this scale are skerries: leave them out,
        # but keep the largest ring so that even the smallest municipality is drawn.
        drawn = [path for path, distinct in rings if distinct >= 3]
        if not drawn:
            drawn = [max(rings, key=lambda r: r[1])[0]]
        shapes.append(Shape(code, name, "".join(drawn)))
    shapes.sort(key=lambda s: s.code)
    return Basemap(borders, _WIDTH, height, tuple(shapes))


def class_breaks(values: Iterable[Decimal], classes: int = len(PALETTE)) -> tuple[Decimal, ...]:
    """Quantile class breaks: the lower bounds of classes 2…``classes`` (ties merged).

    With the values sorted, break *k* is the value at position ``k × n // classes`` (0-based),
    so each class starts at a value that occurs; 1…10 in five classes gives 3, 5, 7, 9.
    """
    ordered = sorted(values)
    if not ordered:
        return ()
    picked = [ordered[k * len(ordered) // classes] for k in range(1, classes)]
    # The smallest value starts the first class already; a break there would leave it empty.
    return tuple(sorted({b for b in picked if b > ordered[0]}))


def class_of(value: Decimal, breaks: Sequence[Decimal]) -> int:
    """The class (0-based) of ``value``: how many breaks are at or below it."""
    return sum(1 for b in breaks if value >= b)


def _colours(breaks: Sequence[Decimal]) -> tuple[str, ...]:
    """Spread the palette over ``len(breaks) + 1`` classes, keeping the light and dark ends."""
    count = len(breaks) + 1
    if count == 1:
        return (PALETTE[len(PALETTE) // 2],)
    last = len(PALETTE) - 1
    return tuple(PALETTE[round(i * last / (count - 1))] for i in range(count))


def _legend_labels(breaks: Sequence[Decimal], decimals: int) -> list[str]:
    if not breaks:
        return ["alle verdier"]
    labels = [f"under {number(breaks[0], decimals)}"]
    labels += [
        f"{number(low, decimals)} til under {number(high, decimals)}"
        for low, high in pairwise(breaks)
    ]
    labels.append(f"{number(breaks[-1], decimals)} eller mer")
    return labels


def choropleth_svg(
    map_id: str,
    title: str,
    values: Mapping[str, Decimal | None],
    suppressed: AbstractSet[str],
    *,
    borders: int,
    decimals: int = 1,
    description: str = "",
    threshold: int | None = None,
    suppressed_note: str | None = None,
) -> Markup:
    """The municipalities of ``borders`` coloured by quantile class of ``values``.

    ``values`` maps municipality codes (of the map's borders) to their value; a code that is
    absent or ``None`` is drawn grey as missing, a code in ``suppressed`` hatched (whatever its
    value, which is neither drawn nor used for the class breaks). ``map_id`` must be unique on
    the page. ``threshold`` only words the suppression note ("færre enn 5 pasienter");
    ``suppressed_note`` replaces that wording (e.g. when cells are also hidden to protect others).
    Values are rounded half up to ``decimals`` before the classes are taken.
    """
    shapes = basemap(borders)
    # Classes are taken on the values as shown (rounded), so that a value and the legend
    # never disagree about which side of a break it lies on.
    quantum = Decimal(1).scaleb(-decimals)
    shown = {
        code: value.quantize(quantum, rounding=ROUND_HALF_UP)
        for code, value in values.items()
        if value is not None and code not in suppressed and code in shapes.codes
    }
    breaks = class_breaks(shown.values())
    colours = _colours(breaks)
    why = suppressed_note or (
        f"færre enn {threshold} pasienter" if threshold is not None else "for få pasienter"
    )
    hatch = f"{map_id}-prikk"
    legend_h = 18 * ((len(colours) if shown else 0) + 2) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {shapes.width:g} '
        f'{shapes.height:g}" role="img" aria-labelledby="{map_id}-title {map_id}-desc" '
        f'class="chart map">',
        f'<title id="{map_id}-title">{escape(title)}</title>',
        f'<desc id="{map_id}-desc">{escape(description or title)}</desc>',
        f'<defs><pattern id="{hatch}" width="4" height="4" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="4" height="4" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="4" stroke="#555" stroke-width="1.5"/></pattern></defs>',
        '<g stroke="#ffffff" stroke-width="0.3" stroke-linejoin="round">',
    ]
    for shape in shapes.shapes:
        label = f"{shape.name} ({shape.code})"
        if shape.code in suppressed:
            fill, mark, state = f"url(#{hatch})", f"prikket, {why}", "prikket"
        elif shape.code in shown:
            value = shown[shape.code]
            fill = colours[class_of(value, breaks)]
            mark, state = number(value, decimals), f"klasse-{class_of(value, breaks) + 1}"
        else:
            fill, mark, state = MISSING_FILL, "ingen data", "mangler"
        parts.append(
            f'<path d="{shape.path}" fill="{fill}" data-kommune="{shape.code}" '
            f'class="{state}"><title>{escape(label)}: {escape(mark)}</title></path>'
        )
    parts.append("</g>")
    # The legend sits in the south-east corner, where Sweden leaves the map empty.
    x = shapes.width - 200
    y = shapes.height - legend_h
    # No drawn value, no classes: the legend then only explains the grey and the hatching.
    keys = list(zip(colours, _legend_labels(breaks, decimals), strict=True)) if shown else []
    keys += [(f"url(#{hatch})", f"prikket ({why})"), (MISSING_FILL, "ingen data")]
    parts.append(f'<g font-size="11" fill="#111"><text x="{x:g}" y="{y:g}">Tegnforklaring</text>')
    for no, (fill, text) in enumerate(keys):
        key_y = y + 8 + 18 * no
        parts.append(
            f'<rect x="{x:g}" y="{key_y:g}" width="14" height="12" fill="{fill}" '
            f'stroke="#555" stroke-width="0.5"/>'
            f'<text x="{x + 20:g}" y="{key_y + 10:g}">{escape(text)}</text>'
        )
    parts.append(
        f'<text x="{x:g}" y="{shapes.height - 6:g}" font-size="10" fill="#333">'
        f"{escape(ATTRIBUTION)}</text></g></svg>"
    )
    return Markup("".join(parts))


@dataclass(frozen=True)
class MapRow:
    """One municipality of the map's table: its value, or why it has none."""

    code: str
    name: str
    value: Decimal | None
    suppressed: bool

    @property
    def mark(self) -> str:
        if self.suppressed:
            return SUPPRESSED_MARK
        return MISSING_MARK if self.value is None else ""


@dataclass(frozen=True)
class IndicatorMap:
    """A choropleth and its table ("Vis tallene") for one indicator and year."""

    key: str
    label: str
    year: int
    borders: int
    threshold: int
    svg: Markup
    rows: tuple[MapRow, ...]
    suppressed_note: str = ""

    @property
    def why_suppressed(self) -> str:
        """Why a hatched municipality has no value, in words."""
        return self.suppressed_note or f"færre enn {self.threshold} pasienter"


# Indicators of the discharge-ready statistics that the map can show: key → (label, numerator).
DISCHARGE_READY_INDICATORS = {
    "overliggerdogn": ("Overliggerdøgn per 1 000 innbyggere", "overligger_days"),
    "opphold": ("Opphold med overliggerdøgn per 1 000 innbyggere", "stays"),
}


def discharge_ready_map(
    statistics: pa.Table, year: int, indicator: str, threshold: int
) -> IndicatorMap:
    """The map of a discharge-ready indicator from :func:`discharge_ready_statistics` rows.

    Counts of ``year``'s municipalities are moved to the map's borders with
    :func:`samhandling.refdata.code_map` (a split municipality's counts are shared by its
    population weights) before the rate per 1 000 inhabitants is taken, so merged
    municipalities get the rate of their sum. A municipality whose patients number at least
    one but fewer than ``threshold`` is suppressed.
    """
    label, numerator = DISCHARGE_READY_INDICATORS[indicator]
    borders = borders_for(year)
    mapping: dict[str, list[tuple[str, Decimal]]] = {}
    for row in code_map(year, borders).to_pylist():
        mapping.setdefault(str(row["from_code"]), []).append(
            (str(row["to_code"]), Decimal(str(row["weight"])))
        )
    totals: dict[str, list[Decimal]] = {}
    for row in statistics.to_pylist():
        if int(row["year"]) != year:
            continue
        for code, weight in mapping.get(str(row["municipality"]), []):
            total = totals.setdefault(code, [Decimal(0)] * 3)
            total[0] += weight * int(row[numerator] or 0)
            total[1] += weight * int(row["population"] or 0)
            total[2] += weight * int(row["patients"] or 0)
    values: dict[str, Decimal | None] = {
        code: (count * 1000 / population if population > 0 else None)
        for code, (count, population, _patients) in totals.items()
    }
    suppressed = {code for code, t in totals.items() if 0 < t[2] < threshold}
    return indicator_map(
        indicator,
        label,
        year,
        borders=borders,
        threshold=threshold,
        values=values,
        suppressed=suppressed,
    )


def indicator_map(
    indicator: str,
    label: str,
    year: int,
    *,
    borders: int,
    threshold: int,
    values: dict[str, Decimal | None],
    suppressed: set[str],
    decimals: int = 1,
    suppressed_note: str = "",
    legend_note: str = "",
) -> IndicatorMap:
    """The choropleth of ``values`` (codes of ``borders``) and its table rows.

    ``suppressed_note`` says in the caption and table why a municipality is suppressed
    (default: fewer than ``threshold`` patients); ``legend_note`` is the short form the map's
    legend and tooltips use (default: the same).
    """
    shapes = basemap(borders)
    svg = choropleth_svg(
        f"kart-{indicator}",
        f"{label}, {year} (kommunegrenser {borders})",
        values,
        suppressed,
        borders=borders,
        decimals=decimals,
        threshold=threshold,
        suppressed_note=legend_note or suppressed_note or None,
        description=(
            f"Kart over kommunene farget etter {label.lower()} i {year}. "
            "Tallene står i tabellen under kartet."
        ),
    )
    rows = tuple(
        MapRow(
            s.code,
            s.name,
            None if s.code in suppressed else values.get(s.code),
            s.code in suppressed,
        )
        for s in shapes.shapes
    )
    return IndicatorMap(indicator, label, year, borders, threshold, svg, rows, suppressed_note)


# Inpatient stays per 1 000 inhabitants (samhandling.indicators.standardisation), crude (rå) or
# directly age/sex standardised: key → (label, column of direct_standardised_rates).
STAY_RATE_INDICATORS = {
    "innleggelser_std": (
        "Innleggelser per 1 000 innbyggere, alders- og kjønnsstandardisert",
        "standardised_per_1000",
    ),
    "innleggelser_raa": ("Innleggelser per 1 000 innbyggere, rå rate", "crude_per_1000"),
}
# The crude/standardised switch: each stay-rate map links to the other.
RATE_SWITCH = {"innleggelser_std": "innleggelser_raa", "innleggelser_raa": "innleggelser_std"}


def stay_rate_map(rates: pa.Table, year: int, indicator: str, threshold: int) -> IndicatorMap:
    """The map of crude or standardised stays per 1 000 from the rows of
    :func:`samhandling.tables.stay_rates.stay_rates` (their ``suppressed`` cells withheld;
    ``threshold`` is named in the legend)."""
    label, column = STAY_RATE_INDICATORS[indicator]
    borders = borders_for(year)
    values: dict[str, Decimal | None] = {}
    suppressed: set[str] = set()
    for row in rates.to_pylist():
        code = str(row["residence"])
        rate = row[column]
        # The indicator module's rates are floats; six decimals carry them exactly enough.
        values[code] = None if rate is None else round(Decimal(str(rate)), 6)
        if row["suppressed"]:
            suppressed.add(code)
    return indicator_map(
        indicator,
        label,
        year,
        borders=borders,
        threshold=threshold,
        values=values,
        suppressed=suppressed,
    )
