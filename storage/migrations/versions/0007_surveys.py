"""surveys

Revision ID: 0007
Revises: 0006
Survey invitations (one per person per trigger) and their answers, plus the indexes
the /stats queries read (sessions and registrations by time).

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('survey_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('survey', sa.String(length=24), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=40), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('counselor_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('asking', sa.String(length=32), nullable=True),
    sa.Column('draft', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('due_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_survey_requests_booking_id_bookings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['counselor_id'], ['counselors.id'], name=op.f('fk_survey_requests_counselor_id_counselors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_survey_requests_event_id_events'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_survey_requests_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_requests')),
    sa.UniqueConstraint('user_id', 'subject', name=op.f('uq_survey_requests_user_id'))
    )
    with op.batch_alter_table('survey_requests', schema=None) as batch_op:
        batch_op.create_index('ix_survey_requests_booking', ['booking_id'], unique=False)
        batch_op.create_index('ix_survey_requests_counselor', ['counselor_id'], unique=False)
        batch_op.create_index('ix_survey_requests_event', ['event_id'], unique=False)
        batch_op.create_index('ix_survey_requests_status_expires', ['status', 'expires_at'], unique=False)

    op.create_table('survey_answers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('survey', sa.String(length=24), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value_int', sa.Integer(), nullable=True),
    sa.Column('value_text', sa.Text(), nullable=True),
    sa.Column('answered_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['survey_requests.id'], name=op.f('fk_survey_answers_request_id_survey_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_answers')),
    sa.UniqueConstraint('request_id', 'question', name=op.f('uq_survey_answers_request_id'))
    )
    with op.batch_alter_table('survey_answers', schema=None) as batch_op:
        batch_op.create_index('ix_survey_answers_time', ['answered_at', 'survey', 'question', 'value_int'], unique=False)
        batch_op.create_index('ix_survey_answers_question', ['survey', 'question', 'value_int', 'answered_at'], unique=False)

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.create_index('ix_bookings_type_place_status_start', ['type', 'place_id', 'status', 'starts_at'], unique=False)

    with op.batch_alter_table('seeker_profiles', schema=None) as batch_op:
        batch_op.create_index('ix_seeker_profiles_registered', ['registered_at', 'track'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('seeker_profiles', schema=None) as batch_op:
        batch_op.drop_index('ix_seeker_profiles_registered')

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_bookings_type_place_status_start')

    with op.batch_alter_table('survey_answers', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_answers_question')
        batch_op.drop_index('ix_survey_answers_time')

    op.drop_table('survey_answers')
    with op.batch_alter_table('survey_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_requests_status_expires')
        batch_op.drop_index('ix_survey_requests_event')
        batch_op.drop_index('ix_survey_requests_counselor')
        batch_op.drop_index('ix_survey_requests_booking')

    op.drop_table('survey_requests')
