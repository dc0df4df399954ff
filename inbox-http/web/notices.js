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
const NOTICE_KINDS = { mention: "Mentions in notes", assigned: "Assigned to me", sla: "SLA warnings and breaches on mine", window: "Customer windows closing on mine" };

function noticePrefs() {
  const all = { mention: true, assigned: true, sla: true, window: true, sound: false, desktop: "ask" };
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

// What an event means for this agent, if anything: [kind, text].
function noticeOf(e) {
  const me = state.me.id;
  const k = e.kind;
  const by = e.actor && e.actor.kind === "agent" ? e.actor.id : null;
  const owner = e.scope && e.scope.owner;
  const who = conversationName(e.conversation);
  switch (k.type) {
    case "note_added":
      return by !== me && (k.mentions || []).includes(me) ? ["mention", `${nameOf(by)} mentioned you in a note on ${who}`] : null;
    case "assigned":
      return by !== me && k.to && k.to.agent === me ? ["assigned", `${by ? nameOf(by) : "Routing"} assigned you ${who}`] : null;
    case "transferred":
      return by !== me && k.to && k.to.agent === me ? ["assigned", `${nameOf(by)} handed ${who} over to you`] : null;
    case "sla_warning":
      return owner === me ? ["sla", `SLA at risk on ${who}: due ${clock(k.due_at)}`] : null;
    case "sla_breached":
      return owner === me ? ["sla", `SLA breached on ${who}`] : null;
    case "window_closing":
      return owner === me ? ["window", `${who}'s customer window closes at ${clock(k.closes_at)}: reply or send a template`] : null;
    default:
      return null;
  }
}

function conversationName(id) {
  const c = state.items.find((i) => i.id === id) || (drawn() && drawn().id === id ? drawn() : null);
  return c ? contactName(c) : "a conversation";
}

function notify(e) {
  if (!state.me) return;
  const found = noticeOf(e);
  if (!found) return;
  const [kind, text] = found;
  const prefs = noticePrefs();
  if (!prefs[kind]) return;
  const list = notices();
  if (list.some((n) => n.seq === e.seq)) return;
  list.unshift({ seq: e.seq, kind, text, conversation: e.conversation, at: e.at, read: false });
  localStorage.setItem(noticeKey(), JSON.stringify(list.slice(0, 50)));
  renderNotices();
  if (prefs.sound) beep();
  if (prefs.desktop === "on" && "Notification" in window && Notification.permission === "granted" && document.hidden) {
    const n = new Notification("inbox", { body: text, tag: String(e.seq) });
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
  $("#bell").setAttribute("aria-label", fresh ? `Notifications: ${fresh} new` : "Notifications");
  document.title = `${fresh ? `(${fresh}) ` : ""}inbox — shared WhatsApp inbox`;
  const prefs = noticePrefs();
  const ask =
    prefs.desktop === "ask" && "Notification" in window && Notification.permission === "default"
      ? el(
          "div",
          { class: "ask", "data-testid": "notices-ask" },
          "Get these as desktop notifications too? ",
          el("button", { onclick: askDesktop }, "Yes"),
          el("button", { onclick: () => (savePrefs({ ...noticePrefs(), desktop: "off" }), renderNotices()) }, "Not now"),
        )
      : null;
  const toggles = el(
    "details",
    { class: "prefs" },
    el("summary", {}, "Preferences"),
    ...[...Object.entries(NOTICE_KINDS), ["sound", "Play a sound"]].map(([k, label]) =>
      el(
        "label",
        {},
        el("input", { type: "checkbox", "data-testid": `pref-${k}`, checked: prefs[k] ? "checked" : null, onchange: (ev) => savePrefs({ ...noticePrefs(), [k]: ev.target.checked }) }),
        ` ${label}`,
      ),
    ),
  );
  $("#notices").replaceChildren(
    el("div", { class: "row" }, el("strong", {}, "Notifications"), el("button", { "data-testid": "notices-read", onclick: readAll }, "Mark all read")),
    ask,
    list.length
      ? el(
          "ul",
          {},
          ...list.map((n) =>
            el(
              "li",
              { class: n.read ? "" : "fresh", "data-testid": "notice" },
              el("button", { class: "link", onclick: () => openNotice(n) }, n.text),
              el("span", { class: "when" }, ` ${ago(n.at)} ago`),
            ),
          ),
        )
      : el("p", { class: "hint" }, "Nothing yet."),
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
