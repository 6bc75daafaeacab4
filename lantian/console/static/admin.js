// The admin page: the service's health and the silences (users are the login module's).
import { api } from "/console/api.js";
import { clockTime, h } from "/console/dom.js";
import { t } from "/console/i18n.js";

export function adminView(main) {
  const health = h("div", { class: "card" });
  const silences = h("div", { class: "card" });
  main.append(h("h1", null, t("admin")), h("h2", null, t("health")), health,
    h("h2", null, t("silences")), silences, h("h2", null, t("users")),
    h("p", { class: "muted" }, t("users_later")));

  (async () => {
    const r = await fetch("/healthz");
    const data = await r.json();
    health.replaceChildren(h("p", { class: `status ${data.status}` }, data.status),
      h("ul", null, Object.entries(data.checks).map(([k, ok]) =>
        h("li", { class: ok ? "ok" : "bad" }, `${ok ? "✓" : "✗"} ${k}`))));
    const list = await api("/api/silences");
    silences.replaceChildren(h("table", null,
      h("thead", null, h("tr", null, ["queue", "reason", "author", "starts", "ends"]
        .map((k) => h("th", null, t(k))))),
      h("tbody", null, list.silences.map((x) => h("tr", null, h("td", null, x.queue ?? t("all")),
        h("td", null, x.reason), h("td", null, x.author), h("td", null, clockTime(x.starts_at)),
        h("td", null, x.ends_at ? clockTime(x.ends_at) : "∞"))))));
  })().catch((err) => health.append(h("p", { class: "error" }, err.message)));
  return () => {};
}
