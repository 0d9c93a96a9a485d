"""indicators, account metrics, value and health score models with versions, scores, snapshots

Revision ID: 0008
Revises: 0007

The shipped indicators and score models are not seeded here: they live once, in
survey.scoring.defaults, and `ensure_score_models` adds what is missing on first use.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

def upgrade():
    op.create_table('indicators',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label_zh', sa.String(length=120), nullable=False),
    sa.Column('label_en', sa.String(length=120), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('higher_is_better', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('account_metrics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('indicator', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['key_accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['indicator'], ['indicators.code']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'period', 'indicator', name='uq_account_metrics')
    )
    op.create_index('ix_account_metrics_account_id', 'account_metrics', ['account_id'])
    op.create_index('ix_account_metrics_period_end', 'account_metrics', ['period_end'])
    op.create_index(
        'ix_account_metrics_indicator_period', 'account_metrics', ['indicator', 'period']
    )
    op.create_table('score_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('label_zh', sa.String(length=120), nullable=False),
    sa.Column('label_en', sa.String(length=120), nullable=False),
    sa.Column('tiering', sa.Boolean(), nullable=False),
    sa.Column('current_version_id', sa.Integer(), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=True),
    sa.Column('inputs_version', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index('ix_score_models_kind', 'score_models', ['kind'])
    op.create_table('score_model_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('band_limits', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['score_models.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('model_id', 'version', name='uq_score_model_versions')
    )
    with op.batch_alter_table('score_models') as batch:
        batch.create_foreign_key(
            'fk_score_models_version', 'score_model_versions', ['current_version_id'], ['id'],
            ondelete='SET NULL',
        )
    op.create_table('score_model_weights',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('measure', sa.String(length=40), nullable=False),
    sa.Column('perspective', sa.String(length=16), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['score_model_versions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('version_id', 'measure')
    )
    op.create_table('account_scores',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('band', sa.String(length=16), nullable=True),
    sa.Column('flags', sa.String(length=200), nullable=False),
    sa.Column('parts', sa.Text(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['key_accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['score_models.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['score_model_versions.id']),
    sa.PrimaryKeyConstraint('account_id', 'model_id')
    )
    op.create_index('ix_account_scores_band', 'account_scores', ['band'])
    op.create_table('health_snapshots',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('band', sa.String(length=16), nullable=True),
    sa.Column('parts', sa.Text(), nullable=False),
    sa.Column('taken_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['key_accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['score_model_versions.id']),
    sa.PrimaryKeyConstraint('account_id', 'day')
    )
    op.create_index('ix_health_snapshots_day', 'health_snapshots', ['day'])


def downgrade():
    with op.batch_alter_table('score_models') as batch:
        batch.drop_constraint('fk_score_models_version', type_='foreignkey')
    op.drop_index('ix_health_snapshots_day', table_name='health_snapshots')
    op.drop_table('health_snapshots')
    op.drop_index('ix_account_scores_band', table_name='account_scores')
    op.drop_table('account_scores')
    op.drop_table('score_model_weights')
    op.drop_table('score_model_versions')
    op.drop_index('ix_score_models_kind', table_name='score_models')
    op.drop_table('score_models')
    op.drop_index('ix_account_metrics_indicator_period', table_name='account_metrics')
    op.drop_index('ix_account_metrics_period_end', table_name='account_metrics')
    op.drop_index('ix_account_metrics_account_id', table_name='account_metrics')
    op.drop_table('account_metrics')
    op.drop_table('indicators')
