"""Simulated devices: the monitors and the drone, publishing over MQTT what real ones would.

Payloads are built by pure functions (a station's values at a time, an HJ 212 packet, a
reading, a drone's flight as a list of fixes); the device classes only decide when to
send them and hand them to their connection. Every time stamp is simulated time, taken
from the scheduler at the moment of sending, so the service, whose clock is the same,
sees each message as fresh.

- Dust monitors KY-CS-001..003 send HJ 212-2017 real-time data (CN 2011) with particulates
  in mg/m³, as the shipped `[sources]` declare; KY-CS-003's logger writes its CRC in
  lower-case hex (which conforms, and every station may send). KY-CS-004, the ambient stations and
  the road station send Lantian JSON in µg/m³.
- The drone KY-UAV-01 reports from its dock every minute; for a flight it first publishes the
  mission (so the rules hold the route it will keep to), then a position every 3 s, and a
  finding when its detector sees something.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from ingest import hj212_crc16
from lantian.demo import _story as story
from lantian.demo._sim import Scheduler
from rules.geo import distance_bearing
from rules.records import Location

Send = Callable[[str, bytes], None]

# -- payloads (pure) ---------------------------------------------------------------------

#: HJ 212 factor codes (HJ 212-2017 Appendix B / HJ 524) for what a dust monitor reports.
HJ212_CODES: Mapping[str, str] = {
    "tsp": "a34001", "pm10": "a34002", "pm25": "a34004", "noise": "LA",
    "wind_speed": "a01007", "wind_dir": "a01008", "temp": "a01001", "rh": "a01002",
}
#: The metrics a monitor's HJ 212 device sends in mg/m³ (config [sources] units).
MG_M3 = frozenset({"tsp", "pm10", "pm25"})


def station_values(spec: story.StationSpec, t: datetime, rng: random.Random) -> dict[str, float]:
    """What `spec`'s instruments read at t: the story's level with measurement noise."""
    out = {}
    for metric in spec.baseline:
        true = story.level(spec, metric, t)
        if metric in story.NOISY:
            value = max(true * rng.gauss(1.0, spec.noise), 0.1 * true)
        elif metric == "wind_dir":
            value = (true + rng.gauss(0, 15)) % 360
        else:
            value = max(true + rng.gauss(0, 0.03 * true), 0.0)
        out[metric] = round(value, 3 if metric == "co" else 1)
    return out


def json_reading(station: str, t: datetime, values: Mapping[str, float]) -> bytes:
    return orjson.dumps({"station": station, "ts": t.isoformat(), **values})


def hj212_packet(mn: str, t: datetime, values: Mapping[str, float], *,
                 lowercase_crc: bool = False) -> bytes:
    """An HJ 212-2017 real-time data upload (CN 2011), CRC per the standard's Appendix A;
    particulates converted to mg/m³ as the device sends them. No CRLF: on MQTT the
    message is the frame."""
    local = t.astimezone(story.TZ)
    factors = []
    for metric, value in values.items():
        code = HJ212_CODES.get(metric)
        if code is None:
            continue
        text = f"{value / 1000:.3f}" if metric in MG_M3 else f"{value:.1f}"
        factors.append(f"{code}-Rtd={text},{code}-Flag=N")
    segment = (
        f"QN={local:%Y%m%d%H%M%S}000;ST=22;CN=2011;PW=123456;MN={mn};Flag=4;"
        f"CP=&&DataTime={local:%Y%m%d%H%M%S};{';'.join(factors)}&&"
    ).encode()
    crc = f"{hj212_crc16(segment):04X}"
    return b"##%04d%s%s" % (len(segment), segment, (crc.lower() if lowercase_crc else crc).encode())


@dataclass(frozen=True, slots=True)
class Fix:
    """One drone position report."""

    ts: datetime
    lon: float
    lat: float
    alt_m: float
    heading: float
    speed_mps: float
    waypoint: int  # index of the waypoint it is heading for (or hovering at)


@dataclass(frozen=True, slots=True)
class _Leg:
    start_s: float
    duration_s: float
    a: story.Point
    b: story.Point
    heading: float
    waypoint: int


_CLIMB_MPS = 4.0


def legs(points: Sequence[story.Point], hovers: Mapping[int, float],
         speed_mps: float) -> list[_Leg]:
    """A flight through `points` (lon, lat, alt), hovering `hovers[i]` seconds at point i:
    straight legs at `speed_mps`, or at the climb rate where that takes longer."""
    out: list[_Leg] = []
    t = 0.0
    heading = 0.0
    for i in range(1, len(points)):
        a, b = points[i - 1], points[i]
        dist, bearing = distance_bearing(Location(lat=a[1], lon=a[0]),
                                         Location(lat=b[1], lon=b[0]))
        heading = bearing if dist > 0 else heading
        duration = max(dist / speed_mps, abs(b[2] - a[2]) / _CLIMB_MPS, 1.0)
        out.append(_Leg(t, duration, a, b, heading, i))
        t += duration
        if hovers.get(i):
            out.append(_Leg(t, hovers[i], b, b, heading, i))
            t += hovers[i]
    return out


def fly(start: datetime, flight: Sequence[_Leg], every_s: float) -> list[Fix]:
    """The fixes of a flight starting at `start`: one every `every_s`, and the landing."""
    end_s = flight[-1].start_s + flight[-1].duration_s
    fixes = []
    s = every_s
    i = 0
    while True:
        s = min(s, end_s)
        while i < len(flight) - 1 and s > flight[i].start_s + flight[i].duration_s:
            i += 1
        leg = flight[i]
        f = min(max((s - leg.start_s) / leg.duration_s, 0.0), 1.0)
        moving = leg.a != leg.b and s < end_s
        fixes.append(Fix(
            ts=start + timedelta(seconds=s),
            lon=leg.a[0] + (leg.b[0] - leg.a[0]) * f,
            lat=leg.a[1] + (leg.b[1] - leg.a[1]) * f,
            alt_m=leg.a[2] + (leg.b[2] - leg.a[2]) * f,
            heading=leg.heading,
            speed_mps=round(_horizontal_speed(leg), 1) if moving else 0.0,
            waypoint=leg.waypoint,
        ))
        if s >= end_s:
            return fixes
        s += every_s


def _horizontal_speed(leg: _Leg) -> float:
    dist, _ = distance_bearing(Location(lat=leg.a[1], lon=leg.a[0]),
                               Location(lat=leg.b[1], lon=leg.b[0]))
    return dist / leg.duration_s


def telemetry(drone: str, fix: Fix, mission: str | None, battery: float) -> bytes:
    body: dict[str, object] = {
        "drone": drone, "ts": fix.ts.isoformat(), "lat": round(fix.lat, 6),
        "lon": round(fix.lon, 6), "alt_m": round(fix.alt_m, 1),
        "heading": round(fix.heading), "speed_mps": fix.speed_mps,
        "battery_pct": round(battery),
    }
    if mission is not None:
        body["mission"] = mission
        body["waypoint"] = fix.waypoint
    return orjson.dumps(body)


def mission_json(drone: str, mission: str, corridor_m: float,
                 waypoints: Sequence[story.Point]) -> bytes:
    return orjson.dumps({"drone": drone, "mission": mission, "corridor_m": corridor_m,
                         "waypoints": [list(w) for w in waypoints]})


def finding_json(drone: str, t: datetime, seen: story.Sighting) -> bytes:
    stamp = t.astimezone(story.TZ)
    return orjson.dumps({
        "drone": drone, "ts": t.isoformat(), "kind": seen.kind,
        "confidence": seen.confidence, "lat": seen.lat, "lon": seen.lon,
        "media": [f"https://media.example/{drone.lower()}/{stamp:%m%d-%H%M%S}.jpg"],
        "note": seen.note,
    })


# -- devices -----------------------------------------------------------------------------


class StationSim:
    """A monitor reporting every `spec.every_s` through the day."""

    def __init__(self, spec: story.StationSpec, mn: str | None, prefix: str, send: Send,
                 sim: Scheduler, seed: int) -> None:
        if spec.protocol == "hj212" and mn is None:
            raise ValueError(f"station {spec.id} has no HJ 212 MN in stations.geojson")
        self.spec, self.mn, self.send, self.sim = spec, mn, send, sim
        self.rng = random.Random(f"{seed}:{spec.id}")  # str seeds hash the same every run
        kind = "hj212" if spec.protocol == "hj212" else "reading"
        self.topic = f"{prefix}/sensors/{spec.id}/{kind}"

    def start(self, day_start: datetime) -> None:
        self.sim.at(day_start + timedelta(seconds=self.spec.offset_s), self.report)

    def report(self) -> None:
        t = self.sim.now()
        values = station_values(self.spec, t, self.rng)
        if self.spec.protocol == "hj212":
            assert self.mn is not None
            payload = hj212_packet(self.mn, t, values, lowercase_crc=self.spec.lowercase_crc)
        else:
            payload = json_reading(self.spec.id, t, values)
        self.send(self.topic, payload)
        self.sim.at(t + timedelta(seconds=self.spec.every_s), self.report)


@dataclass(frozen=True, slots=True)
class FlightPlan:
    mission: str
    waypoints: tuple[story.Point, ...]  # as published in the mission
    corridor_m: float
    path: tuple[story.Point, ...]  # as flown: from the pad, up, ..., down onto the pad
    hovers: Mapping[int, float]  # index into path -> seconds
    #: index into path -> (seconds after arriving there, what is seen)
    sightings: Mapping[int, tuple[float, story.Sighting]]


def patrol_plan(p: story.Patrol) -> FlightPlan:
    pad = (story.DOCK[0], story.DOCK[1], 0.0)
    path = (pad, *p.route, pad)
    return FlightPlan(p.mission, p.route, p.corridor_m, path, {},
                      {i + 1: (0.0, seen) for i, seen in p.sightings})


def response_plan(mission: str, lon: float, lat: float,
                  sees: story.Sighting | None) -> FlightPlan:
    """Straight to the place, hover there to film, straight back."""
    alt = story.RESPONSE_ALT_M
    dock = (story.DOCK[0], story.DOCK[1], alt)
    target = (lon, lat, alt)
    pad = (story.DOCK[0], story.DOCK[1], 0.0)
    sightings = {2: (story.SIGHTING_AFTER_S, sees)} if sees is not None else {}
    return FlightPlan(mission, (dock, target, dock), story.RESPONSE_CORRIDOR_M,
                      (pad, dock, target, dock, pad), {2: story.HOVER_S}, sightings)


class DroneSim:
    """KY-UAV-01: in its dock, on patrol, or sent to an alert; one flight at a time
    (a request while airborne waits for the landing)."""

    def __init__(self, drone: str, prefix: str, send: Send, sim: Scheduler,
                 on_event: Callable[[str], None]) -> None:
        self.drone, self.send, self.sim, self.on_event = drone, send, sim, on_event
        self.topic = f"{prefix}/drones/{drone}"
        self.flying: FlightPlan | None = None
        self.waiting: list[FlightPlan] = []
        self.battery = 100.0
        self._epoch = 0  # docked reports of an earlier stay in the dock are dropped

    def start(self, day_start: datetime, patrols: Sequence[story.Patrol]) -> None:
        self.sim.at(day_start + timedelta(seconds=2), self._docked(self._epoch))
        for p in patrols:
            plan = patrol_plan(p)
            self.sim.at(p.departs, functools.partial(self.request, plan))

    def describe(self) -> str:
        where = f"flying {self.flying.mission}" if self.flying else "in its dock"
        return f"{where}, battery {self.battery:.0f}%"

    def request(self, plan: FlightPlan) -> None:
        if self.flying is None:
            self._launch(plan)
        else:
            self.waiting.append(plan)

    def _docked(self, epoch: int) -> Callable[[], None]:
        def report() -> None:
            if self.flying is not None or epoch != self._epoch:
                return
            t = self.sim.now()
            self.battery = min(100.0, self.battery + 0.05 * story.DOCKED_EVERY_S)
            fix = Fix(t, story.DOCK[0], story.DOCK[1], 0.0, 0.0, 0.0, 0)
            self.send(f"{self.topic}/telemetry", telemetry(self.drone, fix, None, self.battery))
            self.sim.at(t + timedelta(seconds=story.DOCKED_EVERY_S), report)
        return report

    def _launch(self, plan: FlightPlan) -> None:
        t0 = self.sim.now()
        self.flying = plan
        self._epoch += 1
        self.send(f"{self.topic}/mission",
                  mission_json(self.drone, plan.mission, plan.corridor_m, plan.waypoints))
        self.on_event(f"{self.drone} takes off: {plan.mission}")
        flight = legs(plan.path, plan.hovers, story.CRUISE_MPS)
        fixes = fly(t0, flight, story.FLYING_EVERY_S)
        for index, (after_s, seen) in plan.sightings.items():
            arrive = next(leg.start_s + leg.duration_s for leg in flight if leg.waypoint == index)
            when = t0 + timedelta(seconds=arrive + after_s)
            self.sim.at(when, functools.partial(self._sight, seen))
        self._next(plan, fixes, 0)

    def _next(self, plan: FlightPlan, fixes: list[Fix], i: int) -> None:
        def report() -> None:
            fix = fixes[i]
            self.battery -= 0.04 * story.FLYING_EVERY_S
            last = i == len(fixes) - 1
            self.send(f"{self.topic}/telemetry",
                      telemetry(self.drone, fix, plan.mission, self.battery))
            if not last:
                self._next(plan, fixes, i + 1)
                return
            self.on_event(f"{self.drone} back in its dock ({plan.mission})")
            self.flying = None
            if self.waiting:
                self.sim.at(fix.ts + timedelta(seconds=60), self._resume)
            else:
                self.sim.at(fix.ts + timedelta(seconds=story.DOCKED_EVERY_S),
                            self._docked(self._epoch))
        self.sim.at(fixes[i].ts, report)

    def _resume(self) -> None:
        if self.flying is None and self.waiting:
            self._launch(self.waiting.pop(0))

    def _sight(self, seen: story.Sighting) -> None:
        self.send(f"{self.topic}/finding", finding_json(self.drone, self.sim.now(), seen))
        self.on_event(f"{self.drone} sees {seen.kind} ({seen.confidence:.0%}): {seen.note}")
