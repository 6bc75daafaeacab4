"""The air quality index (HJ 633): IAQI, AQI, primary pollutant, the editions."""

from rules._aqi import AqiResult, daily_aqi, realtime_aqi
from rules._aqi_tables import AqiEdition

__all__ = [
    "AqiEdition",
    "AqiResult",
    "daily_aqi",
    "realtime_aqi",
]
