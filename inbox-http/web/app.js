// The web inbox: plain JavaScript over the agent API, no build step.
"use strict";

const state = {
  me: null,
  agents: {},
  templates: [],
  view: "unassigned",
  search: "",
  items: [],
  contacts: {},
  next: null,
  selected: null,
  detail: null,
  viewers: {}, // conversation id -> { agent id -> { state, expires } }
  tab: "inbox",
};

// ----------------------------------------------------------------- the API

async function api(method, path, body, key) {
  const headers = { "content-type": "application/json" };
  if (key) headers["idempotency-key"] = key;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const err = new Error((data && data.message) || res.statusText);
    Object.assign(err, { status: res.status, code: data && data.code, details: data && data.details });
    throw err;
  }
  return data;
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

// Refusals in plain words.
function explain(err) {
  const d = err.details || {};
  switch (err.code) {
    case "already_owned":
      return `${nameOf(d.owner)} got there first: this conversation is now ${nameOf(d.owner)}'s.`;
    case "lease_held":
      return `${nameOf(d.holder)} is replying right now; wait a moment.`;
    case "conflict":
      return "Someone changed this conversation while you were looking; it has been reloaded.";
    case "window_closed":
      return "The customer last wrote more than 24 hours ago: only a template can be sent.";
    case "forbidden":
      return `Not allowed: ${err.message}`;
    case "unauthenticated":
      return "Your session ended; sign in again.";
    default:
      return err.message;
  }
}

async function act(path, body) {
  const id = state.selected;
  try {
    const out = await api("POST", `/api/conversations/${id}/${path}`, body, newKey());
    for (const w of (out && out.warnings) || []) banner(w);
    await Promise.all([openConversation(id), loadList()]);
    return out;
  } catch (err) {
    banner(explain(err));
    if (err.status === 401) return showSignIn();
    await Promise.all([openConversation(id), loadList()]);
    return null;
  }
}

// ---------------------------------------------------------------- sign-in

function showSignIn() {
  $("#app").classList.add("hidden");
  $("#signin").classList.remove("hidden");
}

$("#signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const form = { agent: f.get("agent"), password: f.get("password") };
    if (String(f.get("tenant") || "").trim()) form.tenant = String(f.get("tenant")).trim();
    await api("POST", "/api/session", form);
    await start();
  } catch (err) {
    banner(err.code === "bad_credentials" ? "Unknown agent or wrong password." : explain(err));
  }
});

$("#signout").addEventListener("click", async () => {
  await api("DELETE", "/api/session").catch(() => {});
  location.reload();
});

// ------------------------------------------------------------------- list

function slaBadge(c) {
  const now = Date.now();
  const targets = (c.sla && c.sla.targets) || [];
  let risk = false;
  let breached = false;
  for (const t of targets) {
    const st = t.state && t.state.state;
    if (st === "breached" || (st === "active" && Date.parse(t.due_at) <= now)) breached = true;
    else if (st === "active" && Date.parse(t.warn_at) <= now) risk = true;
  }
  if (breached) return el("span", { class: "badge breached", "data-testid": "sla-breached" }, "SLA breached");
  if (risk) return el("span", { class: "badge risk", "data-testid": "sla-risk" }, "SLA at risk");
  return null;
}

