"""Alembic migrations of the operational store, shipped inside the package."""
