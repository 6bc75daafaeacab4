"""Vendors' own JSON read through a configured mapping (`ingest._vendor_json`): the value
types the config loader builds."""

from ingest._vendor_json import VendorMapping, VendorMetric

__all__ = ["VendorMapping", "VendorMetric"]
