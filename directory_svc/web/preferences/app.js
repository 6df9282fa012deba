// The customer preferences form. Sends only the trusted documents of
// graphql/operations/customer.graphql, by id; every privacy decision shown comes from the
// server's projection (previewChoices), never from this script.
import { TEXTS } from "./i18n.js";

const CHOICES = ["listed", "initialOnly", "noGender", "noStreet", "noReverseLookup", "noMarketing"];
const CHOICE_OF_REASON = { initial_only: "initialOnly", no_gender: "noGender", no_street: "noStreet" };
const state = { lang: "fr", token: null, config: null, me: null, previews: {}, drafts: {} };
const $ = (sel, root = document) => root.querySelector(sel);
const t = () => TEXTS[state.lang];

class ApiError extends Error {
  constructor(kind, detail) { super(kind); this.kind = kind; this.detail = detail; }
}

async function call(name, variables = {}) {
  const id = state.config.operations[name];
  let resp;
  try {
    resp = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${state.token}` },
      body: JSON.stringify({
        operationName: name, variables,
        extensions: { persistedQuery: { version: 1, sha256Hash: id } },
      }),
    });
  } catch (e) { throw new ApiError("unavailable"); }
  if (resp.status === 401) throw new ApiError("expired");
  if (resp.status === 429) throw new ApiError("rateLimited", resp.headers.get("Retry-After"));
  if (!resp.ok) throw new ApiError("unavailable");
  const body = await resp.json();
  if (body.errors && !body.data) throw new ApiError("unavailable");
  return body.data;
}

function say(message) { $("#status").textContent = message; $("#alert").textContent = ""; }
function alarm(message) { $("#alert").textContent = message; $("#status").textContent = ""; }

function sayError(err) {
  if (err instanceof ApiError) alarm(t()[err.kind] || t().unavailable);
  else { alarm(t().unavailable); console.error(err); }
}

function applyTexts() {
  document.documentElement.lang = state.lang;
  document.title = t().title;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    const value = t()[el.dataset.i18n];
    if (typeof value === "string") el.textContent = value;
  }
  const other = state.lang === "fr" ? "en" : "fr";
  $("#lang").textContent = t().switchTo;
  $("#lang").lang = other;
}

function when(iso) {
  const locale = state.lang === "fr" ? "fr-FR" : "en-GB";
  return new Intl.DateTimeFormat(locale, { dateStyle: "long", timeStyle: "short" }).format(new Date(iso));
}

function nationalNumber(e164) {
  if (!e164.startsWith("+33")) return e164;
  const d = "0" + e164.slice(3);
  return d.replace(/(\d{2})(?=\d)/g, "$1 ");
}

function mainNumber(listing) { return listing.numbers[0] ? nationalNumber(listing.numbers[0].number) : ""; }

function describeProblem(problem) {
  if (problem.__typename === "VersionConflictProblem") return t().conflict;
  if (problem.__typename === "NotFoundProblem") return t().notFound;
  if (problem.field === "attested") return t().attestRequired;
  const what = t().invalid[problem.rule] || problem.message;
  const base = problem.field.split(".")[0];
  const names = { ...t().fieldNames, first_name: t().fields.firstName, extra_users: t().extraLegend };
  return t().invalidField(names[base] || base, what);
}

// ---- Choices and preview ----

function choiceValues(section) {
  const values = {};
  for (const name of CHOICES) values[name] = $(`input[name=${name}]`, section).checked;
  return values;
}

function renderChoices(section, listing) {
  const list = $(".choice-list", section);
  list.replaceChildren();
  for (const name of CHOICES) {
    const [label, help] = t().choices[name];
    const id = `${listing.id}-${name}`;
    const row = document.createElement("div");
    row.className = "choice";
    const input = Object.assign(document.createElement("input"), { type: "checkbox", id, name });
    input.checked = listing.choices[name];
    input.setAttribute("aria-describedby", `${id}-help ${id}-why`);
    const lab = Object.assign(document.createElement("label"), { htmlFor: id, textContent: label });
    const hint = Object.assign(document.createElement("p"), { id: `${id}-help`, className: "hint", textContent: help });
    const why = Object.assign(document.createElement("p"), { id: `${id}-why`, className: "why" });
    input.addEventListener("change", () => schedulePreview(section, listing));
    row.append(input, lab, hint, why);
    list.append(row);
  }
}

function explainChoices(section, preview) {
  const values = choiceValues(section);
  const blocked = {};
  for (const limit of preview.limits) {
    const choice = CHOICE_OF_REASON[limit.choice];
    if (choice) blocked[choice] = limit.reason === "homonym" ? t().homonymReason : t().proReason;
  }
  for (const name of CHOICES) {
    const input = $(`input[name=${name}]`, section);
    let reason = blocked[name] || "";
    if (!values.listed && name !== "listed" && name !== "noMarketing") reason = t().notListedReason;
    // A choice that cannot apply is disabled, unless it is ticked (so it can be unticked).
    input.disabled = Boolean(reason) && !input.checked;
    $(`#${CSS.escape(input.id)}-why`, section).textContent = reason;
  }
}

