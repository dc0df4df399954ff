// The open conversation: its head and controls, and the pane that holds
// the messages (messages.js) and the composer (composer.js).
"use strict";

function windowOpen(c) {
  return c.window_expires_at && Date.parse(c.window_expires_at) > Date.now();
}

function viewersText(id) {
  const now = Date.now();
  const v = state.viewers[id] || {};
  const parts = Object.entries(v)
    .filter(([a, s]) => a !== state.me.id && s.expires > now && s.state !== "left")
    .map(([a, s]) => t(s.state === "typing" ? "viewer.replying" : "viewer.viewing", { name: nameOf(a) }));
  return parts.join(" · ");
}

// The conversation on screen: its id and the version drawn, which every
// action names (never the one being opened: on a slow link the agent acts
// on what they see).
const drawn = () => state.detail && state.detail.conversation;
const drawnVersion = (id) => (drawn() && drawn().id === id ? drawn().version : null);

// Values typed or chosen in the pane's controls, by data-testid, so a live
// refresh puts them back (and the focus and caret with them).
function keepInputs(root) {
  const kept = {};
  // Inputs only when the agent changed them (a value drawn from the server
  // is drawn afresh, in case someone else changed it).
  for (const e of root.querySelectorAll("input[data-testid], select[data-testid]")) {
    if (e.tagName === "SELECT" || e.value !== e.defaultValue) kept[e.dataset.testid] = e.value;
  }
  const f = document.activeElement;
  const focus = f && root.contains(f) && f.dataset.testid ? { id: f.dataset.testid, start: f.selectionStart, end: f.selectionEnd } : null;
  return { kept, focus };
}

function restoreInputs(root, { kept, focus }) {
  for (const [id, value] of Object.entries(kept)) {
    const e = root.querySelector(`[data-testid="${id}"]`);
    if (!e || e.tagName === "SELECT" && ![...e.options].some((o) => o.value === value)) continue;
    e.value = value;
  }
  const e = focus && root.querySelector(`[data-testid="${focus.id}"]`);
  if (e) {
    e.focus();
    if (typeof focus.start === "number" && e.setSelectionRange) e.setSelectionRange(focus.start, focus.end);
  }
}

// Which of the tenant's numbers the customer wrote to.
function channelLine(c) {
  const ch = state.channels[c.channel];
  const text = ch ? t("conv.via", { name: ch.name, number: ch.display_number }) : t("conv.via-id", { channel: c.channel });
  return el("span", { class: "badge", "data-testid": "channel", title: t("conv.channel-title") }, text);
}

function ownerLine(c) {
  if (!c.assignee) return el("span", { class: "badge" }, t("conv.unassigned"));
  const name = botAnswering(c) ? `🤖 ${botName(c.assignee)}` : nameOf(c.assignee);
  return el("span", { class: "badge owner", "data-testid": "owner" }, name);
}

