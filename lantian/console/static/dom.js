// Small DOM and formatting helpers. Text is always set as text: nothing from the API is
// ever parsed as HTML.
import { t } from "/console/i18n.js";

const SVG = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG, tag), attrs,
  children);

/** The service's clock: the offset from ours is learnt from /api/map's `now`. */
let offsetMs = 0;
export function setServerNow(iso) { offsetMs = Date.parse(iso) - Date.now(); }
export function now() { return Date.now() + offsetMs; }

export function duration(ms) {
  const sec = Math.round(Math.abs(ms) / 1000);
  const hh = Math.floor(sec / 3600), mm = Math.floor((sec % 3600) / 60), ss = sec % 60;
  const two = (n) => String(n).padStart(2, "0");
  return (ms < 0 ? "-" : "") + (hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`);
}

export function age(iso) {
  const sec = Math.max(0, (now() - Date.parse(iso)) / 1000);
  if (sec < 60) return `${Math.round(sec)} ${t("seconds_ago")}`;
  if (sec < 3600) return `${Math.round(sec / 60)} ${t("minutes_ago")}`;
  if (sec < 86400) return `${Math.round(sec / 3600)} ${t("hours_ago")}`;
  return `${Math.round(sec / 86400)} ${t("days_ago")}`;
}

/** The wall-clock time an ISO time names in the service's zone (its own offset), not the
 * browser's: officers and the records they read speak of the same clock. */
export function clockTime(iso) {
  return iso ? iso.slice(0, 19).replace("T", " ") : "";
}

export function toast(text, kind = "info") {
  const box = document.getElementById("toast");
  const item = h("div", { class: `toast ${kind}` }, text);
  box.append(item);
  setTimeout(() => item.remove(), 6000);
}

/** The deadline an open alert runs against now: to acknowledge, then to close. */
export function deadline(alert) {
  if (alert.state === "closed") return null;
  const acked = ["acknowledged", "verifying", "on_scene"].includes(alert.state);
  const iso = acked ? alert.sla?.close_by : alert.sla?.ack_by;
  return iso ? { stage: acked ? "close_in" : "ack_in", at: Date.parse(iso) } : null;
}

export function zoneName(alert) {
  return alert.zone?.name ?? alert.zone?.id ?? alert.subject ?? "";
}
