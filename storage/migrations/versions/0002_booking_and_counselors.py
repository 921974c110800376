"""booking and counselors

Revision ID: 0002
Revises: 0001
Written from autogenerate output, reviewed.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('places',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('address', sa.String(length=120), nullable=True),
    sa.Column('video_link', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_places')),
    sa.UniqueConstraint('kind', 'name', name=op.f('uq_places_kind'))
    )
    op.create_table('counselors',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('display_name', sa.String(length=40), nullable=False),
    sa.Column('types', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('deactivated_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_counselors_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counselors')),
    sa.UniqueConstraint('user_id', name=op.f('uq_counselors_user_id'))
    )
    op.create_table('invites',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('token', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('used_at', UTCDateTime(), nullable=True),
    sa.Column('used_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_invites_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['used_by'], ['users.id'], name=op.f('fk_invites_used_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invites')),
    sa.UniqueConstraint('token', name=op.f('uq_invites_token'))
    )
    op.create_table('availability',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=False),
    sa.Column('end_minute', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['counselor_id'], ['counselors.id'], name=op.f('fk_availability_counselor_id_counselors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_availability_place_id_places'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_availability'))
    )
    with op.batch_alter_table('availability', schema=None) as batch_op:
        batch_op.create_index('ix_availability_counselor_weekday', ['counselor_id', 'weekday'], unique=False)

    op.create_table('bookings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=24), nullable=False),
    sa.Column('starts_at', UTCDateTime(), nullable=False),
    sa.Column('ends_at', UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('cancelled_at', UTCDateTime(), nullable=True),
    sa.Column('cancel_reason', sa.String(length=32), nullable=True),
    sa.Column('rescheduled_from', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['counselor_id'], ['counselors.id'], name=op.f('fk_bookings_counselor_id_counselors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_bookings_place_id_places'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rescheduled_from'], ['bookings.id'], name=op.f('fk_bookings_rescheduled_from_bookings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_bookings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings'))
    )
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.create_index('ix_bookings_counselor_start', ['counselor_id', 'starts_at'], unique=False)
        batch_op.create_index('ix_bookings_user_status_start', ['user_id', 'status', 'starts_at'], unique=False)

    op.create_table('handoffs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('accepted_at', UTCDateTime(), nullable=True),
    sa.Column('closed_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['counselor_id'], ['counselors.id'], name=op.f('fk_handoffs_counselor_id_counselors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_handoffs_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoffs'))
    )
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index('ix_handoffs_status', ['status'], unique=False)

    op.create_table('time_off',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['counselor_id'], ['counselors.id'], name=op.f('fk_time_off_counselor_id_counselors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_time_off')),
    sa.UniqueConstraint('counselor_id', 'day', name=op.f('uq_time_off_counselor_id'))
    )
    op.create_table('booking_cells',
    sa.Column('counselor_id', sa.Integer(), nullable=False),
    sa.Column('cell_start', UTCDateTime(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_booking_cells_booking_id_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['counselor_id'], ['counselors.id'], name=op.f('fk_booking_cells_counselor_id_counselors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('counselor_id', 'cell_start', name=op.f('pk_booking_cells'))
    )
    with op.batch_alter_table('booking_cells', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_cells_booking_id'), ['booking_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('booking_cells', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_cells_booking_id'))

    op.drop_table('booking_cells')
    op.drop_table('time_off')
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index('ix_handoffs_status')

    op.drop_table('handoffs')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_bookings_user_status_start')
        batch_op.drop_index('ix_bookings_counselor_start')

    op.drop_table('bookings')
    with op.batch_alter_table('availability', schema=None) as batch_op:
        batch_op.drop_index('ix_availability_counselor_weekday')

    op.drop_table('availability')
    op.drop_table('invites')
    op.drop_table('counselors')
    op.drop_table('places')
