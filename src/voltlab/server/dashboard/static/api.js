// Talking to the voltlab API: the token (kept in sessionStorage, sent as a Bearer header on
// fetch and as ?token= on the WebSocket, which cannot carry headers), JSON calls with readable
// errors, and the live event stream that reconnects from the last sequence number it saw.

const TOKEN_KEY = "voltlab.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

function detailText(body) {
  const detail = body && typeof body === "object" ? body.detail : body;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  }
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}

/** Call the API; resolves to the JSON body, rejects with an ApiError naming what was wrong. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const data = isJson ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, detailText(data));
  return data;
}

/** Events of one campaign from /ws/events: stored ones after `after`, then live ones.
 * After a drop it reconnects (backing off up to 10 s) with after = the last seq received, so
 * nothing is missed or repeated. `onState` gets "connecting", "live" or "reconnecting". */
export class EventStream {
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.socket = null;
    this.timer = null;
    this.after = 0;
    this.delayMs = 500;
  }

  open(campaignId, after = 0) {
    this.close();
    this.campaignId = campaignId;
    this.after = after;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams({ after: String(this.after), token: token() });
    if (this.campaignId) query.set("campaign_id", this.campaignId);
    const socket = new WebSocket(`${scheme}://${location.host}/ws/events?${query}`);
    this.socket = socket;
    this.onState("connecting");
    socket.onopen = () => {
      this.delayMs = 500;
      this.onState("live");
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.seq !== null && event.seq > this.after) this.after = event.seq;
      this.onEvent(event);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return; // closed on purpose
      this.onState("reconnecting");
      this.timer = setTimeout(() => this.connect(), this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, 10000);
    };
  }

  close() {
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close();
  }
}

/** Runs `fn` at most once per `delayMs` however often it is requested, never twice at once
 * (a request during a run schedules one more run). */
export class Debounced {
  constructor(fn, delayMs, onError) {
    this.fn = fn;
    this.delayMs = delayMs;
    this.onError = onError;
    this.timer = null;
    this.running = false;
    this.again = false;
  }

  request(delayMs = this.delayMs) {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => this.run(), delayMs);
  }

  async run() {
    this.timer = null;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      await this.fn();
    } catch (error) {
      this.onError(error);
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.request();
      }
    }
  }
}
