"""The card holds the facts and its own PINs: the resident-registry PIN's hash leaves the
database (the card's 住基AP counts and checks it), every resident gets a synthetic
individual number (unique in the register), and each card's security code is kept sealed
under the counter key.

Existing residents are given numbers here, each a random one in the reserved synthetic
range (``openjpki.rules.individual_number``) and distinct from every other. Existing cards
get no security code until their particulars are next written (記載事項変更, R5.2).

Revision ID: card1
Revises: ctr1
Create Date: 2026-12-07

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from openjpki.rules.individual_number import synthetic

revision: str = "card1"
down_revision: Union[str, Sequence[str], None] = "ctr1"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("card_pin_hash")
        batch.add_column(sa.Column("security_code_enc", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("individual_number", sa.String(length=12), nullable=True))
    conn = op.get_bind()
    residents = sa.table("residents", sa.column("id", sa.Integer),
                         sa.column("individual_number", sa.String))
    used: set[str] = set()
    for (rid,) in conn.execute(sa.select(residents.c.id).order_by(residents.c.id)).all():
        number = synthetic()
        while number in used:
            number = synthetic()
        used.add(number)
        conn.execute(residents.update().where(residents.c.id == rid)
                     .values(individual_number=number))
    op.create_index(op.f("ix_residents_individual_number"), "residents",
                    ["individual_number"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_residents_individual_number"), table_name="residents")
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("individual_number")
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("security_code_enc")
        batch.add_column(sa.Column("card_pin_hash", sa.String(length=200), nullable=True))
