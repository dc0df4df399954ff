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
  showSignIn(t("signin.session-ended"));
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
    banner(explain(err));
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
      $("#starting").textContent = err.code === "offline" ? t("app.retrying") : explain(err);
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
      loadBots(),
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
  $("#me").textContent = t("menu.me", { name: state.me.name, role: roleName(state.me.role) });
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

// ------------------------------------------------------------- language

// Another language chosen (i18n.js translated the fixed words): what this
// page drew is drawn again, keeping what the agent typed (the composer's
// text is its draft, kept in this browser; the other fields are kept by
// their data-testid) and where the caret was.
document.addEventListener("inbox:language", () => {
  const notice = $("#signin-notice"); // (only ever says the session ended)
  if (!notice.classList.contains("hidden")) notice.textContent = t("signin.session-ended");
  $("#shortcuts") && $("#shortcuts").remove();
  if (!state.me) return;
  $("#me").textContent = t("menu.me", { name: state.me.name, role: roleName(state.me.role) });
  if (!reachable) $("#connection").textContent = t("api.connection-lost");
  if (state.picked.size) pick(null, false);
  fillFilters();
  renderList();
  renderNotices();
  if (state.detail) {
    const area = $("#pane [data-testid=composer]");
    const caret = area && document.activeElement === area ? [area.selectionStart, area.selectionEnd] : null;
    renderPane(true);
    const again = $("#pane [data-testid=composer]");
    if (caret && again) {
      again.focus();
      again.setSelectionRange(...caret);
    }
  } else {
    renderPane();
  }
  if (state.tab === "dashboard") loadDashboard();
  if (state.tab === "admin") loadAdmin();
});

start();
