"""The counter: the resident register, cards and their certificates, applications and visits,
letters mailed, and the hash-chained audit log (with its head row seeded).

Revision ID: c001
Revises: 0001
Create Date: 2026-11-21

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "c001"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('audit_log',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_log')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_log_hash'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_subject'), ['subject'], unique=False)

    op.create_table('residents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_kana', sa.String(length=200), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('sex', sa.Integer(), nullable=False),
    sa.Column('former_surname', sa.String(length=100), nullable=True),
    sa.Column('alias', sa.String(length=200), nullable=True),
    sa.Column('household_id', sa.String(length=32), nullable=False),
    sa.Column('relationship', sa.String(length=32), nullable=False),
    sa.Column('honseki_here', sa.Boolean(), nullable=False),
    sa.Column('adult_ward', sa.Boolean(), nullable=False),
    sa.Column('foreign_resident', sa.Boolean(), nullable=False),
    sa.Column('stay_until', sa.Date(), nullable=True),
    sa.Column('municipality_code', sa.String(length=6), nullable=False),
    sa.Column('prefecture', sa.String(length=20), nullable=False),
    sa.Column('municipality', sa.String(length=60), nullable=False),
    sa.Column('on_register', sa.Boolean(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('sex IN (1, 2, 3)', name=op.f('ck_residents_sex')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_residents'))
    )
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_residents_household_id'), ['household_id'], unique=False)

    op.create_table('cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_number', sa.String(length=16), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('face_up_to_date', sa.Boolean(), nullable=False),
    sa.Column('sign_declined', sa.Boolean(), nullable=False),
    sa.Column('auth_declined', sa.Boolean(), nullable=False),
    sa.Column('virtual_card_id', sa.String(length=64), nullable=False),
    sa.Column('issuing_secret_enc', sa.LargeBinary(), nullable=True),
    sa.Column('card_pin_hash', sa.String(length=200), nullable=True),
    sa.Column('card_pin_failures', sa.Integer(), nullable=False),
    sa.Column('card_pin_locked', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('active', 'returned', 'expired', 'voided', 'lost')", name=op.f('ck_cards_state')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_cards_resident_id_residents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cards')),
    sa.UniqueConstraint('card_number', name=op.f('uq_cards_card_number')),
    sa.UniqueConstraint('virtual_card_id', name=op.f('uq_cards_virtual_card_id'))
    )
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cards_resident_id_state'), ['resident_id', 'state'], unique=False)

    op.create_table('applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=True),
    sa.Column('procedure', sa.String(length=20), nullable=False),
    sa.Column('applicant_type', sa.String(length=24), nullable=False),
    sa.Column('kinds', sa.String(length=12), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('office', sa.String(length=64), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('refusal_rule', sa.String(length=8), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_applications_card_id_cards')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_applications_resident_id_residents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_resident_id_state'), ['resident_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_state'), ['state'], unique=False)

    op.create_table('card_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('not_after', sa.Date(), nullable=False),
    sa.Column('expiry_rule', sa.String(length=8), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('sign', 'auth')", name=op.f('ck_card_certificates_kind')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_card_certificates_application_id_applications')),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_card_certificates_card_id_cards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_certificates')),
    sa.UniqueConstraint('serial', name=op.f('uq_card_certificates_serial'))
    )
    with op.batch_alter_table('card_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_certificates_card_id_kind_current'), ['card_id', 'kind', 'current'], unique=False)

    op.create_table('letters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.CheckConstraint("state IN ('sent', 'answered', 'void')", name=op.f('ck_letters_state')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_letters_application_id_applications')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_letters_resident_id_residents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_letters')),
    sa.UniqueConstraint('reference', name=op.f('uq_letters_reference'))
    )
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_letters_resident_id_kind'), ['resident_id', 'kind'], unique=False)

    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('office', sa.String(length=64), nullable=True),
    sa.Column('applicant_type', sa.String(length=24), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('rule', sa.String(length=8), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_visits_application_id_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits'))
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visits_application_id'), ['application_id'], unique=False)

    # The audit chain's head (openjpki.store.audit): one row, the writers' lock.
    op.execute(sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')"))



def downgrade() -> None:
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visits_application_id'))

    op.drop_table('visits')
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_letters_resident_id_kind'))

    op.drop_table('letters')
    with op.batch_alter_table('card_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_certificates_card_id_kind_current'))

    op.drop_table('card_certificates')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_state'))
        batch_op.drop_index(batch_op.f('ix_applications_resident_id_state'))

    op.drop_table('applications')
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cards_resident_id_state'))

    op.drop_table('cards')
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_residents_household_id'))

    op.drop_table('residents')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_subject'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')
    op.drop_table('audit_head')
