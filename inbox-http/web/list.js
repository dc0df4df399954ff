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
  if (breached) return el("span", { class: "badge breached", "data-testid": "sla-breached" }, t("sla.breached"));
  if (risk) return el("span", { class: "badge risk", "data-testid": "sla-risk" }, t("sla.risk"));
  return null;
}

// How long since `iso`, short ("5m"), and as "5m ago".
function ago(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return t("time.s", { n: Math.floor(s) });
  if (s < 3600) return t("time.m", { n: Math.floor(s / 60) });
  if (s < 86400) return t("time.h", { n: Math.floor(s / 3600) });
  return t("time.d", { n: Math.floor(s / 86400) });
}
const agoText = (iso) => t("time.ago", { time: ago(iso) });

// A conversation's status, an agent's role and presence, in words.
const statusName = (s) =>
  ({ open: t("status.open"), pending: t("status.pending"), snoozed: t("status.snoozed"), resolved: t("status.resolved") })[s] || s;
const roleName = (r) => ({ agent: t("role.agent"), supervisor: t("role.supervisor"), admin: t("role.admin") })[r] || r;
const presenceName = (p) => ({ online: t("presence.online"), away: t("presence.away"), offline: t("presence.offline") })[p] || p;

function contactName(c) {
  const k = state.contacts[c.contact];
  return (k && (k.display_name || k.profile_name || handleOf(k))) || c.contact;
}

// How a customer is told apart: their number, else their WhatsApp
// username (customers may hide their number), else their WhatsApp user id.
function handleOf(k) {
  if (!k || !k.identity) return "";
  if (k.identity.wa_id) return `+${k.identity.wa_id}`;
  if (k.username) return k.username.startsWith("@") ? k.username : `@${k.username}`;
  return k.identity.user_id || "";
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
  // For measuring (BENCHMARKS.md, and any real-user monitoring): when the
  // first list was on screen, from the navigation's start.
  if (!state.listMarked && state.items.length) {
    state.listMarked = true;
    requestAnimationFrame(() => performance.mark("inbox:list-rendered"));
  }
  if (!state.items.length) {
    const why = state.search ? t("list.nothing-matches", { q: state.search }) : t("list.empty");
    ul.replaceChildren(el("li", { class: "empty", "data-testid": "list-empty" }, why));
    $("#more").classList.add("hidden");
    return;
  }
  ul.replaceChildren(
    ...state.items.map((c) =>
      el(
        "li",
        {
          class: [c.id === state.selected ? "selected" : "", c.id === state.cursor ? "cursor" : ""].join(" ").trim(),
          "data-testid": "conversation",
          "data-id": c.id,
          "aria-current": c.id === state.selected ? "true" : null,
          onclick: (ev) => (ev.target.type === "checkbox" ? null : openConversation(c.id)),
        },
        el(
          "div",
          { class: "row" },
          el("input", {
            type: "checkbox",
            "data-testid": "select",
            "aria-label": t("list.select-aria", { name: contactName(c) }),
            checked: state.picked.has(c.id) ? "checked" : null,
            onchange: (ev) => pick(c.id, ev.target.checked),
          }),
          el("span", { class: "name" }, contactName(c)),
          el("span", { class: "meta" }, ago(c.last_activity_at)),
        ),
        el(
          "div",
          { class: "row" },
          unread(c) && c.id !== state.selected
            ? el("span", { class: "badge unread", "data-testid": "unread" }, t("list.unread", { n: unread(c) }))
            : null,
          el("span", { class: "badge" }, statusName(c.status)),
          botBadge(c),
          c.assignee ? el("span", { class: "badge owner" }, nameOf(c.assignee)) : null,
          c.waiting_since
            ? el("span", { class: "badge waiting", "data-testid": "waiting" }, t("list.waiting", { time: ago(c.waiting_since) }))
            : null,
          slaBadge(c),
          ...(c.tags || []).map((t) => el("span", { class: "badge" }, `#${t}`)),
        ),
        state.search ? matchLine(c) : null,
      ),
    ),
  );
  $("#more").classList.toggle("hidden", !state.next);
}

