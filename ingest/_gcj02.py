"""GCJ-02 ("Mars coordinates", the datum of Amap and Tencent maps) to and from WGS-84.

Lantian stores WGS-84 only; a source marked `gcj02` in config is converted on the way in.
The forward transform is the public Krasovsky-constant formula (eviltransform,
coordTransform); it reproduces Amap's own conversion API to within 5 cm. There is no
closed-form inverse, so `gcj02_to_wgs84` iterates the forward transform to a fixed point
instead of using the common one-step approximation, which is 0.3-3 m off
(docs: shared/reference/drone_telemetry.md, section 4).
"""

from __future__ import annotations

import math
from typing import Final

from rules.records import Location

_A: Final = 6378245.0  # Krasovsky 1940 semi-major axis, m
_EE: Final = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared

#: The inverse stops when the forward transform of its estimate lands this close (degrees,
#: about 0.1 mm) to the input.
_TOLERANCE_DEG: Final = 1e-9
# Each step shrinks the error about a hundredfold (the offset varies slowly with position),
# so 4-5 steps reach the tolerance; the cap only guards against a non-finite input.
_MAX_STEPS: Final = 30


def out_of_china(lat: float, lon: float) -> bool:
    """The crude bounding box every implementation of the transform uses. It is not a border:
    it must be this exact box, or points near its edge convert differently from Amap's."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _offset(lat: float, lon: float) -> tuple[float, float]:
    """The GCJ-02 shift (dlat, dlon) in degrees at a WGS-84 point in China."""
    x, y = lon - 105.0, lat - 35.0
    sin, pi = math.sin, math.pi
    wave = (20 * sin(6 * x * pi) + 20 * sin(2 * x * pi)) * 2 / 3
    dlat = wave - 100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlon = wave + 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlat += (20 * sin(y * pi) + 40 * sin(y * pi / 3)) * 2 / 3
    dlon += (20 * sin(x * pi) + 40 * sin(x * pi / 3)) * 2 / 3
    dlat += (160 * sin(y * pi / 12) + 320 * sin(y * pi / 30)) * 2 / 3
    dlon += (150 * sin(x * pi / 12) + 300 * sin(x * pi / 30)) * 2 / 3
    # The shifts above are in metres on the Krasovsky ellipsoid: turn them into degrees.
    rad = math.radians(lat)
    m = 1 - _EE * math.sin(rad) ** 2
    sqrt_m = math.sqrt(m)
    dlat = (dlat * 180) / ((_A * (1 - _EE)) / (m * sqrt_m) * pi)
    dlon = (dlon * 180) / (_A / sqrt_m * math.cos(rad) * pi)
    return dlat, dlon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 (lat, lon) to GCJ-02; points outside China are returned unchanged."""
    if out_of_china(lat, lon):
        return lat, lon
    dlat, dlon = _offset(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 (lat, lon) to WGS-84, exact to 1e-9 degrees; points outside China unchanged."""
    if out_of_china(lat, lon):
        return lat, lon
    wlat, wlon = lat, lon
    for _ in range(_MAX_STEPS):
        glat, glon = wgs84_to_gcj02(wlat, wlon)
        err_lat, err_lon = glat - lat, glon - lon
        wlat, wlon = wlat - err_lat, wlon - err_lon
        if abs(err_lat) < _TOLERANCE_DEG and abs(err_lon) < _TOLERANCE_DEG:
            break
    return wlat, wlon


def to_wgs84(location: Location, gcj02: bool) -> Location:
    """`location` as WGS-84, converting it if its source sends GCJ-02 (config `gcj02`)."""
    if not gcj02:
        return location
    return Location(*gcj02_to_wgs84(location.lat, location.lon))
