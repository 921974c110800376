"""youth programmes: students' degree in progress and graduation, the campus branch a school links to

Revision ID: 0014
Revises: 0011
A student (재학·휴학) is matched at the degree in progress when graduating soon enough, so the
profile keeps the degree and the expected graduation month ("YYYY-MM"). The typed school name
resolved to a campus branch or partner 특성화고 (storage/data/campuses.json) is kept as its code:
booking offers that branch first and the branch's counselors see its students.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('seeker_profiles') as batch:
        batch.add_column(sa.Column('degree', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('graduation', sa.String(length=7), nullable=True))
        batch.add_column(sa.Column('school_code', sa.String(length=24), nullable=True))
    op.create_index(op.f('ix_seeker_profiles_school_code'), 'seeker_profiles', ['school_code'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_seeker_profiles_school_code'), table_name='seeker_profiles')
    with op.batch_alter_table('seeker_profiles') as batch:
        batch.drop_column('school_code')
        batch.drop_column('graduation')
        batch.drop_column('degree')
