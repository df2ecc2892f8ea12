"""project progress in a row of its own: closing answers count there, not on the project row; rejections by annotator

Revision ID: b8c2f6e0a5d7
Revises: a7b1e5d9f4c6
Create Date: 2026-12-04 09:20:00

Every closing answer adds one to its project's done tasks. On projects.closed_task_count that
increment waited behind whoever held the project row (a recompute records its fit there early in
a long transaction); project_progress holds the counter alone. The figures move across as they are.

A closing answer may read the reputation of its task's annotators, which counts their final
rejections: ix_assignments_rejected finds those without walking each annotator's whole history.
"""
from alembic import op
import sqlalchemy as sa

revision = 'b8c2f6e0a5d7'
down_revision = 'a7b1e5d9f4c6'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'project_progress',
        sa.Column('project_id', BigId, nullable=False),
        sa.Column('done_tasks', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_progress_project_id_projects')),
        sa.PrimaryKeyConstraint('project_id', name=op.f('pk_project_progress')),
    )
    op.execute("INSERT INTO project_progress (project_id, done_tasks) SELECT id, closed_task_count FROM projects")
    with op.batch_alter_table('projects') as batch:
        batch.drop_column('closed_task_count')
    op.create_index('ix_assignments_rejected', 'assignments', ['annotator_id'], unique=False,
                    postgresql_where=sa.text("status = 'rejected'"), sqlite_where=sa.text("status = 'rejected'"))


def downgrade():
    op.drop_index('ix_assignments_rejected', table_name='assignments',
                  postgresql_where=sa.text("status = 'rejected'"), sqlite_where=sa.text("status = 'rejected'"))
    with op.batch_alter_table('projects') as batch:
        batch.add_column(sa.Column('closed_task_count', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE projects SET closed_task_count = coalesce("
               "(SELECT done_tasks FROM project_progress WHERE project_id = projects.id), 0)")
    op.drop_table('project_progress')
