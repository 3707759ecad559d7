"""Outreach status of prospects, links gone from their page, and the indexes reports use.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from brokenlinks.storage.models import UTCDateTime

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("gone_at", UTCDateTime(), nullable=True))
        batch.create_index(batch.f("ix_links_page_id"), ["page_id"])
    op.create_index(op.f("ix_targets_kind"), "targets", ["kind"])
    op.create_table(
        "outreach",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"], ["pages.id"], name=op.f("fk_outreach_page_id_pages"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name=op.f("fk_outreach_target_id_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach")),
        sa.UniqueConstraint("page_id", "target_id", name=op.f("uq_outreach_page_id_target_id")),
    )


def downgrade() -> None:
    op.drop_table("outreach")
    op.drop_index(op.f("ix_targets_kind"), "targets")
    with op.batch_alter_table("links") as batch:
        batch.drop_index(batch.f("ix_links_page_id"))
        batch.drop_column("gone_at")
