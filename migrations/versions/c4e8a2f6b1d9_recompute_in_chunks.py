"""a large recompute merges its results in chunks, one job each: the runs' chunk progress and the stage

Revision ID: c4e8a2f6b1d9
Revises: b8c2f6e0a5d7
Create Date: 2026-12-04 12:40:00

A recompute of tens of millions of answers wrote every result in the job that fitted the model:
one transaction, one job, past the job timeout at 100M answers. The fitting job now stages the
posteriors (recompute_stage) and each chunk is merged by a job of its own, several side by side
(recompute_chunks: claimed with SKIP LOCKED, marked merged); the run records how many chunks there
are, how many are done and when the last one was. The stage is UNLOGGED on PostgreSQL
(written once, read once, deleted): a crash empties it, which the merging job notices (a run whose
chunks vanished fails and queues a new one).
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 'c4e8a2f6b1d9'
down_revision = 'b8c2f6e0a5d7'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('recompute_runs') as batch:
        batch.add_column(sa.Column('chunks_total', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('chunks_done', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
    unlogged = ['UNLOGGED'] if op.get_bind().dialect.name == 'postgresql' else []
    op.create_table(
        'recompute_stage',
        sa.Column('project_id', BigId, nullable=False),
        sa.Column('chunk', sa.Integer(), nullable=False),
        sa.Column('task_id', BigId, nullable=False),
        sa.Column('best', sa.SmallInteger(), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('answer_count', sa.Integer(), nullable=False),
        sa.Column('tie', sa.Boolean(), nullable=False),
        sa.Column('posterior', postgresql.ARRAY(sa.Float()).with_variant(sa.JSON(), 'sqlite'), nullable=False),
        sa.PrimaryKeyConstraint('project_id', 'chunk', 'task_id', name=op.f('pk_recompute_stage')),
        prefixes=unlogged,
    )
    op.create_table(
        'recompute_chunks',
        sa.Column('project_id', BigId, nullable=False),
        sa.Column('chunk', sa.Integer(), nullable=False),
        sa.Column('merged', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint('project_id', 'chunk', name=op.f('pk_recompute_chunks')),
    )


def downgrade():
    op.drop_table('recompute_chunks')
    op.drop_table('recompute_stage')
    with op.batch_alter_table('recompute_runs') as batch:
        batch.drop_column('heartbeat_at')
        batch.drop_column('chunks_done')
        batch.drop_column('chunks_total')
