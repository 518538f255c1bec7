"""Consumed Kafka positions in an SQL table: read them, and move them forward only.

Every projection that writes its rows and its consumed positions in one transaction (the
regional store, the feeds) keeps its positions in a table of its own with the columns `topic`,
`partition` and `next_offset`; these two functions are how they read and write it, inside the
caller's transaction. A position never moves backwards (`forward_positions`).
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from hub.store.port import Positions
from hub.store.projection import forward_positions


def read_positions(conn: Connection, table: Table) -> dict[tuple[str, int], int]:
    query = select(table.c.topic, table.c.partition, table.c.next_offset)
    return {(topic, partition): offset for topic, partition, offset in conn.execute(query)}


def save_positions(conn: Connection, table: Table, positions: Positions) -> None:
    """Record `positions` in `table`, keeping for each partition the furthest one."""
    if not positions:
        return
    current = read_positions(conn, table)
    moved = forward_positions(current, positions)
    updates = [
        {"b_topic": t, "b_partition": p, "b_offset": o}
        for (t, p), o in moved.items()
        if (t, p) in current
    ]
    inserts = [
        {"topic": t, "partition": p, "next_offset": o}
        for (t, p), o in moved.items()
        if (t, p) not in current
    ]
    if updates:
        conn.execute(
            update(table)
            .where(table.c.topic == bindparam("b_topic"))
            .where(table.c.partition == bindparam("b_partition"))
            .values(next_offset=bindparam("b_offset")),
            updates,
        )
    if inserts:
        conn.execute(insert(table), inserts)
