"""kakao tasks: Event API calls whose per-user result is fetched later

Revision ID: 0010
Revises: 0009
Kakao's Event API only accepts a message; whether its recipient got it (or blocked the
channel) is in the task result, fetched later. kakao_tasks remembers each accepted taskId
with the recipient's botUserKey and the outbox row, until its result is read.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    big_id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.create_table('kakao_tasks',
    sa.Column('id', big_id, autoincrement=True, nullable=False),
    sa.Column('task_id', sa.String(length=64), nullable=False),
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('outbox_id', big_id, nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('next_check_at', UTCDateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('checked_at', UTCDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_kakao_tasks_outbox_id_outbox'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kakao_tasks'))
    )
    with op.batch_alter_table('kakao_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_kakao_tasks_due', ['checked_at', 'next_check_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kakao_tasks_outbox_id'), ['outbox_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kakao_tasks_user_key'), ['user_key'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('kakao_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kakao_tasks_user_key'))
        batch_op.drop_index(batch_op.f('ix_kakao_tasks_outbox_id'))
        batch_op.drop_index('ix_kakao_tasks_due')
    op.drop_table('kakao_tasks')
