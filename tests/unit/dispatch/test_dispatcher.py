"""The dispatch shell on an in-memory SQLite store, its outbox, and a recording broker that
acknowledges at once: what each signal and command leaves in the store and on the wire."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
from shapely.geometry import box

from dispatch import AlertTopics, Deadlines, Dispatcher, Route, Router
from dispatch._dispatcher import NotFound
from dispatch._dispatcher_ports import Committed
from dispatch._lifecycle import Ack, Close, Outcome, Refused, State, Transfer
from dispatch._outbox import Outbox
from dispatch._sqlite import SqliteStore
from dispatch._sqlite_outbox import SqliteOutbox
from rules.geo import Zone
from rules.records import Location
from rules.signals import Action, AlertSignal, DroneSuggestion, Evidence, Maintenance, ZoneEvent

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 6, 12, 7, 1, tzinfo=SH)
SITE = Zone("cs-01", "工地", "construction_site", box(120.50, 30.02, 120.51, 30.03), "KY-G-022")
HERE = Location(30.0278, 120.5026)
SUGGESTION = DroneSuggestion("KY-UAV-01", 1810.0, 178.0, "S", 181.0, T0, Location(30.044, 120.501))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Recorder:
    """The broker: records what it is handed; `outbox` hears each PUBACK at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []
        self.outbox: Outbox | None = None

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int:
        self.sent.append((topic, orjson.loads(payload)))
        mid = len(self.sent)
        if self.outbox is not None:
            self.outbox.acknowledged(mid)
        return mid

    def topics(self) -> list[str]:
        return [t for t, _ in self.sent]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wire() -> Recorder:
    return Recorder()


def outbox_to(store: SqliteStore, wire: Recorder, clock: Clock) -> Outbox:
    outbox = Outbox(SqliteOutbox(store), clock, broker=wire)
    wire.outbox = outbox
    return outbox


@pytest.fixture
def dispatcher(clock: Clock, wire: Recorder) -> Dispatcher:
    ids = iter(f"a{i}" for i in range(1, 100))
    store = SqliteStore(":memory:", tz=SH)
    return Dispatcher(
        store=store,
        router=Router((Route("law_enforcement", kinds=frozenset({"road_dust"})),), "blue_sky"),
        queues={"blue_sky": Deadlines(), "law_enforcement": Deadlines()},
        topics=AlertTopics("lantian"), clock=clock, tz=SH, outbox=outbox_to(store, wire, clock),
        new_id=lambda: next(ids),
    )


def signal(action: Action, value: float = 170.0, severity: str = "major", **kw: object
           ) -> AlertSignal:
    fields: dict[str, object] = dict(
        action=action, rule="site-pm10-15min", kind="dust_exceedance",
        subject="station:KY-CS-001", at=T0, severity=severity, location=HERE, zone=SITE,
        zones=(SITE,), grid="KY-G-022", metric="pm10", value=value, threshold=150.0,
        window_s=900, evidence=Evidence(readings=((T0, value),)),
    )
    fields.update(kw)
    return AlertSignal(**fields)  # type: ignore[arg-type]


def test_a_raise_becomes_a_routed_published_incident(
    dispatcher: Dispatcher, wire: Recorder
) -> None:
    dispatcher.receive([signal(Action.RAISE, drone_suggestion=SUGGESTION)])
    alert = dispatcher.get("a1")
    assert (alert.incident.state, alert.incident.queue, alert.zone, alert.grid) == (
        State.DISPATCHED, "blue_sky", "cs-01", "KY-G-022")
    assert alert.close_by - alert.incident.raised_at == timedelta(minutes=30)
    assert wire.topics() == ["lantian/alerts/a1/events", "lantian/alerts/a1/events",
                             "lantian/queues/blue_sky/alerts"]
    assert [body["state"] for _, body in wire.sent[:2]] == ["raised", "dispatched"]
    published = wire.sent[2][1]
    assert published["drone_suggestion"] == {"drone": "KY-UAV-01", "distance_m": 1810,
                                             "bearing_deg": 178, "direction": "S", "eta_s": 181}


def test_updates_keep_the_suggestion_and_only_new_severity_is_an_event(
    dispatcher: Dispatcher,
) -> None:
    dispatcher.receive([signal(Action.RAISE, drone_suggestion=SUGGESTION)])
    dispatcher.receive([signal(Action.UPDATE, value=180.0)])
    dispatcher.receive([signal(Action.UPDATE, value=260.0, severity="critical")])
    alert = dispatcher.get("a1")
    assert alert.description["value"] == 260.0
    assert alert.description["drone_suggestion"]["drone"] == "KY-UAV-01"  # type: ignore[index]
    assert alert.incident.severity == "critical"
    kinds = [e.kind for e in dispatcher.store.events("a1")]
    assert kinds == ["raised", "dispatched", "updated"]


