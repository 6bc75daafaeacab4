"""The rows each partition keeps (its snapshot's name, its journal rows), those a change
of the partition count leaves behind, and when they may go.

Each instance keeps a snapshot (`rules@k/N`; `rules` for the single instance, `0/1`) and
journal rows of its partition "k/N" (`lantian.recovery`). Once the deployment runs with
another N, the old layout's rows are read by nobody, and they would stay forever.

The rule: an instance prunes the rows of every *other* N once

1. it has just committed a snapshot of its own (the hook runs after `Checkpoints.save`):
   the new layout runs and keeps its own state, so the old one is not needed to restart;
2. no partition of that N wrote anything, snapshot or journal row, for `QUIET` (a day):
   a running instance snapshots every minute and journals every rules sweep, so a
   layout silent for a day has no instance left. A stray instance started with the
   wrong N beside a live deployment therefore prunes nothing of it, and an operator who
   goes back to the old N within the day finds its rows.

Rows of the instance's own N are never touched, whatever their age: a replacement for an
instance of the same layout, however late, restores its snapshot and journal. The age is
the store's `at` columns, written by the instances' clocks (the injected clock).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

from dispatch.stores import SqlStore

log = logging.getLogger("lantian.layouts")

#: How long a layout must have been silent before another one prunes its rows.
QUIET: Final = timedelta(days=1)
#: The snapshots row; its format is `rules.dump_state`'s own, versioned there.
SNAPSHOT_NAME: Final = "rules"
#: The partition of a single instance (`lantian.partition`), and of journals before them.
SINGLE: Final = "0/1"
#: the condition of the partial index `inputs_partition` (migration 9), which leaves the
#: single instance's rows out; a query must repeat it for either engine to use the index
_INDEXED: Final = f"partition <> '{SINGLE}'"
#: the partitions with journal rows, one seek each; and the time of one's newest row
NEXT_PARTITION: Final = f"SELECT min(partition) FROM inputs WHERE partition > ? AND {_INDEXED}"
NEWEST_ROW: Final = (f"SELECT at FROM inputs WHERE partition = ? AND {_INDEXED}"
                     " ORDER BY id DESC LIMIT 1")


def snapshot_name(partition: str) -> str:
    """Each partition's rule state is its own row: `rules` for the single instance (as
    before partitions), `rules@k/N` for instance k of N."""
    return SNAPSHOT_NAME if partition == SINGLE else f"{SNAPSHOT_NAME}@{partition}"


def journal_rows(partition: str) -> str:
    """Which journal rows are `partition`'s (the `?` its name), in words the planner can
    match: a single instance's are read by id (they are kept out of the index, where an
    entry a message cost a fifth of the insert), another partition's through the index,
    whose own condition they restate."""
    return "partition = ?" if partition == SINGLE else f"partition = ? AND {_INDEXED}"

def count_of(partition: str) -> int | None:
    """N of "k/N"; None for a name no instance writes (left alone)."""
    _, sep, n = partition.partition("/")
    return int(n) if sep and n.isascii() and n.isdigit() else None


def snapshot_partition(name: str) -> str | None:
    """The partition a snapshot row is: `rules` the single instance's, `rules@k/N` k/N's;
    None for another row (not a rules snapshot)."""
    if name == SNAPSHOT_NAME:
        return SINGLE
    head, sep, partition = name.partition("@")
    return partition if head == SNAPSHOT_NAME and sep else None


def prunable(own: str, last_written: Mapping[str, datetime], now: datetime,
             quiet: timedelta = QUIET) -> list[str]:
    """The partitions whose rows the instance of partition `own` may delete, given when
    each partition in the store last wrote (see the module's docstring): those of other
    counts N, every partition of which has been silent for `quiet`."""
    mine = count_of(own)
    newest: dict[int, datetime] = {}
    for partition, at in last_written.items():
        n = count_of(partition)
        if n is not None:
            newest[n] = max(at, newest.get(n, at))
    return sorted(p for p in last_written if (n := count_of(p)) is not None and n != mine
                  and now - newest[n] >= quiet)


def last_written(store: SqlStore) -> dict[str, datetime]:
    """When each partition in the store last wrote: its snapshot's time or its newest
    journal row's, whichever is later. Index seeks only, never a scan of the journal:
    the partitions' rows through `inputs_partition`, which leaves out the single
    instance's ("0/1", migration 9). Those are told by the single instance's snapshot
    alone: its journal rows are at most a snapshot interval newer, a minute beside `QUIET`
    (and rows without any snapshot, of an instance that never lived a minute, stay)."""
    db = store.connection
    out: dict[str, datetime] = {}

    def saw(partition: str, epoch: float) -> None:
        at = datetime.fromtimestamp(epoch, UTC)
        out[partition] = max(at, out.get(partition, at))

    for name, epoch in db.execute("SELECT name, at FROM snapshots").fetchall():
        partition = snapshot_partition(str(name))
        if partition is not None:
            saw(partition, float(epoch))
    after = ""
    while (row := db.execute(NEXT_PARTITION, (after,)).fetchone()) and row[0] is not None:
        after = str(row[0])
        newest = db.execute(NEWEST_ROW, (after,)).fetchone()
        saw(after, float(newest[0]))
    return out


def prune_other_layouts(store: SqlStore, own: str, now: datetime,
                        quiet: timedelta = QUIET) -> list[str]:
    """Delete the snapshots and journal rows of the partitions `prunable` says may go;
    which ones. The journal a batch a transaction, so the write lock is held briefly."""
    gone = prunable(own, last_written(store), now, quiet)
    for partition in gone:
        # the single instance's rows are the oldest: found first, in id order
        rows = store.delete_in_batches(
            "inputs", f"SELECT id FROM inputs WHERE {journal_rows(partition)} ORDER BY id"
            " LIMIT ?", (partition,))
        with store.transaction() as db:
            db.execute("DELETE FROM snapshots WHERE name = ?", (snapshot_name(partition),))
        log.info("pruned partition %s of an earlier layout (silent for over %s): its"
                 " snapshot and %d journal rows", partition, quiet, rows)
    return gone
