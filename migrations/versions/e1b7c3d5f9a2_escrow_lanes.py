"""escrow lanes: a project's escrow split over several ledger accounts, and each lease's lane

Revision ID: e1b7c3d5f9a2
Revises: d7a3f1c9e5b2
Create Date: 2026-12-04 21:10:00

Every lease reserved its cost on, and every answer was paid from, the project's one escrow row,
whose lock each held through its commit: a project's leases and answers committed one at a time.
ledger_accounts.lane numbers a project escrow's accounts (0 for every existing account, so each
escrow so far is its lane 0) and assignments.escrow_lane records where a lease reserved (0 for every
existing lease, which is where its reservation is). Nothing is moved.
"""
from alembic import op
import sqlalchemy as sa

revision = 'e1b7c3d5f9a2'
down_revision = 'd7a3f1c9e5b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_accounts') as batch:
        batch.add_column(sa.Column('lane', sa.SmallInteger(), server_default='0', nullable=False))
        batch.drop_constraint('uq_ledger_accounts_kind_owner_currency', type_='unique')
        batch.create_unique_constraint('uq_ledger_accounts_kind_owner_currency_lane',
                                       ['kind', 'owner_id', 'currency', 'lane'])
    with op.batch_alter_table('assignments') as batch:
        batch.add_column(sa.Column('escrow_lane', sa.SmallInteger(), server_default='0', nullable=False))


def downgrade():
    # Only possible while every escrow has one lane: fold lanes back first (escrow.release, then top up).
    with op.batch_alter_table('assignments') as batch:
        batch.drop_column('escrow_lane')
    with op.batch_alter_table('ledger_accounts') as batch:
        batch.drop_constraint('uq_ledger_accounts_kind_owner_currency_lane', type_='unique')
        batch.create_unique_constraint('uq_ledger_accounts_kind_owner_currency', ['kind', 'owner_id', 'currency'])
        batch.drop_column('lane')
