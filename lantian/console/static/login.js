// The login form: posts to /auth/login and, signed in (the session and CSRF cookies are
// set by the answer), goes to the console. A refusal is said in the page's language:
// a wrong name or password (401), too many failures (429, with how long to wait), or
// anything else the service or the network answered.
import { t, translate } from "/console/i18n.js";

translate(document);
const form = document.getElementById("login");
const error = document.getElementById("error");

function refusal(r) {
  if (r.status === 401) return t("bad_login");
  if (r.status === 429) {
    const wait = Number(r.headers.get("Retry-After"));
    return Number.isFinite(wait) && wait > 0 ? `${t("too_many")} (${Math.ceil(wait / 60)} ${t("minutes")})`
      : t("too_many");
  }
  return `${t("login_failed")} (${r.status})`;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  delete error.dataset.status;
  const data = new FormData(form);
  let r;
  try {
    r = await fetch("/auth/login", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: data.get("username"), password: data.get("password") }),
    });
  } catch {
    error.textContent = t("offline");
    error.dataset.status = "0";
    return;
  }
  await r.text();  // read to its end, so that leaving the page aborts nothing
  if (r.ok) { location.href = "/"; return; }
  error.textContent = refusal(r);
  error.dataset.status = String(r.status);  // for tests: which refusal is shown
});