function ago(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function contactName(c) {
  const k = state.contacts[c.contact];
  return (k && (k.display_name || k.profile_name || (k.identity && k.identity.wa_id))) || c.contact;
}

// Unread, per browser: how many messages each conversation had when this
// agent last opened it.
const seenKey = () => `inbox.seen.${state.me ? state.me.id : ""}`;
const seen = () => JSON.parse(localStorage.getItem(seenKey()) || "{}");
function markSeen(c) {
  const s = seen();
  s[c.id] = c.message_count;
  localStorage.setItem(seenKey(), JSON.stringify(s));
}
function unread(c) {
  return Math.max(0, (c.message_count || 0) - (seen()[c.id] || 0));
}

function renderList() {
  const ul = $("#conversations");
  ul.replaceChildren(
    ...state.items.map((c) =>
      el(
        "li",
        {
          class: c.id === state.selected ? "selected" : "",
          "data-testid": "conversation",
          "data-id": c.id,
          onclick: () => openConversation(c.id),
        },
        el(
          "div",
          { class: "row" },
          el("span", { class: "name" }, contactName(c)),
          el("span", { class: "meta" }, ago(c.last_activity_at)),
        ),
        el(
          "div",
          { class: "row" },
          unread(c) && c.id !== state.selected
            ? el("span", { class: "badge unread", "data-testid": "unread" }, `${unread(c)} new`)
            : null,
          el("span", { class: "badge" }, c.status),
          c.assignee ? el("span", { class: "badge owner" }, nameOf(c.assignee)) : null,
          c.waiting_since
            ? el("span", { class: "badge waiting", "data-testid": "waiting" }, `waiting ${ago(c.waiting_since)}`)
            : null,
          slaBadge(c),
          ...(c.tags || []).map((t) => el("span", { class: "badge" }, `#${t}`)),
        ),
      ),
    ),
  );
  $("#more").classList.toggle("hidden", !state.next);
}

async function loadList(more = false) {
  const params = new URLSearchParams({ view: state.view, limit: "50" });
  if (more && state.next) params.set("after", state.next);
  const path = state.search
    ? `/api/search?${new URLSearchParams({ q: state.search, view: "all" })}`
    : `/api/conversations?${params}`;
  try {
    const page = await api("GET", path);
    state.items = more ? state.items.concat(page.items) : page.items;
    Object.assign(state.contacts, page.contacts || {});
    state.next = page.next;
    renderList();
  } catch (err) {
    if (err.status === 401) return showSignIn();
    banner(explain(err));
  }
}

$("#views").addEventListener("click", (ev) => {
  const v = ev.target.dataset.view;
  if (!v) return;
  state.view = v;
  for (const b of document.querySelectorAll("#views button")) b.classList.toggle("active", b.dataset.view === v);
  loadList();
});
$("#more").addEventListener("click", () => loadList(true));
let searchTimer = null;
$("#search").addEventListener("input", (ev) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    state.search = ev.target.value.trim();
    loadList();
  }, 250);
});

// ------------------------------------------------------------ conversation

// In doubt: the dispatcher could not tell whether WhatsApp got it (no
// provider id yet, never sent again automatically).
const inDoubt = (m) =>
  m.direction === "outbound" && !m.external_id && m.delivery && m.delivery.status === "pending" && !!m.delivery.in_doubt_since;

function ticks(m) {
  if (m.direction !== "outbound" || !m.delivery) return null;
  const s = inDoubt(m) ? "in-doubt" : m.delivery.status;
  const text = { pending: "🕓", "in-doubt": "?", accepted: "✓", sent: "✓", delivered: "✓✓", read: "✓✓", played: "✓✓", failed: "✗" }[s] || s;
  const title = { pending: "queued", "in-doubt": "may not have been delivered", failed: "not delivered" }[s] || s;
  return el("span", { class: `ticks ${s}`, title, "data-testid": `ticks-${s}` }, text);
}

const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

// Resends in the timeline: new message id -> event, original id -> events.
function resends(timeline) {
  const copies = {};
  const originals = {};
  for (const e of timeline || []) {
    if (e.kind.type !== "message_resent") continue;
    copies[e.kind.message] = e;
    (originals[e.kind.original] = originals[e.kind.original] || []).push(e);
  }
  return { copies, originals };
}

const actorName = (a) => (a && a.kind === "agent" ? nameOf(a.id) : (a && a.id) || "the system");

// A provider's error in plain words (its code kept for whoever looks it up).
function providerError(err) {
  const known = {
    131047: "more than 24 hours since the customer last wrote; send a template",
    131026: "the customer cannot receive it (not on WhatsApp, or an old version)",
    131051: "WhatsApp does not support this kind of message",
  };
  const text = known[err.code] || err.title;
  return err.code && !text.includes(String(err.code)) ? `${text} (${err.code})` : text;
}

// Under an outbound message that may not have reached the customer: what
// is known, and "Send again" (a new message; the original stays as it is),
// unless someone already did.
function deliveryNote(m, again) {
  const failed = m.delivery && m.delivery.status === "failed";
  if (!inDoubt(m) && !failed) return null;
  const err = failed && m.delivery.error;
  const what = failed ? `Not delivered${err ? `: ${providerError(err)}` : ""}` : "May not have been delivered";
  const since = failed ? "" : ` — WhatsApp has not confirmed it since ${clock(m.delivery.in_doubt_since)}`;
  const done = again.map((e) => ` · sent again by ${actorName(e.actor)} at ${clock(e.at)}`).join("");
  const text = done ? `${what}${done}` : `${what}${since}.`;
  const button = again.length
    ? null
    : el(
        "button",
        {
          class: "resend",
          "data-testid": "resend",
          onclick: (ev) => {
            ev.target.disabled = true; // one click, one new message
            act(`messages/${encodeURIComponent(m.id)}/resend`, { version: state.detail.conversation.version });
          },
        },
        "Send again",
      );
  return el(
    "div",
    { class: `delivery-note ${failed ? "failed" : "doubt"}`, "data-testid": failed ? "not-delivered" : "in-doubt" },
    el("span", {}, text),
    button,
  );
}

