"""The sandbox's clock and injected responder faults (sandbox_settings, sandbox_faults).

Revision ID: s001
Revises: p001
Create Date: 2026-11-23

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "s001"
down_revision: Union[str, Sequence[str], None] = "p001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "sandbox_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("clock_mode", sa.String(length=8), nullable=False),
        sa.Column("offset_us", sa.BigInteger(), nullable=False),
        sa.Column("fixed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("clock_mode IN ('real', 'offset', 'fixed')",
                           name=op.f("ck_sandbox_settings_clock_mode")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_settings")),
    )
    op.create_table(
        "sandbox_faults",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("responder", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("fault", sa.String(length=24), nullable=False),
        sa.Column("delay_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("responder IN ('ocsp', 'crl')", name=op.f("ck_sandbox_faults_responder")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_faults")),
        sa.UniqueConstraint("responder", "kind", "serial",
                            name=op.f("uq_sandbox_faults_responder_kind_serial")),
    )


def downgrade() -> None:
    op.drop_table("sandbox_faults")
    op.drop_table("sandbox_settings")
