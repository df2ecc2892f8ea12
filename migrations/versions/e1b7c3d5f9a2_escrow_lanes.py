"""escrow lanes: a project's escrow split over several ledger accounts, and each lease's lane

Revision ID: e1b7c3d5f9a2
Revises: d7a3f1c9e5b2
Create Date: 2026-12-04 21:10:00

Every lease reserved its cost on, and every answer was paid from, the project's one escrow row,
whose lock each held through its commit: a project's leases and answers committed one at a time.
ledger_accounts.lane numbers a project escrow's accounts (0 for every existing account, so each
escrow so far is its lane 0) and assignments.escrow_lane records where a lease reserved (0 for every
existing lease, which is where its reservation is). Each existing escrow gets its empty lanes 1-7
here, so that no request later creates them while it holds lane 0. Nothing is moved.

The downgrade folds every escrow back onto lane 0: balances and reservations summed, entries
pointed at lane 0 (a pooling between lanes becomes a zero-sum pair on one account), lanes dropped.
Run it with the code of the revision it goes back to stopped: the old submit statement names the
old unique key.
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
    # ESCROW_LANES (ledger/models.py) was 8 when this ran; a later change of it brings its own migration.
    op.execute("""
        INSERT INTO ledger_accounts (kind, owner_id, currency, lane, balance_cents, held_cents, created_at)
        SELECT e.kind, e.owner_id, e.currency, lanes.lane, 0, 0, CURRENT_TIMESTAMP
        FROM ledger_accounts e CROSS JOIN (SELECT 1 AS lane UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL
                                           SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) lanes
        WHERE e.kind = 'project_escrow' AND e.lane = 0
    """)


def downgrade():
    op.execute("""
        UPDATE ledger_accounts SET
            balance_cents = (SELECT sum(l.balance_cents) FROM ledger_accounts l WHERE l.kind = ledger_accounts.kind
                             AND l.owner_id = ledger_accounts.owner_id AND l.currency = ledger_accounts.currency),
            held_cents = (SELECT sum(l.held_cents) FROM ledger_accounts l WHERE l.kind = ledger_accounts.kind
                          AND l.owner_id = ledger_accounts.owner_id AND l.currency = ledger_accounts.currency)
        WHERE kind = 'project_escrow' AND lane = 0
    """)
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:  # entries are append-only (a trigger refuses changes); this one rewrite is the downgrade's
        op.execute("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
    op.execute("""
        UPDATE ledger_entries SET account_id = (
            SELECT z.id FROM ledger_accounts l JOIN ledger_accounts z ON z.kind = l.kind AND z.owner_id = l.owner_id
                AND z.currency = l.currency AND z.lane = 0
            WHERE l.id = ledger_entries.account_id)
        WHERE account_id IN (SELECT id FROM ledger_accounts WHERE lane <> 0)
    """)
    if postgres:
        op.execute("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only")
    op.execute("DELETE FROM ledger_accounts WHERE lane <> 0")
    with op.batch_alter_table('assignments') as batch:
        batch.drop_column('escrow_lane')
    with op.batch_alter_table('ledger_accounts') as batch:
        batch.drop_constraint('uq_ledger_accounts_kind_owner_currency_lane', type_='unique')
        batch.create_unique_constraint('uq_ledger_accounts_kind_owner_currency', ['kind', 'owner_id', 'currency'])
        batch.drop_column('lane')
