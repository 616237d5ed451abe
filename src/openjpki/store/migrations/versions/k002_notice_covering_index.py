"""The expiry-notice selection's index on card_certificates covers every column it reads
(not_after, current, expiry_rule, serial, card_id, kind): the daily run then walks the index
alone (R3.4).

Revision ID: k002
Revises: s001
Create Date: 2026-11-21

"""
from typing import Sequence, Union

from alembic import op

revision: str = "k002"
down_revision: Union[str, Sequence[str], None] = "s001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = ["not_after", "current", "expiry_rule", "serial", "card_id", "kind"]


def upgrade() -> None:
    op.drop_index("ix_card_certificates_not_after", table_name="card_certificates")
    op.create_index("ix_card_certificates_notice", "card_certificates", COLUMNS, unique=False)


def downgrade() -> None:
    op.drop_index("ix_card_certificates_notice", table_name="card_certificates")
    op.create_index("ix_card_certificates_not_after", "card_certificates", ["not_after"],
                    unique=False)
