// The admin page: the service's health, the dead letters per hour, the users (read-only:
// `lantian users` manages them), each notification channel's backlog, and the silences.
import { api } from "/console/api.js";
import { columnsChart } from "/console/chart.js";
import { clockTime, h } from "/console/dom.js";
import { t } from "/console/i18n.js";

function table(columns, rows, attrs) {
  return h("table", attrs ?? null,
    h("thead", null, h("tr", null, columns.map((k) => h("th", null, t(k))))),
    h("tbody", null, rows));
}

function section(main, key, loader) {
  const card = h("div", { class: "card", id: `admin-${key}` },
    h("p", { class: "muted" }, t("loading")));
  main.append(h("h2", null, t(key)), card);
  loader().then((content) => card.replaceChildren(...[content].flat()))
    .catch((err) => card.replaceChildren(h("p", { class: "error" }, err.message)));
}

const roleName = (role) => t(role === "bureau" ? "bureau_role" : role);

export function adminView(main) {
  main.append(h("h1", null, t("admin")));
  section(main, "health", async () => {
    const data = await (await fetch("/healthz")).json();
    return [h("p", { class: `status ${data.status}` }, data.status),
      h("ul", null, Object.entries(data.checks).map(([k, ok]) =>
        h("li", { class: ok ? "ok" : "bad" }, `${ok ? "✓" : "✗"} ${k}`)))];
  });
  section(main, "deadletters", async () => {
    const { kept, hours, recent } = await api("/api/deadletters", { params: { hours: 24 } });
    const today = hours.reduce((sum, x) => sum + x.count, 0);
    return [h("p", { class: today ? "bad" : "muted" },
      `${t("last_24h")}: ${today} · ${t("kept")}: ${kept}`),
    columnsChart(hours.map((x) => ({ label: x.hour.slice(11, 16), value: x.count })),
      t("deadletters")),
    recent.length ? table(["when", "topic", "code", "reason"],
      recent.map((r) => h("tr", null, h("td", null, clockTime(r.received_at)),
        h("td", null, r.topic), h("td", null, r.code), h("td", null, r.reason))),
      { class: "deadletters" }) : h("p", { class: "muted" }, t("no_deadletters"))];
  });
  section(main, "users", async () => {
    const { users } = await api("/api/users");
    return [table(["username", "display_name", "role", "queues", "token", "state"],
      users.map((u) => h("tr", { "data-user": u.username, class: u.disabled ? "muted" : "" },
        h("td", null, u.username), h("td", null, u.display_name), h("td", null, roleName(u.role)),
        h("td", null, u.queues.join(", ") || (u.role === "bureau" ? "—" : t("all"))), h("td", null, t(u.token ? "yes" : "no")),
        h("td", null, t(u.disabled ? "disabled" : "enabled")))), { class: "users" }),
    h("p", { class: "muted" }, t("users_managed"))];
  });
  section(main, "notifications", async () => {
    const { channels } = await api("/api/notifications");
    if (!channels.length) return h("p", { class: "muted" }, t("no_channels"));
    return table(["channel", "pending", "oldest", "dead", "last_error"],
      channels.map((c) => h("tr", { "data-channel": c.channel, class: c.dead ? "bad" : "" },
        h("td", null, c.channel), h("td", null, c.pending),
        h("td", null, c.oldest_pending_at ? clockTime(c.oldest_pending_at) : "—"),
        h("td", null, c.dead), h("td", null, c.last_error ?? "—"))), { class: "channels" });
  });
  section(main, "silences", async () => {
    const list = await api("/api/silences");
    return table(["queue", "reason", "author", "starts", "ends"],
      list.silences.map((x) => h("tr", null, h("td", null, x.queue ?? t("all")),
        h("td", null, x.reason), h("td", null, x.author), h("td", null, clockTime(x.starts_at)),
        h("td", null, x.ends_at ? clockTime(x.ends_at) : "∞"))));
  });
  return () => {};
}
