"""samhandling: the machinery of Norway's health Coordination Reform, on DuckDB or Spark.

The small, stable surface is re-exported here; each area has its own package with its own
``__all__`` (``samhandling.instruments``, ``samhandling.synth``, ``samhandling.refdata``, …).

    >>> from samhandling import Warehouse, DuckDBEngine, load_rules
    >>> from samhandling.instruments import national_cofinancing_total
"""

from __future__ import annotations

from samhandling.engine import DuckDBEngine, Engine, SparkEngine, make_engine
from samhandling.errors import SamhandlingError
from samhandling.rules import RuleSet, load_rules
from samhandling.version import __version__
from samhandling.warehouse import Warehouse

__all__ = [
    "DuckDBEngine",
    "Engine",
    "RuleSet",
    "SamhandlingError",
    "SparkEngine",
    "Warehouse",
    "__version__",
    "load_rules",
    "make_engine",
]
