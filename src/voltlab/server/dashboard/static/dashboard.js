// The operator dashboard: loads a campaign's panels through the API and keeps them current
// from the live event stream (each event kind refreshes the panels it affects, debounced).

import { api, Debounced, EventStream, setToken, token } from "./api.js";
import * as charts from "./charts.js";
import * as tables from "./tables.js";

const CAMPAIGN_KEY = "voltlab.campaign";
const TIMELINE_EXPERIMENTS = 12;
const FINAL = new Set(["completed", "failed", "gated", "vetoed", "aborted"]);
const $ = (id) => document.getElementById(id);

const state = {
  principal: null,
  campaign: null, // CampaignDetailOut
  experiments: [],
  details: new Map(), // experiment id -> ExperimentDetailOut (final ones are kept)
  focus: null, // experiment the operator clicked (XRD and cycling follow it)
  cycling: { experimentId: null, next: 0, plotted: 0 },
  xrdShown: null,
};

function say(text, isError = true) {
  const box = $("message");
  box.textContent = text;
  box.className = isError ? "error" : "info";
  box.hidden = false;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { box.hidden = true; }, 8000);
}

const fail = (error) => say(error.message || String(error));
const canAct = () => state.principal?.role === "operator";
const cid = () => state.campaign?.id;

// -- panels ----------------------------------------------------------------------------------

async function refreshSummary() {
  const c = await api(`/api/campaigns/${cid()}`);
  state.campaign = c;
  $("campaign-state").textContent = c.requested ? `${c.state} (${c.requested} requested)` : c.state;
  $("campaign-state").className = `badge state-${c.state}`;
  const option = [...$("campaign").options].find((o) => o.value === c.id);
  if (option) option.textContent = `${c.id} (${c.state})`;
  const counts = Object.entries(c.experiments).map(([k, n]) => `${n} ${k.replace("_", " ")}`);
  const engine = c.engine === null ? "no engine in this server"
    : c.engine.running ? "engine running" : `engine stopped${c.engine.error ? `: ${c.engine.error}` : ""}`;
  $("summary").textContent = `${c.name} · seed ${c.seed} · ${c.approve ? "approve mode" : "autonomous"}`
    + ` · ${counts.join(", ") || "no experiments yet"} · ${engine}`;
  const live = c.state === "running" || c.state === "paused";
  $("pause").disabled = !canAct() || c.state !== "running";
  $("resume").disabled = !canAct() || c.state !== "paused";
  $("abort").disabled = !canAct() || !live;
}

async function refreshInstruments() {
  const body = await api("/api/instruments");
  tables.fill("instruments", tables.instrumentRows(body, cid()));
  $("faults").replaceChildren(...tables.faultItems(body.faults));
}

async function refreshSuggestions() {
  const waiting = await api(`/api/campaigns/${cid()}/suggestions`);
  tables.fill("suggestions", tables.suggestionRows(waiting, canAct(), approve, veto));
  $("suggestions-empty").hidden = waiting.length > 0;
}

async function approve(suggestion, button) {
  button.disabled = true;
  try {
    await api(`/api/experiments/${suggestion.id}/approve`, { method: "POST" });
    say(`#${suggestion.number} approved`, false);
  } catch (error) {
    fail(error);
  }
  panels.suggestions.request(0);
  panels.queue.request(0);
}

async function veto(suggestion, reason, form) {
  if (!reason) {
    say("A veto needs a reason.");
    return;
  }
  form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  try {
    await api(`/api/experiments/${suggestion.id}/veto`, { method: "POST", body: { reason } });
    say(`#${suggestion.number} vetoed: ${reason}`, false);
  } catch (error) {
    fail(error);
  }
  panels.suggestions.request(0);
  panels.queue.request(0);
}

async function refreshQueue() {
  state.experiments = await api(`/api/campaigns/${cid()}/experiments`);
  const recent = state.experiments.filter((e) => e.state !== "awaiting_approval" && e.state !== "vetoed")
    .slice(-TIMELINE_EXPERIMENTS);
  await Promise.all(recent.filter((e) => !(FINAL.has(e.state) && state.details.get(e.id)?.state === e.state))
    .map(async (e) => state.details.set(e.id, await api(`/api/experiments/${e.id}`))));
  tables.fill("queue", tables.queueRows(state.experiments, state.details, state.focus, focusOn));
  const shown = recent.map((e) => state.details.get(e.id)).filter(Boolean);
  const t0 = state.campaign?.started_at ?? Math.min(...shown.map((d) => d.created_at));
  charts.drawTimeline("timeline", shown, t0, Date.now() / 1000);
  pickCycling();
  panels.xrd.request();
}

