// Compliance views (admin role): publishers with their feeds and acknowledgements, opt-outs
// waiting beyond the threshold, the plots, and the access log with its export.
import { ApiError, call } from "./api.js";
import { groupedBars, median, stripPlot } from "./charts.js";
import { $, el, say, sayError, t, table, when } from "./ui.js";

const KINDS = ["DIRECTORY", "ENQUIRY", "REVERSE_LOOKUP"];
const LOG_MAX = 500; // the API's most records per query
const state = { loaded: false, data: null, log: [] };

export function initCompliance() {
  $("#pending-hours").addEventListener("change", loadPending);
  $("#log-filter").addEventListener("submit", (e) => { e.preventDefault(); loadLog(); });
  $("#log-export").addEventListener("click", exportLog);
}

export async function showCompliance() {
  $("#compliance-refused").hidden = true;
  try {
    const [pubs, times, weekly] = [
      await call("PublisherCompliance"), await call("PropagationTimes", { days: 30 }),
      await call("OptOutsPerWeek", { weeks: 12 }),
    ];
    state.data = { pubs: pubs.publisherCompliance, times: times.propagationTimes, weekly: weekly.optOutsPerWeek };
    $("#compliance-body").hidden = false;
    render();
    await loadPending();
    await loadLog();
  } catch (err) {
    if (err instanceof ApiError && err.kind === "forbidden") {
      $("#compliance-body").hidden = true;
      $("#compliance-refused").hidden = false;
      return;
    }
    sayError(err);
  }
}

export function rerenderCompliance() {
  if (state.data) { render(); renderLog(); }
}

function render() {
  const { pubs, times, weekly } = state.data;
  table($("#publishers"), t().pubCols, pubs.map((p) => [
    `${p.publisher.legalName} (${p.publisher.id})${p.publisher.active ? "" : ` — ${t().inactive}`}`,
    el("span", {}, t().publisherKinds[p.publisher.kind] || p.publisher.kind, el("br"),
      t().profileLine(p.publisher)),
    p.publisher.departements.length || p.publisher.communes.length ? p.publisher.departements.concat(p.publisher.communes).join(", ") : t().allFrance,
    p.recentRuns.length ? el("ul", {}, p.recentRuns.slice(0, 3).map((r) => el("li", { text: t().runLine(r, when(r.startedAt)) }))) : t().none,
    p.lastAcknowledgement ? t().ackLine(p.lastAcknowledgement, when(p.lastAcknowledgement.receivedAt)) : t().none,
    p.oldestPendingOptOutHours == null ? t().none : t().hours(p.oldestPendingOptOutHours),
  ]));
  const byPublisher = pubs.map((p) => ({ label: p.publisher.id, values: times.filter((s) => s.publisherId === p.publisher.id).map((s) => s.hours) }));
  const fig1 = $("#plot-propagation");
  fig1.replaceChildren(el("figcaption", { text: t().propagationTitle }));
  if (times.length === 0) fig1.append(el("p", { text: t().propagationNone }));
  else fig1.append(stripPlot({ title: t().propagationTitle, axis: t().propagationAxis, rows: byPublisher }));
  fig1.append(el("details", {}, el("summary", { text: t().tableView }), el("ul", {}, byPublisher.map((r) => el("li", {
    text: t().propagationRow(r.label, r.values.length, r.values.length ? t().hours(median(r.values)) : "—", r.values.length ? t().hours(Math.max(...r.values)) : "—"),
  })))));
  const weeks = [...new Set(weekly.map((w) => w.week))];
  const groups = weeks.map((w) => ({ label: when(w, false).replace(/ \d{4}$/, ""), values: KINDS.map((k) => (weekly.find((x) => x.week === w && x.kind === k) || { optOuts: 0 }).optOuts) }));
  const fig2 = $("#plot-weekly");
  fig2.replaceChildren(el("figcaption", { text: t().weeklyTitle }),
    groupedBars({ title: t().weeklyTitle, axis: t().weeklyAxis, series: KINDS.map((k) => t().publisherKinds[k]), groups }),
    el("details", {}, el("summary", { text: t().tableView }), el("ul", {}, weekly.filter((w) => w.optOuts > 0).map((w) => el("li", {
      text: t().weeklyRow(t().weekOf(when(w.week, false)), t().publisherKinds[w.kind], w.optOuts),
    })))));
}

async function loadPending() {
  try {
    const hours = Math.max(0, Number($("#pending-hours").value) || 0);
    const rows = (await call("UnacknowledgedOptOuts", { olderThanHours: hours })).unacknowledgedOptOuts;
    if (rows.length === 0) {
      $("#pending").replaceChildren(el("caption", { text: t().pendingNone }));
      return;
    }
    table($("#pending"), t().pendingCols, rows.map((r) => [r.publisherId, String(r.sequence), String(r.optOuts), when(r.oldestChangeAt), t().hours(r.ageHours)]));
  } catch (err) { sayError(err); }
}

function dayStart(value, end) {
  if (!value) return null;
  return new Date(`${value}T${end ? "23:59:59.999" : "00:00:00"}`).toISOString();
}

async function loadLog() {
  try {
    const data = await call("AccessLog", {
      agent: $("#log-agent").value.trim() || null, listingId: $("#log-listing").value.trim() || null,
      since: dayStart($("#log-since").value, false), until: dayStart($("#log-until").value, true),
      first: LOG_MAX,
    });
    state.log = data.accessLog;
    renderLog();
  } catch (err) { sayError(err); }
}

function shownLog() {
  return $("#log-flagged").checked ? state.log.filter((r) => r.flagged) : state.log;
}

function renderLog() {
  const rows = shownLog();
  if (rows.length === 0) { $("#log").replaceChildren(el("caption", { text: t().logNone })); return; }
  table($("#log"), t().logCols, rows.map((r) => [when(r.at), r.agent, r.role, r.operation, r.purpose, r.listingId || "", r.accountId || "", r.flagged ? t().flaggedYes : ""]));
  $("#log").prepend(el("caption", { text: state.log.length >= LOG_MAX ? t().logTruncated(LOG_MAX) : t().logCount(rows.length) }));
}

function csvCell(v) {
  const s = String(v ?? "");
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s; // never a formula in the officer's spreadsheet
  return /[";\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function exportLog() {
  const rows = shownLog();
  const lines = [["at", "agent", "role", "operation", "purpose", "listing", "account", "flagged"]]
    .concat(rows.map((r) => [r.at, r.agent, r.role, r.operation, r.purpose, r.listingId, r.accountId, r.flagged]));
  const text = "\ufeff" + lines.map((l) => l.map(csvCell).join(";")).join("\r\n") + "\r\n";
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = el("a", { href: url, download: `access-log-${new Date().toISOString().slice(0, 10)}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  say(t().logExported);
}
