"""ids never reused: AUTOINCREMENT on every SQLite table with an integer surrogate key

Revision ID: 0011
Revises: 0010
A SQLite table whose key is a plain INTEGER PRIMARY KEY hands the id of a deleted newest row
to the next insert, so an admin's button, a link or a dedupe key naming a record erased by
/delete could reach someone else's record made later. With AUTOINCREMENT SQLite keeps the
largest id ever given in sqlite_sequence and never goes below it. The key cannot be changed
in place: each such table is rebuilt (batch mode: a copy with the new definition, the rows
copied with their ids, the old table dropped, the copy renamed), then sqlite_sequence is set
to the table's largest id. PostgreSQL's sequences never hand an id out twice: nothing to do.

Ids of rows deleted before this migration, above the largest id left, cannot be known any
more; staff buttons carry the record's creation time for those.

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
    if bind.dialect.name != "sqlite":
        return
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar_one():
        raise RuntimeError("0011 rebuilds tables others refer to: run it with foreign keys off "
                           "(storage.migrate.upgrade does), or SQLite deletes the referring rows")
    for table in surrogate_keyed(bind):
        with op.batch_alter_table(table.name, recreate="always", copy_from=table,
                                  table_kwargs={"sqlite_autoincrement": True}):
            pass
        # Copying the rows with their ids has moved sqlite_sequence up to the largest; an empty
        # table has no entry yet and starts at 1, which no row ever had.
        bind.exec_driver_sql(
            f"UPDATE sqlite_sequence SET seq = (SELECT max(id) FROM {table.name}) WHERE name = ? "
            f"AND seq < (SELECT max(id) FROM {table.name})", (table.name,))


def downgrade() -> None:
    """Downgrade schema: the tables keep AUTOINCREMENT (going back must not start reusing ids)."""