function renderPreview(section, preview) {
  const box = $(".preview-kinds", section);
  box.replaceChildren();
  for (const kind of preview.kinds) {
    const card = document.createElement("div");
    card.className = "kind";
    card.dataset.kind = kind.kind;
    const title = Object.assign(document.createElement("h4"), { textContent: t().kinds[kind.kind] });
    card.append(title);
    if (!kind.published) {
      const code = kind.reasons[0] ? kind.reasons[0].code : "";
      const why = t().exclusions[code] ? ` (${t().exclusions[code]})` : "";
      card.append(Object.assign(document.createElement("p"), { className: "absent", textContent: t().notPublished + why }));
    } else {
      const dl = document.createElement("dl");
      for (const f of kind.fields) {
        if (f.name === "kind") continue;
        let value = f.value;
        if (f.name === "numbers") value = value.split(", ").map(nationalNumber).join(", ");
        if (f.name === "civility") value = t().civilities[value] || value;
        dl.append(Object.assign(document.createElement("dt"), { textContent: t().fieldNames[f.name] || f.name }),
          Object.assign(document.createElement("dd"), { textContent: value }));
      }
      card.append(dl);
      const flags = kind.reasons.filter((r) => r.code === "flagged" && t().flagNames[r.choice]);
      if (flags.length) {
        card.append(Object.assign(document.createElement("p"), {
          className: "flags", textContent: t().flags + flags.map((r) => t().flagNames[r.choice]).join(", "),
        }));
      }
    }
    box.append(card);
  }
  explainChoices(section, preview);
}

let previewTimer = null;
function schedulePreview(section, listing) {
  clearTimeout(previewTimer);
  explainChoices(section, state.previews[listing.id]);
  previewTimer = setTimeout(async () => {
    try {
      const data = await call("PreviewChoices", { input: { listingId: listing.id, ...choiceValues(section) } });
      const result = data.previewChoices;
      if (result.__typename !== "ListingPreview") { alarm(describeProblem(result)); return; }
      state.previews[listing.id] = result;
      renderPreview(section, result);
    } catch (err) { sayError(err); }
  }, 150);
}

// ---- Content ----

function textField(section, listing, key, value, type = "text") {
  const id = `${listing.id}-${key}`;
  const wrap = document.createElement("div");
  wrap.className = "field";
  const lab = Object.assign(document.createElement("label"), { htmlFor: id, textContent: t().fields[key] });
  const input = Object.assign(document.createElement("input"), { id, name: key, type, value: value || "" });
  if (key === "mention") input.maxLength = 30;
  wrap.append(lab, input);
  return wrap;
}

function extraRow(section, listing, user, index) {
  const row = document.createElement("div");
  row.className = "extra";
  const base = `${listing.id}-extra-${index}`;
  const make = (key, label, value) => {
    const lab = Object.assign(document.createElement("label"), { htmlFor: `${base}-${key}`, textContent: label });
    const input = Object.assign(document.createElement("input"), { id: `${base}-${key}`, name: key, value: value || "" });
    return [lab, input];
  };
  const consent = Object.assign(document.createElement("input"), { type: "checkbox", id: `${base}-consent`, name: "consent" });
  consent.checked = Boolean(user.consent);
  const consentLabel = Object.assign(document.createElement("label"), { htmlFor: consent.id, textContent: t().extraConsent });
  const remove = Object.assign(document.createElement("button"), { type: "button", textContent: t().removeExtra });
  remove.addEventListener("click", () => { row.remove(); });
  row.append(...make("surname", t().extraSurname, user.surname), ...make("firstName", t().extraFirstName, user.firstName), consent, consentLabel, remove);
  return row;
}

