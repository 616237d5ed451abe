"""Clerk accounts of the counter pages (roles clerk and supervisor, scrypt password hashes,
the session epoch and the lock after repeated wrong passwords).

Revision ID: p001
Revises: k001
Create Date: 2026-11-22

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "p001"
down_revision: Union[str, Sequence[str], None] = "k001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "clerks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('clerk', 'supervisor')", name=op.f("ck_clerks_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clerks")),
        sa.UniqueConstraint("name", name=op.f("uq_clerks_name")),
    )


def downgrade() -> None:
    op.drop_table("clerks")
