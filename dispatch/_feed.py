"""Changes committed by the other instances on a shared store, for this one's live
stream: a polling feed (several instances: `lantian.partition`, docs/scale.md).

The dispatcher tells its listeners only of the changes it commits itself, so a console
connected to instance B would not hear an officer's step taken through instance A. Every
committed change writes its events' publications (`{prefix}/alerts/{id}/events`, each
with the state and queue it left the incident in) to the outbox in its transaction, and
the outbox's ids grow in commit order: reading the rows after the last one seen gives
every change committed since, by anyone. Those this instance committed itself (heard
through `mine`) are skipped; the others are handed to `tell` (the stream hub) as the
dispatcher would have, with the alert as stored now.

A fallback until the store notifies (PostgreSQL's LISTEN/NOTIFY): a poll costs one
indexed range read of the outbox; a change reaches the other instances' consoles within
a poll's interval.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, defaultdict
from typing import Final

import orjson

from dispatch._dispatcher_ports import Committed, Listener
from dispatch._sqlite import SqlStore

log = logging.getLogger(__name__)

#: Rows read per poll, at most; a burst larger than this is read over the next polls.
BATCH: Final = 2000
#: The (alert, seq) pairs of our own changes remembered for skipping: far more than a
#: poll's interval can hold.
REMEMBERED: Final = 50_000


class ChangeFeed:
    def __init__(self, store: SqlStore, tell: Listener, prefix: str) -> None:
        self._store = store
        self._tell = tell
        self._pattern = f"{prefix}/alerts/%/events"
        self._head = f"{prefix}/alerts/"
        self._mine: OrderedDict[tuple[str, int], None] = OrderedDict()
        row = store.connection.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()
        self._after = int(row[0])  # a console connecting loads the board: only news here

    def mine(self, change: Committed) -> None:
        """The dispatcher's listener: a change this instance committed (and told)."""
        for e in change.events:
            self._mine[(e.alert_id, e.seq)] = None
        while len(self._mine) > REMEMBERED:
            self._mine.popitem(last=False)

    def poll(self) -> int:
        """Tell of the changes other instances committed since the last poll; how many
        alerts' changes were told."""
        rows = self._store.connection.execute(
            "SELECT id, payload FROM outbox WHERE id > ? AND topic LIKE ? ORDER BY id"
            " LIMIT ?", (self._after, self._pattern, BATCH)).fetchall()
        if not rows:
            return 0
        self._after = int(rows[-1][0])
        theirs: dict[str, dict[int, tuple[str, str]]] = defaultdict(dict)
        for _, payload in rows:
            event = orjson.loads(payload)
            key = (str(event["alert_id"]), int(event["seq"]))
            if key in self._mine:
                continue
            theirs[key[0]][key[1]] = (str(event["state"]), str(event["queue"]))
        for alert_id, after in theirs.items():
            alert = self._store.get(alert_id)
            if alert is None:
                continue
            events = [e for e in self._store.events(alert_id) if e.seq in after]
            try:
                self._tell(Committed(alert, events, [after[e.seq] for e in events]))
            except Exception:  # one console's trouble must not stop the feed
                log.exception("could not tell of a change to alert %s", alert_id)
        return len(theirs)
