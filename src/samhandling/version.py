"""The package's version, in the core layer (what the portal, the API and the CLI show)."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
