"""answers by project and time, for the answer-count recompute trigger

Revision ID: 5b1e0c7d9a21
Revises: fc3d801f57cf
Create Date: 2026-11-29 15:25:00

Built CONCURRENTLY on PostgreSQL: the assignments table is the largest and busiest, and a plain
CREATE INDEX would block every submit until it finished.
"""
from alembic import op
import sqlalchemy as sa


revision = '5b1e0c7d9a21'
down_revision = 'fc3d801f57cf'
branch_labels = None
depends_on = None

WHERE = sa.text("status = 'submitted'")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index('ix_assignments_project_submitted', 'assignments', ['project_id', 'submitted_at'],
                            unique=False, postgresql_where=WHERE, postgresql_concurrently=True, if_not_exists=True)
    else:
        op.create_index('ix_assignments_project_submitted', 'assignments', ['project_id', 'submitted_at'],
                        unique=False, sqlite_where=WHERE)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index('ix_assignments_project_submitted', table_name='assignments',
                          postgresql_concurrently=True, if_exists=True)
    else:
        op.drop_index('ix_assignments_project_submitted', table_name='assignments')
