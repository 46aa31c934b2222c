"""Errors the platform raises on purpose. The CLI prints these without a traceback."""

from __future__ import annotations


class SamhandlingError(Exception):
    """Base class: a problem the user can act on (bad input, missing data, bad option)."""


class ConfigError(SamhandlingError):
    """The warehouse, a rule override or an option is not usable."""


class RuleError(SamhandlingError):
    """A rule table is malformed or has no value for the date asked for."""


class QueryError(SamhandlingError):
    """An engine failed to run a query; carries the SQL that failed."""

    def __init__(self, engine: str, sql: str, cause: BaseException) -> None:
        self.engine = engine
        self.sql = sql
        self.cause = cause
        super().__init__(f"{engine} failed: {cause}\n--- SQL ---\n{sql}")


class IngestRejectedError(SamhandlingError):
    """A delivery was loaded but some rows were quarantined (exit code 1 in the CLI)."""
