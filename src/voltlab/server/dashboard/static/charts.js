// The dashboard's charts, drawn with plotly.js (served from the installed plotly package).
// Each function takes API bodies and (re)draws one chart; units are on the axes.

const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
const STATE_COLOURS = {
  completed: "#2e7d32", running: "#1565c0", pending: "#9e9e9e", failed: "#c62828",
  gated: "#ef6c00", aborted: "#6d4c41", skipped: "#bdbdbd",
};

function layout(xTitle, yTitle, extra = {}) {
  return {
    margin: { l: 56, r: 12, t: 8, b: 44 },
    xaxis: { title: { text: xTitle }, zeroline: false },
    yaxis: { title: { text: yTitle }, zeroline: false },
    showlegend: true,
    legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0 },
    font: { size: 11 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#fff",
    ...extra,
  };
}

export function empty(id, text) {
  Plotly.react(id, [], layout("", "", {
    xaxis: { visible: false }, yaxis: { visible: false },
    annotations: [{ text, showarrow: false, font: { size: 13, color: "#777" } }],
  }), CONFIG);
}

const hours = (seconds) => seconds.map((s) => (s === null ? null : s / 3600));

/** Voltage (V) against test time (h) of one cell; returns the number of points plotted. */
export function drawCycling(id, page) {
  Plotly.react(id, [{
    type: "scattergl", mode: "lines", name: "voltage", line: { width: 1.2, color: "#1565c0" },
    x: hours(page.time_s), y: page.voltage_v,
  }], layout("test time (h)", "voltage (V)", { showlegend: false, uirevision: page.experiment_id }), CONFIG);
  return page.time_s.length;
}

/** Appends a page of newly streamed points to the cycling chart. */
export function extendCycling(id, page) {
  if (page.time_s.length === 0) return 0;
  Plotly.extendTraces(id, { x: [hours(page.time_s)], y: [page.voltage_v] }, [0]);
  return page.time_s.length;
}

/** The measured pattern with the fitted one and its background (counts vs degrees 2-theta). */
export function drawXrd(id, xrd) {
  Plotly.react(id, [
    { type: "scatter", mode: "lines", name: "measured", x: xrd.two_theta, y: xrd.counts,
      line: { width: 1, color: "#616161" } },
    { type: "scatter", mode: "lines", name: "fit", x: xrd.two_theta, y: xrd.calculated,
      line: { width: 1.2, color: "#c62828" } },
    { type: "scatter", mode: "lines", name: "background", x: xrd.two_theta, y: xrd.background,
      line: { width: 1, dash: "dot", color: "#1565c0" } },
  ], layout("2θ (degrees)", "counts", { uirevision: xrd.experiment_id }), CONFIG);
}

/** Every feasible completed experiment on two objectives, the Pareto front highlighted. */
export function drawPareto(id, pareto, experiments, xName, yName) {
  const front = new Set(pareto.front.map((p) => p.experiment_id));
  const objective = (name) => pareto.objectives.find((o) => o.name === name);
  const title = (name) => `${name} (${objective(name).direction === "maximise" ? "max" : "min"})`;
  const done = experiments.filter(
    (e) => e.state === "completed" && e.outcomes && !e.excluded && !front.has(e.id)
      && e.outcomes[xName] != null && e.outcomes[yName] != null,
  );
  const onFront = pareto.front.filter((p) => p.outcomes[xName] != null && p.outcomes[yName] != null);
  if (done.length + onFront.length === 0) {
    empty(id, "No feasible result yet");
    return 0;
  }
  Plotly.react(id, [
    { type: "scatter", mode: "markers", name: "dominated or infeasible",
      x: done.map((e) => e.outcomes[xName]), y: done.map((e) => e.outcomes[yName]),
      text: done.map((e) => `#${e.number}`), marker: { size: 8, color: "#b0bec5" } },
    { type: "scatter", mode: "markers+text", name: "Pareto front",
      x: onFront.map((p) => p.outcomes[xName]), y: onFront.map((p) => p.outcomes[yName]),
      text: onFront.map((p) => `#${p.number}`), textposition: "top center",
      marker: { size: 11, color: "#d81b60", line: { width: 1, color: "#880e4f" } } },
  ], layout(title(xName), title(yName), { uirevision: `${xName}/${yName}` }), CONFIG);
  return onFront.length;
}

/** Hypervolume of the feasible results after each experiment. */
export function drawHypervolume(id, body) {
  const h = body.history;
  Plotly.react(id, [{
    type: "scatter", mode: "lines+markers", name: "hypervolume", line: { shape: "hv", color: "#6a1b9a" },
    x: h.map((p) => p.number), y: h.map((p) => p.hypervolume),
    marker: { color: h.map((p) => (p.feasible ? "#6a1b9a" : "#bdbdbd")), size: 7 },
    text: h.map((p) => p.state),
  }], layout("experiments", `hypervolume (reference: ${body.reference})`, { showlegend: false }), CONFIG);
}

/** Steps of each experiment as bars in time (s since the campaign started), coloured by state. */
export function drawTimeline(id, details, t0, now) {
  const byState = new Map();
  for (const detail of details) {
    for (const step of detail.steps) {
      if (step.started_at === null) continue;
      const end = step.finished_at ?? now;
      const trace = byState.get(step.state) || {
        type: "bar", orientation: "h", name: step.state, x: [], y: [], base: [], text: [],
        marker: { color: STATE_COLOURS[step.state] || "#78909c" },
        textposition: "inside", insidetextanchor: "middle", hovertemplate: "%{text}<extra></extra>",
      };
      trace.base.push(step.started_at - t0);
      trace.x.push(Math.max(end - step.started_at, 0.05));
      trace.y.push(`#${detail.number}`);
      trace.text.push(step.kind);
      byState.set(step.state, trace);
    }
  }
  if (byState.size === 0) return empty(id, "No step has started yet");
  Plotly.react(id, [...byState.values()], layout("seconds since the campaign started", "", {
    barmode: "overlay", yaxis: { autorange: "reversed", type: "category" }, bargap: 0.25,
  }), CONFIG);
}
