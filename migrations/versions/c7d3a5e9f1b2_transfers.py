"""transfers: import and export jobs with progress, and the chunks of their files

Revision ID: c7d3a5e9f1b2
Revises: b9e4f1a2c3d5
Create Date: 2026-12-03 21:30:00

Two new tables, nothing rewritten. On PostgreSQL the chunks' bytes are stored EXTERNAL (out of
line, uncompressed): a Range download's substring() then reads only the TOAST slices it needs, and
writing a chunk spends no CPU on compressing data that is mostly JSON already read once.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import marketplace.db

revision = 'c7d3a5e9f1b2'
down_revision = 'b9e4f1a2c3d5'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    op.create_table(
        'transfers',
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('project_id', BigId, nullable=False),
        sa.Column('account_id', BigId, nullable=False),
        sa.Column('format', sa.String(length=16), nullable=False),
        sa.Column('options', Json, nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('source', sa.String(length=8), nullable=True),
        sa.Column('source_url', sa.String(length=2048), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=True),
        sa.Column('media_type', sa.String(length=64), nullable=True),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('rows_done', sa.BigInteger(), nullable=False),
        sa.Column('rows_total', sa.BigInteger(), nullable=True),
        sa.Column('bytes_done', sa.BigInteger(), nullable=False),
        sa.Column('bytes_total', sa.BigInteger(), nullable=True),
        sa.Column('lines_done', sa.BigInteger(), nullable=False),
        sa.Column('created_count', sa.BigInteger(), nullable=False),
        sa.Column('duplicate_count', sa.BigInteger(), nullable=False),
        sa.Column('duplicates_sample', Json, nullable=True),
        sa.Column('csv_header', Json, nullable=True),
        sa.Column('run_base', sa.BigInteger(), nullable=False),
        sa.Column('run_started_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('etag', sa.String(length=80), nullable=True),
        sa.Column('error_code', sa.String(length=64), nullable=True),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('error_detail', Json, nullable=True),
        sa.Column('started_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('expires_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('purged_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('id', BigId, nullable=False),
        sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_transfers_project_kind', 'transfers', ['project_id', 'kind', 'id'], unique=False)
    op.create_index('ix_transfers_unfinished', 'transfers', ['status', 'heartbeat_at'], unique=False,
                    postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.create_table(
        'transfer_chunks',
        sa.Column('transfer_id', BigId, nullable=False),
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('start_offset', sa.BigInteger(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('transfer_id', 'seq'),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE transfer_chunks ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade():
    op.drop_table('transfer_chunks')
    op.drop_index('ix_transfers_unfinished', table_name='transfers', postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.drop_index('ix_transfers_project_kind', table_name='transfers')
    op.drop_table('transfers')
