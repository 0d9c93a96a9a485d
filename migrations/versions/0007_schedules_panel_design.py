"""schedules, the panel design of a campaign, and each invitation's inclusion probability

Revision ID: 0007
Revises: 0006

A schedule launches one campaign per cycle (unique per schedule and cycle). A
campaign records its census tiers, coverage goal and whether accounts with an open
case stayed in its frame (earlier campaigns kept them). Each invitation records its
account's inclusion probability π and how the account came in. Earlier invitations
were all drawn at random: π is back-filled as the stratum's sample size over its
frame (a simple sample's over the whole frame).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('every', sa.String(length=16), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('fraction', sa.Float(), nullable=True),
    sa.Column('stratify_by', sa.String(length=32), nullable=True),
    sa.Column('census_tiers', sa.String(length=40), nullable=True),
    sa.Column('cover_within_days', sa.Integer(), nullable=False),
    sa.Column('include_open_cases', sa.Boolean(), nullable=False),
    sa.Column('contacts', sa.String(length=16), nullable=False),
    sa.Column('contact_roles', sa.String(length=200), nullable=True),
    sa.Column('closes_after_days', sa.Integer(), nullable=False),
    sa.Column('exclude_days', sa.Integer(), nullable=False),
    sa.Column('paused_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedules')),
    sa.UniqueConstraint('name', name=op.f('uq_schedules_name'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('census_tiers', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('cover_within_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('include_open_cases', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('schedule_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cycle', sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_campaigns_schedule_id'), ['schedule_id'], unique=False)
        batch_op.create_unique_constraint('uq_campaigns_schedule_cycle', ['schedule_id', 'cycle'])
        batch_op.create_foreign_key(batch_op.f('fk_campaigns_schedule_id_schedules'), 'schedules', ['schedule_id'], ['id'])

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inclusion_probability', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('selection', sa.String(length=16), nullable=True))

    # Earlier samples were random: pi = n_h / N_h of the invitation's stratum, or
    # n / N of a simple sample (its one allocation row, or the campaign's sizes).
    op.execute(
        "UPDATE invitations SET selection = 'random', inclusion_probability = COALESCE("
        " (SELECT CAST(s.size AS FLOAT) / s.frame FROM campaign_strata s"
        "   WHERE s.campaign_id = invitations.campaign_id AND s.key = invitations.stratum"
        "   AND s.frame > 0),"
        " (SELECT CAST(c.sample_size AS FLOAT) / c.frame_size FROM campaigns c"
        "   WHERE c.id = invitations.campaign_id AND c.frame_size > 0))"
    )


def downgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_column('selection')
        batch_op.drop_column('inclusion_probability')

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_campaigns_schedule_id_schedules'), type_='foreignkey')
        batch_op.drop_constraint('uq_campaigns_schedule_cycle', type_='unique')
        batch_op.drop_index(batch_op.f('ix_campaigns_schedule_id'))
        batch_op.drop_column('cycle')
        batch_op.drop_column('schedule_id')
        batch_op.drop_column('include_open_cases')
        batch_op.drop_column('cover_within_days')
        batch_op.drop_column('census_tiers')

    op.drop_table('schedules')