// A timeline entry shown among the messages.
function eventView(e) {
  return el(
    "div",
    { class: "event", "data-testid": "event-message-resent" },
    `${actorName(e.actor)} sent a message again · ${clock(e.at)}`,
  );
}

function describe(content) {
  switch (content.type) {
    case "text":
      return content.body;
    case "media":
      return `[${content.kind}] ${content.caption || ""}`;
    case "location":
      return `📍 ${content.name || ""} ${content.address || ""} (${content.latitude}, ${content.longitude})`;
    case "reaction":
      return content.emoji ? `reacted ${content.emoji}` : "removed a reaction";
    case "template":
      return `[template ${content.name}]`;
    default:
      return `[${content.type}]`;
  }
}

function messageView(m, r) {
  const cls = m.direction === "note" ? "note" : m.direction;
  const by =
    m.direction === "note"
      ? `Internal note · ${nameOf(m.author.id)}`
      : m.direction === "outbound"
        ? m.author.kind === "agent" ? nameOf(m.author.id) : m.author.id || "automation"
        : null;
  const msg = el(
    "div",
    { class: `msg ${cls}`, "data-testid": `msg-${cls}`, "data-id": m.id },
    by ? el("div", { class: "by" }, r.copies[m.id] ? `${by} · sent again` : by) : null,
    describe(m.content),
    ticks(m),
  );
  const note = m.direction === "outbound" ? deliveryNote(m, r.originals[m.id] || []) : null;
  if (!note) return msg;
  return el("div", { class: "msg-group outbound" }, msg, note);
}

// Messages with the resends of the timeline, each before its new message.
function stream(d) {
  const r = resends(d.timeline);
  return d.messages.flatMap((m) => (r.copies[m.id] ? [eventView(r.copies[m.id]), messageView(m, r)] : [messageView(m, r)]));
}

function windowOpen(c) {
  return c.window_expires_at && Date.parse(c.window_expires_at) > Date.now();
}

function viewersText(id) {
  const now = Date.now();
  const v = state.viewers[id] || {};
  const parts = Object.entries(v)
    .filter(([a, s]) => a !== state.me.id && s.expires > now && s.state !== "left")
    .map(([a, s]) => `${nameOf(a)} is ${s.state === "typing" ? "replying" : "viewing"}`);
  return parts.join(" · ");
}

