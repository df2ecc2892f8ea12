"""task_questions: annotators ask about a task, the requester answers for the whole crowd

Revision ID: f6a0d4c8e3b5
Revises: e5f9c3b7d2a4
Create Date: 2026-12-04 02:40:00

A new table, nothing rewritten.
"""
from alembic import op
import sqlalchemy as sa

import marketplace.db

revision = 'f6a0d4c8e3b5'
down_revision = 'e5f9c3b7d2a4'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'task_questions',
        sa.Column('project_id', BigId, nullable=False),
        sa.Column('task_id', BigId, nullable=False),
        sa.Column('assignment_id', BigId, nullable=False),
        sa.Column('asked_by', BigId, nullable=False),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('asked_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('answered_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('promoted_version', sa.Integer(), nullable=True),
        sa.Column('id', BigId, nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_task_questions_project_id_projects')),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_questions_task_id_tasks')),
        sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'],
                                name=op.f('fk_task_questions_assignment_id_assignments')),
        sa.ForeignKeyConstraint(['asked_by'], ['accounts.id'], name=op.f('fk_task_questions_asked_by_accounts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_questions')),
    )
    op.create_index('ix_task_questions_project_id', 'task_questions', ['project_id', 'id'], unique=False)
    op.create_index(op.f('ix_task_questions_asked_by'), 'task_questions', ['asked_by'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_task_questions_asked_by'), table_name='task_questions')
    op.drop_index('ix_task_questions_project_id', table_name='task_questions')
    op.drop_table('task_questions')
