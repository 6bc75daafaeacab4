// SVG charts drawn here (no library): readings against their limit, and bars against a line.
import { h, s } from "/console/dom.js";
import { t } from "/console/i18n.js";

/** Readings [[iso, value], ...] as a line, with the limit as a dashed red line and, when
 * `mark` (an ISO time) falls within them, a dotted vertical line there (the raise). */
export function readingsChart(readings, limit, unit = "", { mark } = {}) {
  if (!readings?.length) return h("p", { class: "muted" }, t("no_readings"));
  const W = 640, H = 220, L = 48, R = 12, T = 12, B = 28;
  const xs = readings.map(([at]) => Date.parse(at));
  const ys = readings.map(([, v]) => v);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 60_000);
  const top = Math.max(...ys, limit ?? 0) * 1.1 || 1;
  const x = (v) => L + ((v - x0) / (x1 - x0)) * (W - L - R);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const line = readings.map(([at, v], i) => `${i ? "L" : "M"}${x(Date.parse(at)).toFixed(1)},${y(v).toFixed(1)}`).join("");
  const first = readings[0][0], last = readings[readings.length - 1][0];
  const at = mark ? Date.parse(mark) : NaN;
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": t("measured") },
  s("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }),
  s("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }),
  [0, 0.5, 1].map((f) => s("text", { x: L - 6, y: y(top * f) + 4, class: "tick", "text-anchor": "end" },
    Math.round(top * f))),
  s("text", { x: L, y: H - 8, class: "tick" }, first.slice(11, 16)),
  s("text", { x: W - R, y: H - 8, class: "tick", "text-anchor": "end" }, last.slice(11, 16)),
  limit != null && [
    s("line", { x1: L, y1: y(limit), x2: W - R, y2: y(limit), class: "limit" }),
    s("text", { x: W - R, y: y(limit) - 4, class: "tick limit-label", "text-anchor": "end" },
      `${t("limit")} ${limit}${unit}`),
  ],
  at >= x0 && at <= x1 && [
    s("line", { x1: x(at), y1: T, x2: x(at), y2: H - B, class: "axis raised",
      "stroke-dasharray": "2 3" }),
    // at the foot, on the side with room: the limit's label sits at the top right
    s("text", { x: x(at) + (x(at) > W / 2 ? -4 : 4), y: H - B - 6, class: "tick",
      "text-anchor": x(at) > W / 2 ? "end" : "start" }, t("raised")),
  ],
  s("path", { d: line, class: "series" }),
  readings.map(([at, v]) => s("circle", { cx: x(Date.parse(at)), cy: y(v), r: 3,
    class: v > (limit ?? Infinity) ? "dot over" : "dot" }, s("title", null, `${at}: ${v}`))));
}

/** Horizontal bars (minutes) by group, with a dashed line at `lineAt` minutes. */
export function barsChart(rows, lineAt, label) {
  const W = 640, rowH = 26, L = 150, R = 40, T = 24;
  const H = T + rows.length * rowH + 10;
  const top = Math.max(lineAt * 1.25, ...rows.map((r) => r.value ?? 0));
  const x = (v) => L + (v / top) * (W - L - R);
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart bars", role: "img",
    "aria-label": label },
  rows.map((r, i) => [
    s("text", { x: L - 6, y: T + i * rowH + 17, class: "tick", "text-anchor": "end" }, r.label),
    r.value != null && s("rect", { x: L, y: T + i * rowH + 4, width: Math.max(1, x(r.value) - L),
      height: rowH - 8, class: r.value > lineAt ? "bar over" : "bar" },
    s("title", null, `${r.label}: ${r.value.toFixed(1)}`)),
    s("text", { x: (r.value != null ? x(r.value) : L) + 4, y: T + i * rowH + 17, class: "tick" },
      r.value != null ? r.value.toFixed(1) : "—"),
  ]),
  s("line", { x1: x(lineAt), y1: 8, x2: x(lineAt), y2: H - 4, class: "limit" }),
  s("text", { x: x(lineAt) + 4, y: 16, class: "tick limit-label" }, t("line30")));
}

/** Columns of counts [{label, value}, ...] in time order (the dead letters per hour). */
export function columnsChart(cols, label) {
  const W = 640, H = 120, L = 36, R = 8, T = 10, B = 22;
  const top = Math.max(1, ...cols.map((c) => c.value));
  const w = (W - L - R) / Math.max(1, cols.length);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart columns", role: "img",
    "aria-label": label },
  s("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }),
  s("text", { x: L - 6, y: T + 8, class: "tick", "text-anchor": "end" }, top),
  cols.map((c, i) => [
    c.value > 0 && s("rect", { x: L + i * w + 1, y: y(c.value), width: Math.max(1, w - 2),
      height: H - B - y(c.value), class: "bar over" }, s("title", null, `${c.label}: ${c.value}`)),
    i % 6 === 0 && s("text", { x: L + i * w, y: H - 6, class: "tick" }, c.label),
  ]));
}
