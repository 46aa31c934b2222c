"""The PxWebApi 2.0 compatible steering-data API (FastAPI)."""

from __future__ import annotations

from samhandling.api.app import ApiLimits, create_app

__all__ = ["ApiLimits", "create_app"]
