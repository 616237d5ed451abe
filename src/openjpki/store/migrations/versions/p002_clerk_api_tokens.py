"""Clerks' API tokens: the bearer tokens of the JSON API, kept as their SHA-256 only (the
token is shown once when made), with a label, an optional expiry, the last use and the
revocation.

Revision ID: p002
Revises: k003
Create Date: 2026-11-21

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "p002"
down_revision: Union[str, Sequence[str], None] = "k003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "clerk_api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clerk_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["clerk_id"], ["clerks.id"],
                                name=op.f("fk_clerk_api_tokens_clerk_id_clerks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clerk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_clerk_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_clerk_api_tokens_clerk_id"), "clerk_api_tokens", ["clerk_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_clerk_api_tokens_clerk_id"), table_name="clerk_api_tokens")
    op.drop_table("clerk_api_tokens")
