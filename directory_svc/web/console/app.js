// The staff console. Sends only the trusted documents of graphql/operations/ (support,
// admin, console) by id; signs in with the operator's identity provider (oidc.js) and
// keeps the token in memory. Every privacy decision shown comes from the server.
import { call, loadConfig, onExpired, session } from "./api.js";
import { initCompliance, rerenderCompliance, showCompliance } from "./compliance.js";
import { devSignIn, endSessionUrl, signIn } from "./oidc.js";
import { initSupport, rerenderSupport } from "./support.js";
import { $, alarm, clockIn, say, sayError, t, ui } from "./ui.js";

let view = "support";

function applyTexts() {
  document.documentElement.lang = ui.lang;
  document.title = t().title;
  for (const node of document.querySelectorAll("[data-i18n]")) {
    const value = t()[node.dataset.i18n];
    if (typeof value === "string") node.textContent = value;
  }
  for (const node of document.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t()[node.dataset.i18nLabel]);
  }
  $("#lang").textContent = t().switchTo;
  $("#lang").lang = ui.lang === "fr" ? "en" : "fr";
  if (session.token) $("#agent").textContent = t().signedIn(session.agent, session.role);
}

async function meter() {
  if (!session.token) return;
  try {
    const a = (await call("MyAllowance")).myAllowance;
    $("#meter").textContent = a.refused ? t().meterRefused(clockIn(a.resetsInSeconds)) : t().meter(a);
  } catch (err) { /* the meter is a hint; the read itself says what went wrong */ }
}

function show(name) {
  view = name;
  for (const tab of document.querySelectorAll("#nav .tab")) {
    if (tab.dataset.view === name) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  $("#support").hidden = name !== "support";
  $("#compliance").hidden = name !== "compliance";
  if (name === "compliance") showCompliance();
}

function signedIn({ token, idToken, claims }) {
  session.token = token;
  session.idToken = idToken || null;
  session.role = claims.role;
  session.agent = claims.sub;
  $("#signin").hidden = true;
  $("#signin-expired").hidden = true;
  $("#who").hidden = false;
  $("#nav").hidden = false;
  $("#agent").textContent = t().signedIn(session.agent, session.role);
  show(view);
  say("");
  meter();
  $("#main").focus();
}

function askSignIn(expired) {
  $("#signin").hidden = false;
  $("#signin-expired").hidden = !expired;
  // What the agent typed stays in the page: the screens are only hidden.
  $("#support").hidden = true;
  $("#compliance").hidden = true;
  $("#nav").hidden = true;
  $("#who").hidden = true;
  const first = session.config.oidc ? $("#sso") : $("#dev-agent");
  if (first) first.focus();
}

function signOut() {
  // Forget the tokens, then end the session at the provider too (when signed in there).
  const idToken = session.idToken;
  Object.assign(session, { token: null, idToken: null, role: null, agent: null });
  const config = session.config;
  const there = config.oidc && idToken ? endSessionUrl(idToken, config.oidc.clientId) : null;
  window.location.replace(there || "/console");
}

async function start() {
  const config = await loadConfig();
  applyTexts();
  $("#sso").hidden = !config.oidc;
  $("#dev-signin").hidden = !config.dev;
  onExpired(() => askSignIn(true));
  $("#sso").addEventListener("click", async () => {
    try { signedIn(await signIn(config.oidc)); } catch (err) {
      alarm(err.message === "popup" ? t().popupBlocked : t().signinFailed);
    }
  });
  $("#dev-signin").addEventListener("submit", async (e) => {
    e.preventDefault();
    try { signedIn(await devSignIn($("#dev-agent").value.trim(), $("#dev-role").value)); } catch (err) { alarm(t().signinFailed); }
  });
  $("#signout").addEventListener("click", signOut);
  $("#lang").addEventListener("click", () => {
    ui.lang = ui.lang === "fr" ? "en" : "fr";
    applyTexts();
    rerenderSupport();
    rerenderCompliance();
  });
  for (const tab of document.querySelectorAll("#nav .tab")) tab.addEventListener("click", () => show(tab.dataset.view));
  // In print, the plots' data lists are part of the page.
  const opened = [];
  window.addEventListener("beforeprint", () => {
    for (const d of document.querySelectorAll("details:not([open])")) { d.open = true; opened.push(d); }
  });
  window.addEventListener("afterprint", () => { opened.splice(0).forEach((d) => { d.open = false; }); });
  initSupport(meter);
  initCompliance();
  askSignIn(false);
}

start().catch(sayError);
