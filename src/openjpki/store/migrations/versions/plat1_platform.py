"""The platform API's records: service providers, their registrations with the linked SIGN
and AUTH certificates, and the nonces of the replay window.

Revision ID: plat1
Revises: sec1
Create Date: 2026-12-07

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "plat1"
down_revision: Union[str, Sequence[str], None] = "sec1"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "platform_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("origin IN ('cli', 'sandbox')", name=op.f("ck_platform_providers_origin")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_providers")),
        sa.UniqueConstraint("name", name=op.f("uq_platform_providers_name")),
    )
    op.create_table(
        "platform_registrations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("tis_user_id", sa.String(length=36), nullable=False),
        sa.Column("applicant_id", sa.String(length=64), nullable=False),
        sa.Column("holder_key", sa.String(length=128), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=400), nullable=False),
        sa.Column("date_of_birth", sa.String(length=10), nullable=False),
        sa.Column("gender", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["platform_providers.id"],
                                name=op.f("fk_platform_registrations_provider_id_platform_providers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_registrations")),
        sa.UniqueConstraint("tis_user_id", name=op.f("uq_platform_registrations_tis_user_id")),
        sa.UniqueConstraint("provider_id", "holder_key",
                            name=op.f("uq_platform_registrations_provider_id_holder_key")),
    )
    op.create_table(
        "platform_certificates",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('sign', 'auth')", name=op.f("ck_platform_certificates_kind")),
        sa.ForeignKeyConstraint(["provider_id"], ["platform_providers.id"],
                                name=op.f("fk_platform_certificates_provider_id_platform_providers")),
        sa.ForeignKeyConstraint(["registration_id"], ["platform_registrations.id"],
                                name=op.f("fk_platform_certificates_registration_id_platform_registrations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_certificates")),
        sa.UniqueConstraint("provider_id", "serial", name=op.f("uq_platform_certificates_provider_id_serial")),
    )
    op.create_index(op.f("ix_platform_certificates_registration_id_kind_current"), "platform_certificates",
                    ["registration_id", "kind", "current"], unique=False)
    op.create_table(
        "platform_nonces",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("call", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("call IN ('registration', 'login', 'replacement')", name=op.f("ck_platform_nonces_call")),
        sa.ForeignKeyConstraint(["provider_id"], ["platform_providers.id"],
                                name=op.f("fk_platform_nonces_provider_id_platform_providers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_nonces")),
        sa.UniqueConstraint("provider_id", "call", "digest", name=op.f("uq_platform_nonces_provider_id_call_digest")),
    )
    op.create_index(op.f("ix_platform_nonces_expires_at"), "platform_nonces", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_platform_nonces_expires_at"), table_name="platform_nonces")
    op.drop_table("platform_nonces")
    op.drop_index(op.f("ix_platform_certificates_registration_id_kind_current"), table_name="platform_certificates")
    op.drop_table("platform_certificates")
    op.drop_table("platform_registrations")
    op.drop_table("platform_providers")
