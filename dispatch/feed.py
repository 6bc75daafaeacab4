"""Several instances on one store: the changes the others commit, polled from the shared
store for this instance's live stream (`dispatch._feed`)."""

from dispatch._feed import ChangeFeed

__all__ = ["ChangeFeed"]
