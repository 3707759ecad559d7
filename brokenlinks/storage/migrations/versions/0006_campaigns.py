"""Campaigns: the campaign of each crawl run, and the pages each campaign read.

Existing runs get the campaign their spider and arguments default to
(:func:`brokenlinks.outreach.campaigns.default_campaign`), and each existing page joins the
campaign of the run that last read it.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from brokenlinks.outreach.campaigns import LINK_CHECKING_SPIDERS, default_campaign

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("campaign", sa.String(200), nullable=False, server_default=""))
        batch.create_index(op.f("ix_crawl_runs_campaign"), ["campaign"])
    op.create_table(
        "campaign_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign", sa.String(200), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["pages.id"],
            name=op.f("fk_campaign_pages_page_id_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_pages")),
        sa.UniqueConstraint(
            "campaign", "page_id", name=op.f("uq_campaign_pages_campaign_page_id")
        ),
    )
    op.create_index(op.f("ix_campaign_pages_page_id"), "campaign_pages", ["page_id"])
    connection = op.get_bind()
    runs = sa.table(
        "crawl_runs",
        sa.column("id", sa.Integer),
        sa.column("spider", sa.String),
        sa.column("arguments", sa.Text),
        sa.column("campaign", sa.String),
    )
    my_pages = sa.table("my_pages", sa.column("site", sa.String))
    own = set(connection.execute(sa.select(my_pages.c.site).distinct()).scalars())
    last: str | None = None
    for run_id, spider, arguments in connection.execute(
        sa.select(runs.c.id, runs.c.spider, runs.c.arguments).order_by(runs.c.id)
    ).all():
        try:
            values = json.loads(arguments or "{}")
        except ValueError:
            values = {}
        name = default_campaign(
            spider, values if isinstance(values, dict) else {}, own=own, last=last
        )
        if spider in LINK_CHECKING_SPIDERS:
            last = name
        connection.execute(sa.update(runs).where(runs.c.id == run_id).values(campaign=name))
    connection.execute(
        sa.text(
            "INSERT INTO campaign_pages (campaign, page_id) "
            "SELECT crawl_runs.campaign, pages.id FROM pages "
            "JOIN crawl_runs ON crawl_runs.id = pages.last_run_id"
        )
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_campaign_pages_page_id"), table_name="campaign_pages")
    op.drop_table("campaign_pages")
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_index(op.f("ix_crawl_runs_campaign"))
        batch.drop_column("campaign")
