"""samhandling: the machinery of Norway's health Coordination Reform, on DuckDB or Spark."""

from __future__ import annotations

__version__ = "0.1.0"
