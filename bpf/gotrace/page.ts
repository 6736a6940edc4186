// The live view's page: one self-contained HTML document (inline CSS and script, canvas drawing, no
// external resource) that connects back over a WebSocket at /ws and draws what `live.ts` sends: a
// hello (what is traced), a snapshot (the state so far), then a frame every tick, and `end` when a
// replay is over. Stable element ids (#live-goroutines, #gc-cycles, …) are what tests read.

const css = `
:root { --bg:#0f1419; --panel:#171e26; --text:#d8dee6; --dim:#7d8a99; --line:#26303b; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--text); font:13px/1.4 system-ui, sans-serif; }
header { display:flex; align-items:center; gap:12px; padding:10px 16px; border-bottom:1px solid var(--line); }
header h1 { font-size:15px; margin:0; font-weight:600; }
#source { color:var(--dim); font-family:ui-monospace, monospace; font-size:12px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; flex:1; }
#status { padding:2px 10px; border-radius:10px; background:#3a2f14; color:#ffcc66; font-size:12px; }
#status[data-state=live] { background:#143a1f; color:#7ee2a0; }
#status[data-state=replay] { background:#14283a; color:#7ec4e2; }
#status[data-state=closed] { background:#3a1414; color:#e27e7e; }
main { padding:12px 16px; display:grid; grid-template-columns: 1fr 320px; gap:12px; }
.cards { grid-column: 1 / -1; display:grid; grid-template-columns: repeat(8, 1fr); gap:8px; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
.card b { display:block; font-size:20px; font-weight:600; font-variant-numeric: tabular-nums; }
.card span { color:var(--dim); font-size:11px; text-transform:uppercase; letter-spacing:.04em; }
section { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:8px 10px; min-width:0; }
section h2 { font-size:12px; margin:0 0 6px; color:var(--dim); text-transform:uppercase; letter-spacing:.05em; font-weight:600; }
canvas { display:block; width:100%; }
#timeline { height:460px; }
#alloc { height:140px; }
.legend { display:flex; gap:12px; flex-wrap:wrap; color:var(--dim); font-size:11px; margin-top:6px; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:-1px; }
table { width:100%; border-collapse:collapse; font-variant-numeric: tabular-nums; font-size:12px; }
th, td { text-align:right; padding:2px 4px; border-bottom:1px solid var(--line); }
th:first-child, td:first-child { text-align:left; }
th { color:var(--dim); font-weight:500; }
dl { display:grid; grid-template-columns: 1fr auto; margin:0; gap:3px 8px; font-variant-numeric: tabular-nums; }
dt { color:var(--dim); } dd { margin:0; text-align:right; }
.side { display:flex; flex-direction:column; gap:12px; }
`;

