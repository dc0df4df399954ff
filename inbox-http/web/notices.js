// Notifications for the signed-in agent: mentioned in a note, a
// conversation assigned or handed over to them, an SLA warning or breach
// on theirs, a customer window about to close on theirs. An in-app list
// behind the bell, the count in the page title, the browser's
// notifications (asked for once, politely, only when the agent chooses)
// and an optional sound; each kind can be turned off. Kept per agent in
// this browser.
"use strict";

const noticeKey = () => `inbox.notices.${state.me.tenant}.${state.me.id}`;
const prefsKey = () => `inbox.notice-prefs.${state.me.tenant}.${state.me.id}`;
const NOTICE_KINDS = () => ({
  mention: t("notices.mention"),
  assigned: t("notices.assigned"),
  sla: t("notices.sla"),
  window: t("notices.window"),
  ...(canSeeSettings() ? { account: t("notices.account") } : {}),
});

function noticePrefs() {
  const all = { mention: true, assigned: true, sla: true, window: true, account: true, sound: false, desktop: "ask" };
  try {
    return { ...all, ...JSON.parse(localStorage.getItem(prefsKey()) || "{}") };
  } catch {
    return all;
  }
}
const savePrefs = (p) => localStorage.setItem(prefsKey(), JSON.stringify(p));

function notices() {
  try {
    return JSON.parse(localStorage.getItem(noticeKey()) || "[]");
  } catch {
    return [];
  }
}

// What an event means for this agent, if anything: [kind, key, vars] (the
// words are read from the catalogue when shown, in the language of then).
function noticeOf(e) {
  const me = state.me.id;
  const k = e.kind;
  const by = e.actor && e.actor.kind === "agent" ? e.actor.id : null;
  const owner = e.scope && e.scope.owner;
  const who = conversationName(e.conversation);
  switch (k.type) {
    case "note_added":
      return by !== me && (k.mentions || []).includes(me) ? ["mention", "notice.mention", { by: nameOf(by), who }] : null;
    case "assigned":
      return by !== me && k.to && k.to.agent === me ? ["assigned", "notice.assigned", { by: by ? nameOf(by) : null, who }] : null;
    case "transferred":
      return by !== me && k.to && k.to.agent === me ? ["assigned", "notice.transferred", { by: nameOf(by), who }] : null;
    case "sla_warning":
      return owner === me ? ["sla", "notice.sla-warning", { who, time: k.due_at }] : null;
    case "sla_breached":
      return owner === me ? ["sla", "notice.sla-breached", { who }] : null;
    case "window_closing":
      return owner === me ? ["window", "notice.window", { who, time: k.closes_at }] : null;
    case "account_signal":
      return canSeeSettings() && k.needs_attention ? ["account", "notice.account", { what: signalText(k.signal) }] : null;
    default:
      return null;
  }
}

function conversationName(id) {
  const c = state.items.find((i) => i.id === id) || (drawn() && drawn().id === id ? drawn() : null);
  return c ? contactName(c) : null;
}

// A notice's words in the language chosen now (`by` and `who` unknown:
// "Routing", "a conversation"; `time` a moment, shown as a clock).
function noticeText(n) {
  if (!n.key) return n.text; // kept by an earlier version of this page
  const v = n.vars || {};
  return t(n.key, {
    ...v,
    by: v.by || t("notice.routing"),
    who: v.who || t("notice.a-conversation"),
    time: v.time ? clock(v.time) : "",
  });
}

function notify(e) {
  if (!state.me) return;
  const found = noticeOf(e);
  if (!found) return;
  const [kind, key, vars] = found;
  const prefs = noticePrefs();
  if (!prefs[kind]) return;
  const list = notices();
  if (list.some((n) => n.seq === e.seq)) return;
  const notice = { seq: e.seq, kind, key, vars, conversation: e.conversation, at: e.at, read: false };
  list.unshift(notice);
  localStorage.setItem(noticeKey(), JSON.stringify(list.slice(0, 50)));
  renderNotices();
  if (prefs.sound) beep();
  if (prefs.desktop === "on" && "Notification" in window && Notification.permission === "granted" && document.hidden) {
    const n = new Notification("inbox", { body: noticeText(notice), tag: String(e.seq) });
    n.onclick = () => (window.focus(), openConversation(e.conversation));
  }
}

