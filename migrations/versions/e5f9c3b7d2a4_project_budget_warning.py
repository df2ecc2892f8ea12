"""projects.budget_warned_at: when the forecast began to say the money runs out before the last answer

Revision ID: e5f9c3b7d2a4
Revises: d4e8b2a6c1f3
Create Date: 2026-12-04 02:30:00

A nullable column, nothing rewritten: the periodic budget check warns once per episode.
"""
from alembic import op
import sqlalchemy as sa

import marketplace.db

revision = 'e5f9c3b7d2a4'
down_revision = 'd4e8b2a6c1f3'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('projects', sa.Column('budget_warned_at', marketplace.db.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('projects', 'budget_warned_at')
