"""the recompute stage says which staged tasks to reopen: judged by the submit path's rule in the fitting job

Revision ID: d7a3e9b1c5f2
Revises: b8d4f2a6c0e1
Create Date: 2026-12-05 11:40:00

A merge used to reopen a written task whose stored (blended) confidence was under the target's bar,
while the submit path had closed it on its one-task posterior: two judgements of one task, and
tasks closed by one were reopened by the other (on Dog, 58-131% of the tasks were reopened). The
fitting job now judges every done task by the submit path's rule with the new model and stages
the verdict with the result. Adding a column with a constant default rewrites nothing on
PostgreSQL 11+ (the stage is emptied after every run anyway).
"""
from alembic import op
import sqlalchemy as sa

revision = 'd7a3e9b1c5f2'
down_revision = 'b8d4f2a6c0e1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('recompute_stage') as batch:
        batch.add_column(sa.Column('reopen', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('recompute_stage') as batch:
        batch.drop_column('reopen')
