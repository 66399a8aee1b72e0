// The Weft dashboard: reads /api, follows /api/events, and refreshes what
// changed. No framework, no build step.
"use strict";

const params = new URLSearchParams(location.search);
if (params.get("token")) {
  sessionStorage.setItem("weft-token", params.get("token"));
  // Out of the address bar (and so of history, bookmarks and screenshots).
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
}
const token = sessionStorage.getItem("weft-token");

const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token) headers.Authorization = "Bearer " + token;
  // Changes carry the dashboard's own header: no other page can send it.
  if (options.method && options.method !== "GET") headers["X-Weft-Request"] = "1";
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const res = await fetch("/api" + path, Object.assign({}, options, { headers }));
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) {
    const err = new Error(body.error || res.statusText);
    err.errors = body.errors || [];
    err.status = res.status;
    throw err;
  }
  return body;
}

function notice(text, bad = false) {
  const n = $("#notice");
  n.textContent = text;
  n.className = bad ? "bad" : "";
  n.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { n.hidden = true; }, 6000);
}

async function act(what, fn) {
  try {
    const r = await fn();
    notice(r && r.message ? r.message : what + ": done");
    refresh();
    return r;
  } catch (e) {
    notice(what + ": " + e.message, true);
    throw e;
  }
}

let links = [];
let components = new Set();
const statusClass = (t) => esc(String(t || "undeployed").toLowerCase());

function renderOverview(o) {
  $("#lattice").textContent = "lattice " + o.lattice;
  const set = (id, v) => { $("#tile-" + id + " b").textContent = v; };
  set("hosts", o.hosts); set("components", o.components); set("instances", o.instances);
  set("providers", o.providers); set("links", o.links); set("configs", o.configs);
  set("apps", o.apps_deployed + " / " + o.apps);
}

function renderApps(apps) {
  $("#apps tbody").innerHTML = apps.map((a) => {
    const s = (a.detailed_status && a.detailed_status.status) || {};
    const why = s.message ? `<span class="why">${esc(s.message)}</span>` : "";
    return `<tr data-app="${esc(a.name)}">
      <td><b>${esc(a.name)}</b><div class="muted small">${esc(a.description || "")}</div></td>
      <td class="mono">${esc(a.deployed_version || a.version)}</td>
      <td><span class="status ${statusClass(s.type)}">${esc(s.type || "undeployed")}</span>${why}</td>
      <td>${a.deployed_version ? `<button class="undeploy danger">Undeploy</button>` : ""}
          <button class="delete danger">Delete</button></td></tr>`;
  }).join("") || `<tr><td colspan="4" class="muted">No apps yet: deploy one below, or <code>weft app deploy FILE</code>.</td></tr>`;
}

function renderComponents(cs) {
  $("#components tbody").innerHTML = cs.map((c) => {
    const hosts = c.hosts.map((h) => `${esc(h.friendly_name)} ×${h.max_instances}`).join("<br>");
    const linked = c.links.map((l) => `<code>${esc(l.interfaces)}</code> → ${esc(l.target)}`);
    // Imports with no link: calls to them fail until one is put.
    const unlinked = (c.unlinked || []).map((i) => `<span class="warn" title="calls fail until a link is put">not linked: <code>${esc(i)}</code></span>`);
    const links = linked.concat(unlinked).join("<br>") || `<span class="muted">none</span>`;
    const digest = c.digest ? `<div class="muted small mono" title="${esc(c.digest)}">${esc(c.digest.slice(0, 19))}…</div>` : "";
    const app = c.app ? `<div class="muted small">app ${esc(c.app)}</div>` : "";
    return `<tr data-component="${esc(c.id)}">
      <td><b>${esc(c.id)}</b>${app}</td>
      <td class="mono small">${esc(c.image_ref)}${digest}</td>
      <td>${hosts}</td>
      <td class="instances">${c.max_instances}</td>
      <td>${links}</td>
      <td><input class="scale" type="number" min="0" value="${c.max_instances}" aria-label="instances of ${esc(c.id)}">
          <button class="scale">Scale</button></td></tr>`;
  }).join("") || `<tr><td colspan="6" class="muted">No components run.</td></tr>`;
  components = new Set(cs.map((c) => c.id));
  drawGraph();
}

