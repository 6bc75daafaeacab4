"""Changes committed by the other instances on a shared store, for this one's live
stream (several instances: `lantian.partition`, docs/scale.md).

The dispatcher tells its listeners only of the changes it commits itself, so a console
connected to instance B would not hear an officer's step taken through instance A. Every
committed change writes its events' publications (`{prefix}/alerts/{id}/events`, each
with the state and queue it left the incident in) to the outbox in its transaction:
reading the outbox rows after the last one seen gives every change committed since, by
anyone. Those this instance committed itself (heard through `mine`) are skipped; the
others are handed to `tell` (the stream hub) as the dispatcher would have, with the
alert as stored now.

On SQLite one writer at a time commits, so ids appear in order. On PostgreSQL an id is
taken at the insert and seen at the commit: a transaction that took id 10 may commit
after the one that took 11. So an id skipped over is a *gap*, asked for again at each
poll until it appears or `GAP_WAIT` has passed (a rolled-back insert leaves its id
unused for good).

When to poll: PostgreSQL notifies `lantian_changes` as outbox rows commit (a trigger,
`dispatch._pg_schema` version 8), and `dispatch._pg_listen` wakes the feed at once; a
poll every interval is the fallback, and SQLite's way.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson

from dispatch._dispatcher_ports import Committed, Listener
from dispatch._sqlite import SqlStore

log = logging.getLogger(__name__)

#: Rows read per poll, at most; a burst larger than this is read over the next polls.
BATCH: Final = 2000
#: The (alert, seq) pairs of our own changes remembered for skipping: far more than a
#: poll's interval can hold.
REMEMBERED: Final = 50_000
#: How long an id skipped over is waited for: longer than a transaction may run (the
#: store's statement timeout bounds each of its calls).
GAP_WAIT: Final = 60.0
#: Gaps asked for at most, the oldest forgotten first.
GAPS: Final = 1000


class ChangeFeed:
    def __init__(self, store: SqlStore, tell: Listener, prefix: str,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._tell = tell
        self._pattern = f"{prefix}/alerts/%/events"
        self._mine: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._gaps: OrderedDict[int, float] = OrderedDict()  # id -> waited for until
        self._monotonic = monotonic
        row = store.connection.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()
        self._after = int(row[0])  # a console connecting loads the board: only news here
        self.polled_at = monotonic()

    @property
    def waiting_for(self) -> int:
        """Ids skipped over that may still commit."""
        return len(self._gaps)

    def mine(self, change: Committed) -> None:
        """The dispatcher's listener: a change this instance committed (and told)."""
        for e in change.events:
            self._mine[(e.alert_id, e.seq)] = None
        while len(self._mine) > REMEMBERED:
            self._mine.popitem(last=False)

    def poll(self) -> int:
        """Tell of the changes other instances committed since the last poll; how many
        alerts' changes were told."""
        now = self.polled_at = self._monotonic()
        db = self._store.connection
        # every row after the last, to see which ids were skipped; the payload of ours
        rows: list[Any] = db.execute(
            "SELECT id, CASE WHEN topic LIKE ? THEN payload END FROM outbox WHERE id > ?"
            " ORDER BY id LIMIT ?", (self._pattern, self._after, BATCH)).fetchall()
        for gap in [g for g, until in self._gaps.items() if until < now]:
            del self._gaps[gap]  # rolled back, most likely: never to come
        if self._gaps:
            late = list(self._gaps)
            marks = ", ".join("?" * len(late))
            rows += db.execute(
                f"SELECT id, CASE WHEN topic LIKE ? THEN payload END FROM outbox"
                f" WHERE id IN ({marks})", (self._pattern, *late)).fetchall()
        for id_, _ in rows:
            self._gaps.pop(int(id_), None)
        self._skipped(sorted(int(r[0]) for r in rows if int(r[0]) > self._after), now)
        return self._tell_theirs([bytes(p) for _, p in rows if p is not None])

    def _skipped(self, ids: Sequence[int], now: float) -> None:
        """Move past `ids` (new rows, in order), remembering the ids between as gaps."""
        expected = self._after + 1
        for id_ in ids:
            for gap in range(max(expected, id_ - GAPS), id_):  # a jump's last GAPS at most
                self._gaps[gap] = now + GAP_WAIT
            expected = id_ + 1
        if ids:
            self._after = ids[-1]
        while len(self._gaps) > GAPS:
            self._gaps.popitem(last=False)

    def _tell_theirs(self, payloads: Sequence[bytes]) -> int:
        theirs: dict[str, dict[int, tuple[str, str]]] = defaultdict(dict)
        for payload in payloads:
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
