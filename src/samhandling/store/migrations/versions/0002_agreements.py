"""Cooperation-agreement registry: agreements, revisions, parties, parts, documents.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Importing the ORM classes registers their tables on ``Base.metadata``, so that a process that
# migrated the store compares and queries the same schema the migration built.
import samhandling.store.agreements  # noqa: F401
from samhandling.store.models import UTCDateTime

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("health_trust", sa.String(9), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agreements"),
    )
    op.create_index("ix_agreements_health_trust", "agreements", ["health_trust"])
    op.create_table(
        "agreement_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("revision_no", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("publication_url", sa.String(500), nullable=False),
        sa.Column("change_note", sa.Text(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name="fk_agreement_revisions_agreement_id_agreements",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agreement_revisions"),
        sa.UniqueConstraint(
            "agreement_id", "revision_no", name="uq_agreement_revisions_agreement_id"
        ),
    )
    op.create_index("ix_agreement_revisions_agreement_id", "agreement_revisions", ["agreement_id"])
    op.create_table(
        "agreement_parties",
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(4), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["agreement_revisions.id"],
            name="fk_agreement_parties_revision_id_agreement_revisions",
        ),
        sa.PrimaryKeyConstraint("revision_id", "municipality", name="pk_agreement_parties"),
    )
    op.create_index("ix_agreement_parties_municipality", "agreement_parties", ["municipality"])
    op.create_table(
        "agreement_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agreement_documents"),
        sa.UniqueConstraint("sha256", name="uq_agreement_documents_sha256"),
    )
    op.create_table(
        "agreement_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(20), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("document_url", sa.String(500), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["agreement_revisions.id"],
            name="fk_agreement_parts_revision_id_agreement_revisions",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["agreement_documents.id"],
            name="fk_agreement_parts_document_id_agreement_documents",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agreement_parts"),
        sa.UniqueConstraint("revision_id", "key", "title", name="uq_agreement_parts_revision_id"),
    )
    op.create_index("ix_agreement_parts_revision_id", "agreement_parts", ["revision_id"])


def downgrade() -> None:
    op.drop_index("ix_agreement_parts_revision_id", table_name="agreement_parts")
    op.drop_table("agreement_parts")
    op.drop_table("agreement_documents")
    op.drop_index("ix_agreement_parties_municipality", table_name="agreement_parties")
    op.drop_table("agreement_parties")
    op.drop_index("ix_agreement_revisions_agreement_id", table_name="agreement_revisions")
    op.drop_table("agreement_revisions")
    op.drop_index("ix_agreements_health_trust", table_name="agreements")
    op.drop_table("agreements")
