"""indexes for blocked chats

Revision ID: 0005
Revises: 0004
Marking a blocked chat looks identities and outbox rows up by (channel, chat_id).

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.create_index('ix_identities_channel_chat', ['channel', 'chat_id'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_chat_status', ['channel', 'chat_id', 'status'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_chat_status')

    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.drop_index('ix_identities_channel_chat')

