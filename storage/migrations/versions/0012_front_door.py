"""front door: imported FAQ files, FAQ asks per topic, the free text the bot did not understand

Revision ID: 0012
Revises: 0011
faq_versions keeps each FAQ file an admin imported (the newest one answers); faq_asks one row
per answered question (topic and time only) for the monthly counts of /faq; nlu_misses the
text that fell through to "unknown" (phone numbers removed, no person), purged by retention.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('faq_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('imported_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_versions')),
    sqlite_autoincrement=True,
    )
    op.create_table('faq_asks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('asked_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_asks')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_faq_asks_at', 'faq_asks', ['asked_at'], unique=False)
    op.create_table('nlu_misses',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nlu_misses')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_nlu_misses_at', 'nlu_misses', ['created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_nlu_misses_at', table_name='nlu_misses')
    op.drop_table('nlu_misses')
    op.drop_index('ix_faq_asks_at', table_name='faq_asks')
    op.drop_table('faq_asks')
    op.drop_table('faq_versions')
