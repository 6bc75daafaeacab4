"""HJ 212 data loggers over TCP: the listener (`ingest._hj212_server`: framing, answers
after the commit, the registry of connected loggers, back-fill requests) and its
settings, as the composition root builds them."""

from ingest._hj212_server import Hj212Server, Hj212TcpSettings

__all__ = ["Hj212Server", "Hj212TcpSettings"]
