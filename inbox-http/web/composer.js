// The composer: a reply to the customer or an internal note (two modes,
// told apart at a glance), drafts kept per conversation across live
// refreshes, reloads and a new sign-in, and a warning before replying to
// someone else's conversation.
"use strict";

const draftKey = (id) => `inbox.draft.${state.me.tenant}.${state.me.id}.${id}`;
function loadDraft(id) {
  try {
    return JSON.parse(localStorage.getItem(draftKey(id))) || { text: "", mode: "reply" };
  } catch {
    return { text: "", mode: "reply" };
  }
}
function saveDraft(id, draft) {
  if (draft.text) localStorage.setItem(draftKey(id), JSON.stringify(draft));
  else localStorage.removeItem(draftKey(id));
}

// Someone else owns it: said before the agent replies, not after.
function ownerWarning(c) {
  if (!c.assignee || c.assignee === state.me.id) return "";
  return `${nameOf(c.assignee)} owns this conversation: a reply goes to the customer next to theirs. Claim it first, or add a note for them.`;
}

function composerView(c, open) {
  const id = c.id;
  const draft = loadDraft(id);
  const text = el("textarea", { "data-testid": "composer", "aria-label": "Message" });
  text.value = draft.text;
  const warning = el("div", { class: "owner-warning", "data-testid": "owner-warning", role: "note" });
  const modeButton = (mode, label) =>
    el("button", { type: "button", "data-testid": `mode-${mode}`, "aria-pressed": "false", onclick: () => setMode(mode) }, label);
  const modes = el("div", { class: "modes", role: "group", "aria-label": "Write" }, modeButton("reply", "Reply"), modeButton("note", "Internal note"));
  const send = el("button", { class: "primary" });
  const template = el(
    "select",
    { "data-testid": "template", "aria-label": "Template" },
    ...state.templates.map((t, i) => el("option", { value: i }, `${t.name} (${t.language}) — ${t.text}`)),
  );
  const templateRow = el(
    "div",
    { class: "actions" },
    el("span", { class: "window", "data-testid": "window-closed" }, "24-hour window closed: only a template can be sent."),
    template,
    el("button", { class: "primary", onclick: () => sendTemplate(), "data-testid": "send-template" }, "Send template"),
  );
  const node = el("div", { class: "composer" }, modes, warning, text, el("div", { class: "actions" }, send), templateRow);
  let mode = draft.mode;
  function setMode(m) {
    mode = m;
    node.classList.toggle("note-mode", m === "note");
    for (const b of modes.children) b.setAttribute("aria-pressed", String(b.dataset.testid === `mode-${m}`));
    const replying = m === "reply";
    text.classList.toggle("hidden", replying && !open);
    send.parentElement.classList.toggle("hidden", replying && !open);
    templateRow.classList.toggle("hidden", !replying || open);
    text.placeholder = replying ? "Reply to the customer (Ctrl+Enter sends)" : "Internal note, seen only by the team; @name mentions (Ctrl+Enter adds)";
    send.dataset.testid = replying ? "send-reply" : "send-note";
    updateComposer(node, drawn() || c);
    saveDraft(id, { text: text.value, mode });
  }
  async function submit() {
    const body = text.value.trim();
    if (!body) return text.focus();
    send.disabled = true;
    const out = await act(id, mode === "reply" ? "reply" : "notes", { version: drawnVersion(id), text: text.value });
    send.disabled = false;
    if (out) {
      text.value = "";
      saveDraft(id, { text: "", mode });
    }
  }
  function sendTemplate() {
    const t = state.templates[Number(template.value)];
    if (t) act(id, "reply", { version: drawnVersion(id), content: { type: "template", name: t.name, language: t.language, components: [] } });
  }
  send.addEventListener("click", submit);
  text.addEventListener("input", () => {
    saveDraft(id, { text: text.value, mode });
    if (mode === "reply") typing(id);
  });
  text.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      submit();
    }
  });
  node.dataset.mode = mode;
  setMode(mode);
  return node;
}

// A live refresh: the warning and the send button's words follow the
// conversation; what is typed stays.
function updateComposer(node, c) {
  const warning = node.querySelector(".owner-warning");
  const send = node.querySelector("[data-testid=send-reply], [data-testid=send-note]");
  const replying = send.dataset.testid === "send-reply";
  const text = replying ? ownerWarning(c) : "";
  warning.textContent = text;
  warning.classList.toggle("hidden", !text);
  send.textContent = replying ? (text ? "Reply anyway" : "Send reply") : "Add note";
}
