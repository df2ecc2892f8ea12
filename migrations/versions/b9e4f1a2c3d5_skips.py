"""skips: an annotator gives a lease back as skipped (with a reason), counted on the task

Revision ID: b9e4f1a2c3d5
Revises: a4c2e9d1b7f3
Create Date: 2026-12-03 18:05:00

A nullable text column and an integer with a constant default: on PostgreSQL 11+ neither rewrites
the (large) tables.
"""
from alembic import op
import sqlalchemy as sa


revision = 'b9e4f1a2c3d5'
down_revision = 'a4c2e9d1b7f3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skip_reason', sa.Text(), nullable=True))
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skip_count', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('skip_count')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_column('skip_reason')