function renderPane() {
  const d = state.detail;
  const pane = $("#pane");
  if (!d) {
    pane.replaceChildren(el("p", { class: "empty" }, "Pick a conversation."));
    pane.dataset.mode = "";
    return;
  }
  const c = d.conversation;
  // Actions pass the version on screen when clicked (the pane refreshes
  // live, the buttons stay).
  const ver = () => state.detail.conversation.version;
  const agentsSelect = el(
    "select",
    { "data-testid": "assign-to" },
    // The conversation's team first (everybody when it has none).
    ...Object.values(state.agents)
      .filter((a) => !c.team || a.teams.includes(c.team) || a.role !== "agent")
      .map((a) => el("option", { value: a.id }, a.name)),
  );
  const teams = [...new Set(Object.values(state.agents).flatMap((a) => a.teams))];
  const teamSelect = el("select", { "data-testid": "transfer-to" }, ...teams.map((t) => el("option", { value: t }, t)));
  const tagInput = el("input", { placeholder: "tag", size: 8, "data-testid": "tag-input" });
  const controls = el(
    "div",
    { class: "controls" },
    c.assignee === state.me.id
      ? el("button", { onclick: () => act("release", { version: ver() }), "data-testid": "release" }, "Release")
      : el("button", { class: "primary", onclick: () => act("claim", { version: ver() }), "data-testid": "claim" }, "Claim"),
    agentsSelect,
    el("button", { onclick: () => act("assign", { version: ver(), agent: agentsSelect.value }), "data-testid": "assign" }, "Assign"),
    teamSelect,
    el("button", { onclick: () => act("transfer", { version: ver(), team: teamSelect.value }), "data-testid": "transfer" }, "Transfer"),
    tagInput,
    el("button", { onclick: () => tagInput.value && act("tags", { version: ver(), add: [tagInput.value] }), "data-testid": "tag" }, "Tag"),
    c.status === "resolved"
      ? el("button", { onclick: () => act("status", { version: ver(), status: "open" }), "data-testid": "reopen" }, "Reopen")
      : el("button", { onclick: () => act("status", { version: ver(), status: "resolved" }), "data-testid": "resolve" }, "Resolve"),
    el(
      "button",
      {
        onclick: () => act("status", { version: ver(), status: "snoozed", until: new Date(Date.now() + 3600e3).toISOString() }),
        "data-testid": "snooze",
      },
      "Snooze 1h",
    ),
  );
  const open = windowOpen(c);
  const text = el("textarea", {
    placeholder: open ? "Reply to the customer, or write an internal note" : "Internal note (the window is closed: send a template)",
    "data-testid": "composer",
    oninput: () => typing(c.id),
  });
  const template = el(
    "select",
    { "data-testid": "template" },
    ...state.templates.map((t, i) => el("option", { value: i }, `${t.name} (${t.language}) — ${t.text}`)),
  );
  const sendTemplate = () => {
    const t = state.templates[Number(template.value)];
    if (t) act("reply", { version: ver(), content: { type: "template", name: t.name, language: t.language, components: [] } });
  };
  const composer = el(
    "div",
    { class: "composer" },
    text,
    el(
      "div",
      { class: "actions" },
      open
        ? el(
            "button",
            {
              class: "primary",
              "data-testid": "send-reply",
              onclick: async () => text.value.trim() && (await sendFromComposer(text, "reply", { version: ver(), text: text.value })),
            },
            "Reply",
          )
        : [el("span", { class: "window", "data-testid": "window-closed" }, "24-hour window closed:"), template,
           el("button", { class: "primary", onclick: sendTemplate, "data-testid": "send-template" }, "Send template")],
      el(
        "button",
        {
          "data-testid": "send-note",
          onclick: async () => text.value.trim() && (await sendFromComposer(text, "notes", { version: ver(), text: text.value })),
        },
        "Add note",
      ),
    ),
  );
  const messages = el("div", { class: "messages", "data-testid": "messages" }, ...stream(d));
  const head = el(
    "div",
    { class: "head" },
    el(
      "div",
      { class: "title" },
      el("h2", { "data-testid": "contact-name" }, d.contact.profile_name || d.contact.identity.wa_id),
      el("span", { class: "meta" }, `+${d.contact.identity.wa_id || ""}`),
      el("span", { class: "badge" }, c.status),
      c.assignee ? el("span", { class: "badge owner", "data-testid": "owner" }, nameOf(c.assignee)) : el("span", { class: "badge" }, "unassigned"),
      c.team ? el("span", { class: "badge" }, `team ${c.team}`) : null,
      slaBadge(c),
    ),
    controls,
    el("div", { class: "viewers", id: "viewers", "data-testid": "viewers" }, viewersText(c.id)),
  );
  // The composer is left in place by live refreshes of the same
  // conversation (the agent may be typing: moving it would drop focus and
  // keystrokes), unless the window opened or closed.
  // The messages keep their scroll position too, unless the agent was at
  // the bottom (then new messages come into view).
  const mode = `${c.id}:${open}`;
  const existing = pane.querySelector(".composer");
  const old = pane.querySelector(".messages");
  const sameConversation = old && pane.dataset.mode && pane.dataset.mode.split(":")[0] === c.id;
  const atBottom = !old || old.scrollHeight - old.scrollTop - old.clientHeight < 40;
  const keptScroll = old ? old.scrollTop : 0;
  if (existing && pane.dataset.mode === mode) {
    pane.querySelector(".head").replaceWith(head);
    old.replaceWith(messages);
  } else {
    pane.replaceChildren(head, messages, composer);
  }
  pane.dataset.mode = mode;
  messages.scrollTop = sameConversation && !atBottom ? keptScroll : messages.scrollHeight;
}

async function sendFromComposer(textarea, path, body) {
  const out = await act(path, body);
  if (out) textarea.value = "";
}

let viewingTimer = null;
async function openConversation(id) {
  const changed = state.selected !== id;
  if (changed && state.selected) {
    api("POST", `/api/conversations/${state.selected}/viewing`, { state: "left" }).catch(() => {});
  }
  state.selected = id;
  try {
    state.detail = await api("GET", `/api/conversations/${id}`);
    markSeen(state.detail.conversation);
    renderPane();
  } catch (err) {
    banner(explain(err));
  }
  renderList();
  if (changed) {
    const tell = () => api("POST", `/api/conversations/${id}/viewing`, { state: "viewing" }).catch(() => {});
    tell();
    clearInterval(viewingTimer);
    viewingTimer = setInterval(tell, 20000);
  }
}

let lastTyping = 0;
function typing(id) {
  if (Date.now() - lastTyping < 5000) return;
  lastTyping = Date.now();
  api("POST", `/api/conversations/${id}/viewing`, { state: "typing" }).catch(() => {});
}

// --------------------------------------------------------------- dashboard

function secs(v) {
  if (v === null || v === undefined) return "—";
  if (v < 60) return `${Math.round(v)}s`;
  if (v < 3600) return `${Math.round(v / 60)}m`;
  return `${(v / 3600).toFixed(1)}h`;
}

