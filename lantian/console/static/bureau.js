// The bureau's view (read-only): response-time figures by queue, zone, grid, day or month
// with a chart against the 30-minute line, and the monthly report.
import { api } from "/console/api.js";
import { barsChart } from "/console/chart.js";
import { h, now } from "/console/dom.js";
import { t } from "/console/i18n.js";

const GROUPS = ["queue", "zone", "grid", "day", "month"];
const mins = (sec) => (sec == null ? null : sec / 60);
const fmt = (sec) => (sec == null ? "—" : `${(sec / 60).toFixed(1)} ${t("minutes")}`);

function isoDay(ms) { return new Date(ms).toISOString().slice(0, 10); }

export function bureauView(main) {
  const today = now();
  const form = h("form", { class: "filters", id: "figures" },
    h("label", null, t("since"), h("input", { type: "date", name: "since",
      value: isoDay(today - 30 * 86400_000) })),
    h("label", null, t("until"), h("input", { type: "date", name: "until",
      value: isoDay(today + 86400_000) })),
    h("label", null, t("group_by"), h("select", { name: "group_by" },
      GROUPS.map((g) => h("option", { value: g }, t(g))))),
    h("button", { type: "submit" }, t("show")));
  const figures = h("div", { class: "card" });
  const month = h("form", { class: "filters", id: "monthly" },
    h("label", null, t("month"), h("input", { type: "month", name: "month",
      value: isoDay(today).slice(0, 7) })),
    h("button", { type: "submit" }, t("show")));
  const report = h("div", { class: "card" });
  main.append(h("h1", null, t("bureau"), " ", h("span", { class: "muted" }, t("read_only"))),
    form, figures, h("h2", null, t("monthly")), month, report);

  async function showFigures() {
    const q = Object.fromEntries(new FormData(form));
    try {
      const data = await api("/api/metrics/response-times", { params: q });
      const groups = data.groups;
      figures.replaceChildren(
        h("table", { class: "figures" },
          h("thead", null, h("tr", null, [q.group_by, "count", "closed_n", "open_n", "ack_median",
            "close_median", "close_p90", "sla_rate", "escalated"].map((k) => h("th", null, t(k))))),
          h("tbody", null, groups.map((g) => h("tr", { "data-group": g.group },
            h("td", null, g.group), h("td", null, g.count), h("td", null, g.closed),
            h("td", null, g.open), h("td", null, fmt(g.time_to_ack.median)),
            h("td", null, fmt(g.time_to_close.median)), h("td", null, fmt(g.time_to_close.p90)),
            h("td", null, g.sla_attainment == null ? "—" : `${Math.round(g.sla_attainment * 100)}%`),
            h("td", null, g.escalated))))),
        barsChart(groups.map((g) => ({ label: g.group, value: mins(g.time_to_close.median) })),
          30, t("close_median")));
    } catch (err) {
      figures.replaceChildren(h("p", { class: "error" }, err.message));
    }
  }

  async function showReport() {
    try {
      const r = await api("/api/reports/monthly", { params: Object.fromEntries(new FormData(month)) });
      const list = (items) => h("table", null, h("tbody", null, items.map((i) => h("tr", null,
        h("td", null, i.id), h("td", null, i.kind), h("td", null, i.queue),
        h("td", null, i.zone ?? ""), h("td", null, t(i.state)), h("td", null, fmt(i.time_to_close)),
        h("td", null, i.overdue ? t("overdue") : "")))));
      report.replaceChildren(
        h("dl", { class: "facts", id: "summary" },
          h("dt", null, t("closed_n")), h("dd", null, r.summary.closed),
          h("dt", null, t("within_sla")), h("dd", null, r.summary.closed_within_sla),
          h("dt", null, t("carried_over")), h("dd", null, r.summary.carried_over),
          h("dt", null, t("escalated")), h("dd", null, r.summary.escalated)),
        h("h3", null, t("closed_n")), list(r.closed),
        h("h3", null, t("carried_over")), list(r.carried_over));
    } catch (err) {
      report.replaceChildren(h("p", { class: "error" }, err.message));
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); showFigures(); });
  month.addEventListener("submit", (e) => { e.preventDefault(); showReport(); });
  showFigures();
  showReport();
  return () => {};
}
