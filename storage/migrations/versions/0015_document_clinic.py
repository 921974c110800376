"""document clinic: clinic requests and their files, case notes, sessions held outside the bot, handoff transcripts

Revision ID: 0015
Revises: 0014

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime


# revision identifiers, used by Alembic.
revision: str = '0015'
down_revision: Union[str, Sequence[str], None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('clinic_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('checks', sa.JSON(), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('posting_id', sa.Integer(), nullable=True),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=True),
    sa.Column('comments', sa.JSON(), nullable=False),
    sa.Column('returned_file_id', sa.String(length=32), nullable=True),
    sa.Column('question', sa.Text(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('submitted_at', UTCDateTime(), nullable=True),
    sa.Column('due_at', UTCDateTime(), nullable=True),
    sa.Column('claimed_at', UTCDateTime(), nullable=True),
    sa.Column('done_at', UTCDateTime(), nullable=True),
    sa.Column('overdue_told_at', UTCDateTime(), nullable=True),
    sa.Column('purged_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_clinic_requests_user_id_users'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['posting_id'], ['postings.id'], name=op.f('fk_clinic_requests_posting_id_postings'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['counselor_id'], ['counselors.id'],
                            name=op.f('fk_clinic_requests_counselor_id_counselors'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_requests')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_clinic_requests_queue', 'clinic_requests', ['status', 'submitted_at'])
    op.create_index('ix_clinic_requests_user', 'clinic_requests', ['user_id'])
    op.create_table('clinic_files',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.String(length=32), nullable=True),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['clinic_requests.id'],
                            name=op.f('fk_clinic_files_request_id_clinic_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_files')),
    sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_clinic_files_request_id'), 'clinic_files', ['request_id'])
    op.create_table('case_notes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_notes_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['counselor_id'], ['counselors.id'], name=op.f('fk_case_notes_counselor_id_counselors'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_notes')),
    sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_case_notes_user_id'), 'case_notes', ['user_id'])
    op.create_table('outside_sessions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('service', sa.String(length=16), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('package_session', sa.Integer(), nullable=True),
    sa.Column('held_at', UTCDateTime(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['counselor_id'], ['counselors.id'],
                            name=op.f('fk_outside_sessions_counselor_id_counselors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_outside_sessions_user_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outside_sessions')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_outside_sessions_held', 'outside_sessions', ['held_at'])
    op.create_index(op.f('ix_outside_sessions_user_id'), 'outside_sessions', ['user_id'])
    op.create_table('handoff_messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('handoff_id', sa.Integer(), nullable=False),
    sa.Column('from_counselor', sa.Boolean(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], name=op.f('fk_handoff_messages_handoff_id_handoffs'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_messages')),
    sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_handoff_messages_handoff_id'), 'handoff_messages', ['handoff_id'])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('handoff_messages')
    op.drop_table('outside_sessions')
    op.drop_table('case_notes')
    op.drop_table('clinic_files')
    op.drop_table('clinic_requests')