// Text with `words` marked (as the server found them: case and accents
// aside), built as nodes, never as markup.
function marked(text, words) {
  const fold = (w) => w.normalize("NFD").replace(/\p{Mn}/gu, "").toLowerCase();
  const wanted = new Set(words.map(fold));
  return String(text)
    .split(/([\p{L}\p{N}]+)/u)
    .map((part) => (wanted.has(fold(part)) ? el("mark", {}, part) : part));
}

// Under a search result: where it matched, the words marked.
function matchLine(c) {
  const found = (state.highlights[c.id] || [])[0];
  if (!found) return null;
  const m = state.matched[c.id];
  const where = {
    message: m ? describe(m.content) : "",
    contact_name: contactName(c),
    number: `+${(state.contacts[c.contact] || { identity: {} }).identity.wa_id || ""}`,
    user_id: t("list.user-id"),
    username: handleOf({ identity: {}, username: found.words.join(" ") }),
    tag: found.words.map((w) => `#${w}`).join(" "),
    attribute: `${found.key}: ${found.words.join(" ")}`,
  }[found.field];
  const text = String(where || "").slice(0, 140);
  return el("div", { class: "match", "data-testid": "match" }, ...marked(text, found.words));
}

async function loadList(more = false) {
  const params = new URLSearchParams({ view: state.view, limit: "50", sort: state.sort });
  if (state.view === "team") params.set("team", state.team);
  if (state.status) params.set("status", state.status);
  if (state.channel) params.set("channel", state.channel);
  if (state.tag) params.set("tag", state.tag);
  if (more && state.next) params.set("after", state.next);
  // A search looks through every status (resolved ones too) unless one is
  // chosen.
  const everything = "open,pending,snoozed,resolved";
  const path = state.search
    ? `/api/search?${new URLSearchParams({ q: state.search, view: "all", status: state.status || everything })}`
    : `/api/conversations?${params}`;
  if (!more) loadCounts();
  try {
    const page = await api("GET", path);
    state.items = more ? state.items.concat(page.items) : page.items;
    state.unread = more ? { ...state.unread, ...(page.unread || {}) } : page.unread || {};
    // What is on screen has been read, whatever the list just said.
    const shown = drawn();
    if (shown && unread(shown)) markRead(shown);
    Object.assign(state.contacts, page.contacts || {});
    state.highlights = more ? { ...state.highlights, ...(page.highlights || {}) } : page.highlights || {};
    state.matched = more ? { ...state.matched, ...(page.matched || {}) } : page.matched || {};
    state.next = page.next;
    renderList();
  } catch (err) {
    if (err.status === 401) return sessionEnded();
    banner(explain(err));
  }
}

// How many conversations each view holds under the filters chosen (the
// server's counts, stopping at its cap: "1000+").
let countsAsked = 0;
async function loadCounts() {
  const ticket = ++countsAsked;
  const params = new URLSearchParams();
  if (state.status) params.set("status", state.status);
  if (state.channel) params.set("channel", state.channel);
  if (state.tag) params.set("tag", state.tag);
  try {
    const counts = await api("GET", `/api/counts?${params}`);
    // Only the latest answer: an earlier one may come back later.
    if (ticket !== countsAsked) return;
    state.counts = counts;
  } catch {
    return; // the list says what went wrong
  }
  renderCounts();
}

function countText(n) {
  return n >= state.counts.cap ? `${state.counts.cap}+` : String(n);
}

function renderCounts() {
  const c = state.counts;
  if (!c) return;
  for (const view of ["mine", "unassigned", "all"]) {
    const e = $(`[data-testid=count-${view}]`);
    if (e) e.textContent = countText(c[view]);
  }
  for (const o of $("#team-view").options) {
    if (o.value) o.textContent = t("views.team-count", { team: o.value, count: countText(c.teams[o.value] || 0) });
  }
}

