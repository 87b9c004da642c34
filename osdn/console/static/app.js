// osdn console: plain modern JS, no framework, no build step, nothing from the network but this
// server's API. Every call carries the bearer token kept in sessionStorage; the server answers as
// that user, so RBAC decides what is shown. Live: one change feed (/console/api/watch, fed by the
// API server's watch) triggers a re-read of the current view.
"use strict";

const $ = (sel) => document.querySelector(sel);
const SVG = "http://www.w3.org/2000/svg";
const state = { traces: 0, kernel: undefined, view: "topology", scope: null, topology: null, feed: null, refreshes: 0, timer: null, session: 0 };
class Stale extends Error {}  // an answer that arrived after its user logged out: dropped

function token() { return sessionStorage.getItem("osdnToken") || ""; }

function showError(message) {
  if (message instanceof Stale) { return; }
  if (message instanceof Error) { message = message.message; }
  const box = $("#error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function api(path, body) {
  const session = state.session;
  const opts = { headers: { Authorization: "Bearer " + token() } };
  if (body !== undefined) {
    opts.method = "POST";
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const data = await resp.json().catch(() => ({ message: resp.statusText }));
  if (session !== state.session) { throw new Stale(); }
  if (resp.status === 401) { logout(); }
  if (!resp.ok) { throw new Error(data.message || resp.statusText); }
  return data;
}

// ---- login ------------------------------------------------------------------------------------
async function login(tok) {
  state.session += 1;
  sessionStorage.setItem("osdnToken", tok);
  try {
    const who = await api("/osdn/v1/whoami");
    $("#who").textContent = who.user;
    $("#login").hidden = true;
    $("#nav").hidden = false;
    $("#logout").hidden = false;
    showError("");
    startFeed();
    show(sessionStorage.getItem("osdnView") || "topology");
  } catch (e) {
    if (e instanceof Stale) { return; }  // another login or a logout came meanwhile
    sessionStorage.removeItem("osdnToken");
    showError("login failed: " + e.message);
  }
}

function logout() {
  state.session += 1;
  clearTimeout(state.timer);
  sessionStorage.removeItem("osdnToken");
  sessionStorage.removeItem("osdnVerify");
  if (state.feed) { state.feed.abort(); state.feed = null; }
  state.kernel = undefined;
  state.topology = null;  // nothing of this user's view stays in the page for the next one
  state.scope = null;
  for (const sel of ["#topology-map", "#topology-legend", "#topology-summary", "#matrix", "#matrix-summary",
    "#matrix-hover", "#trace-verdict", "#trace-output", "#trace-kernel", "#impact-output", "#impact-closed", "#impact-opened",
    "#egress-table tbody", "#service-table tbody", "#endpoints"]) { $(sel).replaceChildren(); }
  delete $("#matrix").dataset.level;
  document.querySelectorAll(".view").forEach((v) => { v.hidden = true; });
  $("#login").hidden = false;
  $("#nav").hidden = true;
  $("#logout").hidden = true;
  $("#who").textContent = "";
  setLive("off", "offline");
}

// ---- views ------------------------------------------------------------------------------------
function show(view) {
  state.view = view;
  sessionStorage.setItem("osdnView", view);
  document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== "view-" + view; });
  document.querySelectorAll("#nav button").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
  refresh();
}

async function refresh() {
  try {
    if (state.view === "topology" || !state.topology) { await loadTopology(); }
    if (state.view === "reachability") { await loadMatrix(); }
    state.refreshes += 1;
    document.body.dataset.refreshes = String(state.refreshes);
    showError("");
  } catch (e) {
    showError(e);
  }
}

function scheduleRefresh() {
  clearTimeout(state.timer);
  state.timer = setTimeout(refresh, 150);
}

// ---- topology ---------------------------------------------------------------------------------
function netidColour(netid, name) {
  if (netid === null || netid === undefined) {  // NetNamespace not readable: a pale colour of the name
    const hash = [...(name || "")].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);
    return `hsl(${hash}, 25%, 60%)`;
  }
  if (!netid) { return "hsl(0, 0%, 55%)"; }
  return `hsl(${(netid * 137.508) % 360}, 62%, 48%)`;
}

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) { node.setAttribute(k, v); }
  if (text !== undefined) { node.textContent = text; }
  return node;
}

const POD = 11, PER_ROW = 24, BOX_W = PER_ROW * POD + 16, GAP = 40;
const NAMED = 24, CHIP_W = 86, CHIP_H = 18, CHIPS = 3;  // up to NAMED pods a node shows them by name

function podCount(node) { return node.projects.reduce((n, p) => n + p.pods.length, 0); }

function podLayout(node) {
  return podCount(node) <= NAMED ? { per: CHIPS, w: CHIP_W, h: CHIP_H } : { per: PER_ROW, w: POD, h: POD };
}

