// The conversation list: views, search, badges.
"use strict";

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

// Unread, per agent, kept by the server: what others wrote since this
// agent last had the conversation on screen (their own replies and notes
// never count). Marked read when shown, and again when something arrives
// while it is on screen and the page is in front.
const unread = (c) => state.unread[c.id] || 0;
function markRead(c, opened = false) {
  if (document.hidden || (!opened && !unread(c))) return;
  state.unread[c.id] = 0;
  api("POST", `/api/conversations/${c.id}/read`).catch(() => {});
}
document.addEventListener("visibilitychange", () => {
  const c = drawn();
  if (c && !document.hidden && state.items.some((i) => i.id === c.id && unread(i))) {
    markRead(c);
    renderList();
  }
});

function renderList() {
  const ul = $("#conversations");
  if (!state.items.length) {
    const why = state.search ? `Nothing matches “${state.search}”.` : "No conversations here.";
    ul.replaceChildren(el("li", { class: "empty", "data-testid": "list-empty" }, why));
    $("#more").classList.add("hidden");
    return;
  }
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
  if (state.status) params.set("status", state.status);
  if (more && state.next) params.set("after", state.next);
  // A search looks through every status (resolved ones too) unless one is
  // chosen.
  const everything = "open,pending,snoozed,resolved";
  const path = state.search
    ? `/api/search?${new URLSearchParams({ q: state.search, view: "all", status: state.status || everything })}`
    : `/api/conversations?${params}`;
  try {
    const page = await api("GET", path);
    state.items = more ? state.items.concat(page.items) : page.items;
    state.unread = more ? { ...state.unread, ...(page.unread || {}) } : page.unread || {};
    // What is on screen has been read, whatever the list just said.
    const shown = drawn();
    if (shown && unread(shown)) markRead(shown);
    Object.assign(state.contacts, page.contacts || {});
    state.next = page.next;
    renderList();
  } catch (err) {
    if (err.status === 401) return sessionEnded();
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
$("#status-filter").addEventListener("change", (ev) => {
  state.status = ev.target.value;
  loadList();
});
let searchTimer = null;
$("#search").addEventListener("input", (ev) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    state.search = ev.target.value.trim();
    loadList();
  }, 250);
});
