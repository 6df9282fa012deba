// Support workflows: look-up by number, search, the listing explained, acting on the
// subscriber's behalf (choices with the live preview, termination), the account, the
// history and the publishers' reports. Every privacy decision shown comes from the
// server (explainListing, staffPreview); every read carries the task's purpose.
import { call } from "./api.js";
import { $, alarm, el, purpose, say, sayError, sayProblem, t, when } from "./ui.js";

const CHOICES = ["listed", "initialOnly", "noGender", "noStreet", "noReverseLookup", "noMarketing"];
const CHOICE_OF = { listed: "listed", initial_only: "initialOnly", no_gender: "noGender", no_street: "noStreet", no_reverse_lookup: "noReverseLookup", no_marketing: "noMarketing" };
const PAGE = 10;
const state = { results: [], search: null, explanation: null, account: null, accountPage: 0, pendingChange: null };
let refreshMeter = async () => {};

export function initSupport(meter) {
  refreshMeter = meter;
  $("#lookup").addEventListener("submit", (e) => { e.preventDefault(); lookup(); });
  $("#search").addEventListener("submit", (e) => { e.preventDefault(); search(null); });
  $("#results-more").addEventListener("click", () => search(state.search && state.search.after));
  $("#end-task").addEventListener("click", endTask);
  $("#task").addEventListener("submit", (e) => e.preventDefault());
}

export function rerenderSupport() {
  if (state.results.length) renderResults();
  if (state.explanation) renderListing();
  if (state.account) renderAccount();
}

function endTask() {
  Object.assign(state, { results: [], search: null, explanation: null, account: null, pendingChange: null });
  for (const id of ["#purpose", "#lookup-number", "#search-surname", "#search-place"]) $(id).value = "";
  for (const id of ["#results", "#listing", "#account"]) $(id).hidden = true;
  $("#listing").replaceChildren();
  $("#account").replaceChildren();
  say(t().taskEnded);
  $("#purpose").focus();
}

async function lookup() {
  const why = purpose();
  if (!why) return;
  try {
    const data = await call("LookupByNumber", { number: $("#lookup-number").value, purpose: why });
    const found = data.lookupByNumber;
    if (found.__typename !== "ListingsFound") return sayProblem(found);
    state.search = null;
    state.results = found.listings;
    renderResults();
    say(t().found(found.listings.length));
  } catch (err) { sayError(err); } finally { refreshMeter(); }
}

async function search(after) {
  const why = purpose();
  if (!why) return;
  const place = $("#search-place").value.trim();
  const byCommune = $("#search-kind").value === "commune";
  try {
    const data = await call("SearchListings", {
      surname: $("#search-surname").value, purpose: why, first: 20, after,
      commune: byCommune ? place : null, postcode: byCommune ? null : place,
    });
    const page = data.searchListings;
    if (page.__typename !== "ListingConnection") return sayProblem(page);
    const listings = page.edges.map((e) => e.node);
    state.results = after ? state.results.concat(listings) : listings;
    state.search = { after: page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null };
    renderResults();
    say(t().found(state.results.length));
  } catch (err) { sayError(err); } finally { refreshMeter(); }
}

function numbersText(listing) {
  return listing.numbers.map((n) => `${n.number} (${t().lineTypes[n.lineType] || n.lineType}, ${n.inDirectories ? t().shown : t().hidden})`).join(" · ");
}

function renderResults() {
  $("#results").hidden = false;
  $("#results-list").replaceChildren(...state.results.map((l) => el("li", {},
    el("span", { class: "name", text: l.displayName }),
    el("span", { class: "meta", text: `${l.address.postcode} ${l.address.commune} — ${numbersText(l)} — ${t().status[l.status] || l.status}` }),
    el("button", { type: "button", "aria-label": `${t().open} : ${l.displayName}`, text: t().open, on: { click: () => openListing(l.id) } }),
  )));
  $("#results-more").hidden = !(state.search && state.search.after);
}

export async function openListing(id, { keepMessage = false } = {}) {
  const why = purpose();
  if (!why) return false;
  try {
    const data = await call("ExplainListing", { id, purpose: why });
    state.explanation = data.explainListing;
    state.pendingChange = null;
    renderListing();
    if (!keepMessage) say("");
    $("#listing").focus();
    return true;
  } catch (err) { sayError(err); return false; } finally { refreshMeter(); }
}