function nodeHeight(node) {
  const lay = podLayout(node);
  let h = 58;
  for (const p of node.projects) { h += 16 + Math.ceil(p.pods.length / lay.per) * lay.h + 4; }
  return h;
}

function drawTopology(topo) {
  const netids = Object.fromEntries(topo.projects.map((p) => [p.name, p.netid]));
  const cols = Math.max(1, Math.min(4, topo.nodes.length));
  const rows = [];
  topo.nodes.forEach((n, i) => { (rows[Math.floor(i / cols)] ||= []).push(n); });
  const heights = rows.map((r) => Math.max(...r.map(nodeHeight)));
  const pos = {};
  const ARC = cols > 2 ? 70 : 0;  // room above the first row for the arcs of the VXLAN mesh
  let y = GAP / 2 + ARC;
  rows.forEach((r, ri) => {
    r.forEach((n, ci) => { pos[n.name] = { x: GAP / 2 + ci * (BOX_W + GAP), y, h: nodeHeight(n) }; });
    y += heights[ri] + GAP;
  });
  const svg = el("svg", { class: "topology", width: cols * (BOX_W + GAP), height: y });
  for (const link of topo.links) {  // VXLAN tunnels: neighbours by a line, the rest by an arc over the row
    const a = pos[link.from], b = pos[link.to];
    const x1 = a.x + BOX_W / 2, x2 = b.x + BOX_W / 2, bend = Math.min(ARC, Math.abs(x2 - x1) / (BOX_W + GAP) * 30);
    const same = a.y === b.y && Math.abs(x2 - x1) > BOX_W + GAP;
    const d = same ? `M ${x1} ${a.y} Q ${(x1 + x2) / 2} ${a.y - 2 * bend} ${x2} ${b.y}`
      : `M ${x1} ${a.y + 20} L ${x2} ${b.y + 20}`;
    const path = el("path", { class: "vxlan", "data-from": link.from, "data-to": link.to, d, fill: "none",
      stroke: "#7a9cc6", "stroke-dasharray": "5 4", "stroke-width": 2 });
    path.appendChild(el("title", {}, `VXLAN ${link.from} <-> ${link.to}`));
    svg.appendChild(path);
  }
  for (const node of topo.nodes) { svg.appendChild(drawNode(node, pos[node.name], netids)); }
  return svg;
}

function drawNode(node, p, netids) {
  const g = el("g", { class: "node", "data-node": node.name, transform: `translate(${p.x},${p.y})` });
  g.appendChild(el("rect", { width: BOX_W, height: p.h, rx: 6, fill: node.offline ? "#f6e0e0" : "#fff",
    stroke: "#243447", "stroke-width": 1.5 }));
  g.appendChild(el("text", { x: 8, y: 16, "font-weight": "bold" }, node.name || "(not scheduled)"));
  g.appendChild(el("text", { x: 8, y: 31 }, [node.hostIP, node.subnet].filter(Boolean).join("  ") || "no HostSubnet visible"));
  g.appendChild(el("text", { x: 8, y: 46, class: "egress" },
    node.egressIPs.length ? "egress IPs: " + node.egressIPs.join(", ") : ""));
  const lay = podLayout(node);
  let y = 58;
  for (const project of node.projects) {
    const colour = netidColour(netids[project.name], project.name);
    g.appendChild(el("text", { x: 8, y: y + 11, fill: colour, "data-project": project.name },
      `${project.name} (netid ${netids[project.name] ?? "?"}) ${project.pods.length}`));
    y += 16;
    project.pods.forEach((pod, i) => {
      const x = 8 + (i % lay.per) * lay.w, top = y + Math.floor(i / lay.per) * lay.h;
      const sq = el("rect", { class: "pod", "data-pod": pod.key, x, y: top, width: lay.w - 2, height: lay.h - 2,
        rx: 2, fill: colour });
      sq.appendChild(el("title", {}, `${pod.key} ${pod.ip || "(no IP)"}`));
      sq.addEventListener("click", () => { $("#trace-from").value = pod.key; show("trace"); });
      g.appendChild(sq);
      if (lay.w === CHIP_W) {
        g.appendChild(el("text", { x: x + 4, y: top + 12, fill: "#fff", "pointer-events": "none" },
          pod.name.length > 13 ? pod.name.slice(0, 12) + "\u2026" : pod.name));
      }
    });
    y += Math.ceil(project.pods.length / lay.per) * lay.h + 4;
  }
  return g;
}

function fillTable(sel, rows) {
  const body = $(sel + " tbody");
  body.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
    return tr;
  }));
}

// Each view draws only the answer to its latest request (a slow older answer never overwrites a newer one).
const latest = { topology: 0, matrix: 0 };

