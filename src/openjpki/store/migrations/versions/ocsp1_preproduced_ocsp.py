"""Pre-produced OCSP responses: one row per certificate with the signed response the
responder serves by lookup, the certificate's change_seq it states and when it is due
(Unix seconds). Every certificate already issued gets a row that is due at once.

Revision ID: ocsp1
Revises: plat1
Create Date: 2026-12-07

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "ocsp1"
down_revision: Union[str, Sequence[str], None] = "plat1"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "ocsp_responses",
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("authority_id", sa.Integer(), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.Column("refresh_at", sa.BigInteger(), nullable=False),
        sa.Column("this_update", sa.BigInteger(), nullable=True),
        sa.Column("next_update", sa.BigInteger(), nullable=True),
        sa.Column("der", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["authority_id"], ["authorities.id"],
                                name="fk_ocsp_responses_authority_id_authorities"),
        sa.PrimaryKeyConstraint("serial", name="pk_ocsp_responses"),
        sqlite_with_rowid=False,  # SQLite: the row in the key's B-tree, one search per lookup
    )
    op.create_index("ix_ocsp_responses_authority_id_refresh_at", "ocsp_responses",
                    ["authority_id", "refresh_at"], unique=False)
    op.execute("INSERT INTO ocsp_responses (serial, authority_id, change_seq, refresh_at) "
               "SELECT serial, authority_id, change_seq, 0 FROM certificates")


def downgrade() -> None:
    op.drop_index("ix_ocsp_responses_authority_id_refresh_at", table_name="ocsp_responses")
    op.drop_table("ocsp_responses")
