"""the truth model a project's last recompute chose (method, blend weights, calibration)

Revision ID: 7d3f2a9c4e10
Revises: 5b1e0c7d9a21
Create Date: 2026-12-03 12:00:00

Two nullable JSON columns: adding them rewrites no rows on PostgreSQL.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '7d3f2a9c4e10'
down_revision = '5b1e0c7d9a21'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('truth_model', JSON, nullable=True))
    with op.batch_alter_table('recompute_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model', JSON, nullable=True))


def downgrade():
    with op.batch_alter_table('recompute_runs', schema=None) as batch_op:
        batch_op.drop_column('model')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('truth_model')