function focusOn(experimentId) {
  state.focus = state.focus === experimentId ? null : experimentId;
  state.xrdShown = null;
  tables.fill("queue", tables.queueRows(state.experiments, state.details, state.focus, focusOn));
  pickCycling();
  panels.xrd.request(0);
}

/** The newest experiment whose step of `kind` has started (or the focused one). */
function latestWith(kind, finished = false) {
  if (state.focus) return state.focus;
  const details = [...state.details.values()].sort((a, b) => b.number - a.number);
  const hit = details.find((d) => d.steps.some(
    (s) => s.kind === kind && s.job_id && (!finished || s.state === "completed")));
  return hit?.id ?? null;
}

function pickCycling(experimentId = latestWith("cycle")) {
  if (experimentId && experimentId !== state.cycling.experimentId) {
    state.cycling = { experimentId, next: 0, plotted: 0 };
    panels.cycling.request(0);
  }
}

async function refreshCycling() {
  const c = state.cycling;
  if (!c.experimentId) {
    charts.empty("cycling", "No cell has cycled yet");
    return;
  }
  const wanted = c.experimentId;
  const fresh = c.next === 0;
  const query = fresh ? "limit=100000&max_points=5000" : `offset=${c.next}&limit=100000`;
  const page = await api(`/api/experiments/${wanted}/cycling?${query}`);
  if (state.cycling.experimentId !== wanted) return; // switched meanwhile
  if (fresh) c.plotted = charts.drawCycling("cycling", page);
  else c.plotted += charts.extendCycling("cycling", page);
  c.next = fresh ? Math.min(page.total, 100000) : c.next + page.returned;
  const number = state.experiments.find((e) => e.id === wanted)?.number;
  $("cycling").dataset.points = String(c.plotted);
  $("cycling-label").textContent = `#${number ?? "?"}: ${c.next} points stored, ${c.plotted} plotted`;
}

async function refreshXrd() {
  const target = latestWith("xrd", true);
  if (target !== null && target === state.xrdShown) return;
  if (!target) {
    charts.empty("xrd", "No powder measured yet");
    return;
  }
  const xrd = await api(`/api/experiments/${target}/xrd?max_points=2500`);
  if (xrd.total === 0) {
    charts.empty("xrd", "Not measured");
    tables.fill("phases", []);
  } else {
    charts.drawXrd("xrd", xrd);
    tables.fill("phases", tables.phaseRows(xrd));
  }
  state.xrdShown = target;
  const number = state.experiments.find((e) => e.id === target)?.number;
  $("xrd-label").textContent = `#${number ?? "?"} ${xrd.sample_id ?? ""} · Rwp ${tables.number(xrd.rwp)}`;
}

async function refreshPareto() {
  const pareto = await api(`/api/campaigns/${cid()}/pareto`);
  const names = pareto.objectives.map((o) => o.name);
  for (const [select, index] of [[$("pareto-x"), 0], [$("pareto-y"), 1]]) {
    if ([...select.options].map((o) => o.value).join() !== names.join()) {
      select.replaceChildren(...names.map((n) => tables.el("option", { value: n }, n)));
      select.value = names[Math.min(index, names.length - 1)];
    }
  }
  if (names.length < 2) {
    charts.empty("pareto", "One objective: no front to draw");
    return;
  }
  const shown = charts.drawPareto("pareto", pareto, state.experiments, $("pareto-x").value, $("pareto-y").value);
  $("pareto").dataset.front = String(shown);
}

async function refreshHypervolume() {
  const body = await api(`/api/campaigns/${cid()}/hypervolume`);
  body.history = body.history.filter((p) => FINAL.has(p.state) && p.state !== "vetoed");
  if (body.history.length === 0) charts.empty("hypervolume", "No finished experiment yet");
  else charts.drawHypervolume("hypervolume", body);
}

async function refreshSamples() {
  const samples = await api(`/api/campaigns/${cid()}/samples`);
  tables.fill("samples", tables.sampleRows(samples, state.experiments));
}