function factList(pairs) {
  return el("dl", { class: "facts" }, pairs.map(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
}

function reasonText(r) {
  const choice = r.choice ? (t().choiceNames[r.choice] || r.choice) : "";
  const text = t().reasons[r.code];
  return typeof text === "function" ? text(choice) : (text || r.code);
}

function renderListing() {
  const x = state.explanation;
  const l = x.listing;
  const section = $("#listing");
  section.hidden = false;
  const choicesRows = CHOICES.map((c) => [t().choices[c], l.choices[c] ? t().yes : t().no]);
  const street = [l.address.street, l.address.postcode, l.address.commune].filter(Boolean).join(" ");
  section.replaceChildren(
    el("h3", { id: "listing-title", text: t().listingTitle(l.displayName) }),
    factList([
      [t().account, el("button", { type: "button", class: "link", text: `${l.accountId} — ${t().accountButton}`, on: { click: () => openAccount(l.accountId) } })],
      [t().address, street],
      [t().numbers, numbersText(l)],
      [t().lineStatus, t().status[l.status] || l.status],
      [t().version, String(l.version)],
    ]),
    el("h4", { text: t().choicesTitle }),
    factList(choicesRows),
    el("h4", { text: t().publishersTitleListing }),
    x.publishers.length === 0 ? el("p", { text: t().noPublisher }) : el("ul", { class: "why" }, x.publishers.map((p) => el("li", { "data-publisher": p.publisherId },
      el("strong", { text: `${p.publisherId} (${t().publisherKinds[p.publisherKind] || p.publisherKind}) : ` }),
      el("span", { class: p.included ? "in" : "out", text: p.included ? t().receives : t().receivesNot }),
      p.reasons.length ? el("ul", {}, p.reasons.map((r) => el("li", { text: reasonText(r) }))) : null,
      el("p", { class: "meta", text: `${t().lastSent(p.lastSentSequence)} — ${t().acked(p.acknowledgedAt ? when(p.acknowledgedAt) : null, p.holdsCurrentState)}` }),
    ))),
    actForm(l),
    contentForm(l),
    terminateForm(l),
    el("section", { class: "history-block", "aria-labelledby": "history-title" },
      el("h4", { id: "history-title", text: t().historyTitle }),
      el("p", { class: x.historyProblem ? "chain bad" : "chain ok", text: x.historyProblem ? t().chainBroken(x.historyProblem) : t().chainOk }),
      el("ol", { class: "history", reversed: true }, x.history.slice().reverse().map((h) => el("li", {
        text: t().historyItem({
          actor: t().actors[h.actor] || h.actor,
          channel: t().channels[h.channel] || h.channel, reason: h.reason,
          changed: h.changed.map((n) => t().choiceNames[n] || t().fieldNames[n] || n).join(", "),
        }, when(h.at)),
      })))),
    el("h4", { text: t().reportsTitle }),
    el("button", { type: "button", id: "reports-button", text: t().showReports, on: { click: () => showReports(l.id) } }),
    el("div", { id: "reports" }),
  );
}

function actForm(l) {
  const form = el("form", { class: "act", id: "act" });
  form.append(
    el("h4", { text: t().actTitle }),
    el("fieldset", {}, el("legend", { class: "visually-hidden", text: t().choicesTitle }),
      CHOICES.map((c) => el("div", { class: "check" },
        el("input", { type: "checkbox", id: `act-${c}`, name: c, checked: l.choices[c], on: { change: previewChoices } }),
        el("label", { for: `act-${c}`, text: t().choices[c] }),
      ))),
    el("div", { class: "field wide" }, el("label", { for: "act-reason", text: t().reason }),
      el("input", { id: "act-reason", name: "reason", maxlength: "200", autocomplete: "off", "aria-required": "true" })),
    el("div", { class: "field" }, el("label", { for: "act-channel", text: t().channel }),
      el("select", { id: "act-channel", name: "channel", "aria-required": "true" },
        el("option", { value: "", text: t().channelChoose }),
        ["PHONE", "MAIL", "SHOP"].map((c) => el("option", { value: c, text: t().staffChannels[c] })))),
    el("section", { id: "act-preview", class: "preview", "aria-live": "polite", "aria-label": t().previewTitle },
      el("p", { class: "meta", text: t().previewHint })),
    el("button", { type: "submit", class: "primary", text: t().save }),
  );
  form.addEventListener("submit", (e) => { e.preventDefault(); saveChoices(); });
  return form;
}

function wanted() {
  const out = {};
  for (const c of CHOICES) out[c] = $(`#act-${c}`).checked;
  return out;
}

let previewTicket = 0;
async function previewChoices() {
  const l = state.explanation && state.explanation.listing;
  const why = $("#purpose").value.trim();
  if (!l || !why) return;
  const ticket = ++previewTicket;
  try {
    const data = await call("StaffPreview", { input: { listingId: l.id, ...wanted() }, purpose: why });
    if (ticket !== previewTicket) return;
    const p = data.staffPreview;
    if (p.__typename !== "ListingPreview") return sayProblem(p);
    renderPreview(p);
  } catch (err) { sayError(err); } finally { refreshMeter(); }
}

function renderPreview(p) {
  const box = $("#act-preview");
  if (!box) return;
  box.replaceChildren(...[
    el("h5", { text: t().previewTitle }),
    el("div", { class: "kinds" }, p.kinds.map((k) => el("div", { class: "kind", "data-kind": k.kind },
      el("h6", { text: t().publisherKinds[k.kind] || k.kind }),
      k.published
        ? el("dl", {}, k.fields.map((f) => [el("dt", { text: t().fieldNames[f.name] || f.name }), el("dd", { text: f.value })]))
        : el("p", { class: "absent", text: `${t().notPublished} : ${k.reasons.filter((r) => !r.choice || r.code !== "masked").map(reasonText).join(" ; ")}` }),
    ))),
    p.limits.length ? el("p", { class: "limits", text: `${t().limitsTitle} ${p.limits.map((x) => reasonText({ code: x.reason, choice: x.choice })).join(" ; ")}` }) : null,
  ].filter(Boolean));
}

async function saveChoices() {
  const l = state.explanation.listing;
  const reason = $("#act-reason").value.trim();
  const channel = $("#act-channel").value;
  if (!reason || !channel) { alarm(t().reasonNeeded); (reason ? $("#act-channel") : $("#act-reason")).focus(); return; }
  const values = wanted();
  const key = JSON.stringify([l.id, l.version, values, reason, channel]);
  if (!state.pendingChange || state.pendingChange.key !== key) state.pendingChange = { key, id: crypto.randomUUID() };
  try {
    const data = await call("ChangeChoices", { input: {
      listingId: l.id, expectedVersion: l.version, changeId: state.pendingChange.id, ...values, reason, channel,
    } });
    const r = data.changeChoices;
    if (r.__typename === "ChangeApplied") {
      state.pendingChange = null;
      await reopen(r.changed ? t().saved : t().unchanged);
    } else if (r.__typename === "VersionConflictProblem") {
      state.pendingChange = null;
      if (r.retryShortly) return alarm(t().retryShortly);
      await reopen(null);
      alarm(t().conflict);
      $("#act-reason").value = reason;
      $("#act-channel").value = channel;
    } else sayProblem(r);
  } catch (err) { sayError(err); }
}

async function reopen(message) {
  const id = state.explanation.listing.id;
  const ok = await openListing(id, { keepMessage: true });
  if (ok && message) say(message);
}

function contentForm(l) {
  const field = (id, label, value, max) => el("div", { class: "field wide" },
    el("label", { for: id, text: label }),
    el("input", { id, maxlength: String(max), autocomplete: "off", value: value || "" }));
  const form = el("form", { class: "act", id: "content" },
    el("h4", { text: t().contentTitle }),
    field("content-firstName", t().contentFields.firstName, l.firstName, 130),
    field("content-profession", t().contentFields.profession, l.profession, 200),
    field("content-mention", t().contentFields.mention, l.mention, 30),
    field("content-email", t().contentFields.email, l.email, 254),
    el("fieldset", {}, el("legend", { text: t().numbersShown }),
      l.numbers.map((n, i) => el("div", { class: "check" },
        el("input", { type: "checkbox", id: `content-number-${i}`, "data-number": n.number, checked: n.published }),
        el("label", { for: `content-number-${i}`, text: `${n.number} (${t().lineTypes[n.lineType] || n.lineType})` })))),
    el("div", { class: "check" },
      el("input", { type: "checkbox", id: "content-attested" }),
      el("label", { for: "content-attested", text: t().attested })),
    el("div", { class: "field wide" }, el("label", { for: "content-reason", text: t().reason }),
      el("input", { id: "content-reason", maxlength: "200", autocomplete: "off", "aria-required": "true" })),
    el("div", { class: "field" }, el("label", { for: "content-channel", text: t().channel }),
      el("select", { id: "content-channel", "aria-required": "true" },
        el("option", { value: "", text: t().channelChoose }),
        ["PHONE", "MAIL", "SHOP"].map((c) => el("option", { value: c, text: t().staffChannels[c] })))),
    el("button", { type: "submit", class: "primary", text: t().saveContent }),
  );
  form.addEventListener("submit", (e) => { e.preventDefault(); saveContent(); });
  return form;
}

async function saveContent() {
  const l = state.explanation.listing;
  const reason = $("#content-reason").value.trim();
  const channel = $("#content-channel").value;
  if (!reason || !channel) { alarm(t().reasonNeeded); (reason ? $("#content-channel") : $("#content-reason")).focus(); return; }
  if (!$("#content-attested").checked) { alarm(t().attestedNeeded); $("#content-attested").focus(); return; }
  const text = (id) => $(id).value.trim() || null;
  const input = {
    listingId: l.id, expectedVersion: l.version, changeId: crypto.randomUUID(),
    firstName: $("#content-firstName").value.trim(), businessNames: l.businessNames,
    profession: text("#content-profession"), mention: text("#content-mention"), email: text("#content-email"),
    publishedNumbers: l.numbers.filter((n, i) => $(`#content-number-${i}`).checked).map((n) => n.number),
    extraUsers: l.extraUsers.map((u) => ({ surname: u.surname, firstName: u.firstName, consentAttested: u.consent })),
    attested: true, reason, channel,
  };
  try {
    const r = (await call("StaffChangeListing", { input })).changeListing;
    if (r.__typename === "ChangeApplied") await reopen(r.changed ? t().saved : t().unchanged);
    else if (r.__typename === "VersionConflictProblem") {
      if (r.retryShortly) return alarm(t().retryShortly);
      await reopen(null);
      alarm(t().conflict);
    } else sayProblem(r);
  } catch (err) { sayError(err); }
}

function terminateForm(l) {
  const form = el("form", { class: "terminate", id: "terminate" },
    el("h4", { text: t().terminateTitle }),
    el("div", { class: "field wide" }, el("label", { for: "end-reason", text: t().reason }),
      el("input", { id: "end-reason", maxlength: "200", autocomplete: "off", "aria-required": "true" })),
    el("div", { class: "field" }, el("label", { for: "end-channel", text: t().channel }),
      el("select", { id: "end-channel", "aria-required": "true" },
        el("option", { value: "", text: t().channelChoose }),
        ["PHONE", "MAIL", "SHOP"].map((c) => el("option", { value: c, text: t().staffChannels[c] })))),
    el("button", { type: "submit", class: "danger", text: t().terminateButton }),
  );
  form.addEventListener("submit", (e) => { e.preventDefault(); terminate(l); });
  return form;
}

function confirm(title, body, yes) {
  const dialog = $("#confirm");
  $("#confirm-title").textContent = title;
  $("#confirm-body").replaceChildren(el("p", { text: body }));
  $("#confirm-yes").textContent = yes;
  $("#confirm-no").textContent = t().cancel;
  return new Promise((resolve) => {
    const done = (answer) => () => { dialog.close(); resolve(answer); };
    $("#confirm-yes").onclick = done(true);
    $("#confirm-no").onclick = done(false);
    dialog.oncancel = () => resolve(false);
    dialog.showModal();
    $("#confirm-no").focus();
  });
}

async function terminate(l) {
  const reason = $("#end-reason").value.trim();
  const channel = $("#end-channel").value;
  if (!reason || !channel) { alarm(t().reasonNeeded); (reason ? $("#end-channel") : $("#end-reason")).focus(); return; }
  if (!(await confirm(t().terminateConfirmTitle, t().terminateConfirm(l.displayName), t().terminateYes))) return;
  try {
    const data = await call("TerminateLine", { input: {
      listingId: l.id, expectedVersion: l.version, changeId: crypto.randomUUID(), reason, channel,
    } });
    const r = data.terminateLine;
    if (r.__typename === "ChangeApplied") {
      const i = state.results.findIndex((x) => x.id === l.id);
      if (i >= 0) { state.results[i] = r.listing; renderResults(); }
      await reopen(t().terminated);
    } else if (r.__typename === "VersionConflictProblem") {
      await reopen(null);
      alarm(r.retryShortly ? t().retryShortly : t().conflict);
    } else sayProblem(r);
  } catch (err) { sayError(err); }
}

async function showReports(listingId) {
  const why = purpose();
  if (!why) return;
  try {
    const data = await call("OpenReports", { listingId, purpose: why });
    const box = $("#reports");
    const reports = data.openReports;
    box.replaceChildren(reports.length === 0 ? el("p", { text: t().noReports }) : el("ul", { class: "reports" },
      reports.map((r) => el("li", {},
        el("span", { text: t().report(r, when(r.createdAt)) }),
        el("label", { for: `res-${r.id}`, class: "visually-hidden", text: t().resolution }),
        el("input", { id: `res-${r.id}`, placeholder: t().resolution, maxlength: "500" }),
        el("button", { type: "button", text: t().closeReport, on: { click: () => closeReport(r.id, listingId) } }),
      ))));
  } catch (err) { sayError(err); } finally { refreshMeter(); }
}

async function closeReport(id, listingId) {
  const resolution = $(`#res-${id}`).value.trim();
  if (!resolution) { alarm(t().invalid(t().resolution, "—")); $(`#res-${id}`).focus(); return; }
  try {
    const r = (await call("CloseReport", { id, resolution })).closeReport;
    if (r.__typename !== "DataQuery") return sayProblem(r);
    say(t().reportClosed);
    await showReports(listingId);
  } catch (err) { sayError(err); }
}

async function openAccount(accountId) {
  const why = purpose();
  if (!why || !accountId) return;
  try {
    const r = (await call("Account", { id: accountId, purpose: why })).account;
    if (r.__typename !== "Account") return sayProblem(r);
    state.account = r;
    state.accountPage = 0;
    renderAccount();
    $("#account").focus();
  } catch (err) { sayError(err); } finally { refreshMeter(); }
}

function renderAccount() {
  const a = state.account;
  const section = $("#account");
  section.hidden = false;
  const filter = el("input", { id: "account-filter", autocomplete: "off", value: section.dataset.filter || "" });
  const list = el("ul", { class: "lines" });
  const pager = el("div", { class: "pager" });
  const counter = el("p", { class: "meta", role: "status" });
  function draw() {
    const q = filter.value.trim().toLowerCase();
    section.dataset.filter = filter.value;
    const lines = a.listings.filter((l) => !q || l.displayName.toLowerCase().includes(q) || l.id.toLowerCase().includes(q));
    const pages = Math.max(1, Math.ceil(lines.length / PAGE));
    state.accountPage = Math.min(state.accountPage, pages - 1);
    const shown = lines.slice(state.accountPage * PAGE, (state.accountPage + 1) * PAGE);
    counter.textContent = t().accountLines(lines.length, a.listings.length);
    list.replaceChildren(...shown.map((l) => el("li", {},
      el("span", { text: `${l.displayName} (${l.id})` }),
      el("button", { type: "button", "aria-label": `${t().open} : ${l.displayName} (${l.id})`, text: t().open, on: { click: () => openListing(l.id) } }))));
    pager.replaceChildren(
      el("button", { type: "button", text: t().previous, disabled: state.accountPage === 0, on: { click: () => { state.accountPage -= 1; draw(); } } }),
      el("span", { text: t().page(state.accountPage + 1, pages) }),
      el("button", { type: "button", text: t().next, disabled: state.accountPage >= pages - 1, on: { click: () => { state.accountPage += 1; draw(); } } }),
    );
  }
  filter.addEventListener("input", () => { state.accountPage = 0; draw(); });
  section.replaceChildren(
    el("h3", { id: "account-title", text: t().accountTitle(a.id) }),
    el("ul", { class: "meta" }, a.informed.map((i) => el("li", { text: t().informed(when(i.at, false), i.noticeVersion) }))),
    el("div", { class: "field" }, el("label", { for: "account-filter", text: t().accountFilter }), filter),
    counter, list, pager,
  );
  draw();
}