async function loadDashboard() {
  const to = new Date(Date.now() + 60e3);
  const from = new Date(Date.now() - 7 * 86400e3);
  try {
    const [report, live] = await Promise.all([
      api("GET", `/api/metrics?${new URLSearchParams({ from: from.toISOString(), to: to.toISOString() })}`),
      api("GET", "/api/live"),
    ]);
    const card = (label, value, id) =>
      el("div", { class: "card", "data-testid": id }, el("div", { class: "value" }, value), el("div", { class: "label" }, label));
    $("#cards").replaceChildren(
      card("First response (median, 7 days)", secs(report.first_response.median_secs), "card-first-response"),
      card("Resolution (median, 7 days)", secs(report.resolution.median_secs), "card-resolution"),
      card("Open now", live.active, "card-open"),
      card("Unassigned", live.unassigned, "card-unassigned"),
      card("Waiting longest", live.waiting_longest ? ago(live.waiting_longest.since) : "—", "card-waiting"),
      card("SLA at risk", live.sla_at_risk, "card-sla-risk"),
      card("SLA breached", live.sla_breached, "card-sla-breached"),
      card("Replies in doubt", live.in_doubt, "card-in-doubt"),
    );
    $("#loads tbody").replaceChildren(
      ...live.agents.map((a) =>
        el(
          "tr",
          {},
          el("td", {}, nameOf(a.agent)),
          el("td", {}, a.presence),
          el("td", { class: a.capacity && a.load >= a.capacity ? "full" : "" }, a.load),
          el("td", {}, a.capacity || "∞"),
        ),
      ),
    );
    $("#dash-hint").textContent = `Opened in the last 7 days: ${report.opened}; resolved: ${report.resolved}.`;
  } catch (err) {
    $("#dash-hint").textContent = err.code === "forbidden" ? "The dashboard is for supervisors and admins." : explain(err);
  }
}

$("#tabs").addEventListener("click", (ev) => {
  const t = ev.target.dataset.tab;
  if (!t) return;
  state.tab = t;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === t);
  $("#inbox").classList.toggle("hidden", t !== "inbox");
  $("#dashboard").classList.toggle("hidden", t !== "dashboard");
  $("#admin").classList.toggle("hidden", t !== "admin");
  if (t === "dashboard") loadDashboard();
  if (t === "admin") loadAdmin();
});

// ------------------------------------------------------------------ admin

const isAdmin = () => state.me && state.me.role === "admin";
const canSeeSettings = () => state.me && (state.me.role === "admin" || state.me.role === "supervisor");

// The line of a settings path (`routing.rules[2].then[0].route_to_team`)
// in YAML text, for pointing at the bad field: each key is looked for
// below the previous one; `[n]` moves to the n-th item of a block list (an
// inline list stays on its line). 0-based; -1 when not found.
function lineOfPath(yaml, path) {
  const lines = yaml.split("\n");
  const indent = (l) => l.length - l.trimStart().length;
  let at = -1;
  let depth = -1;
  for (const part of path.split(".")) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) return at;
    const [, key, idx] = m;
    if (key) {
      const re = new RegExp(`(^|[\\s{,-])${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*:`);
      let found = -1;
      for (let i = Math.max(at, 0); i < lines.length; i++) {
        if (i > at && at >= 0 && lines[i].trim() && indent(lines[i]) <= depth && !re.test(lines[i])) break;
        if ((i > at || (i === at && re.test(lines[i].slice(lines[i].indexOf(":") + 1)))) && re.test(lines[i])) {
          found = i;
          break;
        }
      }
      if (found < 0) return at;
      at = found;
      depth = indent(lines[at]);
    }
    for (const n of (idx.match(/\d+/g) || []).map(Number)) {
      if (/:\s*\[/.test(lines[at])) break; // inline list: stay here
      let count = -1;
      let itemIndent = -1;
      for (let i = at + 1; i < lines.length; i++) {
        const l = lines[i];
        if (!l.trim()) continue;
        if (indent(l) < depth || (indent(l) === depth && !l.trimStart().startsWith("-"))) break;
        if (l.trimStart().startsWith("-") && (itemIndent < 0 || indent(l) === itemIndent)) {
          itemIndent = indent(l);
          if (++count === n) {
            at = i;
            depth = indent(l);
            break;
          }
        }
      }
    }
  }
  return at;
}

function showProblems(problems, yaml) {
  const area = $("#settings-yaml");
  area.classList.toggle("bad", problems.length > 0);
  $("#settings-problems").replaceChildren(
    ...problems.map((p) => {
      const line = lineOfPath(yaml, p.path);
      const item = el(
        "li",
        { "data-testid": "settings-problem", title: "Show it in the text" },
        line >= 0 ? `line ${line + 1} · ` : "",
        el("code", {}, p.path),
        `: ${p.reason}`,
      );
      if (line >= 0) item.addEventListener("click", () => selectLine(area, line));
      return item;
    }),
  );
  const first = problems.map((p) => lineOfPath(yaml, p.path)).find((l) => l >= 0);
  if (first !== undefined) selectLine(area, first);
}

