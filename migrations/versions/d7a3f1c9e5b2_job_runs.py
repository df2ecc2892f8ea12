"""job_runs: when each periodic job last started, finished and failed (for /health and /admin/jobs)

Revision ID: d7a3f1c9e5b2
Revises: c4e8a2f6b1d9
Create Date: 2026-12-04 13:00:00

The job wrapper records every run of a scheduled job; /health reports the scheduler as not seen
when none started lately, and a job as overdue when its last finish is past its schedule.
"""
from alembic import op
import sqlalchemy as sa

revision = 'd7a3f1c9e5b2'
down_revision = 'c4e8a2f6b1d9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'job_runs',
        sa.Column('path', sa.String(length=200), nullable=False),
        sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('runs', sa.Integer(), server_default='0', nullable=False),
        sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('path', name=op.f('pk_job_runs')),
    )


def downgrade():
    op.drop_table('job_runs')
