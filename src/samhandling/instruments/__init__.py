"""The economic instruments: municipal co-financing, discharge-ready payments, scenarios.

Every function takes an :class:`~samhandling.engine.Engine` on which the relations ``episodes``,
``events`` and ``population`` are registered (``Warehouse.register`` does it) and a
:class:`~samhandling.rules.RuleSet`, and returns an Arrow table whose rows carry the rule set's
label and the versions of the rules applied. The CLI, the API, the portal and the exports all call
these functions.
"""

from __future__ import annotations

from samhandling.instruments.cofinancing import (
    REASONS,
    cofinancing_akonto,
    cofinancing_corrections,
    cofinancing_episodes,
    cofinancing_forecast,
    cofinancing_settlement,
    cofinancing_statement,
    national_cofinancing_total,
)
from samhandling.instruments.discharge_ready import (
    DIFFERENCE_REASONS,
    discharge_ready_by_trust,
    discharge_ready_invoices,
    discharge_ready_lines,
    discharge_ready_statistics,
    discharge_ready_stays,
)
from samhandling.instruments.explain import Explanation, explain_episode, format_explanation
from samhandling.instruments.exports import export_csv, export_table, export_xlsx
from samhandling.instruments.scenarios import scenario_costs, scenario_names, scenario_variation

__all__ = [
    "DIFFERENCE_REASONS",
    "REASONS",
    "Explanation",
    "cofinancing_akonto",
    "cofinancing_corrections",
    "cofinancing_episodes",
    "cofinancing_forecast",
    "cofinancing_settlement",
    "cofinancing_statement",
    "discharge_ready_by_trust",
    "discharge_ready_invoices",
    "discharge_ready_lines",
    "discharge_ready_statistics",
    "discharge_ready_stays",
    "explain_episode",
    "export_csv",
    "export_table",
    "export_xlsx",
    "format_explanation",
    "national_cofinancing_total",
    "scenario_costs",
    "scenario_names",
    "scenario_variation",
]
