"""Bind one-time tokens to the address they were mailed to; add restore-email links.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 19:20:00.000000

Tokens issued before this revision have no address and so prove none: they can still
reset a password, but no longer verify an address.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "one_time_tokens"
_CHECK = "ck_one_time_tokens_purpose"


def upgrade() -> None:
    op.add_column(
        _TABLE,
        sa.Column(
            "email", sa.String(length=254), nullable=True, comment="The address it was mailed to."
        ),
    )
    op.drop_constraint(op.f(_CHECK), _TABLE, type_="check")
    op.create_check_constraint(
        op.f(_CHECK), _TABLE, "purpose IN ('verify_email', 'reset_password', 'restore_email')"
    )
    op.create_table_comment(
        _TABLE,
        "Single-use links (verify, reset, restore an address), stored as fingerprints.",
        existing_comment=(
            "Single-use email verification and password reset tokens, stored as fingerprints."
        ),
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM one_time_tokens WHERE purpose = 'restore_email'"))
    op.drop_constraint(op.f(_CHECK), _TABLE, type_="check")
    op.create_check_constraint(
        op.f(_CHECK), _TABLE, "purpose IN ('verify_email', 'reset_password')"
    )
    op.create_table_comment(
        _TABLE,
        "Single-use email verification and password reset tokens, stored as fingerprints.",
        existing_comment=(
            "Single-use links (verify, reset, restore an address), stored as fingerprints."
        ),
    )
    op.drop_column(_TABLE, "email")