function renderContent(section, listing) {
  const fields = $(".content-fields", section);
  fields.replaceChildren(
    textField(section, listing, "firstName", listing.firstName),
    ...(listing.kind === "PROFESSIONAL" ? [textField(section, listing, "businessNames", listing.businessNames.join(" / "))] : []),
    textField(section, listing, "profession", listing.profession),
    textField(section, listing, "mention", listing.mention),
    textField(section, listing, "email", listing.email, "email"),
  );
  const numbers = $(".number-list", section);
  numbers.replaceChildren();
  listing.numbers.forEach((n, i) => {
    const id = `${listing.id}-number-${i}`;
    const input = Object.assign(document.createElement("input"), { type: "checkbox", id, value: n.number, checked: n.published });
    const status = n.inDirectories ? t().numberInDirectories : t().numberNotInDirectories;
    const lab = Object.assign(document.createElement("label"), { htmlFor: id, textContent: `${nationalNumber(n.number)} (${status})` });
    const row = document.createElement("div");
    row.className = "choice";
    row.append(input, lab);
    numbers.append(row);
  });
  const extras = $(".extra-list", section);
  extras.replaceChildren(...listing.extraUsers.map((u, i) => extraRow(section, listing, u, i)));
  const attested = $(".attested", section);
  attested.id = `${listing.id}-attested`;
  attested.checked = false;
  $(".attested-label", section).htmlFor = attested.id;
}

function contentInput(section, listing) {
  const value = (name) => { const el = $(`.content-fields input[name=${name}]`, section); return el ? el.value.trim() : ""; };
  return {
    listingId: listing.id, expectedVersion: listing.version, changeId: crypto.randomUUID(),
    firstName: value("firstName"),
    businessNames: listing.kind === "PROFESSIONAL" ? value("businessNames").split("/").map((s) => s.trim()).filter(Boolean) : listing.businessNames,
    profession: value("profession") || null, mention: value("mention") || null, email: value("email") || null,
    publishedNumbers: [...section.querySelectorAll(".number-list input:checked")].map((i) => i.value),
    extraUsers: [...section.querySelectorAll(".extra")].map((row) => ({
      surname: $("input[name=surname]", row).value.trim(), firstName: $("input[name=firstName]", row).value.trim(),
      consentAttested: $("input[name=consent]", row).checked,
    })),
    attested: $(".attested", section).checked,
  };
}

// ---- Listing sections ----

function renderListing(listing) {
  const section = $("#listing-template").content.firstElementChild.cloneNode(true);
  section.id = `listing-${listing.id}`;
  section.dataset.listingId = listing.id;
  for (const el of section.querySelectorAll("[data-i18n]")) {
    const value = t()[el.dataset.i18n];
    if (typeof value === "string") el.textContent = value;
  }
  $(".listing-title", section).textContent = t().lineTitle(mainNumber(listing), t().lineTypes[listing.lineType.toLowerCase()] || "");
  renderChoices(section, listing);
  renderContent(section, listing);
  renderPreview(section, state.previews[listing.id]);
  renderAcknowledged(section, listing);
  $("form.choices", section).addEventListener("submit", (e) => { e.preventDefault(); saveChoices(section, listing.id); });
  $("form.content", section).addEventListener("submit", (e) => { e.preventDefault(); saveContent(section, listing.id); });
  $(".add-extra", section).addEventListener("click", () => {
    const list = $(".extra-list", section);
    const row = extraRow(section, current(listing.id), {}, list.children.length + Date.now());
    list.append(row);
    $("input", row).focus();
  });
  return section;
}

function current(id) { return state.me.listings.find((l) => l.id === id); }

// How many publishers acknowledged the listing's current state (publishers are not named).
function renderAcknowledged(section, listing) {
  const ack = (state.me.acknowledgements || []).find((a) => a.listingId === listing.id);
  const el = $(".acknowledged", section);
  if (!ack || ack.publishers === 0) { el.hidden = true; return; }
  const at = ack.lastAcknowledgedAt
    ? new Date(ack.lastAcknowledgedAt).toLocaleString(state.lang === "fr" ? "fr-FR" : "en-GB")
    : null;
  const sentence = document.createElement("p");
  sentence.textContent = t().acknowledged(ack.acknowledged, ack.publishers, at);
  const perKind = document.createElement("ul");
  for (const k of ack.kinds || []) {
    const item = document.createElement("li");
    item.textContent = t().acknowledgedKind(t().kinds[k.kind] || k.kind, k.acknowledged, k.publishers);
    perKind.append(item);
  }
  el.replaceChildren(sentence, perKind);
  el.hidden = false;
}

