"""Readings read back from InfluxDB (`ingest._timeseries_query`): the reader the
composition root hands to the API for the incident page's chart, and the one error it
raises."""

from ingest._timeseries_query import TimeSeriesReader, TimeSeriesUnavailable

__all__ = ["TimeSeriesReader", "TimeSeriesUnavailable"]
