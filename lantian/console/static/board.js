// The queue board: the caller's alerts, most urgent and newest first, with counters by
// state, filters, SLA countdowns, and live changes from the stream (a cue for a new one).
import { api } from "/console/api.js";
import { age, deadline, duration, h, now, toast, zoneName } from "/console/dom.js";
import { t } from "/console/i18n.js";
import { onLive } from "/console/live.js";

const STATES = ["raised", "dispatched", "acknowledged", "verifying", "on_scene", "closed"];
const SEVERITY = { critical: 0, major: 1, warning: 2 };
const filters = { queue: "", state: "open", zone: "", grid: "", day: "" };

function urgency(a, b) {
  const open = (x) => (x.state === "closed" ? 1 : 0);
  const overdue = (x) => (isOverdue(x) ? 0 : 1);
  return open(a) - open(b) || overdue(a) - overdue(b)
    || (SEVERITY[a.severity] ?? 3) - (SEVERITY[b.severity] ?? 3)
    || Date.parse(b.raised_at) - Date.parse(a.raised_at);
}

function isOverdue(alert) {
  const due = deadline(alert);
  return (due && due.at < now()) || (alert.state !== "closed" && alert.escalated?.length > 0);
}

function matches(a) {
  return (!filters.queue || a.queue === filters.queue || a.assists.includes(filters.queue))
    && (filters.state === "all" || (filters.state === "open" ? a.state !== "closed"
      : a.state === filters.state))
    && (!filters.zone || a.zone?.id === filters.zone)
    && (!filters.grid || (a.grid ?? a.zone?.grid) === filters.grid)
    && (!filters.day || a.raised_at.slice(0, 10) === filters.day);
}

let audio = null;
function chime() {
  try {  // a short tone made here: no sound file to fetch
    audio ??= new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.6);
  } catch { /* no audio before the user's first click: the visual cue remains */ }
}

function slaCell(alert) {
  const due = deadline(alert);
  if (!due) return h("span", { class: "sla" }, "—");
  return h("span", { class: "sla", "data-deadline": due.at, "data-stage": due.stage });
}

function tickSla(root) {
  for (const el of root.querySelectorAll("[data-deadline]")) {
    const left = Number(el.dataset.deadline) - now();
    el.textContent = left < 0 ? `${t("overdue")} ${duration(-left)}`
      : `${t(el.dataset.stage)} ${duration(left)}`;
    el.classList.toggle("late", left < 0);
  }
  for (const el of root.querySelectorAll("[data-age]")) el.textContent = age(el.dataset.age);
}

function row(alert, fresh) {
  const flags = [
    alert.muted && h("span", { class: "flag muted" }, t("muted")),
    alert.escalated?.length > 0 && h("span", { class: "flag escalated" }, t("escalated")),
    alert.late && h("span", { class: "flag late-data", "data-late": alert.delay_s },
      `${t("late_data")} ${Math.round(alert.delay_s / 60)} min`),
    alert.assists.length > 0 && h("span", { class: "flag assist" },
      `${t("assists")}: ${alert.assists.join(", ")}`),
  ];
  const unit = alert.metric ? ` ${alert.metric}` : "";
  return h("tr", {
    "data-id": alert.id, "data-state": alert.state,
    class: [fresh && "new", isOverdue(alert) && "overdue", `sev-${alert.severity}`]
      .filter(Boolean).join(" "),
    onclick: () => { location.hash = `#/alert/${alert.id}`; },
  },
  h("td", { "data-label": t("severity") },
    h("span", { class: `sev ${alert.severity}` }, t(alert.severity))),
  h("td", { "data-label": t("zone") }, h("strong", null, zoneName(alert)),
    h("div", { class: "muted" }, alert.kind)),
  h("td", { "data-label": t("value") }, alert.value ?? "—", " / ", alert.threshold ?? "—", unit),
  h("td", { "data-label": t("state") }, h("span", { class: `state ${alert.state}` },
    t(alert.state))),
  h("td", { "data-label": t("queue") }, alert.queue),
  h("td", { "data-label": t("age"), "data-age": alert.raised_at }),
  h("td", { "data-label": t("sla") }, slaCell(alert)),
  h("td", null, flags));
}