def test_a_clear_ends_the_condition_not_the_incident(dispatcher: Dispatcher) -> None:
    dispatcher.receive([signal(Action.RAISE)])
    dispatcher.receive([signal(Action.CLEAR, value=120.0)])
    alert = dispatcher.get("a1")
    assert alert.incident.open and alert.incident.cleared_at is not None
    assert alert.description["value"] == 170.0  # the evidence that raised it stays


def test_signals_after_officers_closed_it_do_not_reopen_it(
    dispatcher: Dispatcher, clock: Clock
) -> None:
    dispatcher.receive([signal(Action.RAISE)])
    dispatcher.command("a1", Close("王执法", Outcome.RESOLVED, "已处置"))
    dispatcher.receive([signal(Action.UPDATE, value=300.0, severity="critical")])
    assert dispatcher.get("a1").incident.state is State.CLOSED
    dispatcher.receive([signal(Action.CLEAR), signal(Action.RAISE)])
    assert dispatcher.get("a2").incident.state is State.DISPATCHED  # a new episode


def test_routes_pick_the_queue(dispatcher: Dispatcher) -> None:
    dispatcher.receive([signal(Action.RAISE, kind="road_dust", rule="road-pm10-rise",
                               subject="station:KY-RD-001")])
    assert dispatcher.get("a1").incident.queue == "law_enforcement"


def test_a_drone_entering_the_zone_puts_open_incidents_on_scene(
    dispatcher: Dispatcher, clock: Clock
) -> None:
    dispatcher.receive([signal(Action.RAISE)])
    clock.now += timedelta(minutes=6)
    enter = ZoneEvent("KY-UAV-01", SITE, "enter", clock.now, HERE, 60.0)
    dispatcher.receive([enter, enter])  # a repeated arrival adds nothing
    incident = dispatcher.get("a1").incident
    assert (incident.state, incident.drone) == (State.ON_SCENE, "KY-UAV-01")
    events = dispatcher.store.events("a1")
    assert [(e.kind, e.actor) for e in events][-1] == ("on_scene", "drone:KY-UAV-01")
    assert len(events) == 3


def test_a_finding_at_an_open_incident_is_evidence_not_a_new_alert(
    dispatcher: Dispatcher,
) -> None:
    dispatcher.receive([signal(Action.RAISE)])
    plume = signal(Action.RAISE, rule="finding-dust_plume", kind="dust_plume",
                   subject="zone:cs-01", value=0.91, finding=True,
                   evidence=Evidence(media=("https://media.example/1.jpg",)),
                   detail={"drone": "KY-UAV-01"})
    dispatcher.receive([plume])
    assert dispatcher.store.open_for("finding-dust_plume", "zone:cs-01") is None
    [evidence] = [e for e in dispatcher.store.events("a1") if e.kind == "evidence"]
    assert (evidence.actor, evidence.data["media"]) == (
        "KY-UAV-01", ["https://media.example/1.jpg"])


def test_maintenance_mutes_the_station_while_it_lasts(
    dispatcher: Dispatcher, clock: Clock, wire: Recorder
) -> None:
    dispatcher.receive([Maintenance("KY-CS-001", True, T0 - timedelta(minutes=1), ("M",))])
    dispatcher.receive([signal(Action.RAISE)])
    muted = dispatcher.get("a1")
    assert (muted.incident.muted, muted.incident.state) == (True, State.RAISED)
    assert "lantian/queues/blue_sky/alerts" not in wire.topics()
    dispatcher.command("a1", Close("o", Outcome.FALSE_ALARM, "校准"))
    clock.now += timedelta(minutes=5)
    dispatcher.receive([Maintenance("KY-CS-001", False, clock.now, ("M",))])
    dispatcher.receive([signal(Action.RAISE)])
    assert dispatcher.get("a2").incident.muted is False


def test_commands_refuse_unknown_alerts_and_queues(dispatcher: Dispatcher) -> None:
    with pytest.raises(NotFound):
        dispatcher.command("nope", Ack("o"))
    dispatcher.receive([signal(Action.RAISE)])
    with pytest.raises(Refused, match="no queue 'traffic'; queues: blue_sky, law_enforcement"):
        dispatcher.command("a1", Transfer("o", "traffic"))


def test_the_sweep_escalates_each_stage_once(
    dispatcher: Dispatcher, clock: Clock, wire: Recorder
) -> None:
    dispatcher.receive([signal(Action.RAISE)])
    clock.now += timedelta(minutes=5)
    assert dispatcher.sweep() == []  # at the deadline is not past it
    clock.now += timedelta(seconds=1)
    assert [e.data["stage"] for _, e in dispatcher.sweep()] == ["ack"]
    assert dispatcher.sweep() == []
    clock.now += timedelta(minutes=30)
    assert [e.data["stage"] for _, e in dispatcher.sweep()] == ["close"]
    escalations = [b for t, b in wire.sent if t == "lantian/escalations"]
    assert [(b["alert_id"], b["stage"]) for b in escalations] == [("a1", "ack"), ("a1", "close")]


