// Live events: what changes elsewhere reaches the screen.
"use strict";

// ------------------------------------------------------------ live events

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    loadList();
    reloadConversation();
    if (state.tab === "dashboard") loadDashboard();
    if (state.tab === "admin") loadAdmin();
  }, 150);
}

function connectEvents() {
  const es = new EventSource("/api/events");
  state.events = es;
  es.addEventListener("conversation_presence", (ev) => {
    const e = JSON.parse(ev.data);
    const k = e.kind;
    state.viewers[e.conversation] = state.viewers[e.conversation] || {};
    state.viewers[e.conversation][k.agent] = { state: k.state, expires: Date.parse(k.expires_at) };
    const v = document.getElementById("viewers");
    if (v && e.conversation === state.selected) v.textContent = viewersText(e.conversation);
  });
  es.onmessage = refreshSoon;
  // (the bots are in the settings: a change may add, rename or drop one)
  es.addEventListener("settings_changed", () => loadBots().then(refreshSoon));
  for (const name of ["reply_lease", "reply_lease_released"]) {
    es.addEventListener(name, (ev) => leaseEvent(name, JSON.parse(ev.data)));
  }
  for (const name of ["note_added", "assigned", "transferred", "sla_warning", "sla_breached", "window_closing", "account_signal"]) {
    es.addEventListener(name, (ev) => notify(JSON.parse(ev.data)));
  }
  for (const name of [
    "contact_updated", "contacts_merged", "conversation_opened", "conversation_reopened", "message_received",
    "message_revised", "message_echoed", "standby_kept", "thread_control_changed", "thread_control_failed",
    "reply_queued", "delivery_changed", "delivery_in_doubt", "message_resent", "note_added",
    "claimed", "assigned",
    "transferred", "released", "tagged", "priority_changed", "status_changed", "presence_changed", "sla_met",
    "sla_warning", "sla_breached", "lagged", "settings_changed", "account_signal",
    "bot_engaged", "bot_answered", "bot_failed", "handed_off",
    "survey_scheduled", "survey_skipped", "survey_sent", "survey_answered",
  ]) {
    es.addEventListener(name, refreshSoon);
  }
  // Events before the stream opened (the first time: while the page was
  // loading its list; later: while reconnecting) were missed: reload what
  // is shown once it is open.
  es.onopen = refreshSoon;
  es.onerror = () => {
    // The browser reconnects by itself; a dead session needs a new sign-in.
    api("GET", "/api/me").catch((err) => err.status === 401 && sessionEnded());
  };
}
setInterval(() => {
  const v = document.getElementById("viewers");
  if (v && state.selected) v.textContent = viewersText(state.selected);
}, 5000);
