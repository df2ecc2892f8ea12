"""teams and experiments: private and vendor teams, invites, project workforces, A/B arms

Revision ID: a7b1e5d9f4c6
Revises: f6a0d4c8e3b5
Create Date: 2026-12-04 05:20:00

New tables; new nullable columns (NULL keeps every existing lease on the project's own terms), and
projects.workforce defaults to {} (the crowd alone, as before). Nothing rewritten.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import marketplace.db

revision = 'a7b1e5d9f4c6'
down_revision = 'f6a0d4c8e3b5'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
When = marketplace.db.UTCDateTime(timezone=True)


def upgrade():
    op.create_table(
        'teams',
        sa.Column('owner_id', BigId, nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('created_at', When, nullable=False),
        sa.Column('id', BigId, nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['accounts.id'], name=op.f('fk_teams_owner_id_accounts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    )
    op.create_index(op.f('ix_teams_owner_id'), 'teams', ['owner_id'], unique=False)
    op.create_table(
        'team_invites',
        sa.Column('team_id', BigId, nullable=False),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', When, nullable=False),
        sa.Column('expires_at', When, nullable=False),
        sa.Column('used_at', When, nullable=True),
        sa.Column('revoked_at', When, nullable=True),
        sa.Column('id', BigId, nullable=False),
        sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_invites_team_id_teams')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_team_invites')),
        sa.UniqueConstraint('token_hash', name='uq_team_invites_token_hash'),
    )
    op.create_index(op.f('ix_team_invites_team_id'), 'team_invites', ['team_id'], unique=False)
    op.create_table(
        'team_members',
        sa.Column('team_id', BigId, nullable=False),
        sa.Column('account_id', BigId, nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('invite_id', BigId, nullable=True),
        sa.Column('joined_at', When, nullable=False),
        sa.Column('left_at', When, nullable=True),
        sa.Column('id', BigId, nullable=False),
        sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_members_team_id_teams')),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_team_members_account_id_accounts')),
        sa.ForeignKeyConstraint(['invite_id'], ['team_invites.id'], name=op.f('fk_team_members_invite_id_team_invites')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_team_members')),
    )
    op.create_index('ix_team_members_account', 'team_members', ['account_id', 'team_id'], unique=False)
    op.create_index('uq_team_members_current', 'team_members', ['team_id', 'account_id'], unique=True,
                    postgresql_where=sa.text('left_at IS NULL'), sqlite_where=sa.text('left_at IS NULL'))
    op.create_table(
        'experiments',
        sa.Column('project_id', BigId, nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('unit', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('started_at', When, nullable=False),
        sa.Column('stopped_at', When, nullable=True),
        sa.Column('id', BigId, nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_experiments_project_id_projects')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_experiments')),
    )
    op.create_index(op.f('ix_experiments_project_id'), 'experiments', ['project_id'], unique=False)
    op.create_table(
        'experiment_arms',
        sa.Column('experiment_id', BigId, nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('weight', sa.Float(), nullable=False),
        sa.Column('guideline_version', sa.Integer(), nullable=True),
        sa.Column('reward_cents', sa.Integer(), nullable=True),
        sa.Column('qualification_id', BigId, nullable=True),
        sa.Column('answers_per_task', sa.Integer(), nullable=True),
        sa.Column('id', BigId, nullable=False),
        sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'],
                                name=op.f('fk_experiment_arms_experiment_id_experiments')),
        sa.ForeignKeyConstraint(['qualification_id'], ['qualifications.id'],
                                name=op.f('fk_experiment_arms_qualification_id_qualifications')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_experiment_arms')),
    )
    op.create_index(op.f('ix_experiment_arms_experiment_id'), 'experiment_arms', ['experiment_id'], unique=False)
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('workforce', Json, server_default=sa.text("'{}'"), nullable=False))
        batch_op.add_column(sa.Column('experiment', Json, nullable=True))
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('arm_id', BigId, nullable=True))
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reward_cents', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('team_id', BigId, nullable=True))
        batch_op.add_column(sa.Column('arm_id', BigId, nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_assignments_team_id_teams'), 'teams', ['team_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_assignments_arm_id_experiment_arms'), 'experiment_arms',
                                    ['arm_id'], ['id'])


def downgrade():
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_assignments_arm_id_experiment_arms'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_assignments_team_id_teams'), type_='foreignkey')
        batch_op.drop_column('arm_id')
        batch_op.drop_column('team_id')
        batch_op.drop_column('reward_cents')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('arm_id')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('experiment')
        batch_op.drop_column('workforce')
    op.drop_index(op.f('ix_experiment_arms_experiment_id'), table_name='experiment_arms')
    op.drop_table('experiment_arms')
    op.drop_index(op.f('ix_experiments_project_id'), table_name='experiments')
    op.drop_table('experiments')
    op.drop_index('uq_team_members_current', table_name='team_members')
    op.drop_index('ix_team_members_account', table_name='team_members')
    op.drop_table('team_members')
    op.drop_index(op.f('ix_team_invites_team_id'), table_name='team_invites')
    op.drop_table('team_invites')
    op.drop_index(op.f('ix_teams_owner_id'), table_name='teams')
    op.drop_table('teams')
