// The console's only ways out: the service's /graphql with trusted document ids, and the
// identity provider (oidc.js). The bearer token lives in this module's memory only.

export const session = { token: null, idToken: null, role: null, agent: null, config: null };

export class ApiError extends Error {
  constructor(kind, detail) { super(kind); this.kind = kind; this.detail = detail; }
}

const listeners = [];
/** Call ``fn`` when the service says the token is no longer valid. */
export function onExpired(fn) { listeners.push(fn); }

export async function loadConfig() {
  const resp = await fetch("/console/config.json");
  session.config = await resp.json();
  return session.config;
}

/** Send the trusted document ``name`` with ``variables``; its data, or an ApiError. */
export async function call(name, variables = {}) {
  const id = session.config.operations[name];
  if (!id) throw new ApiError("unknownOperation", name);
  if (!session.token) { listeners.forEach((fn) => fn()); throw new ApiError("expired"); }
  let resp;
  try {
    resp = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${session.token}` },
      body: JSON.stringify({
        operationName: name, variables,
        extensions: { persistedQuery: { version: 1, sha256Hash: id } },
      }),
    });
  } catch (e) { throw new ApiError("unavailable"); }
  if (resp.status === 401) {
    session.token = null;
    listeners.forEach((fn) => fn());
    throw new ApiError("expired");
  }
  if (resp.status === 429) throw new ApiError("rateLimited", Number(resp.headers.get("Retry-After")) || 60);
  let body;
  try { body = await resp.json(); } catch (e) { throw new ApiError("unavailable"); }
  const code = body.errors && body.errors[0] && body.errors[0].extensions && body.errors[0].extensions.code;
  if (code === "FORBIDDEN" || (body.errors && /not allowed|forbidden/i.test(body.errors[0].message || ""))) {
    throw new ApiError("forbidden");
  }
  if (!resp.ok || (body.errors && !body.data) || (body.errors && Object.values(body.data).some((v) => v === null))) {
    throw new ApiError("unavailable", code);
  }
  return body.data;
}
