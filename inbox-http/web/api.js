// The web inbox's shared state, its calls to the agent API and its messages
// to the agent (plain JavaScript, no build step; loaded first).
"use strict";

const state = {
  me: null,
  agents: {},
  bots: {}, // the tenant's bots, by id (bots.js)
  channels: {}, // the tenant's numbers, by id
  templates: [],
  view: "unassigned",
  team: "", // the team of view "team"
  status: "", // the list's statuses ("": the active ones)
  sort: "latest_activity",
  channel: "", // only this number ("": every one)
  tag: "", // only with this tag
  picked: new Set(), // conversations selected for a bulk action
  cursor: null, // the row the keyboard is on
  events: null, // the live event stream
  search: "",
  items: [],
  highlights: {}, // for a search: what matched, by conversation
  matched: {}, // for a search: the message that matched, by conversation
  unread: {}, // conversation id -> messages this agent has not seen (the server's count)
  counts: null, // how many conversations each view holds (GET /api/counts)
  contacts: {},
  next: null,
  selected: null,
  detail: null,
  viewers: {}, // conversation id -> { agent id -> { state, expires } }
  tab: "inbox",
};

// ----------------------------------------------------------------- the API

// A call of the agent API: its JSON answer, or an Error with the answer's
// `status`, `code`, `message` and `details`. Without an answer at all (the
// server or the network down) the code is `offline`, and the page shows it
// until a call gets through again.
async function api(method, path, body, key) {
  // A file goes as it is, with its own type; anything else as JSON.
  const raw = body instanceof Blob;
  const headers = { "content-type": raw ? body.type || "application/octet-stream" : "application/json" };
  if (key) headers["idempotency-key"] = key;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined || raw ? body : JSON.stringify(body),
    });
  } catch {
    connection(false);
    throw Object.assign(new Error(t("api.offline")), {
      status: 0,
      code: "offline",
    });
  }
  connection(true);
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { code: "unavailable", message: t("api.bad-answer", { status: res.status, text: res.statusText }) };
  }
  if (!res.ok) {
    const err = new Error((data && data.message) || res.statusText);
    Object.assign(err, { status: res.status, code: data && data.code, details: data && data.details });
    throw err;
  }
  return data;
}

// Whether the server answers: a bar says so while it does not, and the
// page catches up when it is back.
let reachable = true;
let probeTimer = null;
function connection(up) {
  if (up === reachable) return;
  reachable = up;
  const bar = $("#connection");
  bar.classList.toggle("hidden", up);
  bar.textContent = up ? "" : t("api.connection-lost");
  clearInterval(probeTimer);
  if (!up) {
    probeTimer = setInterval(() => api("GET", "/api/me").then(() => refreshSoon && refreshSoon()).catch((err) => err.status === 401 && sessionEnded()), 3000);
  } else if (state.me) {
    banner(t("api.connected"), true);
  }
}

const newKey = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random()));
const nameOf = (id) => (state.agents[id] && state.agents[id].name) || id;

// --------------------------------------------------------------- messages

let bannerTimer = null;
function banner(text, ok = false) {
  const b = $("#banner");
  b.textContent = text;
  b.className = "banner" + (ok ? " ok" : "");
  clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => b.classList.add("hidden"), 6000);
}

// Refusals in plain words, in the agent's language by the answer's code
// (the server's own words, in English, for a code not known here, and
// after the known words where they say what exactly was refused).
function explain(err) {
  const d = err.details || {};
  switch (err.code) {
    case "already_owned":
      return t("error.already-owned", { name: nameOf(d.owner) });
    case "lease_held":
      return t("error.lease-held", { name: nameOf(d.holder) });
    case "conflict":
      return conflictText(d, err.fresh);
    case "window_closed":
      return t("error.window-closed");
    case "forbidden":
      return t("error.forbidden", { message: err.message });
    case "unauthenticated":
      return t("error.unauthenticated");
    case "bad_credentials":
      return t("signin.bad-credentials");
    case "not_found":
      return t("error.not-found");
    case "invalid_input":
    case "invalid_content":
      return t("error.invalid", { message: err.message });
    case "invalid_state":
      return t("error.invalid-state", { message: err.message });
    case "duplicate":
      return t("error.duplicate");
    case "too_many_attempts":
      return d.retry_after_secs ? t("error.too-many-attempts", { n: d.retry_after_secs }) : t("error.busy");
    case "sign_in_busy":
    case "too_many_requests":
      return t("error.busy");
    case "payload_too_large":
      return t("error.too-large");
    case "idempotency_key_in_use":
      return t("error.in-progress");
    case "no_secret_keys":
      return t("error.no-secret-keys");
    default:
      // A server-side failure: its words are only a request id.
      return d.request_id ? t("error.server", { id: d.request_id }) : err.message;
  }
}

// What changed while the agent was looking, from a conflict's details (the
// conversation reloaded, so its messages can be quoted).
function conflictText(d, fresh) {
  const detail = fresh || state.detail;
  const find = (id) => detail && detail.messages.find((m) => m.id === id);
  const said = (m) => (m ? ` ${t("conflict.said", { ago: agoText(m.created_at), text: describe(m.content).slice(0, 120) })}` : "");
  const one = (ch) => {
    switch (ch.change) {
      case "agent_replied":
        return t("conflict.replied", { who: ch.agent ? nameOf(ch.agent) : t("conflict.automation"), said: said(find(ch.message)) });
      case "new_customer_message":
        return t("conflict.customer-wrote", { said: said(find(ch.message)) });
      case "note_added": {
        const m = find(ch.message);
        return t("conflict.note", { who: m ? nameOf(m.author.id) : t("conflict.someone"), said: said(m) });
      }
      case "owner_changed":
        return ch.owner ? t("conflict.owner", { name: nameOf(ch.owner) }) : t("conflict.queue");
      case "status_changed":
        return t("conflict.status", { status: statusName(ch.status) });
      default:
        // The core's words (English), where this page has none.
        return ch.what ? ch.what[0].toUpperCase() + ch.what.slice(1) : t("conflict.changed");
    }
  };
  const changes = (d.changes || []).map(one);
  const what = changes.length ? `${changes.join(". ")}.` : t("conflict.someone-changed");
  return t("conflict.nothing-done", { what });
}

// An action on conversation `id` (the one on screen when the agent acted),
// once per click (a new idempotency key). The conversation and the list
// are reloaded either way; a refusal is explained after the reload, so it
// can say what changed.
async function act(id, path, body) {
  // Reloaded only while it is still the one the agent wants (they may
  // have clicked another meanwhile).
  const reload = () => Promise.all([state.selected === id ? reloadConversation() : null, loadList()]);
  try {
    const out = await api("POST", `/api/conversations/${id}/${path}`, body, newKey());
    for (const w of (out && out.warnings) || []) banner(w);
    await reload();
    return out;
  } catch (err) {
    if (err.status === 401) return sessionEnded();
    // What changed, read now (the pane may be refreshing on its own).
    if (err.code === "conflict") err.fresh = await api("GET", `/api/conversations/${id}`).catch(() => null);
    // Offline: the connection bar says so (nothing was sent).
    if (err.code === "offline") return null;
    await reload();
    banner(explain(err));
    return null;
  }
}
