// The map as SVG from the zones' GeoJSON (no tile server: it works offline): zones,
// stations, drones' last positions and tracks, and the open alerts; click one to open it.
import { api } from "/console/api.js";
import { h, s, zoneName } from "/console/dom.js";
import { t } from "/console/i18n.js";
import { onLive } from "/console/live.js";

const W = 1000;

function projection([minLon, minLat, maxLon, maxLat]) {
  const pad = 0.002;
  const x0 = minLon - pad, y1 = maxLat + pad;
  const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);  // metres per degree of lon
  const scale = W / ((maxLon - minLon + 2 * pad) * k || 1);
  const height = (maxLat - minLat + 2 * pad) * scale;
  return { height, at: (lon, lat) => [(lon - x0) * k * scale, (y1 - lat) * scale] };
}

function centroid(zone) {
  const ring = zone?.rings?.[0];
  if (!ring) return null;
  const n = ring.length;
  return { lon: ring.reduce((a, p) => a + p[0], 0) / n, lat: ring.reduce((a, p) => a + p[1], 0) / n };
}

/** A zone's extent (degrees²): the larger are drawn first, so the smaller stay visible. */
function area(zone) {
  const ring = zone.rings[0] ?? [];
  let twice = 0;
  for (let i = 1; i < ring.length; i += 1) {
    twice += ring[i - 1][0] * ring[i][1] - ring[i][0] * ring[i - 1][1];
  }
  return Math.abs(twice / 2);
}

export function mapView(main, ctx) {
  const holder = h("div", { class: "map" });
  main.append(h("h1", null, t("map")), holder);
  const mayAlerts = ["officer", "supervisor", "admin"].includes(ctx.me.role);

  async function load() {
    const [map, alerts] = await Promise.all([api("/api/map"),
      mayAlerts ? api("/api/alerts", { params: { limit: 1000 } }) : { alerts: [] }]);
    ctx.map = map;
    const p = projection(map.bounds);
    const zones = new Map(map.zones.map((z) => [z.id, z]));
    const pt = (lon, lat) => p.at(lon, lat).map((v) => v.toFixed(1)).join(",");
    const open = alerts.alerts.filter((a) => a.state !== "closed");
    holder.replaceChildren(
      s("svg", { viewBox: `0 0 ${W} ${p.height.toFixed(0)}`, class: "mapsvg", role: "img",
        "aria-label": t("map") },
      [...map.zones].sort((a, b) => area(b) - area(a)).map((z) => s("g", { class: `zone ${z.kind}`, "data-zone": z.id },
        z.rings.map((r) => s("polygon", { points: r.map(([lon, lat]) => pt(lon, lat)).join(" ") })),
        s("title", null, `${z.name} (${z.kind})`))),
      map.stations.map((st) => {
        const [x, y] = p.at(st.lon, st.lat);
        return s("g", { class: "station", "data-station": st.id },
          s("rect", { x: x - 4, y: y - 4, width: 8, height: 8 }), s("title", null, st.name));
      }),
      map.drones.filter((d) => d.lat != null).map((d) => {
        const [x, y] = p.at(d.lon, d.lat);
        return s("g", { class: "drone", "data-drone": d.id },
          d.track.length > 1 && s("polyline", { points: d.track.map(([la, lo]) => pt(lo, la)).join(" ") }),
          s("polygon", { points: `${x},${y - 9} ${x - 7},${y + 6} ${x + 7},${y + 6}` }),
          s("text", { x: x + 9, y: y + 4 }, d.id), s("title", null, `${d.id} ${d.at}`));
      }),
      open.map((a) => {
        const where = a.location ?? centroid(zones.get(a.zone?.id));
        if (!where) return null;
        const [x, y] = p.at(where.lon, where.lat);
        return s("g", { class: `alert ${a.severity}`, "data-alert": a.id, tabindex: 0,
          onclick: () => { location.hash = `#/alert/${a.id}`; } },
        s("circle", { cx: x, cy: y, r: 11 }), s("circle", { cx: x, cy: y, r: 4, class: "core" }),
        s("title", null, `${zoneName(a)} · ${a.kind} · ${t(a.state)}`));
      })),
      h("p", { class: "legend" },
        h("span", { class: "key zone" }, t("zones"), ` ${map.zones.length}`),
        h("span", { class: "key station" }, t("stations"), ` ${map.stations.length}`),
        h("span", { class: "key drone" }, t("drones"), ` ${map.drones.length}`),
        h("span", { class: "key alert" }, t("alerts"), ` ${open.length}`)));
  }

  let pending = null;
  const stop = onLive(() => {  // redraw at most once a second however busy the stream
    pending ??= setTimeout(() => { pending = null; load(); }, 1000);
  });
  load();
  return () => { stop(); clearTimeout(pending); };
}
