"""data version: one row whose token changes with every write the figures read

Revision ID: 0004
Revises: 0003

Cached summaries, drill-downs and defection reasons are keyed by this token
(survey/data_version.py, survey/analysis/cache.py). The row starts with a random
token, so caches of two databases never share an entry.
"""
import secrets
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table('data_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_version'))
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(table, [{'id': 1, 'token': secrets.token_hex(16), 'changed_at': now}])


def downgrade():
    op.drop_table('data_version')