// Runs in the browser. Plain ES2020, no modules: the page has no other script.
const script = String.raw`
"use strict";
const STATES = { 0: ["idle", "#5c6773"], 1: ["runnable", "#f2b134"], 2: ["running", "#3ecf6e"], 3: ["syscall", "#ef5f5f"],
  4: ["waiting", "#3b82c4"], 8: ["copystack", "#a47551"], 9: ["preempted", "#b06ad8"] };
const WINDOW_MS = 10000, ROW_H = 14, LABEL_W = 150, AXIS_H = 18;
const $ = (id) => document.getElementById(id);
// origin: the earliest time seen, 0 (the tracer's start) or before (a program already running then).
const state = { rows: new Map(), segs: new Map(), chan: [], cycles: new Map(), history: [], now: 0, origin: 0, totals: null, frames: 0, dropped: 0 };
const seen = (t) => { if (t !== undefined && t < state.origin) state.origin = t; };

function fmtRate(x, unit) {
  const u = ["", "k", "M", "G"]; let i = 0;
  while (Math.abs(x) >= 1000 && i < u.length - 1) { x /= 1000; i++; }
  return (x >= 100 || i === 0 ? x.toFixed(0) : x.toFixed(1)) + " " + u[i] + unit;
}
function fmtBytes(x) {
  const u = ["B", "KiB", "MiB", "GiB"]; let i = 0;
  while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
  return (i === 0 ? x.toFixed(0) : x.toFixed(1)) + " " + u[i];
}
const ms = (x) => x === undefined ? "–" : x < 1 ? x.toFixed(3) : x.toFixed(2);
function setStatus(s, text) { const el = $("status"); el.dataset.state = s; el.textContent = text; }

function applyRows(rows) {
  for (const r of rows) { state.rows.set(r.id, r); seen(r.created); seen(r.since); }
}
function applySegments(segs) {
  for (const s of segs) {
    let list = state.segs.get(s[0]);
    if (!list) state.segs.set(s[0], (list = []));
    list.push(s); seen(s[2]);
  }
}
function applyCycles(gc) {
  for (const c of gc) { state.cycles.set(c.pid + "/" + c.cycle, c); seen(c.start); }
}
function trim() {
  const horizon = state.now - WINDOW_MS * 1.5;
  for (const [id, list] of state.segs) {
    let i = 0; while (i < list.length && list[i][3] < horizon) i++;
    if (i) list.splice(0, i);
    const r = state.rows.get(id);
    if (!list.length && (!r || (r.exited !== undefined && r.exited < horizon))) { state.segs.delete(id); if (r) state.rows.delete(id); }
  }
  for (const [id, r] of state.rows) if (r.state === 6 && r.lastActive < horizon) state.rows.delete(id);
  state.chan = state.chan.filter((c) => c[2] + c[3] >= horizon);
  for (const [k, c] of state.cycles) if ((c.sweepDone ?? c.sweepStart ?? c.start ?? 0) < state.now - 120000) state.cycles.delete(k);
  if (state.history.length > 240) state.history.splice(0, state.history.length - 240);
}

function onHello(m) {
  const what = m.mode === "replay" ? "replay of " + m.file : (m.pid ? "pid " + m.pid + " of " : "") + m.binary;
  $("source").textContent = what + (m.goVersion ? " (" + m.goVersion + ")" : "") + " · events: " + m.groups.join(", ") + (m.mallocSampling > 1 ? " · mallocgc 1/" + m.mallocSampling : "");
  setStatus(m.mode, m.mode === "replay" ? "replaying" : "live");
}
function onSnapshot(m) {
  state.rows.clear(); state.segs.clear(); state.cycles.clear(); state.chan = []; state.origin = 0;
  state.now = m.now; applyRows(m.rows); applySegments(m.segments); applyCycles(m.gc);
  state.history = m.history.slice(); state.totals = m.totals;
  render();
}
function onFrame(m) {
  state.frames++; document.body.dataset.frames = state.frames;
  state.now = m.now; applyRows(m.rows); applySegments(m.segments); applyCycles(m.gc);
  for (const c of m.chan) state.chan.push(c);
  state.history.push({ now: m.now, rates: m.rates, reader: m.reader });
  state.totals = m.totals;
  state.dropped += m.dropped.rows + m.dropped.segments + m.dropped.chan;
  trim(); render();
}

function render() {
  const t = state.totals; if (!t) return;
  const last = state.history[state.history.length - 1] || {};
  const rates = last.rates || {}, rd = last.reader;
  $("live-goroutines").textContent = t.live;
  $("created").textContent = t.created;
  $("exited").textContent = t.exited;
  $("gc-cycles").textContent = t.gcCycles;
  $("alloc-rate").textContent = fmtBytes(rates.allocBytes || 0) + "/s";
  $("alloc-count").textContent = fmtRate(rates.allocs || 0, "/s");
  $("chan-rate").textContent = fmtRate(rates.chanOps || 0, "/s");
  $("events-total").textContent = t.events;
  $("read-rate").textContent = rd ? fmtRate(rd.readPerSec, "/s") : "–";
  $("processed-rate").textContent = rd ? fmtRate(rd.processedPerSec, "/s") : "–";
  $("queue").textContent = rd ? rd.queuedEvents + " events (" + fmtBytes(rd.queuedBytes) + ")" : "–";
  $("lost").textContent = rd ? rd.lost : "–";
  $("probe-cost").textContent = rd && rd.probeNsPerRun ? rd.probeNsPerRun.toFixed(0) + " ns/run" : "–";
  $("probe-cpu").textContent = rd ? rd.probeCpuPercent.toFixed(2) + " % of a CPU" : "–";
  $("probe-runs").textContent = rd ? fmtRate(rd.probeRunsPerSec, "/s") : "–";
  $("dropped").textContent = state.dropped;
  renderGcTable(); drawTimeline(); drawAlloc();
}

function renderGcTable() {
  const cycles = [...state.cycles.values()].sort((a, b) => (b.start ?? 0) - (a.start ?? 0)).slice(0, 12);
  $("gc-table").innerHTML = cycles.map((c) => "<tr><td>" + c.cycle + "</td><td>" + (c.trigger || "") + "</td><td>" + ms(c.markMs) +
    "</td><td>" + ms(c.cycleMs) + "</td><td>" + ms(c.sweepMs) + "</td></tr>").join("");
}

function canvasCtx(el) {
  const dpr = window.devicePixelRatio || 1, w = el.clientWidth, h = el.clientHeight;
  if (el.width !== Math.round(w * dpr) || el.height !== Math.round(h * dpr)) { el.width = Math.round(w * dpr); el.height = Math.round(h * dpr); }
  const g = el.getContext("2d"); g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, w, h);
  return [g, w, h];
}

function drawTimeline() {
  const [g, w, h] = canvasCtx($("timeline"));
  // The last WINDOW_MS, or everything since the earliest time seen while the trace is younger.
  const t1 = state.now, span = Math.min(WINDOW_MS, Math.max(t1 - state.origin, 1000)), t0 = t1 - span, plotW = w - LABEL_W;
  const x = (t) => LABEL_W + ((t - t0) / span) * plotW;
  const maxRows = Math.floor((h - AXIS_H) / ROW_H);
  const visible = [...state.rows.values()].filter((r) => r.lastActive >= t0 || r.state !== 6)
    .sort((a, b) => b.lastActive - a.lastActive).slice(0, maxRows).sort((a, b) => a.pid - b.pid || a.goid - b.goid);
  $("rows-shown").textContent = visible.length + " of " + state.rows.size + " goroutines";
  // GC cycles: bands behind the rows, mark phase darker than the rest of the cycle.
  let labelEnd = -Infinity;
  for (const c of [...state.cycles.values()].sort((a, b) => (a.start ?? 0) - (b.start ?? 0))) {
    if (c.start === undefined) continue;
    const end = c.sweepStart ?? t1;
    if (end < t0) continue;
    const xa = x(Math.max(c.start, t0));
    g.fillStyle = "rgba(160, 110, 230, 0.16)"; g.fillRect(xa, 0, Math.max(2, x(end) - xa), h - AXIS_H);
    if (xa > labelEnd) { // labels only where they do not overlap
      g.fillStyle = "#b891f0"; g.font = "10px system-ui"; g.fillText("GC " + c.cycle, xa + 2, h - AXIS_H - 3);
      labelEnd = xa + 8 + g.measureText("GC " + c.cycle).width;
    }
  }
  visible.forEach((r, i) => {
    const y = i * ROW_H;
    if (i % 2) { g.fillStyle = "rgba(255,255,255,0.025)"; g.fillRect(0, y, w, ROW_H); }
    g.fillStyle = "#9aa7b5"; g.font = "11px ui-monospace, monospace";
    const label = "g" + r.goid + (r.fn ? " " + r.fn.replace(/^main\./, "") : "");
    g.fillText(label.length > 22 ? label.slice(0, 21) + "…" : label, 4, y + ROW_H - 3);
    const bar = (s, a, b) => {
      if (b < t0 || a > t1) return;
      const st = STATES[s] || STATES[4], xa = x(Math.max(a, t0)), xb = x(Math.min(b, t1));
      g.fillStyle = st[1];
      const thin = s === 4 || s === 0;
      g.fillRect(xa, y + (thin ? 5 : 2), Math.max(1, xb - xa), thin ? 4 : ROW_H - 4);
    };
    for (const s of state.segs.get(r.id) || []) bar(s[1], s[2], s[3]);
    if (r.state !== 6 && r.since !== undefined) bar(r.state, r.since, t1);
    g.fillStyle = "#e8f0f8";
    if (r.created !== undefined && r.created >= t0) { const cx = x(r.created); g.beginPath(); g.moveTo(cx, y + 1); g.lineTo(cx + 5, y + ROW_H / 2); g.lineTo(cx, y + ROW_H - 1); g.fill(); }
    if (r.exited !== undefined && r.exited >= t0) { g.fillStyle = "#ef5f5f"; g.fillRect(x(r.exited) - 1, y + 1, 2, ROW_H - 2); }
  });
  const rowOf = new Map(visible.map((r, i) => [r.id, i]));
  g.strokeStyle = "#ffffff"; g.lineWidth = 1;
  for (const c of state.chan) {
    const i = rowOf.get(c[0]); if (i === undefined || c[2] < t0) continue;
    const cx = x(c[2]), y = i * ROW_H;
    g.beginPath(); g.moveTo(cx, y + 1); g.lineTo(cx, y + ROW_H - 1); g.stroke();
  }
  g.fillStyle = "#7d8a99"; g.font = "10px system-ui"; g.strokeStyle = "#26303b";
  for (let s = Math.ceil(t0 / 1000); s * 1000 <= t1; s++) {
    const tx = x(s * 1000); g.beginPath(); g.moveTo(tx, 0); g.lineTo(tx, h - AXIS_H); g.stroke();
    g.fillText(s + " s", tx + 2, h - 5);
  }
}

function drawAlloc() {
  const [g, w, h] = canvasCtx($("alloc"));
  const hist = state.history.filter((p) => p.rates);
  if (hist.length < 2) return;
  // From the earliest time seen, like the timeline, so that cycles before the first frame are marked too.
  const t1 = hist[hist.length - 1].now, t0 = Math.max(state.origin, t1 - 60000), span = Math.max(t1 - t0, 1);
  const max = Math.max(1, ...hist.map((p) => p.rates.allocBytes));
  const x = (t) => ((t - t0) / span) * (w - 2) + 1, y = (v) => h - 14 - (v / max) * (h - 26);
  for (const c of state.cycles.values()) {
    if (c.start === undefined || c.start < t0) continue;
    g.fillStyle = "rgba(184, 145, 240, 0.7)"; g.fillRect(x(c.start), 0, 1, h - 14);
  }
  const first0 = hist.find((p) => p.now >= t0);
  g.beginPath(); g.moveTo(x(first0 ? first0.now : t0), y(0));
  for (const p of hist) if (p.now >= t0) g.lineTo(x(p.now), y(p.rates.allocBytes));
  g.lineTo(x(t1), y(0)); g.closePath();
  g.fillStyle = "rgba(62, 207, 110, 0.25)"; g.fill();
  g.beginPath(); let first = true;
  for (const p of hist) if (p.now >= t0) { first ? g.moveTo(x(p.now), y(p.rates.allocBytes)) : g.lineTo(x(p.now), y(p.rates.allocBytes)); first = false; }
  g.strokeStyle = "#3ecf6e"; g.lineWidth = 1.5; g.stroke();
  g.fillStyle = "#7d8a99"; g.font = "10px system-ui";
  g.fillText("peak " + fmtBytes(max) + "/s", 4, 10);
  g.fillText(((t1 - t0) / 1000).toFixed(0) + " s", w - 30, h - 3);
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "hello") onHello(m);
    else if (m.type === "snapshot") onSnapshot(m);
    else if (m.type === "frame") onFrame(m);
    else if (m.type === "end") setStatus("replay", "replay finished");
  };
  ws.onclose = () => { if ($("status").textContent !== "replay finished") setStatus("closed", "disconnected"); setTimeout(connect, 2000); };
}
const legend = $("legend");
for (const k of [2, 1, 4, 3, 9]) legend.insertAdjacentHTML("beforeend", "<span><i style=\"background:" + STATES[k][1] + "\"></i>" + STATES[k][0] + "</span>");
legend.insertAdjacentHTML("beforeend", "<span><i style=\"background:rgba(160,110,230,.5)\"></i>GC cycle</span><span><i style=\"background:#fff;width:2px\"></i>channel op</span><span><i style=\"background:#ef5f5f;width:3px\"></i>exit</span>");
window.addEventListener("resize", render);
connect();
`;

