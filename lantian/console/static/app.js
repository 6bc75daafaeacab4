// The console's shell: who is there, the navigation for their role, the live stream's
// status, and the views by location hash (#/, #/alert/<id>, #/map, #/bureau, #/admin).
import { api, whoami } from "/console/api.js";
import { h, setServerNow } from "/console/dom.js";
import { t, translate } from "/console/i18n.js";
import { connect } from "/console/live.js";
import { boardView } from "/console/board.js";
import { incidentView } from "/console/incident.js";
import { mapView } from "/console/map.js";
import { bureauView } from "/console/bureau.js";
import { adminView } from "/console/admin.js";

const ctx = { me: null, map: null, live: false };
let unmount = null;

const mayRead = (me) => ["officer", "supervisor", "admin"].includes(me.role);
const mayFigures = (me) => ["bureau", "supervisor", "admin"].includes(me.role);

function pages(me) {
  return [
    mayRead(me) && ["#/", "board"],
    ["#/map", "map"],
    mayFigures(me) && ["#/bureau", "bureau"],
    me.role === "admin" && ["#/admin", "admin"],
  ].filter(Boolean);
}

function renderChrome() {
  translate(document, () => { renderChrome(); route(); });
  const nav = document.getElementById("nav");
  nav.replaceChildren(...pages(ctx.me).map(([href, key]) =>
    h("a", { href, "data-page": key }, t(key))));
  const who = ctx.me.display_name || ctx.me.username;
  document.getElementById("who").textContent =
    `${who ? who + " · " : ""}${t(ctx.me.role === "bureau" ? "read_only" : ctx.me.role)}`;
  setLive(ctx.live);
}

function setLive(up) {
  ctx.live = up;
  const el = document.getElementById("live");
  el.className = `live ${up ? "on" : "off"}`;
  el.textContent = t(up ? "live" : "offline");
  el.hidden = !mayRead(ctx.me);  // no stream for who may not read alerts
}

function route() {
  unmount?.();
  unmount = null;
  const main = document.getElementById("main");
  main.replaceChildren();
  const hash = location.hash || (mayRead(ctx.me) ? "#/" : "#/bureau");
  const opened = hash.match(/^#\/alert\/([\w-]{1,100})$/);
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("here", a.getAttribute("href") === hash);
  }
  if (opened && mayRead(ctx.me)) unmount = incidentView(main, ctx, opened[1]);
  else if (hash === "#/map") unmount = mapView(main, ctx);
  else if (hash === "#/bureau" && mayFigures(ctx.me)) unmount = bureauView(main, ctx);
  else if (hash === "#/admin" && ctx.me.role === "admin") unmount = adminView(main, ctx);
  else if (mayRead(ctx.me)) unmount = boardView(main, ctx);
  else unmount = bureauView(main, ctx);
}

async function start() {
  ctx.me = await whoami();
  ctx.map = await api("/api/map");
  setServerNow(ctx.map.now);
  document.getElementById("logout").onclick = async () => {
    try { await api("/auth/logout", { method: "POST" }); } catch { /* not logged in */ }
    location.href = "/login";
  };
  renderChrome();
  if (mayRead(ctx.me)) connect(setLive);
  window.addEventListener("hashchange", route);
  route();
  document.body.dataset.ready = "true";  // for tests and screenshots: the first view is up
}

start().catch((err) => {
  document.getElementById("main").replaceChildren(h("p", { class: "error" }, String(err)));
});
