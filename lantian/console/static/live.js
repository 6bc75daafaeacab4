// The live stream (GET /api/stream, Server-Sent Events). The browser's EventSource
// reconnects by itself and sends Last-Event-ID; the service replays what was missed, or
// says `reset`, and the views reload from the API ("sync"): nothing is missed either way.
import { whoami } from "/console/api.js";

const listeners = new Set();
let source = null;

export function onLive(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(message) {
  for (const fn of [...listeners]) {
    try { fn(message); } catch (err) { console.error(err); }
  }
}

export function connect(onStatus) {
  if (source) return;
  source = new EventSource("/api/stream");
  source.addEventListener("hello", () => emit({ type: "sync" }));
  source.addEventListener("reset", () => emit({ type: "sync", reset: true }));
  source.addEventListener("alert", (e) => emit({ type: "alert", id: e.lastEventId,
    ...JSON.parse(e.data) }));
  source.addEventListener("gone", (e) => emit({ type: "gone", ...JSON.parse(e.data) }));
  source.onopen = () => onStatus(true);
  source.onerror = () => {
    onStatus(false);
    // the browser gives up on a refused stream (a 401 once the session expired): ask who
    // is there, which goes to /login if nobody is
    if (source.readyState === EventSource.CLOSED) whoami().catch(() => {});
  };
}