// Every link: sources on the left, what they reach on the right (a
// component both linked to and linking appears on both sides).
function drawGraph() {
  const svg = $("#graph");
  const sources = [...new Set(links.map((l) => l.source_id))];
  const targets = [...new Set(links.map((l) => l.target))];
  const rows = Math.max(sources.length, targets.length);
  if (!rows) { svg.style.height = "0"; svg.innerHTML = ""; return; }
  const h = rows * 34 + 10;
  svg.style.height = h + "px";
  svg.setAttribute("viewBox", `0 0 640 ${h}`);
  const y = (i) => 10 + i * 34;
  let out = "";
  links.forEach((l) => {
    out += `<line x1="190" y1="${y(sources.indexOf(l.source_id)) + 12}" x2="450" y2="${y(targets.indexOf(l.target)) + 12}"><title>${esc(l.wit_namespace)}:${esc(l.wit_package)}/${esc(l.interfaces.join(","))}</title></line>`;
  });
  const box = (id, x, i) => `<rect class="${components.has(id) ? "" : "provider"}" x="${x}" y="${y(i)}" width="180" height="24" rx="4"></rect><text x="${x + 8}" y="${y(i) + 16}">${esc(id)}</text>`;
  sources.forEach((id, i) => { out += box(id, 10, i); });
  targets.forEach((id, i) => { out += box(id, 450, i); });
  svg.innerHTML = out;
}

function renderHosts(hs) {
  $("#hosts tbody").innerHTML = hs.map((h) => {
    const labels = Object.entries(h.labels || {}).filter(([k]) => !k.startsWith("hostcore.")).map(([k, v]) => `<code>${esc(k)}=${esc(v)}</code>`).join(" ");
    const runs = h.components.map((c) => `${esc(c.id)} ×${c.max_instances}`).concat(h.providers.map((p) => `${esc(p.id)} (provider)`)).join("<br>");
    return `<tr data-host="${esc(h.host_id)}"><td><b>${esc(h.friendly_name)}</b><div class="muted small">v${esc(h.version)}</div></td>
      <td class="mono small" title="${esc(h.host_id)}">${esc(h.host_id.slice(0, 12))}…</td><td>${labels}</td>
      <td>${esc(h.uptime_human)}</td><td>${runs || `<span class="muted">nothing</span>`}</td></tr>`;
  }).join("") || `<tr><td colspan="5" class="muted">No host answers. Start one: <code>weft up</code>.</td></tr>`;
}

function renderProviders(ps) {
  $("#providers tbody").innerHTML = ps.map((p) => `<tr data-provider="${esc(p.id)}"><td><b>${esc(p.id)}</b></td>
    <td class="mono small">${esc(p.image_ref)}</td><td>${p.hosts.map((h) => esc(h.friendly_name)).join(", ")}</td>
    <td>${esc(p.app || "")}</td></tr>`).join("") || `<tr><td colspan="4" class="muted">No providers run.</td></tr>`;
}

function renderLinks(ls) {
  links = ls;
  drawGraph();
  $("#links tbody").innerHTML = ls.map((l, i) => `<tr data-link="${i}"><td>${esc(l.source_id)}</td>
    <td><code>${esc(l.wit_namespace)}:${esc(l.wit_package)}/${esc(l.interfaces.join(","))}</code></td>
    <td>${esc(l.target)}</td><td>${esc(l.name)}</td>
    <td class="small">${esc([...l.source_config, ...l.target_config].join(", "))}</td>
    <td><button class="delete-link danger">Delete</button></td></tr>`).join("") || `<tr><td colspan="6" class="muted">No links.</td></tr>`;
}

function renderConfigs(cs) {
  $("#configs tbody").innerHTML = cs.map((c) => `<tr data-config="${esc(c.name)}"><td><b>${esc(c.name)}</b></td>
    <td class="mono small">${Object.entries(c.values).map(([k, v]) => `${esc(k)}=${esc(v)}`).join("<br>")}</td>
    <td><button class="delete-config danger">Delete</button></td></tr>`).join("") || `<tr><td colspan="3" class="muted">No named configs.</td></tr>`;
}

const loaders = {
  overview: () => api("/overview").then(renderOverview),
  apps: () => api("/apps").then(renderApps),
  components: () => api("/components").then(renderComponents),
  hosts: () => api("/hosts").then(renderHosts),
  providers: () => api("/providers").then(renderProviders),
  links: () => api("/links").then(renderLinks),
  configs: () => api("/configs" + ($("#reveal").checked ? "?reveal=true" : "")).then(renderConfigs),
};

// Changes come in bursts: what they touch is gathered and loaded once.
const due = new Set();
let timer = null;
function refresh(which = Object.keys(loaders)) {
  which.forEach((k) => due.add(k));
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    const now = [...due];
    due.clear();
    now.forEach((k) => loaders[k]().catch((e) => notice(k + ": " + e.message, true)));
  }, 60);
}