function chooseView(v, team = "") {
  state.view = v;
  state.team = team;
  for (const b of document.querySelectorAll("#views button")) b.classList.toggle("active", b.dataset.view === v);
  $("#team-view").classList.toggle("active", v === "team");
  if (v !== "team") $("#team-view").value = "";
  loadList();
}
$("#views").addEventListener("click", (ev) => {
  const button = ev.target.closest("button[data-view]");
  if (button) chooseView(button.dataset.view);
});
$("#team-view").addEventListener("change", (ev) => ev.target.value && chooseView("team", ev.target.value));
$("#sort").addEventListener("change", (ev) => ((state.sort = ev.target.value), loadList()));
$("#channel-filter").addEventListener("change", (ev) => ((state.channel = ev.target.value), loadList()));
let tagTimer = null;
$("#tag-filter").addEventListener("input", (ev) => {
  clearTimeout(tagTimer);
  tagTimer = setTimeout(() => ((state.tag = ev.target.value.trim().replace(/^#/, "").toLowerCase()), loadList()), 300);
});

// The filters' choices once the agent, teams and numbers are known.
function fillFilters() {
  const teams = state.me.role === "agent" ? state.me.teams : [...new Set(Object.values(state.agents).flatMap((a) => a.teams))];
  // (what is chosen stays chosen: they are drawn again in another language)
  const chosen = [$("#team-view").value, $("#channel-filter").value];
  $("#team-view").replaceChildren(el("option", { value: "" }, t("views.team-pick")), ...teams.map((team) => el("option", { value: team }, t("views.team", { team }))));
  $("#channel-filter").replaceChildren(
    el("option", { value: "" }, t("filter.every-number")),
    ...Object.values(state.channels).map((c) => el("option", { value: c.id }, `${c.name} ${c.display_number}`)),
  );
  $("#bulk-assign").replaceChildren(
    ...Object.values(state.agents)
      .filter((a) => !a.service)
      .map((a) => el("option", { value: a.id }, a.name)),
  );
  for (const e of ["#bulk-assign", "#bulk-assign-go"]) $(e).classList.toggle("hidden", state.me.role === "agent");
  [$("#team-view").value, $("#channel-filter").value] = chosen;
  renderCounts();
}

// ------------------------------------------------------------ bulk actions

function pick(id, on) {
  if (on) state.picked.add(id);
  else state.picked.delete(id);
  $("#bulk").classList.toggle("hidden", !state.picked.size);
  $("#bulk-count").textContent = t("bulk.count", { n: state.picked.size });
}

// One action on every selected conversation, each on the version listed;
// what was refused is said, the rest done.
async function bulk(path, body, done) {
  const picked = state.items.filter((c) => state.picked.has(c.id));
  const refused = [];
  for (const c of picked) {
    try {
      await api("POST", `/api/conversations/${c.id}/${path}`, { version: c.version, ...body }, newKey());
    } catch (err) {
      refused.push(`${contactName(c)}: ${explain(err)}`);
    }
  }
  state.picked.clear();
  pick(null, false);
  await loadList();
  reloadConversation();
  const ok = picked.length - refused.length;
  banner(refused.length ? t("bulk.done-some", { done, ok, total: picked.length, refused: refused.join(" · ") }) : t("bulk.done", { done, ok }), !refused.length);
}
$("#bulk-assign-go").addEventListener("click", () => bulk("assign", { agent: $("#bulk-assign").value }, t("bulk.assigned", { name: nameOf($("#bulk-assign").value) })));
$("#bulk-tag-go").addEventListener("click", () => {
  const tag = $("#bulk-tag").value.trim();
  if (!tag) return $("#bulk-tag").focus();
  bulk("tags", { add: [tag] }, t("bulk.tagged", { tag }));
});
$("#bulk-resolve").addEventListener("click", () => bulk("status", { status: "resolved" }, t("bulk.resolved")));
$("#bulk-clear").addEventListener("click", () => {
  state.picked.clear();
  pick(null, false);
  renderList();
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
