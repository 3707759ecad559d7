"""Unique keys on hashes of long text: pages.url_key, targets.url_key, links.anchor_key.

PostgreSQL refuses a B-tree index entry over about 2.7 KB ("index row size exceeds btree
version 4 maximum"), and the unique keys held raw URLs and anchor texts: one ``data:`` href
or a long anchor failed the whole batch, and every later one. The keys are now
``models.text_key`` (SHA-256) of those columns; existing rows are filled in here.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from brokenlinks.storage.models import text_key

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

#: table, hashed column, key column, the unique key before, the unique key after
_KEYS = (
    ("pages", "url", "url_key", ["url"], ["url_key"]),
    ("targets", "url", "url_key", ["url"], ["url_key"]),
    (
        "links",
        "anchor_text",
        "anchor_key",
        ["page_id", "target_id", "anchor_text", "position"],
        ["page_id", "target_id", "anchor_key", "position"],
    ),
)
_CHUNK = 1000


def _uq(table: str, columns: list[str]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def _fill(table: str, column: str, key: str) -> None:
    connection = op.get_bind()
    rows = sa.table(table, sa.column("id"), sa.column(column), sa.column(key))
    update = (
        sa.update(rows)
        .where(rows.c.id == sa.bindparam("row_id"))
        .values({key: sa.bindparam("key_value")})
    )
    last = 0
    while True:
        chunk = connection.execute(
            sa.select(rows.c.id, rows.c[column])
            .where(rows.c.id > last)
            .order_by(rows.c.id)
            .limit(_CHUNK)
        ).all()
        if not chunk:
            return
        connection.execute(
            update, [{"row_id": id_, "key_value": text_key(value)} for id_, value in chunk]
        )
        last = chunk[-1][0]


def upgrade() -> None:
    for table, column, key, before, after in _KEYS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(key, sa.String(64), nullable=True))
        _fill(table, column, key)
        with op.batch_alter_table(table) as batch:
            batch.alter_column(key, existing_type=sa.String(64), nullable=False)
            batch.drop_constraint(_uq(table, before), type_="unique")
            batch.create_unique_constraint(_uq(table, after), after)


def downgrade() -> None:
    for table, _, key, before, after in reversed(_KEYS):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_uq(table, after), type_="unique")
            batch.create_unique_constraint(_uq(table, before), before)
            batch.drop_column(key)
