"""Outreach: export metrics, archived captures, site contacts, domain statuses, your pages.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from brokenlinks.storage.models import UTCDateTime

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_METRICS = (
    "page_ascore",
    "domain_rating",
    "ur",
    "domain_traffic",
    "source_trust_flow",
    "source_citation_flow",
    "domain_authority",
    "page_authority",
    "spam_score",
)


def upgrade() -> None:
    op.create_table(
        "export_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("export_format", sa.String(20), nullable=False),
        sa.Column("export_file", sa.Text(), nullable=False),
        sa.Column("export_target_url", sa.Text(), nullable=True),
        *(sa.Column(name, sa.Float(), nullable=True) for name in _METRICS),
        sa.Column("first_seen", sa.String(40), nullable=True),
        sa.Column("last_seen", sa.String(40), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_metrics")),
        sa.UniqueConstraint(
            "page_url",
            "export_format",
            "export_file",
            name=op.f("uq_export_metrics_page_url_export_format_export_file"),
        ),
    )
    op.create_table(
        "archived_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("archived_url", sa.Text(), nullable=True),
        sa.Column("archived_at", UTCDateTime(), nullable=True),
        sa.Column("archived_title", sa.Text(), nullable=True),
        sa.Column("archived_heading", sa.Text(), nullable=True),
        sa.Column("archived_description", sa.Text(), nullable=True),
        sa.Column("archived_summary", sa.Text(), nullable=True),
        sa.Column("looked_up_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archived_targets")),
        sa.UniqueConstraint("target_url", name=op.f("uq_archived_targets_target_url")),
    )
    op.create_table(
        "site_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("contact_emails", sa.Text(), nullable=False),
        sa.Column("contact_page", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("social", sa.Text(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_contacts")),
        sa.UniqueConstraint("site", name=op.f("uq_site_contacts_site")),
    )
    op.create_table(
        "domain_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("domain_status", sa.String(20), nullable=False),
        sa.Column("rdap_server", sa.Text(), nullable=True),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_statuses")),
        sa.UniqueConstraint("domain", name=op.f("uq_domain_statuses_domain")),
    )
    op.create_table(
        "my_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("headings", sa.Text(), nullable=False),
        sa.Column("url_words", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_my_pages")),
        sa.UniqueConstraint("url", name=op.f("uq_my_pages_url")),
    )


def downgrade() -> None:
    for table in ("my_pages", "domain_statuses", "site_contacts", "archived_targets"):
        op.drop_table(table)
    op.drop_table("export_metrics")
