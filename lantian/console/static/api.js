// The API client: same-origin requests; the browser sends the session cookie, never this
// script. A state-changing request carries X-CSRF-Token from the lantian_csrf cookie
// (the service refuses it with a 403 otherwise). A 401 (no session, or an expired one)
// goes to /login.

function csrf() {
  const found = document.cookie.split(";").map((c) => c.trim())
    .find((c) => c.startsWith("lantian_csrf="));
  return found ? decodeURIComponent(found.slice("lantian_csrf=".length)) : null;
}

let leaving = false;

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
    // the page is leaving (once, however many reads were refused): the caller's work
    // waits for ever rather than failing on it
    if (!leaving) location.assign("/login");
    leaving = true;
    return new Promise(() => {});
  }
  if (r.status === 204) return null;
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new ApiError(r.status, data?.detail ?? data);
  return data;
}

/** One file as a request's whole body (a photo): the service reads its type from its
 * content, so the one given here is only a hint. */
export async function upload(path, file) {
  const headers = { Accept: "application/json",
    "Content-Type": file.type || "application/octet-stream" };
  const token = csrf();
  if (token) headers["X-CSRF-Token"] = token;
  const r = await fetch(path, { method: "POST", headers, credentials: "same-origin", body: file });
  if (r.status === 401) {
    if (!leaving) location.assign("/login");
    leaving = true;
    return new Promise(() => {});
  }
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new ApiError(r.status, data?.detail ?? data);
  return data;
}

/** Who is signed in: the service's answer to /api/me (a 401 has gone to /login). */
export function whoami() {
  return api("/api/me");
}
