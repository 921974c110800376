"""firms postings referrals

Revision ID: 0006
Revises: 0005
Vetted firms (서울형 강소기업), their postings, referrals (취업알선), hidden postings and digest opt-ins.
Written from autogenerate output, reviewed.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('firms',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('brn', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('industry', sa.String(length=24), nullable=False),
    sa.Column('district', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=160), nullable=False),
    sa.Column('founded_year', sa.Integer(), nullable=True),
    sa.Column('employees', sa.Integer(), nullable=True),
    sa.Column('revenue', sa.BigInteger(), nullable=True),
    sa.Column('programme', sa.String(length=60), nullable=False),
    sa.Column('vetted_on', sa.Date(), nullable=True),
    sa.Column('vetting_expires', sa.Date(), nullable=True),
    sa.Column('benefits', sa.JSON(), nullable=False),
    sa.Column('website', sa.String(length=200), nullable=True),
    sa.Column('history', sa.Text(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firms')),
    sa.UniqueConstraint('brn', name=op.f('uq_firms_brn'))
    )
    op.create_table('job_digests',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('since', UTCDateTime(), nullable=False),
    sa.Column('last_sent_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_job_digests_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_job_digests'))
    )
    op.create_table('postings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ref', sa.String(length=40), nullable=False),
    sa.Column('firm_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('duties', sa.Text(), nullable=False),
    sa.Column('required_skills', sa.JSON(), nullable=False),
    sa.Column('preferred_skills', sa.JSON(), nullable=False),
    sa.Column('min_education', sa.String(length=16), nullable=False),
    sa.Column('exp_min', sa.Integer(), nullable=False),
    sa.Column('exp_max', sa.Integer(), nullable=True),
    sa.Column('employment_type', sa.String(length=16), nullable=False),
    sa.Column('salary_min', sa.Integer(), nullable=True),
    sa.Column('salary_max', sa.Integer(), nullable=True),
    sa.Column('district', sa.String(length=16), nullable=False),
    sa.Column('hours', sa.String(length=60), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_postings_firm_id_firms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postings')),
    sa.UniqueConstraint('ref', name=op.f('uq_postings_ref'))
    )
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index('ix_postings_firm', ['firm_id'], unique=False)
        batch_op.create_index('ix_postings_status_created', ['status', 'created_at'], unique=False)

    op.create_table('hidden_postings',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('posting_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['posting_id'], ['postings.id'], name=op.f('fk_hidden_postings_posting_id_postings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_hidden_postings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'posting_id', name=op.f('pk_hidden_postings'))
    )
    op.create_table('referrals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('posting_id', sa.Integer(), nullable=True),
    sa.Column('firm_id', sa.Integer(), nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('requested_at', UTCDateTime(), nullable=False),
    sa.Column('referred_at', UTCDateTime(), nullable=True),
    sa.Column('hired_at', UTCDateTime(), nullable=True),
    sa.Column('declined_at', UTCDateTime(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['counselor_id'], ['counselors.id'], name=op.f('fk_referrals_counselor_id_counselors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_referrals_firm_id_firms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['posting_id'], ['postings.id'], name=op.f('fk_referrals_posting_id_postings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_referrals_updated_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_referrals_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals')),
    sa.UniqueConstraint('user_id', 'posting_id', name=op.f('uq_referrals_user_id'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index('ix_referrals_counselor_status', ['counselor_id', 'status'], unique=False)
        batch_op.create_index('ix_referrals_firm_status', ['firm_id', 'status'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index('ix_referrals_firm_status')
        batch_op.drop_index('ix_referrals_counselor_status')

    op.drop_table('referrals')
    op.drop_table('hidden_postings')
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_index('ix_postings_status_created')
        batch_op.drop_index('ix_postings_firm')

    op.drop_table('postings')
    op.drop_table('job_digests')
    op.drop_table('firms')
