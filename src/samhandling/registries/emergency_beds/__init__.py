"""Municipal emergency 24-hour beds (kommunalt øyeblikkelig hjelp døgnopphold, KAD).

The registry of units (:mod:`.units`, in the operational store), their occupancy and the
indicators built on it (:mod:`.occupancy`, SQL on the engine), and the funding: the 2012–2015
grant scheme and the block grant from 2016 (:mod:`.grant`). The CLI
(:mod:`samhandling.cli.emergency_beds`), the portal (:mod:`samhandling.web.emergency_beds`) and
the exports all call these functions.
"""

from __future__ import annotations

from samhandling.registries.emergency_beds.grant import (
    GRANT_RULES,
    BlockGrantLine,
    GrantLine,
    agreement_lookup,
    block_grant_lines,
    grant_lines,
    refdata_population,
    scheme_years,
)
from samhandling.registries.emergency_beds.occupancy import (
    OCCUPANCY_RULES,
    Spread,
    occupancy_by_month,
    occupancy_by_year,
    occupancy_spread,
    relief_summary,
    stays_vs_admissions,
    unattributed_stays,
)
from samhandling.registries.emergency_beds.units import (
    BedCount,
    Unit,
    UnitInput,
    UnitNotFoundError,
    UnitValidationError,
    change_beds,
    delete_unit,
    get_unit,
    list_units,
    register_unit,
    update_unit,
)

__all__ = [
    "GRANT_RULES",
    "OCCUPANCY_RULES",
    "BedCount",
    "BlockGrantLine",
    "GrantLine",
    "Spread",
    "Unit",
    "UnitInput",
    "UnitNotFoundError",
    "UnitValidationError",
    "agreement_lookup",
    "block_grant_lines",
    "change_beds",
    "delete_unit",
    "get_unit",
    "grant_lines",
    "list_units",
    "occupancy_by_month",
    "occupancy_by_year",
    "occupancy_spread",
    "refdata_population",
    "register_unit",
    "relief_summary",
    "scheme_years",
    "stays_vs_admissions",
    "unattributed_stays",
    "update_unit",
]
