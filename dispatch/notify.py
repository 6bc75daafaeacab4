"""Notifications to people and platforms: the channels (`dispatch._notify`), the
recording of what each event owes them (`Notifier`) and the worker that delivers it
(`DeliveryWorker`, `dispatch._deliveries`), over their table (`dispatch._sqlite_deliveries`):
what the composition root builds."""

from dispatch._deliveries import DeliveryWorker, Notifier
from dispatch._notify import Channel
from dispatch._sqlite_deliveries import SqliteDeliveries

__all__ = ["Channel", "DeliveryWorker", "Notifier", "SqliteDeliveries"]
