"""residents.postal_code: the postal code of the registered address, printed above the
address on the letters the municipality mails (照会書, 有効期限通知書).

Revision ID: ctr1
Revises: ocsp1
Create Date: 2026-12-07

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "ctr1"
down_revision: Union[str, Sequence[str], None] = "ocsp1"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("postal_code", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_column("postal_code")
