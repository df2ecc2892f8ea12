"""results fillfactor 50: a recompute's rewrite of every result becomes heap-only updates

Revision ID: b8d4f2a6c0e1
Revises: e1b7c3d5f9a2
Create Date: 2026-12-05 00:45:00

A recompute rewrites each result of a project (label, confidence, posterior...: no indexed column).
On full pages each new version went to another page and took a new entry in every index of the
table; with half of each page left free it stays on its page as a heap-only tuple. The setting
applies to pages filled from now on: existing full pages stay as they are until the table is
rewritten (VACUUM FULL or pg_repack, at a quiet time), which this migration does not do, since it
would lock the table. PostgreSQL only: SQLite has no such setting.
"""
from alembic import op

revision = 'b8d4f2a6c0e1'
down_revision = 'e1b7c3d5f9a2'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE results SET (fillfactor = 50)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE results RESET (fillfactor)")
