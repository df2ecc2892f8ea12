"""tasks: one (project_id, status, id) index serves the lease scan and the gold lookup

Revision ID: d4e8b2a6c1f3
Revises: c7d3a5e9f1b2
Create Date: 2026-12-04 01:40:00

ix_tasks_leasable (project_id, id WHERE status = 'open') and ix_tasks_gold (project_id, id WHERE
status = 'gold') answered the same questions as ix_tasks_project_status_id: equality on project and
status, then id order. Every inserted task paid for three of them; a 1M-task import job ran 16-20%
faster without the two partial ones (benchmarks/transfers.py). Nothing is rewritten.
"""
from alembic import op
import sqlalchemy as sa

revision = 'd4e8b2a6c1f3'
down_revision = 'c7d3a5e9f1b2'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_tasks_leasable', table_name='tasks')
    op.drop_index('ix_tasks_gold', table_name='tasks')


def downgrade():
    for name, status in (('ix_tasks_leasable', 'open'), ('ix_tasks_gold', 'gold')):
        op.create_index(name, 'tasks', ['project_id', 'id'], unique=False,
                        postgresql_where=sa.text(f"status = '{status}'"), sqlite_where=sa.text(f"status = '{status}'"))