function select(name, options, label) {
  const el = h("select", { name, "aria-label": label },
    options.map(([value, text]) => h("option", { value }, text)));
  el.value = filters[name];
  return el;
}

export function boardView(main, ctx) {
  const alerts = new Map();
  const fresh = new Set();
  let loading = null;
  let buffered = [];
  const counters = h("div", { class: "counters" });
  const bar = h("form", { class: "filters" });
  const body = h("tbody");
  const table = h("table", { class: "board" },
    h("thead", null, h("tr", null, ["severity", "zone", "value", "state", "queue", "age",
      "sla", ""].map((k) => h("th", null, k ? t(k) : "")))), body);
  const empty = h("p", { class: "muted empty" }, t("no_alerts"));
  main.append(h("h1", null, t("board")), counters, bar, table, empty);

  function renderFilters() {
    const list = [...alerts.values()];
    const uniq = (xs) => [...new Set(xs.filter(Boolean))].sort();
    const queues = uniq([...ctx.map.queues, ...list.flatMap((a) => [a.queue, ...a.assists])]);
    bar.replaceChildren(
      select("queue", [["", `${t("queue")}: ${t("all")}`], ...queues.map((q) => [q, q])],
        t("queue")),
      select("state", [["open", `${t("state")}: ${t("open_alerts")}`], ["all", t("all")],
        ...STATES.map((s) => [s, t(s)])], t("state")),
      select("zone", [["", `${t("zone")}: ${t("all")}`],
        ...uniq(list.map((a) => a.zone?.id)).map((z) => [z, z])], t("zone")),
      select("grid", [["", `${t("grid")}: ${t("all")}`],
        ...uniq(list.map((a) => a.grid ?? a.zone?.grid)).map((g) => [g, g])], t("grid")),
      Object.assign(h("input", { type: "date", name: "day", "aria-label": t("day") }),
        { value: filters.day }),
    );
  }

  function render() {
    const list = [...alerts.values()];
    const byState = Object.fromEntries(STATES.map((s) => [s, 0]));
    for (const a of list) byState[a.state] += 1;
    counters.replaceChildren(...STATES.map((s) => h("button", {
      type: "button", class: `counter ${s}${filters.state === s ? " here" : ""}`,
      "data-state": s, onclick: () => { filters.state = filters.state === s ? "open" : s;
        renderFilters(); render(); },
    }, h("span", null, t(s)), h("b", null, byState[s]))));
    const shown = list.filter(matches).sort(urgency);
    body.replaceChildren(...shown.map((a) => row(a, fresh.has(a.id))));
    empty.hidden = shown.length > 0;
    tickSla(body);
    const open = list.filter((a) => a.state !== "closed").length;
    document.title = `${open ? `(${open}) ` : ""}${t("brand")}`;
  }

  async function load() {
    if (loading) return loading;
    buffered = [];
    loading = (async () => {
      const data = await api("/api/alerts", { params: { limit: 1000 } });
      alerts.clear();
      for (const a of data.alerts) alerts.set(a.id, a);
      const later = buffered;  // changes heard while loading: applied in order
      loading = null;
      buffered = [];
      for (const message of later) apply(message, false);
      renderFilters();
      render();
    })();
    return loading;
  }

  function apply(message, cue = true) {
    if (loading) { buffered.push(message); return; }
    if (message.type === "gone") { alerts.delete(message.id); render(); return; }
    const alert = message.alert;
    const isNew = !alerts.has(alert.id) && alert.state !== "closed";
    alerts.set(alert.id, alert);
    if (isNew && cue) {
      fresh.add(alert.id);
      setTimeout(() => { fresh.delete(alert.id); body.querySelector(
        `tr[data-id="${alert.id}"]`)?.classList.remove("new"); }, 10000);
      chime();
      toast(`${t("new_alert")}: ${zoneName(alert)} · ${alert.kind}`, "alert");
      renderFilters();
    }
    render();
  }

  bar.addEventListener("change", (e) => {
    filters[e.target.name] = e.target.value;
    render();
  });
  const stop = onLive((message) => {
    if (message.type === "sync") load();
    else apply(message);
  });
  const timer = setInterval(() => tickSla(body), 1000);
  load();
  return () => { stop(); clearInterval(timer); };
}
