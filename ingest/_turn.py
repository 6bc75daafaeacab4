"""How ingest has the service run the work that writes to the store.

The service's store takes its writes in turns (`dispatch`'s `Turns`): on PostgreSQL a
turn's waits on the server run off the event loop, which serves the consoles meanwhile.
Ingest hands a burst's, or a TCP read's, handling and commit to such a runner and
awaits it; ingest itself knows nothing of stores.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

#: `await turn(work, *args)`: runs `work(*args)` in the store writer's next turn and
#: returns what it returned (or raises what it raised).
Turn: TypeAlias = Callable[..., Awaitable[Any]]


async def at_once(work: Callable[..., Any], /, *args: Any) -> Any:
    """A `Turn` for a store in this process: the work, now."""
    return work(*args)
