"""kakao channel: answer pages, served files, account-link codes

Revision ID: 0008
Revises: 0007
The KakaoTalk skill server keeps what did not fit one answer (kakao_pages) and the files it
links to (served_files) in the database, so several workers can serve them; link_codes and
link_attempts join a person's Telegram and KakaoTalk identities.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('kakao_pages',
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('token', sa.String(length=16), nullable=False),
    sa.Column('pages', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('user_key', 'kind', name=op.f('pk_kakao_pages'))
    )
    op.create_table('served_files',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=120), nullable=False),
    sa.Column('mime', sa.String(length=80), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_served_files_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_served_files'))
    )
    with op.batch_alter_table('served_files', schema=None) as batch_op:
        batch_op.create_index('ix_served_files_expires', ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_served_files_user_id'), ['user_id'], unique=False)

    op.create_table('link_codes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=6), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_link_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_link_codes_code')),
    sa.UniqueConstraint('user_id', name=op.f('uq_link_codes_user_id'))
    )
    op.create_table('link_attempts',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_link_attempts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_link_attempts'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('link_attempts')
    op.drop_table('link_codes')
    with op.batch_alter_table('served_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_served_files_user_id'))
        batch_op.drop_index('ix_served_files_expires')
    op.drop_table('served_files')
    op.drop_table('kakao_pages')
