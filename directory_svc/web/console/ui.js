// Small helpers shared by the console's screens: texts, elements, messages, dates.
import { TEXTS } from "./i18n.js";
import { ApiError } from "./api.js";

export const ui = { lang: "fr" };
export const $ = (sel, root = document) => root.querySelector(sel);
export const t = () => TEXTS[ui.lang];

/** A new element with attributes (``text`` sets textContent) and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function say(message) { $("#status").textContent = message; $("#alert").textContent = ""; }
export function alarm(message) { $("#alert").textContent = message; $("#status").textContent = ""; }

export function when(iso, withTime = true) {
  const locale = ui.lang === "fr" ? "fr-FR" : "en-GB";
  const opts = withTime ? { dateStyle: "medium", timeStyle: "short" } : { dateStyle: "medium" };
  return new Intl.DateTimeFormat(locale, opts).format(new Date(iso));
}

export function clockIn(seconds) {
  const locale = ui.lang === "fr" ? "fr-FR" : "en-GB";
  return new Intl.DateTimeFormat(locale, { timeStyle: "short" }).format(new Date(Date.now() + seconds * 1000));
}

/** Say what went wrong with a call, in the agent's words. */
export function sayError(err) {
  if (err instanceof ApiError) {
    if (err.kind === "expired") return; // the sign-in screen says it
    if (err.kind === "rateLimited") return alarm(t().rateLimited(clockIn(err.detail)));
    if (err.kind === "forbidden") return alarm(t().forbidden);
    return alarm(t().unavailable);
  }
  console.error(err);
  alarm(t().unavailable);
}

/** Say an expected problem a union returned (validation, rate limit, not found). */
export function sayProblem(p) {
  if (p.__typename === "RateLimitedProblem") alarm(t().rateLimited(clockIn(p.retryAfterSeconds)));
  else if (p.__typename === "ValidationProblem") alarm(t().invalid(p.field, p.message));
  else alarm(p.message || t().unavailable);
}

/** The purpose typed for the current task, or null after asking for it. */
export function purpose() {
  const input = $("#purpose");
  const value = input.value.trim();
  if (!value) {
    alarm(t().purposeNeeded);
    input.focus();
    return null;
  }
  return value;
}

export function table(node, headers, rows) {
  node.replaceChildren(
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))),
  );
}