// Claim or release (while a bot answers, Take over in its line claims),
// assign (supervisors and admins), hand over with a note or to a bot, tag,
// resolve or reopen, snooze.
function controlsView(c, may) {
  const id = c.id;
  const go = (path, body) => act(id, path, { version: drawnVersion(id), ...body });
  const mine = c.assignee === state.me.id;
  const assignsOthers = may.assign;
  const agentsSelect = el(
    "select",
    { "data-testid": "assign-to", "aria-label": t("conv.assign-to-aria") },
    ...Object.values(state.agents)
      .filter((a) => !a.service && (!c.team || a.teams.includes(c.team) || a.role !== "agent"))
      .map((a) => el("option", { value: a.id }, a.name)),
  );
  const teams = [...new Set(Object.values(state.agents).flatMap((a) => a.teams))];
  const handTo = el(
    "select",
    { "data-testid": "transfer-to", "aria-label": t("conv.hand-to-aria") },
    el("optgroup", { label: t("conv.teams") }, ...teams.map((team) => el("option", { value: `team:${team}` }, team))),
    el(
      "optgroup",
      { label: t("conv.agents") },
      ...Object.values(state.agents)
        .filter((a) => !a.service && a.id !== state.me.id)
        .map((a) => el("option", { value: `agent:${a.id}` }, a.name)),
    ),
  );
  const handNote = el("input", { placeholder: t("conv.hand-note-placeholder"), "data-testid": "transfer-note", "aria-label": t("conv.hand-note-aria") });
  const transfer = () => {
    const note = handNote.value.trim();
    if (!note) {
      handNote.focus();
      return banner(t("conv.hand-note-needed"));
    }
    const [kind, to] = handTo.value.split(/:(.*)/s);
    const label = kind === "agent" ? nameOf(to) : t("history.team", { team: to });
    go("transfer", { [kind]: to, note }).then((out) => out && banner(t("conv.handed", { to: label }), true));
  };
  const tagInput = el("input", { placeholder: t("conv.tag-placeholder"), size: 8, "data-testid": "tag-input", "aria-label": t("conv.tag-aria") });
  const tag = () => tagInput.value.trim() && go("tags", { add: [tagInput.value.trim()] }).then((out) => out && (tagInput.value = ""));
  return el(
    "div",
    { class: "controls" },
    mine
      ? el("button", { onclick: () => go("release"), "data-testid": "release" }, t("conv.release"))
      : may.claim && !botAnswering(c)
        ? el("button", { class: "primary", onclick: () => go("claim"), "data-testid": "claim" }, t("conv.claim"))
        : null,
    assignsOthers ? [agentsSelect, el("button", { onclick: () => go("assign", { agent: agentsSelect.value }), "data-testid": "assign" }, t("conv.assign"))] : null,
    c.imported ? null : el("span", { class: "group" }, handTo, handNote, el("button", { onclick: transfer, "data-testid": "transfer" }, t("conv.hand-over"))),
    handToBot(c, may),
    may.tag ? [tagInput, el("button", { onclick: tag, "data-testid": "tag" }, t("conv.tag"))] : null,
    !may.change_status
      ? null
      : c.status === "resolved"
        ? el("button", { onclick: () => go("status", { status: "open" }), "data-testid": "reopen" }, t("conv.reopen"))
        : [
            el("button", { onclick: () => go("status", { status: "resolved" }), "data-testid": "resolve" }, t("conv.resolve")),
            el(
              "button",
              { onclick: () => go("status", { status: "snoozed", until: new Date(Date.now() + 3600e3).toISOString() }), "data-testid": "snooze" },
              t("conv.snooze"),
            ),
          ],
  );
}

function headView(d) {
  const c = d.conversation;
  return el(
    "div",
    { class: "head" },
    el(
      "div",
      { class: "title" },
      el("button", { class: "back", "data-testid": "back", "aria-label": t("conv.back-aria"), onclick: () => $("#app").classList.remove("reading") }, "←"),
      el("h2", { "data-testid": "contact-name" }, d.contact.profile_name || handleOf(d.contact)),
      el("span", { class: "meta", "data-testid": "contact-handle" }, handleOf(d.contact)),
      el("span", { class: "badge", "data-testid": "status" }, statusName(c.status)),
      ownerLine(c),
      channelLine(c),
      c.team ? el("span", { class: "badge", "data-testid": "team" }, t("conv.team", { team: c.team })) : null,
      slaBadge(c),
      csatChip(c),
      contactButton(),
    ),
    controlsView(c, d.may),
    botLine(c, d.may),
    threadBanner(c),
    importedBanner(c),
    el("div", { class: "viewers", id: "viewers", "data-testid": "viewers" }, viewersText(c.id)),
  );
}

function contactButton() {
  return el("button", { class: "contact-toggle", "data-testid": "contact-toggle", "aria-label": t("conv.contact-aria"), onclick: toggleContactPanel }, t("conv.contact"));
}