async function fetchLatest(view, path, body) {
  const mine = ++latest[view];
  const data = await api(path, body);
  if (mine !== latest[view]) { throw new Stale(); }
  return data;
}

async function loadTopology() {
  const topo = await fetchLatest("topology", "/console/api/topology");
  state.topology = topo;
  const pods = topo.nodes.reduce((n, node) => n + podCount(node), 0);
  $("#topology-summary").textContent = `${topo.mode} mode: ${topo.nodes.length} node(s), ${topo.projects.length} project(s), ` +
    `${pods} pod(s), ${topo.services.length} service(s)`;
  $("#topology-legend").replaceChildren(...topo.projects.map((p) => {
    const span = document.createElement("span");
    const chip = document.createElement("i");
    chip.style.background = netidColour(p.netid, p.name);
    span.append(chip, `${p.name} netid ${p.netid ?? "? (NetNamespace not readable)"}`);
    return span;
  }));
  $("#topology-map").replaceChildren(drawTopology(topo));
  fillTable("#egress-table", topo.egress.map((e) => [e.ip, e.projects.join(", "), e.nodes.join(", ") || "(none visible)"]));
  fillTable("#service-table", topo.services.map((s) => [s.key, s.clusterIP || "None", s.ports.join(" "),
    s.endpoints.join(" ") || "(none)"]));
  const names = [...topo.nodes.flatMap((n) => n.projects.flatMap((p) => p.pods.map((pod) => pod.key))),
    ...topo.services.map((s) => s.key), ...topo.nodes.filter((n) => n.name).map((n) => "node/" + n.name)];
  $("#endpoints").replaceChildren(...names.map((k) => { const o = document.createElement("option"); o.value = k; return o; }));
}

// ---- reachability -----------------------------------------------------------------------------
async function loadMatrix() {
  const body = { protocol: $("#matrix-protocol").value, port: Number($("#matrix-port").value), level: $("#matrix-level").value };
  if (state.scope) { body.from = state.scope[0]; body.to = state.scope[1]; }
  const verify = sessionStorage.getItem("osdnVerify");
  if (verify) { body.verify = JSON.parse(verify); }
  const grid = await fetchLatest("matrix", "/console/api/reachability", body);
  const box = $("#matrix");
  box.innerHTML = grid.svg;  // rendered by the server (osdn/console/svg.py), every text escaped
  box.dataset.level = grid.level;
  box.dataset.scope = state.scope ? state.scope.join("->") : "";
  const where = grid.scope ? ` (${grid.scope.from} -> ${grid.scope.to})` : "";
  const bad = grid.verify.reduce((n, v) => n + v.disagree, 0);
  const checked = grid.verify.reduce((n, v) => n + v.agree + v.disagree + v.failed, 0);
  $("#matrix-summary").textContent = `${grid.probe.protocol}/${grid.probe.port}, ${grid.level} level${where}: ` +
    `${grid.summary.allowed} of ${grid.summary.total} connections allowed` +
    (checked ? `; verify: ${checked} probe(s) on this grid, ${bad} disagree` : "");
  $("#matrix-up").hidden = !state.scope;
  $("#verify-clear").hidden = !verify;
}

function onMatrixHover(event) {
  const cell = event.target.closest(".cell");
  if (!cell) { return; }
  const d = cell.dataset;
  $("#matrix-hover").textContent = `${d.from} -> ${d.to}: ` +
    (d.total === "0" ? "self" : d.total === "1" ? (d.allowed === "1" ? "allowed" : "denied") : `${d.allowed} of ${d.total} pod pairs allowed`);
}

function onMatrixClick(event) {
  const cell = event.target.closest(".cell");
  if (!cell || cell.dataset.total === "0") { return; }
  if ($("#matrix").dataset.level === "project") {
    state.scope = [cell.dataset.from, cell.dataset.to];
    loadMatrix().catch(showError);
    return;
  }
  $("#trace-from").value = cell.dataset.from;
  $("#trace-to").value = cell.dataset.to;
  $("#trace-port").value = $("#matrix-port").value;
  $("#trace-protocol").value = $("#matrix-protocol").value;
  show("trace");
  runTrace();
}

// ---- trace ------------------------------------------------------------------------------------
async function runTrace() {
  const traced = ++state.traces;
  $("#trace-kernel").textContent = "";
  try {
    const body = { from: $("#trace-from").value, to: $("#trace-to").value,
      protocol: $("#trace-protocol").value, port: Number($("#trace-port").value) };
    const out = await api("/console/api/trace", body);
    const verdict = $("#trace-verdict");
    const ok = out.multicast ? out.multicast.receivers.length > 0 : out.verdict.allowed;
    verdict.textContent = out.multicast ? `${out.multicast.receivers.length} receiver(s)` : ok ? "ALLOWED" : "DENIED";
    verdict.className = ok ? "allowed" : "denied";
    $("#trace-output").textContent = out.text;
    showError("");
    if (!out.multicast) { await runKernelTrace(body, traced); }
  } catch (e) {
    showError(e);
  }
}

