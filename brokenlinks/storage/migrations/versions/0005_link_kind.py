"""The kind of each link occurrence: link, refresh, or a reference an audit checks.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(
            sa.Column("link_kind", sa.String(20), nullable=False, server_default="link")
        )


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("link_kind")
