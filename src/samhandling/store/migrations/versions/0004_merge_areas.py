"""Join the agreements (0002) and emergency-bed (0003) branches into one head.

Revision ID: 0004
Revises: 0002, 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0004"
down_revision: tuple[str, ...] = ("0002", "0003")
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Nothing to change: the two branches touch different tables."""


def downgrade() -> None:
    """Nothing to change."""