function selectLine(area, line) {
  const lines = area.value.split("\n");
  const start = lines.slice(0, line).reduce((n, l) => n + l.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start + (lines[line] || "").length);
  area.scrollTop = Math.max(0, line * 18 - area.clientHeight / 2);
}

const settingsDirty = () => state.settings && $("#settings-yaml").value !== state.settings.yaml;

function renderSettings(settings, force = false) {
  const area = $("#settings-yaml");
  if (force || !settingsDirty()) {
    area.value = settings.yaml;
    showProblems([], "");
  } else if (state.settings && settings.version !== state.settings.version) {
    banner(`Someone saved version ${settings.version} while you were editing; your text stays here. Discard changes to see theirs.`);
  }
  state.settings = { version: settings.version, yaml: settings.yaml, base: force || !settingsDirty() ? settings.version : state.settings.base };
  if (force || area.value === settings.yaml) state.settings.base = settings.version;
  const by = settings.updated_by ? ` by ${nameOf(settings.updated_by)}` : "";
  $("#settings-version").textContent = settings.version ? `version ${settings.version}${by}, ${ago(settings.updated_at)}` : "not set yet";
  area.readOnly = !isAdmin();
}

function renderDirectory(agents, teams, channels) {
  state.agents = Object.fromEntries(agents.map((a) => [a.id, a]));
  $("#agents-table tbody").replaceChildren(
    ...agents.map((a) =>
      el(
        "tr",
        { "data-testid": "agent-row" },
        el("td", {}, a.id),
        el("td", {}, a.name),
        el("td", {}, a.role),
        el("td", {}, a.teams.join(", ") || "—"),
        el("td", {}, a.capacity || "∞"),
        el("td", {}, a.active ? "yes" : "no"),
      ),
    ),
  );
  $("#teams-list").replaceChildren(...teams.map((t) => el("li", { "data-testid": "team-row" }, `${t.name} (${t.id})`)));
  const select = $("#explain-form select[name=channel]");
  const chosen = select.value;
  select.replaceChildren(...channels.map((c) => el("option", { value: c.id }, `${c.name} ${c.display_number}`)));
  if (chosen) select.value = chosen;
}

function renderHistory(changes) {
  $("#history").replaceChildren(
    ...changes.map((c) =>
      el(
        "li",
        { "data-testid": "history-item" },
        el("strong", {}, `v${c.version} `),
        c.sections.map((s) => s.section).join(", "),
        el("span", { class: "when" }, ` — ${c.by ? nameOf(c.by) : "provisioning"}, ${ago(c.at)}`),
      ),
    ),
  );
}

function renderTemplates(templates) {
  const bodyText = (t) => ((t.components || []).find((c) => String(c.type).toUpperCase() === "BODY") || {}).text || "";
  $("#templates-table tbody").replaceChildren(
    ...(templates.length
      ? templates.map((t) =>
          el(
            "tr",
            { "data-testid": "template-row" },
            el("td", {}, t.name),
            el("td", {}, t.language),
            el("td", {}, t.status || "declared by hand"),
            el("td", {}, t.category || "—"),
            el("td", {}, bodyText(t) || "—"),
          ),
        )
      : [el("tr", {}, el("td", { colspan: 5, class: "hint" }, "No templates yet: sync them from WhatsApp."))]),
  );
}

$("#templates-sync").addEventListener("click", async (ev) => {
  const button = ev.target;
  button.disabled = true;
  try {
    const s = await api("POST", "/api/templates/sync");
    const list = (label, items) => (items.length ? `${label} ${items.join(", ")}` : "");
    const what = [list("added", s.added), list("changed", s.changed), list("removed", s.removed)].filter(Boolean).join("; ");
    $("#templates-synced").textContent = s.stored ? `Synced (version ${s.version}): ${what}.` : "Already up to date.";
    state.templates = await api("GET", "/api/templates");
    loadAdmin();
  } catch (err) {
    banner(explain(err));
  } finally {
    button.disabled = false;
  }
});

