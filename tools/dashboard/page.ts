/**
 * The dashboard's page: one HTML document with its CSS and script inline,
 * no framework and nothing fetched from elsewhere. The script reads
 * `/events` (server-sent events of tools/dashboard/state.ts
 * `DashboardState`) and redraws; the pause histogram and the timeline are
 * inline SVG it draws. The buttons POST to the server (tools/dashboard/server.ts)
 * and show its answer, a refusal naming the flag included.
 *
 * Elements a test reads carry ids: `#phase` (its `data-phase` the machine's
 * phase), `#pid`, `#epoch`, `#resumes`, `#crashes`, `#ckpt-committed`,
 * `#ckpt-requested`, `#ckpt-done`, `#components`, `#log`, `#action-result`,
 * buttons `#btn-checkpoint`, `#btn-inject`, `#btn-power`.
 *
 * @module
 */

import { FAULT_KINDS } from "../../kernel/abi/protocol.ts";
import { PAUSE_BUCKETS_US } from "./state.ts";

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2430; }
header { display: flex; gap: 1.5em; align-items: center; padding: .8em 1.2em; background: #1d2430; color: #fff; flex-wrap: wrap; }
header h1 { font-size: 1.2em; margin: 0; }
.badge { padding: .15em .6em; border-radius: 1em; font-weight: 600; }
.badge[data-phase=running] { background: #2e9d57; } .badge[data-phase=down] { background: #d33a2c; }
.badge[data-phase=booting], .badge[data-phase=starting] { background: #d9a400; } .badge[data-phase=halted] { background: #777; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 1em; padding: 1em; }
section { background: #fff; border-radius: 6px; padding: .6em 1em; box-shadow: 0 1px 2px #0002; }
section h2 { font-size: 1em; margin: .2em 0 .5em; }
table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .1em .4em; border-bottom: 1px solid #eee; }
th { font-weight: 600; color: #555; } .num { text-align: right; font-variant-numeric: tabular-nums; }
#caps { max-height: 24em; overflow: auto; }
#log { max-height: 18em; overflow: auto; font: 12px ui-monospace, monospace; }
.k-crash, .k-error, .k-dead { color: #d33a2c; } .k-resume, .k-restart { color: #2e7d32; }
button { margin-right: .4em; } button:disabled { opacity: .5; }
#action-result { font-size: .9em; color: #555; min-height: 1.2em; }
.muted { color: #888; } pre { margin: 0; font: 12px ui-monospace, monospace; white-space: pre-wrap; }
`;

const SCRIPT = `
const BUCKETS = ${JSON.stringify(PAUSE_BUCKETS_US)};
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const us = (n) => n >= 1000 ? +(n / 1000).toFixed(1) + " ms" : Math.round(n) + " µs";
let state = null;

function table(head, rows) {
  return "<table><tr>" + head.map((h) => "<th>" + esc(h) + "</th>").join("") + "</tr>" +
    rows.map((r) => "<tr>" + r.map((c) => typeof c === "number" ? '<td class="num">' + c + "</td>" : "<td>" + esc(c) + "</td>").join("") + "</tr>").join("") + "</table>";
}

function drawHistogram(h) {
  const W = 400, H = 120, n = h.length, max = Math.max(1, ...h), bw = W / n;
  let svg = '<svg id="histogram" width="100%" viewBox="0 0 ' + W + " " + (H + 30) + '">';
  h.forEach((c, i) => {
    const bh = Math.round((c / max) * H);
    svg += '<rect x="' + (i * bw + 2) + '" y="' + (H - bh) + '" width="' + (bw - 4) + '" height="' + bh + '" fill="#4a78c2"><title>' + c + "</title></rect>";
    const label = i < BUCKETS.length ? "≤" + us(BUCKETS[i]) : ">" + us(BUCKETS[BUCKETS.length - 1]);
    svg += '<text x="' + (i * bw + bw / 2) + '" y="' + (H + 12) + '" font-size="7.5" text-anchor="middle">' + label + "</text>";
    svg += '<text x="' + (i * bw + bw / 2) + '" y="' + (H + 24) + '" font-size="9" text-anchor="middle" fill="#555">' + c + "</text>";
  });
  return svg + "</svg>";
}

function drawTimeline(s) {
  const now = Date.now(), first = Math.min(now, ...s.log.map((e) => e.atMs));
  const W = 400, H = 130, span = Math.min(60000, Math.max(10000, now - first)), x = (t) => W - ((now - t) / span) * W;
  const tl = s.checkpoints.timeline.filter((e) => now - e.atMs < span);
  const rel = s.checkpoints.releases.filter((e) => now - e.atMs < span);
  const maxPause = Math.max(100, ...tl.map((e) => e.pauseUs + e.commitUs));
  const maxBytes = Math.max(1, ...rel.map((e) => e.bytes));
  let svg = '<svg id="timeline" width="100%" viewBox="0 0 ' + W + " " + (H + 16) + '">';
  for (const o of s.outages) {
    const a = Math.max(0, x(o.fromMs)), b = Math.min(W, x(o.toMs ?? now));
    if (b > 0) svg += '<rect class="outage" x="' + a + '" y="0" width="' + Math.max(2, b - a) + '" height="' + H + '" fill="#d33a2c33"><title>down: ' + esc(o.cause) + "</title></rect>";
  }
  svg += '<line x1="0" y1="60" x2="' + W + '" y2="60" stroke="#ccc"/>';
  for (const e of tl) {
    const h = (e.pauseUs / maxPause) * 55, c = (e.commitUs / maxPause) * 55;
    const title = "<title>epoch " + e.epoch + ": pause " + us(e.pauseUs) + ", commit " + us(e.commitUs) + "</title>";
    svg += '<rect x="' + x(e.atMs) + '" y="' + (60 - h) + '" width="1.5" height="' + h + '" fill="#4a78c2">' + title + "</rect>";
    svg += '<rect x="' + x(e.atMs) + '" y="' + (60 - h - c) + '" width="1.5" height="' + c + '" fill="#e08a1e">' + title + "</rect>";
  }
  for (const e of rel) {
    const h = (e.bytes / maxBytes) * 55;
    svg += '<rect x="' + x(e.atMs) + '" y="65" width="1.5" height="' + h + '" fill="#2e9d57"><title>epoch ' + e.epoch + " committed: " + e.bytes + " held bytes released</title></rect>";
  }
  svg += '<text x="2" y="10" font-size="9"><tspan fill="#4a78c2">pause</tspan> + <tspan fill="#e08a1e">commit</tspan> (max ' + us(maxPause) + ')</text><text x="2" y="' + (H - 2) + '" font-size="9">held output released at commit (max ' + maxBytes + ' B)</text>';
  svg += '<text x="0" y="' + (H + 12) + '" font-size="9">−' + Math.round(span / 1000) + ' s</text><text x="' + W + '" y="' + (H + 12) + '" font-size="9" text-anchor="end">now</text>';
  return svg + "</svg>";
}

function renderReport(s) {
  const r = s.report, phase = s.machine.phase;
  const out = new Map(s.components.map((c) => [c.thread, c.releasedBytes]));
  const stale = phase === "running" ? "" : " (before: machine " + phase + ")";
  $("components").innerHTML = table(["component", "thread", "state", "policy", "restarts", "console bytes out"],
    r.groups.flatMap((g) => g.threads.map((t) => [g.name, t.id, t.state + stale, t.policy, t.restarts, out.get(t.id) ?? 0])));
  $("caps").innerHTML = r.groups.map((g) => "<b>" + esc(g.name) + "</b><pre>" + esc(capTree(g)) + "</pre>").join("");
  $("ipc").innerHTML = table(["conn", "client", "server", "requests", "bytes", "pending"],
    r.ipc.connections.filter((c) => !c.closed).map((c) => [c.id, groupName(r, c.clientGroup), groupName(r, c.serverGroup), c.requests ?? "–", c.requestBytes ?? "–", c.pendingRequests ?? "–"]));
  const m = r.memory;
  $("nvm").innerHTML = table(["", "used", "total"], [["NVM pages", m.nvmPages - m.nvmFreePages, m.nvmPages], ["kernel objects", m.objects, m.objectsMax]]) +
    table(["cap group", "pages used", "quota"], r.groups.map((g) => [g.name, g.usedPages, g.quotaPages]));
}

function groupName(r, id) { return (r.groups.find((g) => g.id === id) || { name: "#" + id }).name; }

function capTree(g) {
  const byId = new Map(g.caps.map((c) => [c.id, c]));
  const kids = new Map();
  for (const c of g.caps) {
    const p = byId.has(c.parent) ? c.parent : 0;
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(c);
  }
  const lines = [];
  const walk = (id, depth) => {
    for (const c of kids.get(id) || []) {
      const from = c.parent && !byId.has(c.parent) ? " ← " + (c.parentGroup ?? "?") + ":" + (c.parentSlot ?? "?") : "";
      lines.push("  ".repeat(depth) + "[" + c.slot + "] " + c.kind + " " + c.rights.join(",") + (c.badge ? " badge " + c.badge : "") + from);
      if (depth < 8) walk(c.id, depth + 1);
    }
  };
  walk(0, 0);
  return lines.join("\\n") || "(none)";
}

function render(s) {
  state = s;
  const m = s.machine;
  $("phase").textContent = m.phase;
  $("phase").dataset.phase = m.phase;
  $("pid").textContent = m.pid ?? "–";
  $("epoch").textContent = m.epoch;
  $("starts").textContent = m.starts;
  $("crashes").textContent = m.crashes;
  $("resumes").textContent = m.resumes;
  const c = s.checkpoints;
  $("ckpt-committed").textContent = c.committed;
  $("ckpt-requested").textContent = c.requested;
  $("ckpt-done").textContent = c.requestedCommitted;
  $("histogram-box").innerHTML = drawHistogram(c.pauseHistogram);
  $("timeline-box").innerHTML = drawTimeline(s);
  if (s.report) renderReport(s);
  else $("components").innerHTML = table(["component", "thread", "state", "console bytes out"],
    s.components.map((x) => [x.name, x.thread, m.phase === "running" ? "running" : m.phase, x.releasedBytes]));
  $("net").innerHTML = s.net && s.net.length ? table(["connection", "port", "held bytes", "released bytes"],
    s.net.map((n) => [n.conn, n.port ?? "–", n.heldBytes, n.releasedBytes])) : '<span class="muted">no connection</span>';
  $("log").innerHTML = s.log.slice().reverse().map((e) =>
    '<div class="k-' + esc(e.kind) + '">' + new Date(e.atMs).toLocaleTimeString() + " [" + esc(e.kind) + "] " + esc(e.text) + ' <span class="muted">epoch ' + e.epoch + "</span></div>").join("");
  const a = s.allowed;
  for (const [id, ok, flag] of [["btn-checkpoint", a.checkpoint, "--commands"], ["btn-inject", a.inject, "--fault-injection"], ["btn-power", a.powerCut, "--power-button"]]) {
    $(id).disabled = !ok;
    $(id).title = ok ? "" : "start the supervisor with " + flag + " to allow this";
  }
}

async function post(path, body) {
  $("action-result").textContent = "…";
  try {
    const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}) });
    const j = await res.json();
    $("action-result").textContent = (j.ok ? "" : res.status + " " + j.code + ": ") + j.text;
  } catch (e) {
    $("action-result").textContent = "the supervisor did not answer: " + e.message;
  }
}

$("btn-checkpoint").onclick = () => post("/checkpoint");
$("btn-inject").onclick = () => post("/inject", { target: $("inject-target").value, fault: $("inject-fault").value });
$("btn-power").onclick = () => post("/powerfail");

function connect() {
  const es = new EventSource("/events");
  es.onopen = () => { $("link").textContent = "live"; };
  es.onmessage = (e) => render(JSON.parse(e.data));
  es.onerror = () => { $("link").textContent = "supervisor unreachable, retrying"; };
}
connect();
setInterval(() => { if (state) $("timeline-box").innerHTML = drawTimeline(state); }, 1000);
`;

/** The page, ready to serve as `text/html`. */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tardigrade dashboard</title>
<style>${STYLE}</style></head>
<body>
<header>
  <h1>Tardigrade</h1>
  <span>machine <span id="phase" class="badge" data-phase="starting">starting</span></span>
  <span>pid <b id="pid">–</b></span>
  <span>epoch <b id="epoch">0</b></span>
  <span>starts <b id="starts">0</b> · crashes <b id="crashes">0</b> · resumes <b id="resumes">0</b></span>
  <span class="muted" id="link">connecting</span>
</header>
<main>
  <section><h2>Actions</h2>
    <button id="btn-checkpoint">Take a checkpoint</button>
    <button id="btn-power">Cut power</button><br><br>
    <input id="inject-target" value="fs" size="10" aria-label="component">
    <select id="inject-fault" aria-label="fault">${
  FAULT_KINDS.map((f) => `<option>${f}</option>`).join("")
}</select>
    <button id="btn-inject">Inject fault</button>
    <p id="action-result"></p>
  </section>
  <section><h2>Components</h2><div id="components"></div></section>
  <section><h2>Checkpoints</h2>
    committed <b id="ckpt-committed">0</b> · asked for here <b id="ckpt-requested">0</b> ·
    taken on request <b id="ckpt-done">0</b>
    <h3>Pause histogram</h3><div id="histogram-box"></div>
    <h3>Timeline (up to 60 s; red: machine down)</h3><div id="timeline-box"></div>
  </section>
  <section><h2>Crashes, restarts, resumes</h2><div id="log"></div></section>
  <section><h2>Network output (held until commit / released)</h2><div id="net"></div></section>
  <section><h2>IPC traffic</h2><div id="ipc"><span class="muted">with --report-ms</span></div></section>
  <section><h2>NVM use</h2><div id="nvm"><span class="muted">with --report-ms</span></div></section>
  <section><h2>Capability tree</h2><div id="caps"><span class="muted">with --report-ms</span></div></section>
</main>
<script>${SCRIPT}</script>
</body></html>
`;
