"""questionnaire version: a second data_version row, whose token changes with what a
questionnaire asks

Revision ID: 0010
Revises: 0009

The survey link's read returns this token, and each process keeps a questionnaire's
questions under it (survey/data_version.py, survey/answers/survey_link.py). The row
starts with a random token, so two databases never share kept questions.
"""
import secrets
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

QUESTIONNAIRE_ROW_ID = 2


def upgrade():
    table = sa.table(
        'data_version',
        sa.column('id', sa.Integer()),
        sa.column('token', sa.String(length=32)),
        sa.column('changed_at', sa.DateTime()),
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(
        table, [{'id': QUESTIONNAIRE_ROW_ID, 'token': secrets.token_hex(16), 'changed_at': now}]
    )


def downgrade():
    op.execute(f'DELETE FROM data_version WHERE id = {QUESTIONNAIRE_ROW_ID}')