def test_prometheus_counts_and_the_open_gauge(clock: Clock, wire: Recorder) -> None:
    from prometheus_client import CollectorRegistry

    from dispatch._monitoring import DispatchMetrics

    registry = CollectorRegistry()
    store = SqliteStore(":memory:", tz=SH)
    d = Dispatcher(
        store=store, router=Router((), "blue_sky"), queues={"blue_sky": Deadlines()},
        topics=AlertTopics("lantian"), clock=clock, tz=SH, outbox=outbox_to(store, wire, clock),
        metrics=DispatchMetrics(registry, store), new_id=iter(["a1", "a2"]).__next__,
    )
    d.receive([signal(Action.RAISE)])
    d.command("a1", Ack("o"))
    d.command("a1", Ack("o"))
    with pytest.raises(Refused):
        d.command("a1", Transfer("o", "traffic"))
    clock.now += timedelta(minutes=31)
    d.sweep()

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("lantian_alerts_raised_total", queue="blue_sky", kind="dust_exceedance",
                 muted="false") == 1
    assert value("lantian_commands_total", command="ack", result="done") == 1
    assert value("lantian_commands_total", command="ack", result="repeat") == 1
    assert value("lantian_commands_total", command="transfer", result="refused") == 1
    assert value("lantian_escalations_total", stage="close") == 1
    assert value("lantian_alerts_open", queue="blue_sky", state="acknowledged",
                 muted="false") == 1
    d.command("a1", Close("o", Outcome.RESOLVED, "done"))
    assert value("lantian_alerts_open", queue="blue_sky", state="acknowledged",
                 muted="false") is None


def test_listeners_hear_each_committed_change_and_one_that_fails_breaks_nothing(
    dispatcher: Dispatcher, wire: Recorder
) -> None:
    heard: list[Committed] = []

    def broken(_change: Committed) -> None:
        raise RuntimeError("a console went away mid-write")

    dispatcher.listeners = [broken, heard.append]
    dispatcher.receive([signal(Action.RAISE)])
    alert, _ = dispatcher.command("a1", Ack("li"))
    assert [[e.kind.value for e in c.events] for c in heard] == [
        ["raised", "dispatched"], ["acknowledged"]]
    assert heard[-1].after == [("acknowledged", "blue_sky")]
    assert heard[-1].alert == alert  # the alert after the change, as stored
    assert dispatcher.get("a1").incident.state is State.ACKNOWLEDGED
    assert not dispatcher.healthy()  # the failing listener is counted and shows


def test_an_alert_on_late_data_says_how_late_and_keeps_it_through_updates(
    dispatcher: Dispatcher, clock: Clock
) -> None:
    clock.now = T0 + timedelta(hours=2)  # the readings of 10:00 arrive at 12:00
    dispatcher.receive([signal(Action.RAISE)])
    alert = dispatcher.get("a1")
    assert (alert.description["delay_s"], alert.description["late"]) == (7200, True)
    assert alert.incident.raised_at == clock.now  # deadlines run from the raise
    dispatcher.receive([signal(Action.UPDATE, value=180.0, at=T0 + timedelta(hours=2))])
    assert dispatcher.get("a1").description["late"] is True


def test_an_alert_on_live_data_is_not_late(dispatcher: Dispatcher, clock: Clock) -> None:
    clock.now = T0 + timedelta(seconds=3)
    dispatcher.receive([signal(Action.RAISE)])
    assert (dispatcher.get("a1").description["delay_s"],
            dispatcher.get("a1").description["late"]) == (3, False)


def test_an_alert_on_history_is_recorded_muted_not_dispatched(
    dispatcher: Dispatcher, clock: Clock, wire: Recorder
) -> None:
    """A logger's back-filled hour: the bureau keeps it, no officer is sent out for it."""
    clock.now = T0 + timedelta(hours=2)  # the readings of 10:00 arrive at 12:00
    dispatcher.receive([signal(Action.RAISE)])
    alert = dispatcher.get("a1")
    assert alert.incident.muted and alert.incident.state is State.RAISED
    assert "lantian/queues/blue_sky/alerts" not in wire.topics()
    (_, silenced) = [body for t, body in wire.sent if t.endswith("/events")]
    data = silenced["data"]
    assert silenced["kind"] == "silenced" and isinstance(data, dict)
    assert data["silence"] == "stale-data"
    assert "7200 s before it reached the service" in data["reason"]