// (`redraw`: everything drawn again, the composer too, as when the
// language changed; what the agent typed stays, the draft in this browser)
function renderPane(redraw = false) {
  const d = state.detail;
  const pane = $("#pane");
  pane.classList.remove("opening");
  if (!d) {
    pane.replaceChildren(el("p", { class: "empty" }, t("list.pick")));
    pane.dataset.mode = "";
    return;
  }
  const c = d.conversation;
  const open = windowOpen(c);
  const head = headView(d);
  const messages = el("div", { class: "messages", "data-testid": "messages", tabindex: "0", role: "region", "aria-label": t("conv.messages-aria") }, ...stream(d));
  // A live refresh of the same conversation keeps what the agent typed,
  // chose and scrolled to: the composer stays in place (unless the window
  // opened or closed), the controls get their values back, and the
  // messages keep their position unless the agent was at the bottom.
  const mode = `${c.id}:${open}`;
  const old = pane.querySelector(".messages");
  const sameConversation = !!old && (pane.dataset.mode || "").split(":")[0] === c.id;
  const atBottom = !old || old.scrollHeight - old.scrollTop - old.clientHeight < 40;
  const keptScroll = old ? old.scrollTop : 0;
  const inputs = sameConversation ? keepInputs(pane.querySelector(".head")) : null;
  if (!redraw && sameConversation && pane.dataset.mode === mode && pane.querySelector(".composer")) {
    pane.querySelector(".head").replaceWith(head);
    old.replaceWith(messages);
    pane.querySelector(".composer").refresh();
  } else {
    // (a redraw keeps the contact panel until it is drawn again below, so
    // what is typed in it stays)
    const panel = redraw && pane.querySelector(".contact-panel");
    pane.replaceChildren(head, messages, composerView(c, open), ...(panel ? [panel] : []));
  }
  if (inputs) restoreInputs(head, inputs);
  pane.dataset.mode = mode;
  messages.scrollTop = sameConversation && !atBottom ? keptScroll : messages.scrollHeight;
  renderContactPanel();
}

let viewingTimer = null;
let opening = 0;

// The conversation on screen read again (a live event, an action done):
// on a phone, where the list and the conversation are two screens, an
// agent who went back to the list stays there.
function reloadConversation() {
  return state.selected ? openConversation(state.selected, false, true) : null;
}

// Opens conversation `id` (`quiet`: no banner if it cannot be read;
// `reloading`: the same conversation read again, not an agent's click).
async function openConversation(id, quiet = false, reloading = false) {
  const changed = state.selected !== id;
  if (changed && state.selected) {
    api("POST", `/api/conversations/${state.selected}/viewing`, { state: "left" }).catch(() => {});
    dropLease(state.selected);
  }
  state.selected = id;
  state.cursor = id;
  if (!reloading) $("#app").classList.add("reading");
  localStorage.setItem(lastOpenKey(), id);
  const ticket = ++opening;
  if (changed) performance.mark(`inbox:open:${id}`);
  if (changed) {
    $("#pane").classList.add("opening");
    renderList();
  }
  try {
    const detail = await api("GET", `/api/conversations/${id}`);
    // A later click won the race: this answer is not what the agent wants.
    if (ticket !== opening) return;
    state.detail = detail;
    markRead(detail.conversation, true);
    renderPane();
    // From the click to the conversation on screen (BENCHMARKS.md).
    // (after the next frame: on screen, not just in the page).
    if (changed) requestAnimationFrame(() => performance.measure("inbox:conversation-shown", `inbox:open:${id}`));
  } catch (err) {
    if (ticket !== opening) return;
    $("#pane").classList.remove("opening");
    if (err.status === 401) return sessionEnded();
    if (err.status === 404 || err.status === 403) {
      // Gone from this agent's sight (handed over to a team they are not
      // in, merged away): the pane closes instead of showing it stale.
      localStorage.removeItem(lastOpenKey());
      if (drawn() && drawn().id === id) {
        state.detail = null;
        state.selected = null;
        renderPane();
        if (!quiet) banner(t("conv.gone"));
        return;
      }
    }
    if (!quiet) banner(explain(err));
  }
  renderList();
  if (changed) {
    const tell = () => api("POST", `/api/conversations/${id}/viewing`, { state: "viewing" }).catch(() => {});
    tell();
    clearInterval(viewingTimer);
    viewingTimer = setInterval(tell, 20000);
  }
}

// Where each agent was: reopened after a reload or a new sign-in.
const lastOpenKey = () => `inbox.open.${state.me ? `${state.me.tenant}.${state.me.id}` : ""}`;

let lastTyping = 0;
function typing(id) {
  if (Date.now() - lastTyping < 5000) return;
  lastTyping = Date.now();
  api("POST", `/api/conversations/${id}/viewing`, { state: "typing" }).catch(() => {});
}
