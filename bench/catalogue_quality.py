"""What a stored catalogue publishes: the issue's quality figures for the steering data.

Usage: ``python bench/catalogue_quality.py --warehouse DIR [--kommune 1804] [--override FILE]``
(a warehouse whose catalogue is built: ``samhandling table-build``, or with a rule override such
as ``disclosure.secondary_method`` = ``hypercube``). Prints, for the municipality's Min kommune
page, the share of key-indicator cells (municipality, peer groups, country) that are published
for every year; per table the cells hidden, the value of the secondary cells (the first
measure), and the country, RHF and county cells hidden as secondary; and the share of SD09's
municipality-years published for municipalities above 5 000 inhabitants.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from samhandling.errors import SamhandlingError
from samhandling.rules import load_rules
from samhandling.tables.catalog import Catalog
from samhandling.tables.comparison import comparison
from samhandling.tables.disclosure import PUBLISHED, SECONDARY
from samhandling.tables.published import load_catalog, read_catalog
from samhandling.warehouse import Warehouse
from samhandling.web.municipality import key_rows
from samhandling.web.tables import BORDERS

LARGE = 5000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--kommune", default="1804")
    parser.add_argument("--navn", default="Bodø")
    parser.add_argument("--override", type=Path, help="the rule override of the build")
    parser.add_argument("--folder", type=Path, help="a stored catalogue of an earlier state")
    args = parser.parse_args(argv)
    rules = load_rules()
    if args.override:
        rules = rules.with_override(args.override)
    if args.folder:
        catalog: Catalog | None = read_catalog(args.folder, rules)
    else:
        catalog = load_catalog(Warehouse.open(args.warehouse), rules, BORDERS)
    if catalog is None:
        raise SystemExit("Ingen lagret tabellkatalog: kjør samhandling table-build først")
    shown = total = 0
    for year in catalog.years:
        if not catalog.inhabitants(args.kommune, year):
            continue  # a year the data only touch (stays discharged after New Year)
        try:
            comp = comparison(catalog, args.kommune, args.navn, year, cofinancing=True)
        except SamhandlingError as exc:  # a year without the municipality
            print(f"{year}: {exc}")
            continue
        rows = key_rows(comp)
        cells = [c for r in rows for c in r.cells]
        published = sum(1 for c in cells if not c.mark)
        own = sum(1 for r in rows if not r.cells[0].mark)
        shown += published
        total += len(cells)
        print(
            f"{year}: Min kommune {args.kommune}: {published} of {len(cells)} key cells shown, "
            f"own column {own} of {len(rows)}"
        )
    if total:
        print(f"all years: {shown} of {total} key cells shown ({100 * shown / total:.1f} %)")
    # The years and areas the data are about: a year with inhabitants, an area with inhabitants
    # that year (a regional demo holds one health region).
    print(
        "table  cells  hidden  secondary  value of the secondary cells (first measure)  "
        "country/RHF/county cells with inhabitants: secondary"
    )
    for table_id, cube in catalog.cubes.items():
        reasons = np.asarray(cube.cells["reason"].to_pylist())
        regions = [str(r) for r in cube.cells["region"].to_pylist()]
        periods = [str(p) for p in cube.cells["period"].to_pylist()]
        upper = np.array(
            [
                (r == "0" or r[:1] in ("R", "F")) and bool(catalog.inhabitants(r, p[:4]))
                for r, p in zip(regions, periods, strict=True)
            ],
            dtype=bool,
        )
        first = np.asarray(cube.cells[cube.spec.measures[0].id].to_pylist(), dtype=float)
        print(
            f"{table_id}  {len(reasons)}  {int((reasons != PUBLISHED).sum())}  "
            f"{int((reasons == SECONDARY).sum())}  {first[reasons == SECONDARY].sum():.0f}  "
            f"{int((upper & (reasons == SECONDARY)).sum())} of {int(upper.sum())}"
        )
    sd09 = catalog.cube("SD09")
    cells = sd09.cells
    regions = [str(r) for r in cells["region"].to_pylist()]
    periods = [str(p) for p in cells["period"].to_pylist()]
    reasons = cells["reason"].to_pylist()
    large = published = 0
    for region, period, reason in zip(regions, periods, reasons, strict=True):
        if not region.isdigit() or len(region) != 4 or region == "0":
            continue
        people = catalog.inhabitants(region, period)
        if people is None or people <= LARGE:
            continue
        large += 1
        published += int(reason == PUBLISHED)
    if large:
        print(
            f"SD09: {published} of {large} municipality-years above {LARGE} inhabitants "
            f"published ({100 * published / large:.1f} %)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