function renderAccess(keys, sessions) {
  $("#keys tbody").replaceChildren(
    ...keys.map((k) =>
      el(
        "tr",
        { "data-testid": "key-row" },
        el("td", {}, k.id),
        el("td", {}, k.name),
        el("td", {}, k.role),
        el("td", {}, ago(k.created_at)),
        el("td", {}, k.last_used_at ? ago(k.last_used_at) : "never"),
        el(
          "td",
          {},
          k.revoked_at
            ? "revoked"
            : el(
                "button",
                {
                  "data-testid": "key-revoke",
                  onclick: () =>
                    api("DELETE", `/api/keys/${encodeURIComponent(k.id)}`)
                      .then(() => (banner(`Key ${k.name} revoked.`, true), loadAdmin()))
                      .catch((err) => banner(explain(err))),
                },
                "Revoke",
              ),
        ),
      ),
    ),
  );
  $("#sessions").replaceChildren(
    ...sessions.map((x) =>
      el(
        "li",
        { "data-testid": "session-item" },
        `${x.user_agent || "a browser or client"}, signed in ${ago(x.created_at)} `,
        el(
          "button",
          {
            onclick: () =>
              api("DELETE", `/api/sessions/${encodeURIComponent(x.id)}`)
                .then(() => loadAdmin())
                .catch((err) => banner(explain(err))),
          },
          "End",
        ),
      ),
    ),
  );
}

$("#key-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const made = await api("POST", "/api/keys", { name: f.get("name"), role: f.get("role") }, newKey());
    const shown = $("#new-key");
    shown.replaceChildren(
      "Copy this key now; it is not shown again: ",
      el("code", { "data-testid": "new-key-value" }, made.key),
    );
    shown.classList.remove("hidden");
    ev.target.reset();
    loadAdmin();
  } catch (err) {
    banner(explain(err));
  }
});

async function loadAdmin(force = false) {
  try {
    const [agents, teams, channels, settings, history] = await Promise.all([
      api("GET", "/api/agents"),
      api("GET", "/api/teams"),
      api("GET", "/api/channels"),
      api("GET", "/api/settings"),
      api("GET", "/api/settings/history?limit=30"),
    ]);
    renderDirectory(agents.filter((a) => !a.service), teams, channels);
    renderSettings(settings, force);
    renderTemplates(settings.document.templates || []);
    renderHistory(history);
    const [keys, sessions] = await Promise.all([
      isAdmin() ? api("GET", "/api/keys") : Promise.resolve([]),
      api("GET", "/api/sessions"),
    ]);
    renderAccess(keys, sessions);
  } catch (err) {
    banner(explain(err));
  }
}

$("#settings-save").addEventListener("click", async () => {
  const yaml = $("#settings-yaml").value;
  try {
    const saved = await api("PUT", "/api/settings", { version: state.settings.base, yaml });
    state.settings = { version: saved.version, yaml: saved.yaml, base: saved.version };
    renderSettings(saved, true);
    banner(`Saved as version ${saved.version}. The next message follows it.`, true);
    loadAdmin();
  } catch (err) {
    if (err.code === "invalid_settings") {
      const problems = (err.details && err.details.problems) || [];
      showProblems(problems, yaml);
      banner(`Not saved: ${problems.length} ${problems.length === 1 ? "problem" : "problems"} to fix.`);
    } else if (err.code === "conflict") {
      banner("Someone saved a newer version meanwhile; nothing was overwritten. Discard changes to see theirs, then redo yours.");
    } else {
      banner(explain(err));
    }
  }
});

$("#settings-reload").addEventListener("click", () => loadAdmin(true));

$("#agent-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const teams = String(f.get("teams") || "").split(",").map((t) => t.trim()).filter(Boolean);
  const body = { name: f.get("name"), role: f.get("role"), teams, capacity: Number(f.get("capacity") || 0) };
  try {
    await api("PUT", `/api/agents/${encodeURIComponent(f.get("id"))}`, body);
    banner(`Saved ${body.name}.`, true);
    ev.target.reset();
    loadAdmin();
  } catch (err) {
    banner(explain(err));
  }
});

$("#team-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    await api("PUT", `/api/teams/${encodeURIComponent(f.get("id"))}`, { name: f.get("name") });
    banner(`Saved team ${f.get("name")}.`, true);
    ev.target.reset();
    loadAdmin();
  } catch (err) {
    banner(explain(err));
  }
});

