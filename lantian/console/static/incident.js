// The incident page: what was measured (against the limit), the drone suggestion, the
// evidence, the whole timeline with who and when, and the steps the state allows.
import { api, upload } from "/console/api.js";
import { readingsChart } from "/console/chart.js";
import { clockTime, deadline, duration, h, now, toast, zoneName } from "/console/dom.js";
import { t } from "/console/i18n.js";
import { onLive } from "/console/live.js";

const BEFORE_ACK = ["raised", "dispatched"];
const BEFORE_SCENE = ["raised", "dispatched", "acknowledged", "verifying"];

function metres(m) { return m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`; }

function distance(a, b) {  // haversine, metres
  const rad = Math.PI / 180, r = 6_371_000;
  const dlat = (b.lat - a.lat) * rad, dlon = (b.lon - a.lon) * rad;
  const q = Math.sin(dlat / 2) ** 2
    + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dlon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(q));
}

/** Registered drones, the suggested one first, then nearest first. */
function dronesFor(alert, drones) {
  const at = alert.location;
  const suggested = alert.drone_suggestion?.drone;
  return drones.map((d) => ({ ...d,
    metres: at && d.lat != null ? distance(at, d) : null,
  })).sort((a, b) => (b.id === suggested) - (a.id === suggested)
    || (a.metres ?? Infinity) - (b.metres ?? Infinity));
}

function details(e) {
  const d = e.data ?? {};
  return [d.queue && `→ ${d.queue}`, d.from && `(${d.from})`, d.drone && `${t("drone")} ${d.drone}`,
    d.outcome && `${t(d.outcome)}`, d.note, d.reason, d.stage && `SLA ${d.stage}`,
    d.severity && t(d.severity), d.finding && `${t("finding")} ${d.finding}`, d.text,
  ].filter(Boolean).join(" · ");
}

/** A commented event's photos, as thumbnails linking to the whole picture. */
function thumbnails(e, id) {
  return (e.data?.photos ?? []).map((sha) => {
    const src = `/api/media/${encodeURIComponent(sha)}?alert=${encodeURIComponent(id)}`;
    return h("a", { href: src, target: "_blank", rel: "noreferrer", class: "thumb" },
      h("img", { src, alt: t("photo"), loading: "lazy", "data-sha": sha }));
  });
}

const IMAGES = "image/jpeg,image/png,image/webp";
const photoPicker = () => h("input", { type: "file", name: "photos", accept: IMAGES,
  multiple: true, "aria-label": t("photos") });

function field(label, control) { return h("label", null, h("span", null, label), control); }

/** The readings around the alert (GET /api/alerts/{id}/readings; without its answer, the
 * rule window of the alert's evidence) against the limit, and where they come from. */
function measured(a, around) {
  const source = around?.source ?? "rule window";
  const unit = around?.unit ? ` ${around.unit}` : "";
  return [
    readingsChart(around?.readings ?? a.evidence?.readings, around?.limit ?? a.threshold, unit,
      { mark: a.raised_at }),
    h("p", { class: "muted source", "data-source": source, title: around?.error ?? "" },
      `${t("source")}: ${source === "influxdb" ? t("source_influxdb") : t("source_rule_window")}`,
      around?.error ? ` · ${t("influx_fallback")}` : ""),
  ];
}

export function incidentView(main, ctx, id) {
  let current = null;
  const view = h("div", { class: "incident" });
  main.append(h("a", { href: "#/", class: "back" }, `← ${t("back")}`), view);

  async function step(path, body, photos = []) {
    try {
      // the photos first: one refused (not an image, too large) stops the step, so the
      // officer can pick again before closing
      for (const file of photos) await upload(`/api/alerts/${id}/photos`, file);
      if (path) await api(`/api/alerts/${id}/${path}`, { method: "POST", body });
      toast(t("done"), "ok");
    } catch (err) {
      toast(`${t("refused")}: ${err.message}`, "error");
    }
    await load();
  }

  function actions(a) {
    const out = [];
    const others = ctx.map.queues.filter((q) => q !== a.queue && !a.assists.includes(q));
    if (BEFORE_ACK.includes(a.state)) {
      out.push(h("button", { type: "button", "data-action": "ack", onclick: () => step("ack") },
        t("ack")));
    }
    if (["raised", "dispatched", "acknowledged"].includes(a.state)) {
      const drones = dronesFor(a, ctx.map.drones);
      const pick = h("select", { name: "drone", "aria-label": t("drone") }, drones.map((d) =>
        h("option", { value: d.id }, d.metres != null ? `${d.id} · ${metres(d.metres)}` : d.id)));
      out.push(h("form", { class: "inline", "data-action": "verify", onsubmit: (e) => {
        e.preventDefault(); step("verify", { drone: pick.value });
      } }, pick, h("button", { type: "submit", disabled: drones.length === 0 }, t("verify"))));
    }
    if (BEFORE_SCENE.includes(a.state)) {
      out.push(h("button", { type: "button", "data-action": "on-scene",
        onclick: () => step("on-scene", {}) }, t("onscene")));
    }
    if (a.state !== "closed" && others.length) {
      for (const [path, key] of [["assist", "assist_btn"], ["transfer", "transfer"]]) {
        const pick = h("select", { name: "queue", "aria-label": t("queue") },
          others.map((q) => h("option", { value: q }, q)));
        out.push(h("form", { class: "inline", "data-action": path, onsubmit: (e) => {
          e.preventDefault(); step(path, { queue: pick.value });
        } }, pick, h("button", { type: "submit" }, t(key))));
      }
    }
    if (a.state !== "closed") {
      const outcome = h("select", { name: "outcome", "aria-label": t("outcome") },
        ["resolved", "false_alarm", "duplicate"].map((o) => h("option", { value: o }, t(o))));
      const note = h("textarea", { name: "note", maxlength: 2000, rows: 2 });
      const photos = photoPicker();
      out.push(h("form", { class: "close", "data-action": "close", onsubmit: (e) => {
        e.preventDefault();
        step("close", { outcome: outcome.value, note: note.value }, [...photos.files]);
      } }, h("h3", null, t("receipt")), field(t("outcome"), outcome), field(t("note"), note),
      field(t("photos"), photos), h("button", { type: "submit" }, t("close"))));
    } else {
      const reason = h("input", { name: "reason", maxlength: 2000 });
      out.push(h("form", { class: "inline", "data-action": "reopen", onsubmit: (e) => {
        e.preventDefault(); step("reopen", { reason: reason.value });
      } }, reason, h("button", { type: "submit" }, t("reopen"))));
    }
    // a comment, with or without photos, in any state
    const text = h("textarea", { name: "text", maxlength: 2000, rows: 1 });
    const pictures = photoPicker();
    out.push(h("form", { class: "comment", "data-action": "comment", onsubmit: (e) => {
      e.preventDefault();
      const said = text.value.trim();
      if (!said && pictures.files.length === 0) return;
      step(said ? "comments" : null, { text: said }, [...pictures.files]);
    } }, field(t("comment"), text), field(t("photos"), pictures),
    h("button", { type: "submit" }, t("add_comment"))));
    return out;
  }

  function render(a, around) {
    const due = deadline(a);
    const s = a.drone_suggestion;
    const evidence = a.events.filter((e) => e.kind === "evidence");
    view.replaceChildren(
      h("header", { class: "head" },
        h("h1", null, zoneName(a), " ", h("span", { class: "muted" }, a.kind)),
        h("p", null, h("span", { class: `sev ${a.severity}` }, t(a.severity)), " ",
          h("span", { class: `state ${a.state}`, "data-state": a.state }, t(a.state)), " · ",
          `${t("queue")} ${a.queue}`,
          a.late ? ` · ${t("late_data")} ${Math.round(a.delay_s / 60)} min` : "",
          a.assists.length ? ` · ${t("assists")} ${a.assists.join(", ")}` : "",
          a.muted ? ` · ${t("muted")}` : "",
          due ? h("span", { class: due.at < now() ? "sla late" : "sla" },
            ` · ${due.at < now() ? t("overdue") : t(due.stage)} ${duration(Math.abs(due.at - now()))}`) : "",
          a.escalated?.length ? h("span", { class: "flag escalated" }, t("escalated")) : "")),
      h("section", { class: "grid2" },
        h("div", { class: "card" }, h("h2", null, t("measured")),
          h("p", null, `${a.metric ?? ""} ${a.value ?? ""} / ${t("limit")} ${a.threshold ?? "—"}`),
          measured(a, around)),
        h("div", { class: "card" }, h("h2", null, t("suggestion")),
          s ? h("dl", { class: "facts" },
            h("dt", null, t("drone")), h("dd", null, s.drone),
            h("dt", null, t("direction")), h("dd", null, `${s.direction} (${s.bearing_deg}°)`),
            h("dt", null, t("distance")), h("dd", null, metres(s.distance_m)),
            h("dt", null, t("eta")), h("dd", null, duration(s.eta_s * 1000)))
            : h("p", { class: "muted" }, t("none")),
          h("h2", null, t("evidence_media")),
          evidence.length ? h("ul", null, evidence.map((e) => h("li", null,
            `${clockTime(e.at)} · ${e.actor} · ${e.data.finding ?? ""} `,
            (e.data.media ?? []).map((m) => h("a", { href: m, rel: "noreferrer" }, m)))))
            : h("p", { class: "muted" }, t("none")))),
      h("section", { class: "card actions" }, h("h2", null, t("actions")), actions(a)),
      h("section", { class: "card" }, h("h2", null, t("timeline")),
        h("table", { class: "timeline" },
          h("thead", null, h("tr", null, h("th", null, t("when")), h("th", null, t("what")),
            h("th", null, t("who")), h("th", null, t("state")), h("th", null, ""))),
          h("tbody", null, a.events.map((e) => h("tr", { "data-kind": e.kind },
            h("td", null, clockTime(e.at)), h("td", null, t(e.kind)),
            h("td", { class: "actor" }, e.actor), h("td", null, t(e.state)),
            h("td", null, details(e), thumbnails(e, id))))))),
    );
  }

  async function load() {
    try {
      // the chart's readings are a second read: if it fails, the page still shows the alert
      const [alert, around] = await Promise.all([api(`/api/alerts/${id}`),
        api(`/api/alerts/${id}/readings`).catch(() => null)]);
      current = alert;
      render(current, around);
    } catch (err) {
      view.replaceChildren(h("p", { class: "error" }, err.message));
    }
  }

  const stop = onLive((m) => {
    if (m.type === "sync" || (m.type === "alert" && m.alert.id === id)) load();
    if (m.type === "gone" && m.id === id) load();
  });
  load();
  return stop;
}
