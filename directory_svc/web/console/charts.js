// Plots drawn as SVG from the service's own data, readable on screen and in print: dark
// strokes on white, patterns as well as colours, every value also in a table.
const NS = "http://www.w3.org/2000/svg";
const INK = "#1b1b1b";
export const SERIES = [
  { fill: "#0b4f9c", dash: "" },
  { fill: "#b35900", dash: "4 2" },
  { fill: "#1e6b2f", dash: "1 2" },
];

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Four equal steps of a round size (1, 2 or 5 × 10^k) covering ``v``: [max, step]. */
function scale(v) {
  const raw = Math.max(v, 1e-9) / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((m) => m >= raw);
  return [step * 4, step];
}

function label(v) {
  return String(Math.round(v * 1000) / 1000);
}

/** One row per label: every value as a tick, the median as a bar. ``rows``: [{label, values}]. */
export function stripPlot({ title, axis, rows }) {
  const left = 150, width = 640, rowH = 34, top = 12;
  const [max, step] = scale(Math.max(0.01, ...rows.flatMap((r) => r.values)));
  const height = top + rows.length * rowH + 46;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "plot" });
  const x = (v) => left + (v / max) * (width - left - 20);
  for (let i = 0; i <= 4; i += 1) {
    const v = step * i;
    root.append(svg("line", { x1: x(v), x2: x(v), y1: top, y2: height - 30, stroke: "#8a8a8a", "stroke-width": 0.5 }));
    root.append(svg("text", { x: x(v), y: height - 14, "text-anchor": "middle", "font-size": 12, fill: INK }, label(v)));
  }
  root.append(svg("text", { x: (left + width) / 2, y: height - 3, "text-anchor": "middle", "font-size": 12, fill: INK }, axis));
  rows.forEach((r, i) => {
    const y = top + i * rowH + rowH / 2;
    root.append(svg("text", { x: left - 8, y: y + 4, "text-anchor": "end", "font-size": 13, fill: INK }, r.label));
    for (const v of r.values) root.append(svg("line", { x1: x(v), x2: x(v), y1: y - 8, y2: y + 8, stroke: SERIES[0].fill, "stroke-width": 2 }));
    if (r.values.length) {
      const m = median(r.values);
      root.append(svg("rect", { x: x(m) - 2, y: y - 12, width: 4, height: 24, fill: INK }));
    }
  });
  return root;
}

/** Grouped bars: one group per label, one bar per series. ``groups``: [{label, values[]}]. */
export function groupedBars({ title, axis, series, groups }) {
  const left = 48, width = 680, top = 24, plotH = 200;
  const height = top + plotH + 70;
  const [max, step] = scale(Math.max(4, ...groups.flatMap((g) => g.values)));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "plot" });
  const y = (v) => top + plotH - (v / max) * plotH;
  for (let i = 0; i <= 4; i += 1) {
    const v = step * i;
    root.append(svg("line", { x1: left, x2: width - 8, y1: y(v), y2: y(v), stroke: "#8a8a8a", "stroke-width": 0.5 }));
    root.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: INK }, label(v)));
  }
  const slot = (width - left - 8) / Math.max(1, groups.length);
  const bar = Math.max(2, (slot - 6) / series.length);
  groups.forEach((g, i) => {
    g.values.forEach((v, s) => {
      const bx = left + i * slot + 3 + s * bar;
      root.append(svg("rect", {
        x: bx, y: y(v), width: bar - 1, height: Math.max(0, top + plotH - y(v)),
        fill: SERIES[s].fill, stroke: INK, "stroke-width": 0.6, "stroke-dasharray": SERIES[s].dash,
      }));
    });
    root.append(svg("text", { x: left + i * slot + slot / 2, y: top + plotH + 14, "text-anchor": "middle", "font-size": 10, fill: INK }, g.label));
  });
  series.forEach((name, s) => {
    const lx = left + s * 190;
    root.append(svg("rect", { x: lx, y: height - 30, width: 14, height: 14, fill: SERIES[s].fill, stroke: INK, "stroke-dasharray": SERIES[s].dash }));
    root.append(svg("text", { x: lx + 20, y: height - 19, "font-size": 12, fill: INK }, name));
  });
  root.append(svg("text", { x: 4, y: 14, "font-size": 12, fill: INK }, axis));
  return root;
}

export function median(values) {
  const v = values.slice().sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}