function beep() {
  try {
    const ctx = new AudioContext();
    const o = ctx.createOscillator();
    const g = ctx.createGain();
    o.frequency.value = 880;
    g.gain.value = 0.05;
    o.connect(g).connect(ctx.destination);
    o.start();
    o.stop(ctx.currentTime + 0.15);
  } catch {
    // No sound where audio is not allowed.
  }
}

function renderNotices() {
  if (!state.me) return;
  const list = notices();
  const fresh = list.filter((n) => !n.read).length;
  const count = $("#notices-count");
  count.textContent = fresh ? String(fresh) : "";
  count.classList.toggle("hidden", !fresh);
  $("#bell").setAttribute("aria-label", fresh ? t("notices.bell-new", { n: fresh }) : t("menu.notifications"));
  document.title = `${fresh ? `(${fresh}) ` : ""}${t("app.title")}`;
  const prefs = noticePrefs();
  const ask =
    prefs.desktop === "ask" && "Notification" in window && Notification.permission === "default"
      ? el(
          "div",
          { class: "ask", "data-testid": "notices-ask" },
          t("notices.ask"),
          el("button", { onclick: askDesktop }, t("notices.yes")),
          el("button", { onclick: () => (savePrefs({ ...noticePrefs(), desktop: "off" }), renderNotices()) }, t("notices.not-now")),
        )
      : null;
  const toggles = el(
    "details",
    { class: "prefs" },
    el("summary", {}, t("notices.prefs")),
    ...[...Object.entries(NOTICE_KINDS()), ["sound", t("notices.sound")]].map(([k, label]) =>
      el(
        "label",
        {},
        el("input", { type: "checkbox", "data-testid": `pref-${k}`, checked: prefs[k] ? "checked" : null, onchange: (ev) => savePrefs({ ...noticePrefs(), [k]: ev.target.checked }) }),
        ` ${label}`,
      ),
    ),
  );
  $("#notices").replaceChildren(
    el("div", { class: "row" }, el("strong", {}, t("menu.notifications")), el("button", { "data-testid": "notices-read", onclick: readAll }, t("notices.mark-read"))),
    ask,
    list.length
      ? el(
          "ul",
          {},
          ...list.map((n) =>
            el(
              "li",
              { class: n.read ? "" : "fresh", "data-testid": "notice" },
              el("button", { class: "link", onclick: () => openNotice(n) }, noticeText(n)),
              el("span", { class: "when" }, ` ${agoText(n.at)}`),
            ),
          ),
        )
      : el("p", { class: "hint" }, t("notices.nothing")),
    toggles,
  );
}

function readAll() {
  localStorage.setItem(noticeKey(), JSON.stringify(notices().map((n) => ({ ...n, read: true }))));
  renderNotices();
}

function openNotice(n) {
  localStorage.setItem(noticeKey(), JSON.stringify(notices().map((x) => (x.seq === n.seq ? { ...x, read: true } : x))));
  $("#notices").classList.add("hidden");
  renderNotices();
  if (n.conversation) openConversation(n.conversation);
  else if (n.kind === "account") $("#tabs button[data-tab=admin]").click();
}

async function askDesktop() {
  const answer = await Notification.requestPermission().catch(() => "denied");
  savePrefs({ ...noticePrefs(), desktop: answer === "granted" ? "on" : "off" });
  renderNotices();
}

$("#bell").addEventListener("click", () => {
  const panel = $("#notices");
  panel.classList.toggle("hidden");
  if (!panel.classList.contains("hidden")) renderNotices();
});
