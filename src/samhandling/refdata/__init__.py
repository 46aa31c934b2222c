"""Public reference data: municipalities and borders, population, catchment areas, ICD-10, DRG.

Every table is read from CSV files shipped in ``samhandling/refdata/data`` (with provenance
notes per folder) and cached; see ``docs/refdata.md``.
"""

from __future__ import annotations

from samhandling.refdata.borders import code_map, map_to_borders
from samhandling.refdata.catchment import catchment, health_trusts
from samhandling.refdata.drg import drgs, mdc_names
from samhandling.refdata.municipalities import counties, municipality_years, names, valid_codes
from samhandling.refdata.periods import months_in_tertial, tertial, tertial_label
from samhandling.refdata.population import (
    age_group_5yr,
    district_population,
    population,
    population_5yr,
)

__all__ = [
    "age_group_5yr",
    "catchment",
    "code_map",
    "counties",
    "district_population",
    "drgs",
    "health_trusts",
    "map_to_borders",
    "mdc_names",
    "months_in_tertial",
    "municipality_years",
    "names",
    "population",
    "population_5yr",
    "tertial",
    "tertial_label",
    "valid_codes",
]
