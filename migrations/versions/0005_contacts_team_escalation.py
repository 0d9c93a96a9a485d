"""contacts (the buying centre), account teams, escalation and root causes

Revision ID: 0005
Revises: 0004

An account gets any number of contacts, one of them primary; each invitation and
response records the contact it was for. Existing accounts' contact columns become
their primary contact (with the account's opt-out), and their invitations and
responses point at it. An invitation is now unique per (campaign, contact), since
several people of one account may be asked in one campaign. Accounts get a team;
staff a language; follow-ups an escalation and a root cause.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.Column('opted_out_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['key_accounts.id'], name=op.f('fk_contacts_account_id_key_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('account_id', 'email', name='uq_contacts_account_email')
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_account_id'), ['account_id'], unique=False)
        batch_op.create_index('uq_contacts_one_primary', ['account_id'], unique=True, sqlite_where=sa.text('is_primary'), postgresql_where=sa.text('is_primary'))

    op.create_table('account_team_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['key_accounts.id'], name=op.f('fk_account_team_members_account_id_key_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_team_members')),
    sa.UniqueConstraint('account_id', 'email', name='uq_account_team_account_email')
    )
    with op.batch_alter_table('account_team_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_team_members_account_id'), ['account_id'], unique=False)

    # Each account's contact columns become its primary contact.
    op.execute(
        "INSERT INTO contacts (account_id, name, role, email, phone, locale, is_primary,"
        " opted_out_at, created_at, updated_at)"
        " SELECT id, contact_name, 'other', contact_email, contact_phone, locale, "
        + ("true" if op.get_bind().dialect.name == "postgresql" else "1")
        + ", opted_out_at, created_at, updated_at FROM key_accounts"
        " WHERE contact_email IS NOT NULL OR contact_phone IS NOT NULL OR contact_name <> ''"
    )

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_id', sa.Integer(), nullable=True))
        batch_op.drop_constraint('uq_invitations_campaign_id_account_id', type_='unique')
        batch_op.create_unique_constraint('uq_invitations_campaign_contact', ['campaign_id', 'contact_id'])
        batch_op.create_index('ix_invitations_campaign_account', ['campaign_id', 'account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitations_contact_id'), ['contact_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_invitations_contact_id_contacts'), 'contacts', ['contact_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_responses_contact_id'), ['contact_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_responses_contact_id_contacts'), 'contacts', ['contact_id'], ['id'], ondelete='SET NULL')

    for table in ('invitations', 'responses'):
        op.execute(
            f"UPDATE {table} SET contact_id = (SELECT contacts.id FROM contacts"
            f" WHERE contacts.account_id = {table}.account_id AND contacts.is_primary)"
        )

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=8), server_default='zh', nullable=False))

    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('escalated_to', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('root_cause', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('root_cause_note', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_follow_ups_root_cause'), ['root_cause'], unique=False)


def downgrade():
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_ups_root_cause'))
        batch_op.drop_column('root_cause_note')
        batch_op.drop_column('root_cause')
        batch_op.drop_column('escalated_to')
        batch_op.drop_column('escalated_at')

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('locale')

    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_responses_contact_id_contacts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_responses_contact_id'))
        batch_op.drop_column('contact_id')

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_invitations_contact_id_contacts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_invitations_contact_id'))
        batch_op.drop_index('ix_invitations_campaign_account')
        batch_op.drop_constraint('uq_invitations_campaign_contact', type_='unique')
        batch_op.create_unique_constraint('uq_invitations_campaign_id_account_id', ['campaign_id', 'account_id'])
        batch_op.drop_column('contact_id')

    with op.batch_alter_table('account_team_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_team_members_account_id'))
    op.drop_table('account_team_members')

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('uq_contacts_one_primary', sqlite_where=sa.text('is_primary'), postgresql_where=sa.text('is_primary'))
        batch_op.drop_index(batch_op.f('ix_contacts_account_id'))
    op.drop_table('contacts')
