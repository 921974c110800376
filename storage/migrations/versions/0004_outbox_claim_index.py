"""outbox claim index

Revision ID: 0004
Revises: 0003
The claim query orders by (due_at, id): without id PostgreSQL sorts every row due at the same moment.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_status_due'))
        batch_op.create_index('ix_outbox_status_due', ['status', 'due_at', 'id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_status_due')
        batch_op.create_index(batch_op.f('ix_outbox_status_due'), ['status', 'due_at'], unique=False)

