"""The CRL scan's index on certificates covers the entries it reads: (authority_id, status,
partition, revoked_entry) replaces (authority_id, status, partition), so making a CRL reads
the narrow index alone (about 100 bytes an entry) and never the certificate rows (about
2 KB each, with the certificate's DER).

Revision ID: k003
Revises: k002
Create Date: 2026-11-21

"""
from typing import Sequence, Union

from alembic import op

revision: str = "k003"
down_revision: Union[str, Sequence[str], None] = "k002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD = "ix_certificates_authority_id_status_partition"
NEW = "ix_certificates_authority_id_status_partition_revoked_entry"


def upgrade() -> None:
    op.create_index(NEW, "certificates", ["authority_id", "status", "partition", "revoked_entry"],
                    unique=False)
    op.drop_index(OLD, table_name="certificates")


def downgrade() -> None:
    op.create_index(OLD, "certificates", ["authority_id", "status", "partition"], unique=False)
    op.drop_index(NEW, table_name="certificates")