function explanationView(x) {
  const c = x.conversation;
  const sla = c.sla
    ? c.sla.targets.map((t) => `${t.kind.replace(/_/g, " ")} due ${new Date(t.due_at).toLocaleString()}`).join("; ")
    : "none";
  const steps = x.events
    .map((e) => {
      if (e.type === "rule_fired") return `Rule “${e.rule}” (${e.trigger}): ${e.outcome.join("; ") || "no action"}`;
      if (e.type === "assigned") return `Assigned: ${e.reason}${e.warning ? ` (${e.warning})` : ""}`;
      if (e.type === "message_received" || e.type === "contact_created") return null;
      return e.type.replace(/_/g, " ");
    })
    .filter(Boolean);
  const answers = x.messages.map((m) => describe(m.content));
  return el(
    "div",
    {},
    el(
      "dl",
      {},
      el("dt", {}, "Settings"),
      el("dd", {}, x.settings_version === null ? "the text above (not saved)" : `version ${x.settings_version}`),
      el("dt", {}, "Conversation"),
      el("dd", {}, x.opened ? "a new one" : "continues the customer's last"),
      el("dt", {}, "Team"),
      el("dd", { "data-testid": "explain-team" }, c.team || "none"),
      el("dt", {}, "Agent"),
      el("dd", { "data-testid": "explain-agent" }, c.assignee ? nameOf(c.assignee) : "nobody yet"),
      el("dt", {}, "Priority, tags"),
      el("dd", {}, `${c.priority}${c.tags.length ? `, ${c.tags.join(", ")}` : ""}`),
      el("dt", {}, "SLA"),
      el("dd", {}, c.sla ? `${c.sla.policy}: ${sla}` : "none"),
    ),
    el("strong", {}, "Why"),
    el("ol", { "data-testid": "explain-steps" }, ...(steps.length ? steps : ["No rule matched."]).map((t) => el("li", {}, t))),
    answers.length ? el("p", {}, `Answers sent: ${answers.join(" / ")}`) : null,
  );
}

$("#explain-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = {
    sample: { channel: f.get("channel"), from: f.get("from"), text: f.get("text") },
    settings: f.get("draft") ? { yaml: $("#settings-yaml").value } : {},
  };
  try {
    const x = await api("POST", "/api/settings/explain", body);
    $("#explain-result").replaceChildren(explanationView(x));
  } catch (err) {
    if (err.code === "invalid_settings") showProblems((err.details && err.details.problems) || [], body.settings.yaml || "");
    $("#explain-result").replaceChildren(el("p", { class: "hint" }, explain(err)));
  }
});

// ------------------------------------------------------------ live events

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    loadList();
    if (state.selected) openConversation(state.selected);
    if (state.tab === "dashboard") loadDashboard();
    if (state.tab === "admin") loadAdmin();
  }, 150);
}

function connectEvents() {
  const es = new EventSource("/api/events");
  es.addEventListener("conversation_presence", (ev) => {
    const e = JSON.parse(ev.data);
    const k = e.kind;
    state.viewers[e.conversation] = state.viewers[e.conversation] || {};
    state.viewers[e.conversation][k.agent] = { state: k.state, expires: Date.parse(k.expires_at) };
    const v = document.getElementById("viewers");
    if (v && e.conversation === state.selected) v.textContent = viewersText(e.conversation);
  });
  es.onmessage = refreshSoon;
  for (const name of [
    "contact_updated", "contacts_merged", "conversation_opened", "conversation_reopened", "message_received",
    "message_revised", "reply_queued", "delivery_changed", "delivery_in_doubt", "message_resent", "note_added",
    "claimed", "assigned",
    "transferred", "released", "tagged", "priority_changed", "status_changed", "presence_changed", "sla_met",
    "sla_warning", "sla_breached", "lagged", "settings_changed",
  ]) {
    es.addEventListener(name, refreshSoon);
  }
  // After a reconnect, events may have been missed: reload what is shown.
  let opened = false;
  es.onopen = () => {
    if (opened) refreshSoon();
    opened = true;
  };
  es.onerror = () => {
    // The browser reconnects by itself; a dead session needs a new sign-in.
    api("GET", "/api/me").catch((err) => err.status === 401 && (es.close(), showSignIn()));
  };
}
setInterval(() => {
  const v = document.getElementById("viewers");
  if (v && state.selected) v.textContent = viewersText(state.selected);
}, 5000);

// ------------------------------------------------------------------ start

$("#presence").addEventListener("change", (ev) => {
  api("POST", "/api/presence", { presence: ev.target.value }).catch((err) => banner(explain(err)));
});

async function start() {
  try {
    state.me = await api("GET", "/api/me");
  } catch {
    return showSignIn();
  }
  const [agents, templates] = await Promise.all([api("GET", "/api/agents"), api("GET", "/api/templates")]);
  state.agents = Object.fromEntries(agents.map((a) => [a.id, a]));
  state.templates = templates;
  $("#signin").classList.add("hidden");
  $("#app").classList.remove("hidden");
  $("#me").textContent = `${state.me.name} (${state.me.role})`;
  $("[data-tab=admin]").classList.toggle("hidden", !canSeeSettings());
  for (const e of document.querySelectorAll(".admin-only")) e.classList.toggle("hidden", !isAdmin());
  if (state.me.presence === "offline") {
    await api("POST", "/api/presence", { presence: "online" }).catch(() => {});
    state.me.presence = "online";
  }
  $("#presence").value = state.me.presence;
  await loadList();
  connectEvents();
}

start();
