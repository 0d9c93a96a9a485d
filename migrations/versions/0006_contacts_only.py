"""contacts are the one place a contact lives; campaigns record whom they invite

Revision ID: 0006
Revises: 0005

The account-level contact columns (contact_name, contact_email, contact_phone and
the account's opt-out) go: 0005 copied them into each account's primary contact.
What changed in them since 0005 (an import, an opt-out) is carried over first. A
campaign records whether it invited each sampled account's primary contact or all
its contacts, and which roles. The downgrade writes the primary contact back into
the account's columns.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _true() -> str:
    return "true" if op.get_bind().dialect.name == "postgresql" else "1"


def upgrade():
    true = _true()
    # Bring each primary contact up to date with its account's columns (written by
    # code older than this revision since 0005 ran), then give a primary contact to
    # accounts that gained contact details since.
    op.execute(
        "UPDATE contacts SET"
        " name = (SELECT a.contact_name FROM key_accounts a WHERE a.id = contacts.account_id),"
        " email = (SELECT a.contact_email FROM key_accounts a WHERE a.id = contacts.account_id),"
        " phone = (SELECT a.contact_phone FROM key_accounts a WHERE a.id = contacts.account_id),"
        " opted_out_at = COALESCE(opted_out_at, (SELECT a.opted_out_at FROM key_accounts a"
        "  WHERE a.id = contacts.account_id))"
        " WHERE is_primary"
    )
    op.execute(
        "INSERT INTO contacts (account_id, name, role, email, phone, locale, is_primary,"
        " opted_out_at, created_at, updated_at)"
        f" SELECT id, contact_name, 'other', contact_email, contact_phone, locale, {true},"
        " opted_out_at, created_at, updated_at FROM key_accounts"
        " WHERE (contact_email IS NOT NULL OR contact_phone IS NOT NULL OR contact_name <> '')"
        " AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.account_id = key_accounts.id)"
    )
    with op.batch_alter_table('key_accounts', schema=None) as batch_op:
        batch_op.drop_column('opted_out_at')
        batch_op.drop_column('contact_phone')
        batch_op.drop_column('contact_email')
        batch_op.drop_column('contact_name')

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contacts', sa.String(length=16), server_default='primary', nullable=False))
        batch_op.add_column(sa.Column('contact_roles', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('contact_roles')
        batch_op.drop_column('contacts')

    with op.batch_alter_table('key_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_name', sa.String(length=120), server_default='', nullable=False))
        batch_op.add_column(sa.Column('contact_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('contact_phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('opted_out_at', sa.DateTime(), nullable=True))

    primary = "FROM contacts c WHERE c.account_id = key_accounts.id AND c.is_primary"
    op.execute(
        "UPDATE key_accounts SET"
        f" contact_name = COALESCE((SELECT c.name {primary}), ''),"
        f" contact_email = (SELECT c.email {primary}),"
        f" contact_phone = (SELECT c.phone {primary}),"
        f" opted_out_at = (SELECT c.opted_out_at {primary})"
    )
    # 0001 made contact_name NOT NULL without a server default; keep it that way.
    with op.batch_alter_table('key_accounts', schema=None) as batch_op:
        batch_op.alter_column('contact_name', server_default=None)
