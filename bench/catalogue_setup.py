"""Shared set-up of the protection benches: a warehouse or generated data, facts and table specs.

``add_data_arguments(parser)`` adds ``--fraction --years --borders --seed --warehouse``;
``catalogue_specs(args, scratch)`` registers the episodes (an ingested warehouse, or data
generated into ``scratch``) and the contact facts on a DuckDB engine and returns the engine,
the rules, the disclosure threshold and the catalogue's table specs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from samhandling.cli.options import parse_years
from samhandling.engine import DuckDBEngine, Engine
from samhandling.indicators.facts import fact_years, icd10_block_table, register_contact_facts
from samhandling.rules import RuleSet, load_rules, rules_day
from samhandling.synth import generate
from samhandling.tables.catalog import catalog_districts, catalog_specs
from samhandling.tables.cube import CubeSpec
from samhandling.tables.disclosure import disclosure_threshold
from samhandling.warehouse import Warehouse


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--years", default="2012")
    parser.add_argument("--borders", type=int, default=2024)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--warehouse", type=Path, help="an ingested warehouse to use instead")


def catalogue_specs(
    args: argparse.Namespace, scratch: Path
) -> tuple[DuckDBEngine, RuleSet, int, list[CubeSpec]]:
    engine = DuckDBEngine()
    if args.warehouse:
        Warehouse.open(args.warehouse).register(engine)
    else:
        generate(scratch, parse_years(args.years), args.fraction, args.seed, "parquet")
        engine.register_parquet("episodes", sorted(scratch.rglob("episodes.parquet")))
    rules = load_rules()
    specs = contact_facts_and_specs(engine, rules, args.borders)
    threshold, _version = disclosure_threshold(rules, rules_day(fact_years(engine)))
    return engine, rules, threshold, specs


def contact_facts_and_specs(engine: Engine, rules: RuleSet, borders: int) -> list[CubeSpec]:
    """Register the contact facts of ``episodes`` on ``engine``; the catalogue's table specs."""
    blocks = icd10_block_table()
    register_contact_facts(engine, borders=borders, blocks=blocks)
    return catalog_specs(
        rules,
        borders=borders,
        years=fact_years(engine),
        blocks=blocks,
        districts=catalog_districts(engine, borders),
    )
