"""The map sketch of a report: the deployment's zones and stations (config's outlines, by
way of the `Gazetteer`) and a circle on each zone sized by its incidents. No tiles: a
report is read offline and printed, and a sketch says where without a base map.

Lon/lat are drawn in an equirectangular projection scaled by cos(latitude) of the
sketch's middle, true to within a fraction of a percent over a district.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from dispatch._gazetteer import Gazetteer, Outline
from dispatch._svg import RED, Chart, esc

#: face, edge of a zone by kind; an unknown kind is grey.
_STYLE: Final = {
    "construction_site": ("#ff7f0e40", "#c25e00"),
    "land_use": ("#2ca02c33", "#1e7a1e"),
    "community": ("#9edae555", "#4a9aa5"),
    "no_fly": ("#d6272822", "#d62728"),
    "road": ("#7f7f7f33", "#555555"),
    "grid": ("none", "#dddddd"),
    "patrol_area": ("none", "#888888"),
}


def _centre(outline: Outline) -> tuple[float, float]:
    points = [p for ring in outline.rings for p in ring]
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


def map_sketch(names: Gazetteer, counts: Mapping[str, int], width: float = 760) -> str:
    """The outlines and spots of `names` with a red circle on each zone of `counts`
    (zone id → incidents), its area proportional to the count. Empty when config gave
    no outlines."""
    outlines = [o for o in names.outlines if o.rings and any(o.rings)]
    if not outlines:
        return ""
    points = [p for o in outlines for ring in o.rings for p in ring]
    points += [(s.lon, s.lat) for s in names.spots]
    lon0, lon1 = min(p[0] for p in points), max(p[0] for p in points)
    lat0, lat1 = min(p[1] for p in points), max(p[1] for p in points)
    k = math.cos(math.radians((lat0 + lat1) / 2))
    span_x, span_y = max((lon1 - lon0) * k, 1e-9), max(lat1 - lat0, 1e-9)
    pad = 16
    scale = (width - 2 * pad) / span_x
    height = span_y * scale + 2 * pad
    chart = Chart(width, height, 1.0, left=0, right=0, top=0, bottom=0)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return pad + (lon - lon0) * k * scale, pad + (lat1 - lat) * scale

    # grids and patrol areas under the zones that are places
    order = {"grid": 0, "patrol_area": 1}
    for o in sorted(outlines, key=lambda o: order.get(o.kind, 2)):
        face, edge = _STYLE.get(o.kind, ("#cccccc33", "#999999"))
        dash = ' stroke-dasharray="3 3"' if o.kind == "patrol_area" else ""
        for ring in o.rings:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(*p) for p in ring))
            chart.add(f'<polygon points="{path}" fill="{face}" stroke="{edge}"'
                      f' stroke-width="0.8"{dash}><title>{esc(names.zone(o.id))}'
                      "</title></polygon>")
    for s in names.spots:
        x, y = xy(s.lon, s.lat)
        chart.add(f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="#222">'
                  f"<title>{esc(names.station(s.id))}</title></rect>")
    by_id = {o.id: o for o in outlines}
    most = max(counts.values(), default=0)
    for zone, n in sorted(counts.items(), key=lambda e: -e[1]):
        outline = by_id.get(zone)
        if outline is None or n <= 0:
            continue
        x, y = xy(*_centre(outline))
        r = 5 + 17 * math.sqrt(n / most)
        chart.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{RED}"'
                  f' fill-opacity="0.35" stroke="{RED}"><title>{esc(names.zone(zone))}:'
                  f" {n}</title></circle>")
        label = f"{names.zone(zone)}（{n}）"
        # a label that would leave the sketch on the right goes left of its circle
        right = x + r + 3 + 12 * len(label) <= width
        chart.text(x + r + 3 if right else x - r - 3, y + 4, label,
                   anchor="start" if right else "end", size=11, colour="#7a0000", bold=True)
    return chart.svg("地图示意：区域、监测点与本期告警")