const panels = Object.fromEntries(Object.entries({
  summary: refreshSummary, instruments: refreshInstruments, suggestions: refreshSuggestions,
  queue: refreshQueue, cycling: refreshCycling, xrd: refreshXrd, pareto: refreshPareto,
  hypervolume: refreshHypervolume, samples: refreshSamples,
}).map(([name, fn]) => [name, new Debounced(() => (cid() ? fn() : null), 300, fail)]));

const AFFECTS = {
  campaign: ["summary", "queue"], request: ["summary"], engine: ["summary", "instruments"],
  experiment: ["summary", "queue", "suggestions", "pareto", "hypervolume"],
  step: ["queue", "instruments"], sample: ["samples"], analysis: ["queue", "pareto", "hypervolume"],
  planner: ["suggestions"], planning: ["suggestions"], instrument: ["instruments"], retry: ["instruments"],
  exclude: ["queue", "pareto", "hypervolume"], manual: ["queue", "suggestions"],
};

function onEvent(event) {
  if (event.kind === "points") {
    pickCycling(state.focus ?? event.data.experiment_id);
    panels.cycling.request(500);
    return;
  }
  if (event.kind === "cycle") return; // its points come as "points" events
  for (const name of AFFECTS[event.kind] ?? ["summary"]) panels[name].request();
}

const stream = new EventStream(onEvent, (s) => {
  $("live").textContent = s;
  $("live").className = `badge ${s === "live" ? "on" : "off"}`;
});

// -- sign-in and campaign choice -------------------------------------------------------------

async function openCampaign(id) {
  sessionStorage.setItem(CAMPAIGN_KEY, id);
  Object.assign(state, { campaign: { id }, experiments: [], details: new Map(), focus: null, xrdShown: null });
  state.cycling = { experimentId: null, next: 0, plotted: 0 };
  $("cycling").dataset.points = "0";
  await refreshSummary();
  await refreshQueue();
  for (const name of ["instruments", "suggestions", "cycling", "pareto", "hypervolume", "samples"]) {
    panels[name].request(0);
  }
  stream.open(id, 0);
}

async function signIn() {
  try {
    state.principal = await api("/api/whoami");
  } catch (error) {
    state.principal = null;
    stream.close();
    $("whoami").textContent = error.status === 401 ? "token refused" : error.message;
    return;
  }
  $("whoami").textContent = `${state.principal.name} (${state.principal.role})`;
  const campaigns = await api("/api/campaigns");
  const select = $("campaign");
  select.replaceChildren(...[...campaigns].reverse().map(
    (c) => tables.el("option", { value: c.id }, `${c.id} (${c.state})`)));
  if (campaigns.length === 0) {
    $("summary").textContent = "No campaign in this lab yet: create one with POST /api/campaigns or `voltlab run`.";
    return;
  }
  const remembered = sessionStorage.getItem(CAMPAIGN_KEY);
  const running = [...campaigns].reverse().find((c) => c.state === "running" || c.state === "paused");
  select.value = campaigns.some((c) => c.id === remembered) ? remembered : (running ?? campaigns.at(-1)).id;
  await openCampaign(select.value);
}

async function act(action) {
  if (action === "abort" && !window.confirm(`Abort campaign ${cid()}? Running jobs are stopped.`)) return;
  try {
    await api(`/api/campaigns/${cid()}/${action}`, { method: "POST" });
    say(`${action} requested`, false);
  } catch (error) {
    fail(error);
  }
  panels.summary.request(0);
}

function start() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken($("token").value.trim());
    $("token").value = "";
    signIn().catch(fail);
  });
  $("campaign").addEventListener("change", (event) => openCampaign(event.target.value).catch(fail));
  for (const button of document.querySelectorAll("[data-action]")) {
    button.addEventListener("click", () => act(button.dataset.action));
  }
  for (const id of ["pareto-x", "pareto-y"]) $(id).addEventListener("change", () => panels.pareto.request(0));
  for (const id of ["cycling", "xrd", "pareto", "hypervolume", "timeline"]) charts.empty(id, "Waiting for data");
  if (token()) signIn().catch(fail);
}

if (window.Plotly === undefined) say("plotly.js did not load: charts are unavailable");
else start();