// The kernel's answer and counters, as `osdn adm trace` prints them: only `osdn console --serve` on a
// lab host answers /console/api/kernel-trace (the API server cannot enter the lab's namespaces).
async function kernelAvailable() {
  if (state.kernel === undefined) {
    const resp = await fetch("/console/api/kernel-trace", { headers: { Authorization: "Bearer " + token() } })
      .catch(() => null);
    state.kernel = Boolean(resp && resp.ok);
  }
  return state.kernel;
}

async function runKernelTrace(body, traced) {
  const box = $("#trace-kernel");
  delete box.dataset.outcome;
  if (!(await kernelAvailable())) {
    box.textContent = "kernel: not shown by this console (the API server cannot enter a lab's network " +
      "namespaces); run `osdn console --serve` on a lab host to see the kernel's answer and counters";
    return;
  }
  box.textContent = "kernel: probing...";
  try {
    const k = await api("/console/api/kernel-trace", body);
    if (traced !== state.traces) { return; }  // another trace started meanwhile
    box.textContent = k.text;
    box.dataset.outcome = k.kernel.probed ? k.kernel.outcome : "unavailable";
  } catch (e) {
    if (e instanceof Stale || traced !== state.traces) { return; }
    box.textContent = "kernel: " + e.message;
  }
}

// ---- impact -----------------------------------------------------------------------------------
function changeItems(changes, cls) {
  return changes.map((c) => {
    const li = document.createElement("li");
    li.className = cls;
    li.textContent = `${c.from} -> ${c.to} ${c.protocol}/${c.port}`;
    li.title = c.after;
    return li;
  });
}

async function runImpact() {
  try {
    const out = await api("/console/api/impact", { manifest: $("#impact-manifest").value,
      namespace: $("#impact-namespace").value });
    $("#impact-output").textContent = out.lines.join("\n");
    $("#impact-closed").replaceChildren(...changeItems(out.closed, "close"));
    $("#impact-opened").replaceChildren(...changeItems(out.opened, "open"));
    showError("");
  } catch (e) {
    showError(e);
  }
}

// ---- live updates -----------------------------------------------------------------------------
function setLive(mode, text) {
  const live = $("#live");
  live.dataset.state = mode;
  live.textContent = text;
}

async function startFeed() {
  if (state.feed) { state.feed.abort(); }
  const ctl = new AbortController();
  state.feed = ctl;
  while (state.feed === ctl && token()) {
    try {
      const resp = await fetch("/console/api/watch", { headers: { Authorization: "Bearer " + token() }, signal: ctl.signal });
      if (!resp.ok) { throw new Error("change feed: " + resp.status); }
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) { break; }
        buffer += value;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const event = JSON.parse(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
          if (event.type === "READY") { setLive("live", "live"); scheduleRefresh(); }
          if (event.type === "CHANGED") { scheduleRefresh(); }
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) { return; }
    }
    setLive("connecting", "reconnecting");
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---- wiring -----------------------------------------------------------------------------------
function readFile(input, then) {
  const file = input.files[0];
  if (file) { file.text().then(then); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", (e) => { e.preventDefault(); login($("#login-token").value.trim()); });
  $("#logout").addEventListener("click", logout);
  document.querySelectorAll("#nav button").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));
  $("#matrix-form").addEventListener("submit", (e) => { e.preventDefault(); state.scope = null; refresh(); });
  $("#matrix-up").addEventListener("click", () => { state.scope = null; refresh(); });
  $("#matrix").addEventListener("click", onMatrixClick);
  $("#matrix").addEventListener("mouseover", onMatrixHover);
  $("#verify-file").addEventListener("change", (e) => readFile(e.target, (text) => {
    try { JSON.parse(text); sessionStorage.setItem("osdnVerify", text); refresh(); } catch (err) { showError("verify result: " + err.message); }
  }));
  $("#verify-clear").addEventListener("click", () => { sessionStorage.removeItem("osdnVerify"); $("#verify-file").value = ""; refresh(); });
  $("#trace-form").addEventListener("submit", (e) => { e.preventDefault(); runTrace(); });
  $("#impact-form").addEventListener("submit", (e) => { e.preventDefault(); runImpact(); });
  $("#impact-file").addEventListener("change", (e) => readFile(e.target, (text) => { $("#impact-manifest").value = text; }));
  const fragment = new URLSearchParams(location.hash.slice(1)).get("token");  // osdn console --with-token
  if (fragment) { history.replaceState(null, "", location.pathname); login(fragment); } else if (token()) { login(token()); }
});
