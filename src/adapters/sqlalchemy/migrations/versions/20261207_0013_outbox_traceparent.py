"""Keep the trace context an event was written in, so its trace goes on past the outbox.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 12:28:55.805381

The relay puts it in the event's Kafka headers (W3C ``traceparent``), and consumers
continue the trace from there (docs/observability.md). Rows written before this revision,
or while tracing is off, have none: their events start new traces.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column(
            "traceparent",
            sa.String(length=55),
            nullable=True,
            comment="W3C trace context of the transaction that wrote it; the relay passes it on.",
        ),
    )


def downgrade() -> None:
    op.drop_column("outbox", "traceparent")
