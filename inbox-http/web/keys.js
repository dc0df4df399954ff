// The keyboard: move through the list, open, reply, note, claim, resolve,
// select for a bulk action, search; `?` lists the shortcuts. Keys typed
// into a field are the field's (Escape leaves it).
"use strict";

const SHORTCUTS = () => [
  ["j / ↓", t("keys.next")],
  ["k / ↑", t("keys.previous")],
  [t("keys.enter"), t("keys.open")],
  ["x", t("keys.select")],
  ["r", t("keys.reply")],
  ["n", t("keys.note")],
  ["c", t("keys.claim")],
  ["e", t("keys.resolve")],
  ["/", t("keys.search")],
  [t("keys.ctrl-enter"), t("keys.send")],
  ["Esc", t("keys.leave")],
  ["?", t("keys.help")],
];

function showShortcuts(open) {
  let dialog = $("#shortcuts");
  if (!dialog) {
    dialog = el(
      "div",
      { id: "shortcuts", class: "dialog hidden", role: "dialog", "aria-modal": "true", "aria-labelledby": "shortcuts-title", "data-testid": "shortcuts" },
      el("h2", { id: "shortcuts-title" }, t("keys.title")),
      el("dl", {}, ...SHORTCUTS().flatMap(([k, what]) => [el("dt", {}, el("kbd", {}, k)), el("dd", {}, what)])),
      el("button", { onclick: () => showShortcuts(false) }, t("keys.close")),
    );
    document.body.append(dialog);
  }
  dialog.classList.toggle("hidden", !open);
  if (open) dialog.querySelector("button").focus();
}

function moveCursor(step) {
  if (!state.items.length) return;
  const at = state.items.findIndex((c) => c.id === (state.cursor || state.selected));
  const next = at < 0 ? 0 : Math.min(state.items.length - 1, Math.max(0, at + step));
  state.cursor = state.items[next].id;
  renderList();
  const row = document.querySelector(`[data-testid=conversation][data-id="${state.cursor}"]`);
  if (row) row.scrollIntoView({ block: "nearest" });
}

function press(selector) {
  const b = document.querySelector(selector);
  if (b && !b.disabled && b.offsetParent !== null) b.click();
}

function write(mode) {
  const composer = $("#pane .composer");
  if (!composer) return;
  press(`[data-testid=mode-${mode}]`);
  const area = composer.querySelector("[data-testid=composer]");
  if (area && area.offsetParent !== null) area.focus();
}

document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || $("#app").classList.contains("hidden") || state.tab !== "inbox") return;
  const t = ev.target;
  const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  if (ev.key === "Escape") {
    showShortcuts(false);
    if (typing) t.blur();
    return;
  }
  if (typing) return;
  const actions = {
    j: () => moveCursor(1),
    ArrowDown: () => moveCursor(1),
    k: () => moveCursor(-1),
    ArrowUp: () => moveCursor(-1),
    Enter: () => state.cursor && openConversation(state.cursor),
    o: () => state.cursor && openConversation(state.cursor),
    x: () => state.cursor && (pick(state.cursor, !state.picked.has(state.cursor)), renderList()),
    r: () => write("reply"),
    n: () => write("note"),
    c: () => press("[data-testid=claim]"),
    e: () => press("[data-testid=resolve]"),
    "/": () => $("#search").focus(),
    "?": () => showShortcuts(true),
  };
  const act = actions[ev.key];
  if (!act) return;
  ev.preventDefault();
  act();
});
