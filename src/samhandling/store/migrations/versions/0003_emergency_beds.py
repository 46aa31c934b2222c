"""Emergency-bed registry: units, participating municipalities, dated bed counts.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from samhandling.store.models import UTCDateTime

revision = "0003"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "emergency_bed_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("host_municipality", sa.String(4), nullable=False),
        sa.Column("health_trust", sa.String(9), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("patient_groups", sa.Text(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_emergency_bed_units"),
    )
    op.create_index(
        "ix_emergency_bed_units_host_municipality", "emergency_bed_units", ["host_municipality"]
    )
    op.create_table(
        "emergency_bed_participants",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(4), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["emergency_bed_units.id"],
            name="fk_emergency_bed_participants_unit_id_emergency_bed_units",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("unit_id", "municipality", name="pk_emergency_bed_participants"),
    )
    op.create_table(
        "emergency_bed_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("beds", sa.Integer(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["emergency_bed_units.id"],
            name="fk_emergency_bed_counts_unit_id_emergency_bed_units",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_emergency_bed_counts"),
    )
    op.create_index("ix_emergency_bed_counts_unit_id", "emergency_bed_counts", ["unit_id"])


def downgrade() -> None:
    op.drop_index("ix_emergency_bed_counts_unit_id", table_name="emergency_bed_counts")
    op.drop_table("emergency_bed_counts")
    op.drop_table("emergency_bed_participants")
    op.drop_index("ix_emergency_bed_units_host_municipality", table_name="emergency_bed_units")
    op.drop_table("emergency_bed_units")
