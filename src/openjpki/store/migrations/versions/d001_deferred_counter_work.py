"""Deferred counter work (R5.9): the durable queue of applications waiting for the
authorities, and the shared switch that says whether the authorities are reachable.

Revision ID: d001
Revises: c002
Create Date: 2026-11-21

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = 'd001'
down_revision: Union[str, Sequence[str], None] = 'c002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('deferred_switches',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_deferred_switches'))
    )
    op.create_table('deferred_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('procedure', sa.String(length=24), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('pins_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('available_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('letter_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'running', 'done', 'refused', 'failed')", name=op.f('ck_deferred_items_state')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_deferred_items_application_id_applications')),
    sa.ForeignKeyConstraint(['letter_id'], ['letters.id'], name=op.f('fk_deferred_items_letter_id_letters')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_deferred_items_resident_id_residents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deferred_items')),
    sa.UniqueConstraint('application_id', name=op.f('uq_deferred_items_application_id'))
    )
    with op.batch_alter_table('deferred_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deferred_items_resident_id'), ['resident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deferred_items_state_available_at'), ['state', 'available_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('deferred_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deferred_items_state_available_at'))
        batch_op.drop_index(batch_op.f('ix_deferred_items_resident_id'))

    op.drop_table('deferred_items')
    op.drop_table('deferred_switches')
