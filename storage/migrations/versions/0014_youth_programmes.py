"""youth programmes: students' degree in progress and graduation, the campus branch a school links to

Revision ID: 0014
Revises: 0012
A student (재학·휴학) is matched at the degree in progress when graduating soon enough, so the
profile keeps the degree and the expected graduation month ("YYYY-MM"). The typed school name
resolved to a campus branch or partner 특성화고 (storage/data/campuses.json) is kept as its code:
booking offers that branch first and the branch's counselors see its students.

courses are the 기술교육원 courses, imported by their reference (`python -m bot courses import`);
course_applications one person's application to one course, decided by an admin.
mentors, mentoring_requests and mentor_pairs are the 청년취업멘토단: mentors' applications and
cohorts, young seekers' requests, and the pairs the matcher proposed. coaching_sessions marks
the bookings that are steps of a 특성화고 student's three-session coaching package.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime


# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('seeker_profiles') as batch:
        batch.add_column(sa.Column('degree', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('graduation', sa.String(length=7), nullable=True))
        batch.add_column(sa.Column('school_code', sa.String(length=24), nullable=True))
    op.create_index(op.f('ix_seeker_profiles_school_code'), 'seeker_profiles', ['school_code'], unique=False)
    op.create_table('courses',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ref', sa.String(length=40), nullable=False),
    sa.Column('institute', sa.String(length=60), nullable=False),
    sa.Column('campus', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('ncs_code', sa.Integer(), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('hours', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('schedule', sa.String(length=60), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=True),
    sa.Column('max_age', sa.Integer(), nullable=True),
    sa.Column('eligible', sa.JSON(), nullable=False),
    sa.Column('cost', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_courses')),
    sa.UniqueConstraint('ref', name=op.f('uq_courses_ref')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_courses_status_deadline', 'courses', ['status', 'deadline'], unique=False)
    op.create_table('course_applications',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('decided_at', UTCDateTime(), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_course_applications_course_id_courses'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_course_applications_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_applications')),
    sa.UniqueConstraint('course_id', 'user_id', name=op.f('uq_course_applications_course_id')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_course_applications_user', 'course_applications', ['user_id'], unique=False)
    op.create_table('mentors',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('company', sa.String(length=60), nullable=False),
    sa.Column('job', sa.String(length=60), nullable=False),
    sa.Column('years', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('district', sa.String(length=16), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('cohort', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('consent_at', UTCDateTime(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('decided_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mentors_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentors')),
    sa.UniqueConstraint('user_id', name=op.f('uq_mentors_user_id')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_mentors_cohort_status', 'mentors', ['cohort', 'status'], unique=False)
    op.create_table('mentoring_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=24), nullable=False),
    sa.Column('questions', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mentoring_requests_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentoring_requests')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_mentoring_requests_user', 'mentoring_requests', ['user_id'], unique=False)
    op.create_table('mentor_pairs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('mentor_id', sa.Integer(), nullable=False),
    sa.Column('mentee_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sessions_cap', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('confirmed_at', UTCDateTime(), nullable=True),
    sa.Column('ended_at', UTCDateTime(), nullable=True),
    sa.Column('end_reason', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['mentee_id'], ['users.id'], name=op.f('fk_mentor_pairs_mentee_id_users'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mentor_id'], ['mentors.id'], name=op.f('fk_mentor_pairs_mentor_id_mentors'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['mentoring_requests.id'],
                            name=op.f('fk_mentor_pairs_request_id_mentoring_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentor_pairs')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_mentor_pairs_mentor_status', 'mentor_pairs', ['mentor_id', 'status'], unique=False)
    op.create_index('ix_mentor_pairs_mentee', 'mentor_pairs', ['mentee_id'], unique=False)
    op.create_table('coaching_sessions',
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_coaching_sessions_booking_id_bookings'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_coaching_sessions_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('booking_id', name=op.f('pk_coaching_sessions')),
    )
    op.create_index('ix_coaching_sessions_user', 'coaching_sessions', ['user_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('coaching_sessions')
    op.drop_table('mentor_pairs')
    op.drop_table('mentoring_requests')
    op.drop_table('mentors')
    op.drop_index('ix_course_applications_user', table_name='course_applications')
    op.drop_table('course_applications')
    op.drop_index('ix_courses_status_deadline', table_name='courses')
    op.drop_table('courses')
    op.drop_index(op.f('ix_seeker_profiles_school_code'), table_name='seeker_profiles')
    with op.batch_alter_table('seeker_profiles') as batch:
        batch.drop_column('school_code')
        batch.drop_column('graduation')
        batch.drop_column('degree')
