"""The parity registry: every engine-facing function and the tests that run it on both engines.

An engine-facing function is a public function (or method) of the package with a parameter
typed :class:`~samhandling.engine.Engine`: it runs SQL that must give the same answer on DuckDB
and on Spark. :data:`PARITY` names, for each, the tests that run it on both engines (tests taking
the ``engine`` fixture, or ``spark_by_name`` for jobs that take the engine by name).

:data:`PARITY` is filled by recording what every Spark case called
(``SAMHANDLING_PARITY_RECORD=calls.jsonl pytest -m spark``); every engine-facing function has at
least one test, and there is no list of exceptions. Two checks keep it true
(``test_parity_registry.py`` and the ``_parity_trace`` fixture):
a new engine-facing function fails the suite until it is registered here with a test, and
while a Spark case runs, every function registered for it must actually be called with a
Spark engine, so the registry cannot claim a test that does not exercise the function.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import threading
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import CodeType, FrameType
from typing import Any

import samhandling
from samhandling.engine import Engine, SparkEngine

# Modules that cannot be imported outside their host (Alembic's migration environment).
_NOT_IMPORTABLE = {"samhandling.store.migrations.env"}


def _takes_engine(function: Callable[..., Any]) -> bool:
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # annotations that need a host's context
        return False
    return any(hint is Engine for name, hint in hints.items() if name != "return")


def engine_facing_functions() -> dict[str, Callable[..., Any]]:
    """Qualified name -> function, for every public function and method taking an Engine."""
    found: dict[str, Callable[..., Any]] = {}
    for info in pkgutil.walk_packages(samhandling.__path__, "samhandling."):
        if info.name in _NOT_IMPORTABLE:
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__ or name.startswith("_"):
                continue
            if inspect.isfunction(obj) and _takes_engine(obj):
                found[f"{module.__name__}.{name}"] = obj
            elif inspect.isclass(obj):
                for method_name, method in vars(obj).items():
                    if (
                        inspect.isfunction(method)
                        and not method_name.startswith("_")
                        and _takes_engine(method)
                    ):
                        found[f"{module.__name__}.{name}.{method_name}"] = method
    return found


class SparkCallTracer:
    """Records which watched functions are called with a Spark engine among their arguments."""

    def __init__(self, functions: dict[str, Callable[..., Any]]) -> None:
        self._watched: dict[CodeType, str] = {
            inspect.unwrap(f).__code__: name for name, f in functions.items()
        }
        self.called: set[str] = set()

    def _hook(self, frame: FrameType, event: str, _arg: object) -> None:
        # A global trace function sees Python calls only (not C calls, as a profile function
        # would); returning None asks for no line events inside the frame.
        if event == "call":
            name = self._watched.get(frame.f_code)
            if name is not None and any(
                isinstance(v, SparkEngine) for v in frame.f_locals.values()
            ):
                self.called.add(name)

    @contextmanager
    def tracing(self) -> Iterator[None]:
        before = sys.gettrace()
        sys.settrace(self._hook)
        threading.settrace(self._hook)
        try:
            yield
        finally:
            sys.settrace(before)
            threading.settrace(None)


PARITY: dict[str, tuple[str, ...]] = {
    "samhandling.indicators._common.facts_day": (
        "tests/test_indicators.py::test_activity_destinations_avoidable_and_selvmating",
        "tests/test_indicators.py::test_readmissions_both_definitions",
    ),
    "samhandling.indicators.acsc.avoidable_admissions": (
        "tests/test_indicators.py::test_activity_destinations_avoidable_and_selvmating",
    ),
    "samhandling.indicators.activity.activity_counts": (
        "tests/test_indicators.py::test_activity_destinations_avoidable_and_selvmating",
    ),
    "samhandling.indicators.activity.crude_rates": (
        "tests/test_indicators.py::test_rates_map_the_population_to_the_facts_borders",
    ),
    "samhandling.indicators.discharge.discharge_destinations": (
        "tests/test_indicators.py::test_activity_destinations_avoidable_and_selvmating",
    ),
    "samhandling.indicators.discharge.discharge_ready": (
        "tests/test_indicators.py::test_length_of_stay_and_discharge_ready",
    ),
    "samhandling.indicators.facts.register_contact_facts": (
        "tests/test_indicators.py::test_readmissions_both_definitions",
        "tests/test_indicators.py::test_rates_map_the_population_to_the_facts_borders",
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.indicators.length_of_stay.average_length_of_stay": (
        "tests/test_indicators.py::test_length_of_stay_and_discharge_ready",
    ),
    "samhandling.indicators.payments.cofinancing_per_inhabitant": (
        "tests/test_indicator_tables.py::test_money_per_inhabitant_to_the_ore",
    ),
    "samhandling.indicators.payments.discharge_ready_payments_per_inhabitant": (
        "tests/test_indicator_tables.py::test_money_per_inhabitant_to_the_ore",
    ),
    "samhandling.indicators.facts.episode_years": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.indicators.facts.fact_districts": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.indicators.facts.fact_years": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.indicators.payments.payment_facts_of_years": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.indicators.payments.prepare_payment_facts": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.indicators.peers.all_peer_groups": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.indicators.peers.peer_groups": (
        "tests/test_peers.py::test_peer_groups_of_bodo",
        "tests/test_peers.py::test_population_is_mapped_forward_to_the_borders",
        "tests/test_peers.py::test_peer_groups_refuse_unknown_codes_and_missing_population",
    ),
    "samhandling.indicators.peers.population_in_borders": (
        "tests/test_peers.py::test_peer_groups_of_bodo",
        "tests/test_peers.py::test_population_is_mapped_forward_to_the_borders",
        "tests/test_peers.py::test_peer_groups_refuse_unknown_codes_and_missing_population",
    ),
    "samhandling.indicators.readmission.readmissions": (
        "tests/test_indicators.py::test_readmissions_both_definitions",
    ),
    "samhandling.indicators.readmission.register_readmission_facts": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.indicators.selvmating.selvmating_share": (
        "tests/test_indicators.py::test_activity_destinations_avoidable_and_selvmating",
    ),
    "samhandling.indicators.standardisation.direct_standardised_rates": (
        "tests/test_indicators.py::test_rates_map_the_population_to_the_facts_borders",
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.indicators.standardisation.indirect_standardised_ratios": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.ingest.validate.delivery_years": (
        "tests/test_ingest_engines.py::test_ingest_on_spark_equals_duckdb",
    ),
    "samhandling.ingest.validate.open_source": (
        "tests/test_ingest_engines.py::test_ingest_on_spark_equals_duckdb",
    ),
    "samhandling.ingest.validate.validate_file": (
        "tests/test_ingest_engines.py::test_ingest_on_spark_equals_duckdb",
    ),
    "samhandling.instruments._relations.register_calendar": (
        "tests/test_cofinancing.py::test_engine_parity",
        "tests/test_discharge_ready.py::test_engine_parity",
        "tests/test_indicator_tables.py::test_money_per_inhabitant_to_the_ore",
    ),
    "samhandling.instruments._relations.register_days": (
        "tests/test_cofinancing.py::test_engine_parity",
        "tests/test_emergency_beds.py::test_unit_opening_mid_month",
        "tests/test_emergency_beds.py::test_bed_count_change_mid_month",
    ),
    "samhandling.instruments._relations.register_drg_mdc": (
        "tests/test_cofinancing.py::test_engine_parity",
        "tests/test_indicator_tables.py::test_money_per_inhabitant_to_the_ore",
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.instruments._relations.register_municipalities": (
        "tests/test_cofinancing.py::test_engine_parity",
        "tests/test_indicator_tables.py::test_money_per_inhabitant_to_the_ore",
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.instruments._relations.register_rule": (
        "tests/test_cofinancing.py::test_engine_parity",
        "tests/test_discharge_ready.py::test_engine_parity",
        "tests/test_indicator_tables.py::test_money_per_inhabitant_to_the_ore",
    ),
    "samhandling.instruments._relations.register_trusts": (
        "tests/test_cofinancing.py::test_engine_parity",
        "tests/test_indicator_tables.py::test_money_per_inhabitant_to_the_ore",
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.instruments.cofinancing.cofinancing_akonto": (
        "tests/test_cofinancing.py::test_engine_parity",
    ),
    "samhandling.instruments.cofinancing.cofinancing_corrections": (
        "tests/test_cofinancing.py::test_correction_ledger",
    ),
    "samhandling.instruments.cofinancing.cofinancing_episodes": (
        "tests/test_cofinancing.py::test_engine_parity",
        "tests/test_indicator_tables.py::test_money_per_inhabitant_to_the_ore",
    ),
    "samhandling.instruments.cofinancing.cofinancing_episodes_sql": (
        "tests/test_cofinancing.py::test_engine_parity",
        "tests/test_indicator_tables.py::test_money_per_inhabitant_to_the_ore",
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.instruments.cofinancing.cofinancing_forecast": (
        "tests/test_cofinancing.py::test_forecast_akonto_december_adjustment_and_settlement",
    ),
    "samhandling.instruments.cofinancing.cofinancing_settlement": (
        "tests/test_cofinancing.py::test_engine_parity",
    ),
    "samhandling.instruments.cofinancing.cofinancing_statement": (
        "tests/test_cofinancing.py::test_statements_per_period_and_level",
    ),
    "samhandling.instruments.cofinancing.national_cofinancing_total": (
        "tests/test_cofinancing.py::test_statements_per_period_and_level",
    ),
    "samhandling.instruments.discharge_ready.discharge_ready_by_trust": (
        "tests/test_discharge_ready.py::test_per_health_trust_a_stay_billed_in_two_months_is_one_stay",
    ),
    "samhandling.instruments.discharge_ready.discharge_ready_invoices": (
        "tests/test_messages.py::test_round_trip_xml_events_invoice",
    ),
    "samhandling.instruments.discharge_ready.discharge_ready_lines": (
        "tests/test_indicator_tables.py::test_money_per_inhabitant_to_the_ore",
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.instruments.discharge_ready.discharge_ready_statistics": (
        "tests/test_discharge_ready.py::test_statistics_per_municipality",
    ),
    "samhandling.instruments.discharge_ready.discharge_ready_stays": (
        "tests/test_discharge_ready.py::test_engine_parity",
    ),
    "samhandling.registries.emergency_beds.occupancy.data_cutoff": (
        "tests/test_emergency_beds.py::test_data_cutoff_is_the_end_of_the_latest_year",
    ),
    "samhandling.registries.emergency_beds.occupancy.occupancy_by_month": (
        "tests/test_emergency_beds.py::test_unit_opening_mid_month",
        "tests/test_emergency_beds.py::test_bed_count_change_mid_month",
        "tests/test_emergency_beds.py::test_stay_crossing_month_end",
    ),
    "samhandling.registries.emergency_beds.occupancy.occupancy_by_year": (
        "tests/test_emergency_beds.py::test_yearly_occupancy_and_spread",
    ),
    "samhandling.registries.emergency_beds.occupancy.register_units": (
        "tests/test_emergency_beds.py::test_unit_opening_mid_month",
        "tests/test_emergency_beds.py::test_bed_count_change_mid_month",
        "tests/test_emergency_beds.py::test_stay_crossing_month_end",
    ),
    "samhandling.registries.emergency_beds.occupancy.stays_vs_admissions": (
        "tests/test_emergency_beds.py::test_kad_stays_versus_emergency_admissions",
    ),
    "samhandling.registries.emergency_beds.occupancy.unattributed_stays": (
        "tests/test_emergency_beds.py::test_closed_unit_and_unattributed_nights",
        "tests/test_emergency_beds.py::test_every_night_is_counted_once",
    ),
    "samhandling.instruments.explain.explain_episode": (
        "tests/test_explain.py::test_explain_capped_episode_over_new_year",
    ),
    "samhandling.instruments.scenarios.scenario_costs": (
        "tests/test_scenarios.py::test_engine_parity",
    ),
    "samhandling.instruments.scenarios.scenario_variation": (
        "tests/test_scenarios.py::test_variation_curve_by_size",
    ),
    "samhandling.overview.activity_by_year_sector": (
        "tests/test_overview.py::test_activity_by_year_sector",
    ),
    "samhandling.pathways.patient.patient_timeline": (
        "tests/test_pathways.py::test_patient_timeline_traces_rows",
        "tests/test_pathways.py::test_unknown_patient_is_not_found",
    ),
    "samhandling.pathways.patterns.pathway_report": (
        "tests/test_pathways.py::test_pattern_counts_fold_rare_patterns_and_suppress",
        "tests/test_pathways.py::test_readmission_table_is_protected_per_municipality",
    ),
    "samhandling.pathways.timeline.build_pathways": (
        "tests/test_pathways.py::test_pattern_counts_fold_rare_patterns_and_suppress",
        "tests/test_pathways.py::test_readmission_table_is_protected_per_municipality",
        "tests/test_pathways.py::test_patient_timeline_traces_rows",
    ),
    "samhandling.pathways.timeline.build_timeline": (
        "tests/test_pathways.py::test_pattern_counts_fold_rare_patterns_and_suppress",
        "tests/test_pathways.py::test_readmission_table_is_protected_per_municipality",
        "tests/test_pathways.py::test_patient_timeline_traces_rows",
    ),
    "samhandling.pathways.timeline.discharge_destinations": (
        "tests/test_pathways.py::test_readmission_after_discharge_home_vs_to_an_institution",
    ),
    "samhandling.tables.catalog.build_catalog": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.tables.cube.CountedCube.finish": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.tables.cube.build_cube": (
        "tests/test_cube_counting.py::test_build_cube_protects_the_same_on_every_engine",
    ),
    "samhandling.tables.cube.count_cube": (
        "tests/test_cube_counting.py::test_every_engine_counts_the_same",
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.tables.cube.count_cube_per_combination": (
        "tests/test_cube_counting.py::test_the_old_counting_agrees_on_every_engine",
    ),
    "samhandling.tables.cube.counted_cube": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.tables.catalog.catalog_districts": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.tables.standardised.standardised_rates": (
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
    ),
    "samhandling.warehouse.Warehouse.register": (
        "tests/test_messages.py::test_round_trip_xml_events_invoice",
        "tests/test_published_catalog.py::test_the_catalogue_builds_the_same_on_either_engine",
        "tests/test_warehouse.py::test_register_gives_typed_relations_on_each_engine",
    ),
    "samhandling.tables.stay_rates.stay_rates": (
        "tests/test_web_map.py::test_stay_rates_use_one_set_of_borders",
    ),
    "samhandling.web.tables.stored_catalog": (
        "tests/test_published_catalog.py::test_the_portal_reads_the_stored_catalogue_on_either_engine",
    ),
}
