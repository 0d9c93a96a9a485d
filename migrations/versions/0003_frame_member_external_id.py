"""record each frame member's external id at launch

Revision ID: 0003
Revises: 0002

`flask campaign verify` re-draws a sample sorted by external id. Reading the ids
from key_accounts made a rename after launch break verification, so the frame
records them. Existing rows are back-filled from key_accounts (every frame member
references an account: the foreign key has no ON DELETE), then the column becomes
NOT NULL.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('campaign_frame_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=64), nullable=True))

    op.execute(
        "UPDATE campaign_frame_members SET external_id = ("
        "SELECT key_accounts.external_id FROM key_accounts "
        "WHERE key_accounts.id = campaign_frame_members.account_id)"
    )

    with op.batch_alter_table('campaign_frame_members', schema=None) as batch_op:
        batch_op.alter_column('external_id', existing_type=sa.String(length=64), nullable=False)


def downgrade():
    with op.batch_alter_table('campaign_frame_members', schema=None) as batch_op:
        batch_op.drop_column('external_id')
