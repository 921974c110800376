"""ids never reused (AUTOINCREMENT on SQLite); the people outbox messages and served files are about

Revision ID: 0011
Revises: 0010
outbox_subjects and served_file_subjects name the people a message or a file names or
describes, whoever it is addressed to, so that erasing a person (/delete, retention) takes
those along in one statement; a message can be about several people (a counselor's agenda).

A SQLite table whose key is a plain INTEGER PRIMARY KEY hands the id of a deleted newest row
to the next insert, so an admin's button, an audit entry or a dedupe key naming a record erased by
/delete could reach someone else's record made later. With AUTOINCREMENT SQLite keeps the
largest id ever given in sqlite_sequence and never goes below it. The key cannot be changed
in place: each such table is rebuilt (batch mode: a copy with the new definition, the rows
copied with their ids, the old table dropped, the copy renamed), then sqlite_sequence is set
to the table's largest id. PostgreSQL's sequences never hand an id out twice: nothing to do.

Ids of rows deleted before this migration, above the largest id left, cannot be known any
more: each may be handed out once more, which no id alone can tell.

The rebuild drops tables that others refer to: it must run with foreign keys off, or SQLite
would delete every referring row with them (`storage.migrate.upgrade` turns them off, and
checks every reference after).

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def surrogate_keyed(bind: sa.engine.Connection) -> list[sa.Table]:
    """Tables keyed by one INTEGER column that refers to nothing (a key of their own, not a
    person's id borrowed from users) and not AUTOINCREMENT yet, as they are now."""
    # Reflected once for all the rebuilds: batch mode would reflect each table and every table
    # it refers to again, which is most of this migration's time on a fresh database.
    reflected = sa.MetaData()
    reflected.reflect(bind, resolve_fks=False)
    created = dict(bind.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all())
    found = []
    for table in reflected.sorted_tables:
        key = list(table.primary_key.columns)
        if (len(key) == 1 and isinstance(key[0].type, sa.Integer) and not key[0].foreign_keys
                and "AUTOINCREMENT" not in created[table.name].upper()):
            found.append(table)
    return found


def upgrade() -> None:
    """Upgrade schema."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        never_reuse_ids(bind)
    big_id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.create_table('outbox_subjects',
    sa.Column('outbox_id', big_id, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_outbox_subjects_outbox_id_outbox'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_outbox_subjects_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('outbox_id', 'user_id', name=op.f('pk_outbox_subjects'))
    )
    op.create_index('ix_outbox_subjects_user', 'outbox_subjects', ['user_id'], unique=False)
    op.create_table('served_file_subjects',
    sa.Column('file_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['served_files.id'],
                            name=op.f('fk_served_file_subjects_file_id_served_files'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_served_file_subjects_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('file_id', 'user_id', name=op.f('pk_served_file_subjects'))
    )
    op.create_index('ix_served_file_subjects_user', 'served_file_subjects', ['user_id'], unique=False)


def never_reuse_ids(bind: sa.engine.Connection) -> None:
    """Every surrogate-keyed table rebuilt with AUTOINCREMENT, its rows and ids kept."""
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar_one():
        raise RuntimeError("0011 rebuilds tables others refer to: run it with foreign keys off "
                           "(storage.migrate.upgrade does), or SQLite deletes the referring rows")
    for table in surrogate_keyed(bind):
        with op.batch_alter_table(table.name, recreate="always", copy_from=table,
                                  table_kwargs={"sqlite_autoincrement": True}):
            pass  # no change to the columns: `recreate="always"` rebuilds the table with AUTOINCREMENT
        # Copying the rows with their ids moves sqlite_sequence up to the largest already; this
        # says that the next id is above every id the table holds, whatever the copy did.
        bind.exec_driver_sql(
            f"UPDATE sqlite_sequence SET seq = (SELECT max(id) FROM {table.name}) WHERE name = ? "
            f"AND seq < (SELECT max(id) FROM {table.name})", (table.name,))


def downgrade() -> None:
    """Downgrade schema: the tables keep AUTOINCREMENT (going back must not start reusing ids)."""
    op.drop_index('ix_served_file_subjects_user', table_name='served_file_subjects')
    op.drop_table('served_file_subjects')
    op.drop_index('ix_outbox_subjects_user', table_name='outbox_subjects')
    op.drop_table('outbox_subjects')
