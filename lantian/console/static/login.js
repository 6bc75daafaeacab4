// The login form: posts to /auth/login (the sessions module's) and goes to the console.
import { t, translate } from "/console/i18n.js";

translate(document);
const form = document.getElementById("login");
const error = document.getElementById("error");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const data = new FormData(form);
  const r = await fetch("/auth/login", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: data.get("username"), password: data.get("password") }),
  });
  if (r.ok) { location.href = "/"; return; }
  error.textContent = r.status === 429 ? t("too_many") : t("bad_login");
});
