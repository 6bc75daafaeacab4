"""Sending a DJI dock's drone when an officer verifies an alert (DJI Cloud API), and the
flight's replies and progress recorded on the incident: the names the composition root
needs (`dispatch._flights`, `dispatch._dji_flight`)."""

from dispatch._dji_flight import DockFlight
from dispatch._flights import Flights

__all__ = ["DockFlight", "Flights"]
