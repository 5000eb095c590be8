// The dashboard's tables: instruments, suggestions, the queue, samples with lineage, phases.
// Built with DOM calls and textContent only, so nothing from the lab is read as HTML.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function fill(tableId, rows) {
  document.querySelector(`#${tableId} tbody`).replaceChildren(...rows);
}

export function number(value, digits = 3) {
  if (value === null || value === undefined) return "-";
  if (typeof value !== "number") return String(value);
  return Math.abs(value) >= 1000 || Number.isInteger(value) ? String(Math.round(value * 100) / 100)
    : value.toPrecision(digits);
}

export function ago(seconds) {
  if (!seconds) return "never";
  const s = Math.max(0, Date.now() / 1000 - seconds);
  return s < 90 ? `${Math.round(s)} s ago` : `${Math.round(s / 60)} min ago`;
}

const badge = (state) => el("span", { class: `badge state-${state}` }, state.replace("_", " "));

/** Robot, XRD stage and cycler: heartbeat state and the jobs holding them now. */
export function instrumentRows(body, campaignId) {
  return ["robot", "xrd", "cycler"].map((name) => {
    const client = body.instruments.find((i) => i.name === name && i.campaign_id === campaignId);
    const state = client === undefined ? "not connected" : client.healthy ? "healthy" : "silent";
    const jobs = body.resources.filter((r) => r.instrument === name);
    return el("tr", { "data-instrument": name },
      el("td", {}, name),
      el("td", { title: client ? `last heard ${ago(client.last_seen)}` : "no engine here uses it" },
        badge(state.replace(" ", "_"))),
      el("td", {}, jobs.length === 0 ? el("span", { class: "muted" }, "idle")
        : jobs.map((r) => el("div", { class: "job" },
          `${r.resource}: ${r.step_kind} `, el("code", {}, r.job_id ?? "-"),
          ` (attempt ${r.attempt})`))));
  });
}

export function faultItems(faults) {
  if (faults.length === 0) return [el("li", { class: "muted" }, "none")];
  return faults.slice(0, 6).map((f) => el("li", {},
    `${new Date(f.at * 1000).toLocaleTimeString()} ${f.kind}: `,
    el("code", {}, JSON.stringify(f.data).slice(0, 140))));
}

function parameterText(parameters) {
  return Object.entries(parameters).map(([k, v]) => `${k}=${number(v)}`).join(", ");
}

function whyText(reason) {
  if (!reason) return "-";
  const parts = [reason.strategy ?? ""];
  if (reason.acquisition_value != null) parts.push(`acq ${number(reason.acquisition_value)}`);
  for (const [name, p] of Object.entries(reason.predicted || {})) {
    if (p && p.mean != null) parts.push(`${name} ${number(p.mean)} ± ${number(p.std)}`);
  }
  return parts.filter(Boolean).join("; ");
}

/** One row per suggestion with approve and veto (veto opens a reason form in the row). */
export function suggestionRows(suggestions, canAct, onApprove, onVeto) {
  return suggestions.map((s) => {
    const cell = el("td", { class: "buttons" });
    const approve = el("button", { class: "approve", disabled: !canAct, onclick: () => onApprove(s, approve) }, "Approve");
    const veto = el("button", { class: "veto danger", disabled: !canAct }, "Veto");
    veto.addEventListener("click", () => {
      const form = document.getElementById("veto-template").content.firstElementChild.cloneNode(true);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        onVeto(s, form.elements.reason.value.trim(), form);
      });
      form.querySelector(".cancel").addEventListener("click", () => cell.replaceChildren(approve, veto));
      cell.replaceChildren(form);
      form.elements.reason.focus();
    });
    cell.append(approve, veto);
    return el("tr", { "data-experiment": s.id },
      el("td", {}, `#${s.number}`),
      el("td", { class: "params" }, parameterText(s.parameters)),
      el("td", {}, whyText(s.reason)),
      cell);
  });
}

/** Experiments, newest first, with their state and a chip per step. */
export function queueRows(experiments, details, focusId, onFocus) {
  return [...experiments].reverse().map((e) => {
    const steps = details.get(e.id)?.steps ?? [];
    return el("tr", {
      "data-experiment": e.id, class: e.id === focusId ? "focus" : "",
      title: "Show this experiment's XRD and cycling", onclick: () => onFocus(e.id),
    },
    el("td", {}, `#${e.number}`),
    el("td", {}, e.source),
    el("td", {}, badge(e.state), e.excluded ? el("span", { class: "muted" }, " excluded") : null),
    el("td", {}, steps.map((s) => el("span", {
      class: `chip state-${s.state}`, title: `${s.kind}: ${s.state}${s.error ? ` (${s.error})` : ""}`,
    }, s.kind))));
  });
}

/** Powders, each with the cells built from it (lineage recipe -> powder -> cell). */
export function sampleRows(samples, experiments) {
  const numberOf = new Map(experiments.map((e) => [e.id, e.number]));
  const cells = new Map();
  for (const s of samples.filter((x) => x.parent_id)) {
    cells.set(s.parent_id, [...(cells.get(s.parent_id) || []), s]);
  }
  const powders = samples.filter((s) => !s.parent_id).reverse();
  if (powders.length === 0) {
    return [el("tr", {}, el("td", { colspan: 3, class: "muted" }, "No sample made yet."))];
  }
  return powders.map((p) => el("tr", { "data-sample": p.id },
    el("td", {}, el("code", {}, p.id), ` ${p.kind}`),
    el("td", {}, numberOf.has(p.experiment_id) ? `#${numberOf.get(p.experiment_id)}` : p.experiment_id),
    el("td", {}, (cells.get(p.id) || []).map((c) => el("div", {}, "→ ", el("code", {}, c.id), ` ${c.kind}`))
      .concat((cells.get(p.id) || []).length ? [] : [el("span", { class: "muted" }, "none")]))));
}

export function phaseRows(xrd) {
  if (xrd.phases.length === 0) return [el("tr", {}, el("td", { colspan: 2, class: "muted" }, "No phase fitted."))];
  return xrd.phases.map((p) => el("tr", {},
    el("td", {}, p.name ?? p.phase ?? JSON.stringify(p)),
    el("td", {}, number(p.fraction ?? p.weight_fraction))));
}
