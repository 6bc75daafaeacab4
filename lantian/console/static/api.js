// The API client: same-origin requests; the browser sends the session cookie or the
// configured Authorization header, never this script. A state-changing request carries
// X-CSRF-Token from the lantian_csrf cookie when there is one. A 401 goes to /login.

function csrf() {
  const found = document.cookie.split(";").map((c) => c.trim())
    .find((c) => c.startsWith("lantian_csrf="));
  return found ? decodeURIComponent(found.slice("lantian_csrf=".length)) : null;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

export async function api(path, { method = "GET", body, params } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const token = method === "GET" ? null : csrf();
  if (token) headers["X-CSRF-Token"] = token;
  const query = params ? "?" + new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")) : "";
  const r = await fetch(path + query, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 401) {
    location.href = "/login";
    throw new ApiError(401, "not logged in");
  }
  if (r.status === 204) return null;
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new ApiError(r.status, data?.detail ?? data);
  return data;
}

/** Who is logged in. Until the sessions module answers /api/me, the role is read from
 * what the API lets the caller do. */
export async function whoami() {
  const r = await fetch("/api/me", { credentials: "same-origin" });
  if (r.status === 401) { location.href = "/login"; throw new ApiError(401, "not logged in"); }
  if (r.ok) return r.json();
  const may = async (path) => (await fetch(path, { credentials: "same-origin" })).ok;
  const [alerts, figures] = await Promise.all([
    may("/api/alerts?limit=1"),
    may("/api/metrics/response-times?since=2000-01-01&until=2000-01-02"),
  ]);
  if (!alerts && !figures) { location.href = "/login"; throw new ApiError(401, "no access"); }
  const role = alerts && figures ? "admin" : alerts ? "officer" : "bureau";
  return { username: "", display_name: "", role, queues: [] };
}
