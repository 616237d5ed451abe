"""Citizen-side services: face-match failure counts and kiosk reservations (R6), expiry
notices sent (R3.4, one per certificate), convenience-store issuances (R7); and an index on
card_certificates.not_after for the expiry-notice selection.

Revision ID: k001
Revises: d001
Create Date: 2026-11-21

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "k001"
down_revision: Union[str, Sequence[str], None] = "d001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "face_match_states",
        sa.Column("card_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("app_locked", sa.Boolean(), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name=op.f("fk_face_match_states_card_id_cards")),
        sa.PrimaryKeyConstraint("card_id", name=op.f("pk_face_match_states")),
    )
    op.create_table(
        "kiosk_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=8), nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('open', 'used', 'expired', 'void')",
                           name=op.f("ck_kiosk_reservations_state")),
        sa.CheckConstraint("target IN ('sign', 'auth')",
                           name=op.f("ck_kiosk_reservations_target")),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name=op.f("fk_kiosk_reservations_card_id_cards")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_reservations")),
    )
    op.create_index(op.f("ix_kiosk_reservations_card_id_target_state"), "kiosk_reservations",
                    ["card_id", "target", "state"], unique=False)
    op.create_table(
        "expiry_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("not_after", sa.Date(), nullable=False),
        sa.Column("batch_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name=op.f("fk_expiry_notices_card_id_cards")),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"],
                                name=op.f("fk_expiry_notices_resident_id_residents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expiry_notices")),
        sa.UniqueConstraint("serial", name=op.f("uq_expiry_notices_serial")),
    )
    op.create_index(op.f("ix_expiry_notices_batch_on"), "expiry_notices", ["batch_on"],
                    unique=False)
    op.create_index(op.f("ix_expiry_notices_resident_id"), "expiry_notices", ["resident_id"],
                    unique=False)
    op.create_table(
        "konbini_issuances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("auth_serial", sa.String(length=64), nullable=False),
        sa.Column("document", sa.String(length=32), nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"],
                                name=op.f("fk_konbini_issuances_card_id_cards")),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"],
                                name=op.f("fk_konbini_issuances_resident_id_residents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_konbini_issuances")),
        sa.UniqueConstraint("reference", name=op.f("uq_konbini_issuances_reference")),
    )
    op.create_index(op.f("ix_konbini_issuances_resident_id"), "konbini_issuances",
                    ["resident_id"], unique=False)
    op.create_index("ix_card_certificates_not_after", "card_certificates", ["not_after"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_card_certificates_not_after", table_name="card_certificates")
    op.drop_index(op.f("ix_konbini_issuances_resident_id"), table_name="konbini_issuances")
    op.drop_table("konbini_issuances")
    op.drop_index(op.f("ix_expiry_notices_resident_id"), table_name="expiry_notices")
    op.drop_index(op.f("ix_expiry_notices_batch_on"), table_name="expiry_notices")
    op.drop_table("expiry_notices")
    op.drop_index(op.f("ix_kiosk_reservations_card_id_target_state"),
                  table_name="kiosk_reservations")
    op.drop_table("kiosk_reservations")
    op.drop_table("face_match_states")