const card = (id: string, label: string) => `<div class="card"><b id="${id}">–</b><span>${label}</span></div>`;

/** The page, complete: everything inline. */
export const livePage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gotrace live</title>
<style>${css}</style>
</head>
<body>
<header><h1>gotrace live</h1><div id="source">connecting…</div><div id="status" data-state="connecting">connecting</div></header>
<main>
<div class="cards">
${card("live-goroutines", "goroutines live")}
${card("created", "created")}
${card("exited", "exited")}
${card("gc-cycles", "GC cycles")}
${card("alloc-rate", "allocated")}
${card("alloc-count", "allocations")}
${card("chan-rate", "channel ops")}
${card("events-total", "events")}
</div>
<section><h2>Goroutines <span id="rows-shown"></span></h2><canvas id="timeline"></canvas><div class="legend" id="legend"></div></section>
<div class="side">
<section><h2>Reader</h2><dl>
<dt>events read</dt><dd id="read-rate">–</dd>
<dt>processed</dt><dd id="processed-rate">–</dd>
<dt>queue depth</dt><dd id="queue">–</dd>
<dt>lost (ring full)</dt><dd id="lost">–</dd>
<dt>probe cost</dt><dd id="probe-cost">–</dd>
<dt>probe CPU</dt><dd id="probe-cpu">–</dd>
<dt>probe runs</dt><dd id="probe-runs">–</dd>
<dt>left out by caps</dt><dd id="dropped">0</dd>
</dl></section>
<section><h2>GC cycles (ms)</h2><table><thead><tr><th>#</th><th>trigger</th><th>mark</th><th>cycle</th><th>sweep</th></tr></thead><tbody id="gc-table"></tbody></table></section>
</div>
<section style="grid-column: 1 / -1"><h2>Allocation rate (GC cycles marked)</h2><canvas id="alloc"></canvas></section>
</main>
<script>${script}</script>
</body>
</html>
`;
