// The web inbox: sign-in and start (loaded last, after the other scripts).
"use strict";

// ---------------------------------------------------------------- sign-in

function showSignIn(notice) {
  $("#app").classList.add("hidden");
  $("#signin").classList.remove("hidden");
  const p = $("#signin-notice");
  p.textContent = notice || "";
  p.classList.toggle("hidden", !notice);
}

// The session ended (expired, revoked, or the server forgot it): say so,
// keep the drafts (they are in this browser) and come back to the same
// conversation after signing in again.
function sessionEnded() {
  if (state.events) state.events.close();
  state.events = null;
  $("[data-testid=signin-password]").value = "";
  showSignIn("Your session ended. Sign in again to continue: your drafts are kept.");
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

// ------------------------------------------------------------------ start

$("#presence").addEventListener("change", (ev) => {
  api("POST", "/api/presence", { presence: ev.target.value }).catch((err) => banner(explain(err)));
});

// Who is signed in, or why the page cannot start: signed out (the sign-in
// form), or the server unreachable (said, and tried again).
async function whoAmI() {
  for (;;) {
    try {
      return await api("GET", "/api/me");
    } catch (err) {
      if (err.status === 401) return null;
      $("#starting").textContent = err.code === "offline" ? "Cannot reach the server. Trying again…" : explain(err);
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
}

async function start() {
  const me = await whoAmI();
  $("#starting").classList.add("hidden");
  if (!me) return showSignIn();
  state.me = me;
  try {
    const [agents, templates, channels] = await Promise.all([
      api("GET", "/api/agents"),
      api("GET", "/api/templates"),
      api("GET", "/api/channels"),
    ]);
    state.agents = Object.fromEntries(agents.map((a) => [a.id, a]));
    state.templates = templates;
    state.channels = Object.fromEntries(channels.map((c) => [c.id, c]));
  } catch (err) {
    if (err.status === 401) return sessionEnded();
    banner(explain(err));
  }
  $("#signin").classList.add("hidden");
  $("#app").classList.remove("hidden");
  $("#me").textContent = `${state.me.name} (${state.me.role})`;
  $("[data-tab=admin]").classList.toggle("hidden", !canSeeSettings());
  $("[data-tab=dashboard]").classList.toggle("hidden", !canSeeSettings());
  for (const e of document.querySelectorAll(".admin-only")) e.classList.toggle("hidden", !isAdmin());
  if (state.me.presence === "offline") {
    await api("POST", "/api/presence", { presence: "online" }).catch(() => {});
    state.me.presence = "online";
  }
  $("#presence").value = state.me.presence;
  fillFilters();
  renderNotices();
  await loadList();
  // Back where the agent was (after a reload, or signing in again: what
  // is on screen may have changed meanwhile, so it is read again).
  const last = state.selected || localStorage.getItem(lastOpenKey());
  if (last) openConversation(last, true);
  if (!state.events) connectEvents();
}

start();
