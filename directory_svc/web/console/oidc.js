// Sign-in with the operator's identity provider: OpenID Connect authorization code flow
// with PKCE (S256), in a window of its own so that the console keeps what the agent typed.
// The verifier, state and tokens stay in memory; nothing goes to localStorage or
// sessionStorage. The service verifies the access token; this script only reads its
// claims to show who is signed in.

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString() { return b64url(crypto.getRandomValues(new Uint8Array(32))); }

export function claimsOf(jwt) {
  const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const text = atob(part + "=".repeat((4 - (part.length % 4)) % 4));
  return JSON.parse(decodeURIComponent(Array.from(text, (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join("")));
}

let discovered = null;
async function discovery(issuer) {
  if (!discovered) {
    const resp = await fetch(`${issuer}/.well-known/openid-configuration`);
    if (!resp.ok) throw new Error("discovery");
    discovered = await resp.json();
    if (discovered.issuer !== issuer) throw new Error("issuer");
  }
  return discovered;
}

/** Open the provider's sign-in window; resolves with { token, claims } once signed in. */
export async function signIn({ issuer, clientId }) {
  // The window opens at once (a click allows it), then goes to the provider.
  const popup = window.open("about:blank", "directory-signin", "width=560,height=720");
  if (!popup) throw new Error("popup");
  try {
    const meta = await discovery(issuer);
    const verifier = randomString();
    const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const state = randomString();
    const nonce = randomString();
    const redirect = `${window.location.origin}/console/callback`;
    const url = new URL(meta.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: "code", client_id: clientId, redirect_uri: redirect, scope: "openid",
      state, nonce, code_challenge: challenge, code_challenge_method: "S256",
    }).toString();
    popup.location.href = url.toString();
    const code = await new Promise((resolve, reject) => {
      function onMessage(event) {
        if (event.origin !== window.location.origin || !event.data || event.data.type !== "directory-oidc") return;
        if (event.data.state !== state) return;
        window.removeEventListener("message", onMessage);
        if (event.data.error || !event.data.code) reject(new Error("denied"));
        else resolve(event.data.code);
      }
      window.addEventListener("message", onMessage);
    });
    const resp = await fetch(meta.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code", code, redirect_uri: redirect, client_id: clientId,
        code_verifier: verifier,
      }),
    });
    if (!resp.ok) throw new Error("token");
    const tokens = await resp.json();
    if (tokens.id_token) {
      const id = claimsOf(tokens.id_token);
      if (id.iss !== issuer || (id.nonce !== undefined && id.nonce !== nonce)) throw new Error("id_token");
    }
    return { token: tokens.access_token, idToken: tokens.id_token || null, claims: claimsOf(tokens.access_token) };
  } finally {
    if (!popup.closed) popup.close();
  }
}

/** Where to end the session at the provider too (null: it has no end-session endpoint). */
export function endSessionUrl(idToken, clientId) {
  if (!discovered || !discovered.end_session_endpoint) return null;
  const url = new URL(discovered.end_session_endpoint);
  url.search = new URLSearchParams({
    ...(idToken ? { id_token_hint: idToken } : {}), client_id: clientId,
    post_logout_redirect_uri: `${window.location.origin}/console`,
  }).toString();
  return url.toString();
}

/** The development sign-in (DIRECTORY_ENV=dev only): the service mints a staff token. */
export async function devSignIn(agent, role) {
  const resp = await fetch("/console/dev-token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ agent, role }),
  });
  if (!resp.ok) throw new Error(await resp.text());
  const { token } = await resp.json();
  return { token, claims: claimsOf(token) };
}