function replaceListing(listing, message, isAlarm) {
  const i = state.me.listings.findIndex((l) => l.id === listing.id);
  state.me.listings[i] = listing;
  // A new state of the listing: no publisher has acknowledged it yet.
  const ack = (state.me.acknowledgements || []).find((a) => a.listingId === listing.id);
  if (ack) ack.acknowledged = 0;
  const old = $(`#listing-${CSS.escape(listing.id)}`);
  const focusId = document.activeElement && document.activeElement.id;
  old.replaceWith(renderListing(listing));
  if (focusId && document.getElementById(focusId)) document.getElementById(focusId).focus();
  (isAlarm ? alarm : say)(message);
  schedulePreview($(`#listing-${CSS.escape(listing.id)}`), listing);
}

async function handleOutcome(outcome) {
  if (outcome.__typename === "ChangeApplied") {
    replaceListing(outcome.listing, outcome.changed ? t().saved : t().unchanged, false);
  }
  else if (outcome.__typename === "VersionConflictProblem") {
    replaceListing(outcome.current, outcome.retryShortly ? t().retryShortly : t().conflict, true);
  }
  else alarm(describeProblem(outcome));
}

async function saveChoices(section, id) {
  const listing = current(id);
  const input = { listingId: id, expectedVersion: listing.version, changeId: crypto.randomUUID(), ...choiceValues(section) };
  try { await handleOutcome((await call("SaveChoices", { input })).changeChoices); } catch (err) { sayError(err); }
}

async function saveContent(section, id) {
  const listing = current(id);
  const input = contentInput(section, listing);
  if (!input.attested) { alarm(t().attestRequired); $(".attested", section).focus(); return; }
  try { await handleOutcome((await call("SaveListing", { input })).changeListing); } catch (err) { sayError(err); }
}

// ---- My data ----

function renderAccesses() {
  const list = $("#accesses");
  list.replaceChildren(...state.me.accesses.map((a) => Object.assign(document.createElement("li"), { textContent: t().access(a, when(a.at)) })));
  $("#accesses-empty").hidden = state.me.accesses.length > 0;
}

async function showHistory() {
  try {
    const items = (await call("MyHistory")).myHistory;
    const list = $("#history");
    list.replaceChildren(...items.map((h) => Object.assign(document.createElement("li"), { textContent: t().historyItem(h, when(h.at)) })));
    list.hidden = false;
  } catch (err) { sayError(err); }
}

async function exportData() {
  try {
    const data = (await call("MyDataExport")).myDataExport;
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: "mes-donnees-annuaire.json" });
    document.body.append(link);
    link.click();
    link.remove();
    say(t().exported);
  } catch (err) { sayError(err); }
}

function renderAll() {
  applyTexts();
  const box = $("#listings");
  box.replaceChildren(...state.me.listings.map(renderListing));
  renderAccesses();
  $("#my-data").hidden = false;
}

async function load() {
  say(t().loading);
  try {
    state.me = (await call("Me")).me;
    for (const p of state.me.previews) state.previews[p.listingId] = p;
    renderAll();
    say(t().loaded);
  } catch (err) { sayError(err); }
}

// ---- Start ----

function takeToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem("directory-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("directory-token");
}

async function start() {
  const stored = localStorage.getItem("directory-lang");
  if (stored === "en" || stored === "fr") state.lang = stored;
  applyTexts();
  $("#lang").addEventListener("click", () => {
    state.lang = state.lang === "fr" ? "en" : "fr";
    localStorage.setItem("directory-lang", state.lang);
    if (state.me) renderAll(); else applyTexts();
  });
  $("#history-button").addEventListener("click", showHistory);
  $("#export-button").addEventListener("click", exportData);
  state.config = await (await fetch("/preferences/config.json")).json();
  state.token = takeToken();
  if (state.config.portalOrigin) {
    window.addEventListener("message", (event) => {
      if (event.origin !== state.config.portalOrigin || !event.data || event.data.type !== "directory-token") return;
      state.token = String(event.data.token);
      load();
    });
  }
  if (state.token) { load(); return; }
  $("#signin").hidden = false;
  $("#dev-login").hidden = !state.config.dev;
}

start();