function logEvent(text) {
  const li = document.createElement("li");
  li.textContent = new Date().toLocaleTimeString() + "  " + text;
  const list = $("#events");
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

function follow() {
  const es = new EventSource("/api/events" + (token ? "?token=" + encodeURIComponent(token) : ""));
  let lastBeat = 0;
  es.addEventListener("hello", () => { $("#live").textContent = "live"; $("#live").className = "badge on"; refresh(); });
  es.addEventListener("lattice", (m) => {
    const e = JSON.parse(m.data);
    const kind = String(e.type || "").replace("com.wasmcloud.lattice.", "");
    const d = e.data || {};
    const what = d.component_id || d.provider_id || d.source_id || d.config_name || d.friendly_name || "";
    logEvent(kind + (what ? "  " + what : "") + (d.max_instances !== undefined ? "  ×" + d.max_instances : ""));
    if (kind !== "health_check_status") refresh();
  });
  es.addEventListener("apps", (m) => {
    const d = JSON.parse(m.data);
    if (d.name) logEvent("app status  " + d.name);
    refresh(["apps", "overview"]);
  });
  es.addEventListener("heartbeat", () => {
    if (Date.now() - lastBeat > 5000) { lastBeat = Date.now(); refresh(["hosts", "overview"]); }
  });
  es.onerror = () => { $("#live").textContent = "reconnecting…"; $("#live").className = "badge"; };
}

// Actions.
$("#apps").addEventListener("click", (ev) => {
  const row = ev.target.closest("tr[data-app]");
  if (!row) return;
  const name = row.dataset.app;
  if (ev.target.matches("button.undeploy") && confirm(`Undeploy app ${name}? Everything it started stops.`)) {
    act("undeploy " + name, () => api(`/apps/${encodeURIComponent(name)}/undeploy`, { method: "POST" })).catch(() => {});
  }
  if (ev.target.matches("button.delete") && confirm(`Delete app ${name} and all its versions?`)) {
    act("delete " + name, () => api(`/apps/${encodeURIComponent(name)}`, { method: "DELETE" })).catch(() => {});
  }
});

function showErrors(e) {
  $("#deploy-errors").innerHTML = (e.errors && e.errors.length ? e.errors : [e.message]).map((x) => `<li>${esc(x)}</li>`).join("");
}

$("#manifest-file").addEventListener("change", async (ev) => {
  const f = ev.target.files[0];
  if (f) $("#manifest").value = await f.text();
});
$("#validate").addEventListener("click", async () => {
  $("#deploy-errors").innerHTML = "";
  try {
    const r = await api("/apps/validate", { method: "POST", body: $("#manifest").value, headers: { "Content-Type": "application/yaml" } });
    notice(`The manifest of app ${r.name} is valid.`);
  } catch (e) { showErrors(e); }
});
$("#deploy").addEventListener("click", async () => {
  $("#deploy-errors").innerHTML = "";
  try {
    await act("deploy", () => api("/apps", { method: "POST", body: $("#manifest").value, headers: { "Content-Type": "application/yaml" } }));
    $("#deploy-box").open = false;
  } catch (e) { showErrors(e); }
});

$("#components").addEventListener("click", (ev) => {
  if (!ev.target.matches("button.scale")) return;
  const row = ev.target.closest("tr[data-component]");
  const id = row.dataset.component;
  const n = Number(row.querySelector("input.scale").value);
  if (n === 0 && !confirm(`Scale ${id} to 0? It stops.`)) return;
  act("scale " + id, () => api(`/components/${encodeURIComponent(id)}/scale`, { method: "POST", json: { max_instances: n } })).catch(() => {});
});

$("#links").addEventListener("click", (ev) => {
  if (!ev.target.matches("button.delete-link")) return;
  const l = links[Number(ev.target.closest("tr").dataset.link)];
  if (!l || !confirm(`Delete the link ${l.source_id} → ${l.target} (${l.wit_namespace}:${l.wit_package})?`)) return;
  act("delete link", () => api("/links", { method: "DELETE", json: { source_id: l.source_id, name: l.name, wit_namespace: l.wit_namespace, wit_package: l.wit_package } })).catch(() => {});
});

const list = (s) => String(s || "").split(",").map((x) => x.trim()).filter(Boolean);
$("#link-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const link = {
    source_id: f.get("source_id"), target: f.get("target"), name: f.get("name") || "default",
    wit_namespace: f.get("wit_namespace"), wit_package: f.get("wit_package"),
    interfaces: list(f.get("interfaces")), source_config: list(f.get("source_config")), target_config: list(f.get("target_config")),
  };
  act("put link", () => api("/links", { method: "PUT", json: link })).catch(() => {});
});

$("#config-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const values = {};
  String(f.get("values") || "").split("\n").map((l) => l.trim()).filter(Boolean).forEach((l) => {
    const i = l.indexOf("=");
    if (i > 0) values[l.slice(0, i).trim()] = l.slice(i + 1).trim();
  });
  act("put config", () => api(`/configs/${encodeURIComponent(f.get("name"))}`, { method: "PUT", json: values })).catch(() => {});
});

$("#configs").addEventListener("click", (ev) => {
  if (!ev.target.matches("button.delete-config")) return;
  const name = ev.target.closest("tr").dataset.config;
  if (confirm(`Delete config ${name}?`)) act("delete config", () => api(`/configs/${encodeURIComponent(name)}`, { method: "DELETE" })).catch(() => {});
});
$("#reveal").addEventListener("change", () => refresh(["configs"]));

refresh();
follow();
