"""The two authorities, their certificates, and CRL number series.

Revision ID: 0001
Revises:
Create Date: 2026-05-20

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "authorities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("root_der", sa.LargeBinary(), nullable=False),
        sa.Column("key_file", sa.String(length=255), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('sign', 'auth')", name=op.f("ck_authorities_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorities")),
        sa.UniqueConstraint("kind", "generation", name=op.f("uq_authorities_kind_generation")),
    )
    op.create_table(
        "certificates",
        sa.Column("id", BigId, nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("authority_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=True),
        sa.Column("partition", sa.String(length=64), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_entry", sa.LargeBinary(), nullable=True),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('sign', 'auth')", name=op.f("ck_certificates_kind")),
        sa.CheckConstraint(
            "status IN ('good', 'revoked', 'hold')", name=op.f("ck_certificates_status")
        ),
        sa.CheckConstraint(
            "status = 'good' OR (revoked_at IS NOT NULL AND revoked_entry IS NOT NULL)",
            name=op.f("ck_certificates_revoked_has_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["authority_id"], ["authorities.id"],
            name=op.f("fk_certificates_authority_id_authorities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("serial", name=op.f("uq_certificates_serial")),
    )
    op.create_index(
        op.f("ix_certificates_authority_id_status_partition"),
        "certificates", ["authority_id", "status", "partition"],
    )
    op.create_index(
        op.f("ix_certificates_authority_id_change_seq"),
        "certificates", ["authority_id", "change_seq"],
    )
    op.create_index(op.f("ix_certificates_resident_id"), "certificates", ["resident_id"])
    op.create_table(
        "crl_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authority_id", sa.Integer(), nullable=False),
        sa.Column("partition", sa.String(length=64), nullable=False),
        sa.Column("prefecture", sa.String(length=64), nullable=True),
        sa.Column("municipality", sa.String(length=128), nullable=True),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.Column("last_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["authority_id"], ["authorities.id"],
            name=op.f("fk_crl_series_authority_id_authorities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crl_series")),
        sa.UniqueConstraint(
            "authority_id", "partition", name=op.f("uq_crl_series_authority_id_partition")
        ),
    )


def downgrade() -> None:
    op.drop_table("crl_series")
    op.drop_index(op.f("ix_certificates_resident_id"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_authority_id_change_seq"), table_name="certificates")
    op.drop_index(
        op.f("ix_certificates_authority_id_status_partition"), table_name="certificates"
    )
    op.drop_table("certificates")
    op.drop_table("authorities")
