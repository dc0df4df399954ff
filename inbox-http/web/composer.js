// The composer: a reply to the customer or an internal note (two modes,
// told apart at a glance); drafts kept per conversation across live
// refreshes, reloads and a new sign-in; a warning before replying to
// someone else's conversation, and the reason when replying is not
// allowed; canned responses by typing `/` and a shortcut; emoji; the
// customer window's remaining time, and once it has closed, a template
// picker with a field per parameter and a preview.
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
  // A bot's conversation: replying takes it over (people always win).
  const bot = c.bot && !c.bot.handed_off && c.bot.agent === c.assignee;
  if (bot) return t("composer.bot-warning", { name: nameOf(c.assignee) });
  return t("composer.owner-warning", { name: nameOf(c.assignee) });
}

function windowLeft(c) {
  const ms = Date.parse(c.window_expires_at) - Date.now();
  if (!(ms > 0)) return "";
  const h = Math.floor(ms / 3600e3);
  const m = Math.floor((ms % 3600e3) / 60e3);
  return t("composer.window-left", { time: `${h ? `${t("time.h", { n: h })} ` : ""}${t("time.m", { n: m })}` });
}

const EMOJI = ["😊", "🙂", "😀", "😂", "😉", "😍", "🙏", "👍", "👌", "👋", "🎉", "❤️", "✅", "❌", "⏳", "📦", "🚚", "💳", "📞", "✉️", "⭐", "🔥", "😔", "🤔"];

function insertAtCaret(area, text) {
  const start = area.selectionStart ?? area.value.length;
  const end = area.selectionEnd ?? start;
  area.value = area.value.slice(0, start) + text + area.value.slice(end);
  area.setSelectionRange(start + text.length, start + text.length);
  area.dispatchEvent(new Event("input"));
  area.focus();
}

// `/shortcut` at the start of the text offers the canned responses that
// start so; picking one puts it in, filled in for this conversation.
function cannedPicker(id, area) {
  const list = el("ul", { class: "canned hidden", role: "listbox", "data-testid": "canned-list", "aria-label": t("composer.canned-aria") });
  let shown = [];
  let active = 0;
  const draw = () => {
    list.replaceChildren(
      ...shown.map((c, i) =>
        el(
          "li",
          { role: "option", "aria-selected": String(i === active), "data-testid": "canned-item", onmousedown: (ev) => (ev.preventDefault(), pick(c)) },
          el("strong", {}, `/${c.shortcut}`),
          ` ${c.text.slice(0, 80)}`,
        ),
      ),
    );
    list.classList.toggle("hidden", !shown.length);
  };
  async function pick(c) {
    shown = [];
    draw();
    try {
      const out = await api("GET", `/api/conversations/${id}/canned/${encodeURIComponent(c.shortcut)}`);
      area.value = out.text;
      area.dispatchEvent(new Event("input"));
      area.focus();
    } catch (err) {
      banner(explain(err));
    }
  }
  async function update() {
    const m = /^\/(\S*)$/.exec(area.value);
    if (!m) {
      shown = [];
      return draw();
    }
    if (!state.canned) state.canned = await api("GET", "/api/canned").catch(() => []);
    const word = m[1].toLowerCase();
    shown = state.canned.filter((c) => c.shortcut.toLowerCase().startsWith(word)).slice(0, 8);
    active = 0;
    draw();
  }
  // Arrows move, Enter or Tab picks, Escape closes: true when handled.
  function key(ev) {
    if (!shown.length) return false;
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      active = (active + (ev.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      draw();
    } else if (ev.key === "Enter" || ev.key === "Tab") {
      pick(shown[active]);
    } else if (ev.key === "Escape") {
      shown = [];
      draw();
    } else {
      return false;
    }
    ev.preventDefault();
    return true;
  }
  return { list, update, key };
}

// The placeholders of a template text in order of first appearance.
const placeholders = (text) => [...new Set([...String(text).matchAll(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g)].map((m) => m[1]))];

// Fields for a template's parameters (header, body, buttons), its preview,
// and the `components` to send.
function templateForm(tp) {
  const comps = tp.components || [];
  const comp = (type) => comps.find((c) => String(c.type).toUpperCase() === type) || {};
  const fields = [];
  const field = (component, label, extra = {}) => {
    const input = el("input", { placeholder: label, "aria-label": label, "data-testid": `param-${component}-${fields.filter((f) => f.component === component).length + 1}` });
    fields.push({ component, input, ...extra });
    return input;
  };
  const bodyText = comp("BODY").text || tp.text || "";
  const header = comp("HEADER");
  const inputs = [];
  for (const p of tp.parameters || []) {
    if (p.component === "header") {
      const format = String(header.format || "TEXT").toUpperCase();
      const label = format === "TEXT" ? t("composer.header-text") : t("composer.media-link", { format: format.toLowerCase() });
      for (let i = 0; i < p.count; i++) inputs.push(field("header", label, { format }));
    } else if (p.component === "body") {
      const names = placeholders(bodyText);
      for (let i = 0; i < p.count; i++) inputs.push(field("body", `{{${names[i] || i + 1}}}`, { name: names[i] }));
    } else if (p.component.startsWith("button:")) {
      const index = Number(p.component.split(":")[1]);
      const button = ((comp("BUTTONS").buttons || [])[index]) || {};
      inputs.push(field("button", t("composer.button-param", { name: button.text || index + 1 }), { index, kind: String(button.type || "URL").toUpperCase() }));
    }
  }
  const preview = el("div", { class: "preview", "data-testid": "template-preview" });
  const draw = () => {
    const values = fields.filter((f) => f.component === "body").map((f) => f.input.value);
    const names = placeholders(bodyText);
    preview.textContent = bodyText.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (all, name) => {
      const v = values[names.indexOf(name)];
      return v ? v : all;
    });
  };
  for (const f of fields) f.input.addEventListener("input", draw);
  draw();
  const missing = () => fields.find((f) => !f.input.value.trim());
  const components = () => {
    const out = [];
    const of = (c) => fields.filter((f) => f.component === c);
    if (of("header").length) {
      out.push({
        type: "header",
        parameters: of("header").map((f) =>
          f.format === "TEXT" ? { type: "text", text: f.input.value } : { type: f.format.toLowerCase(), [f.format.toLowerCase()]: { link: f.input.value } },
        ),
      });
    }
    if (of("body").length) {
      out.push({
        type: "body",
        parameters: of("body").map((f) => (f.name && !/^\d+$/.test(f.name) ? { type: "text", parameter_name: f.name, text: f.input.value } : { type: "text", text: f.input.value })),
      });
    }
    for (const f of of("button")) {
      const coupon = f.kind === "COPY_CODE";
      out.push({
        type: "button",
        sub_type: coupon ? "copy_code" : "url",
        index: String(f.index),
        parameters: [coupon ? { type: "coupon_code", coupon_code: f.input.value } : { type: "text", text: f.input.value }],
      });
    }
    return out;
  };
  return { node: el("div", { class: "template-form" }, el("div", { class: "params" }, ...inputs), preview), missing, components };
}

// What Meta's pricing will make of sending a template now: a short line
// ("Free: inside the customer service window", "Billed as marketing (0.025
// USD)"), asked of the server (the tenant's rate card and template list).
function priceText(p) {
  const category = categoryName(p.category);
  if (p.reason === "inside_window") return t("estimate.free-window");
  if (p.reason === "entry_point") return t("estimate.free-entry");
  if (p.billed && p.rate) return t("estimate.billed-rate", { category, rate: p.rate, currency: p.currency });
  if (p.billed) return t("estimate.billed", { category });
  return t("estimate.unknown");
}

async function showPrice(id, tp, line) {
  line.textContent = "";
  if (!tp) return;
  const query = new URLSearchParams({ template: tp.name, language: tp.language });
  try {
    const p = await api("GET", `/api/conversations/${id}/price?${query}`);
    line.textContent = priceText(p);
    line.classList.toggle("billed", !!p.billed);
  } catch {
    // The estimate is a hint: without it the picker works as before.
  }
}

function templatePicker(id) {
  const select = el(
    "select",
    { "data-testid": "template", "aria-label": t("composer.template-aria") },
    ...state.templates.map((tp, i) => el("option", { value: i }, `${tp.name} (${tp.language})`)),
  );
  const slot = el("div", {});
  const price = el("p", { class: "price-estimate", "data-testid": "price-estimate", role: "note" });
  let form = null;
  const choose = () => {
    const tp = state.templates[Number(select.value)];
    form = tp ? templateForm(tp) : null;
    slot.replaceChildren(form ? form.node : el("p", { class: "hint" }, t("composer.no-templates")));
    showPrice(id, tp, price);
  };
  select.addEventListener("change", choose);
  choose();
  const send = () => {
    const tp = state.templates[Number(select.value)];
    if (!tp || !form) return;
    const gap = form.missing();
    if (gap) {
      gap.input.focus();
      return banner(t("composer.fill-in", { field: gap.input.placeholder }));
    }
    act(id, "reply", { version: drawnVersion(id), content: { type: "template", name: tp.name, language: tp.language, components: form.components() } });
  };
  return el(
    "div",
    { class: "template-picker", "data-testid": "template-picker" },
    el("div", { class: "actions" }, el("span", { class: "window", "data-testid": "window-closed" }, t("composer.window-closed")), select),
    price,
    slot,
    el("div", { class: "actions" }, el("button", { class: "primary", onclick: send, "data-testid": "send-template" }, t("composer.send-template"))),
  );
}

function composerView(c, open) {
  const id = c.id;
  const draft = loadDraft(id);
  const text = el("textarea", { "data-testid": "composer", "aria-label": t("composer.message-aria") });
  text.value = draft.text;
  const warning = el("div", { class: "owner-warning", "data-testid": "owner-warning", role: "note" });
  const refused = el("div", { class: "owner-warning", "data-testid": "reply-refused", role: "note" });
  const leaseNotice = el("div", { class: "owner-warning hidden", "data-testid": "lease-notice", role: "status" });
  const modeButton = (mode, label) =>
    el("button", { type: "button", "data-testid": `mode-${mode}`, "aria-pressed": "false", onclick: () => setMode(mode) }, label);
  const modes = el(
    "div",
    { class: "modes", role: "group", "aria-label": t("composer.write-aria") },
    modeButton("reply", t("composer.reply")),
    modeButton("note", t("composer.note")),
    el("span", { class: "window-left", "data-testid": "window-left" }, open ? windowLeft(c) : ""),
  );
  const send = el("button", { class: "primary" });
  const emojiRow = el(
    "div",
    { class: "emoji hidden", "data-testid": "emoji-list", role: "group", "aria-label": t("composer.emoji-aria") },
    ...EMOJI.map((e) => el("button", { type: "button", "aria-label": e, onclick: () => insertAtCaret(text, e) }, e)),
  );
  const emojiButton = el(
    "button",
    { type: "button", "data-testid": "emoji", "aria-label": t("composer.emoji-aria"), onclick: () => emojiRow.classList.toggle("hidden") },
    "😊",
  );
  const canned = cannedPicker(id, text);
  const picker = templatePicker(id);
  const attachment = attachControl(() => saveDraft(id, { text: text.value, mode }));
  const writeRow = el("div", { class: "actions" }, send, emojiButton, attachment.button, attachment.input, attachment.chip, el("span", { class: "hint" }, t("composer.hint")));
  const node = el("div", { class: "composer" }, modes, warning, refused, leaseNotice, canned.list, text, emojiRow, writeRow, picker);
  acceptDrops(node, attachment);
  let mode = draft.mode;
  function setMode(m) {
    mode = m;
    node.classList.toggle("note-mode", m === "note");
    for (const b of modes.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.testid === `mode-${m}`));
    const replying = m === "reply";
    const may = (state.detail && state.detail.conversation.id === id && state.detail.may) || { reply: { allowed: true } };
    const blocked = replying && !may.reply.allowed;
    text.classList.toggle("hidden", replying && (!open || blocked));
    writeRow.classList.toggle("hidden", replying && (!open || blocked));
    picker.classList.toggle("hidden", !replying || open || blocked);
    attachment.button.classList.toggle("hidden", !replying);
    attachment.chip.classList.toggle("hidden", !replying || !attachment.file);
    text.placeholder = replying ? t("composer.reply-placeholder") : t("composer.note-placeholder");
    if (!replying) dropLease(id);
    send.dataset.testid = replying ? "send-reply" : "send-note";
    updateComposer(node, drawn() && drawn().id === id ? drawn() : c, state.detail && state.detail.may);
    saveDraft(id, { text: text.value, mode });
    syncSnippets(); // (the records' snippets go where the text box is)
  }
  // A live refresh re-applies the mode (what the agent may do may have
  // changed) without touching the text.
  node.refresh = () => setMode(mode);
  let sending = false;
  async function submit() {
    const file = mode === "reply" ? attachment.file : null;
    if (!text.value.trim() && !file) return text.focus();
    // Once per click, even if a live refresh enables the button meanwhile.
    if (sending || send.disabled) return;
    sending = true;
    send.disabled = true;
    const out = file
      ? await sendAttachment(id, file, text.value.trim())
      : await act(id, mode === "reply" ? "reply" : "notes", { version: drawnVersion(id), text: text.value });
    send.disabled = false;
    sending = false;
    if (out) {
      text.value = "";
      if (file) attachment.set(null);
      saveDraft(id, { text: "", mode });
      dropLease(id);
    }
    node.refresh();
  }
  send.addEventListener("click", submit);
  text.addEventListener("input", () => {
    saveDraft(id, { text: text.value, mode });
    canned.update();
    if (mode === "reply") typing(id);
    if (mode === "reply" && text.value.trim()) holdLease(id);
    else if (!text.value.trim()) dropLease(id);
  });
  text.addEventListener("keydown", (ev) => {
    if (canned.key(ev)) return;
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      submit();
    }
  });
  const may = state.detail && state.detail.may;
  setMode(may && !may.reply.allowed && mode === "reply" ? "note" : mode);
  return node;
}

// A live refresh: the warnings, the window's time and the send button's
// words follow the conversation; what is typed stays.
function updateComposer(node, c, may) {
  const warning = node.querySelector("[data-testid=owner-warning]");
  const refused = node.querySelector("[data-testid=reply-refused]");
  const send = node.querySelector("[data-testid=send-reply], [data-testid=send-note]");
  const replying = send.dataset.testid === "send-reply";
  const reason = may && !may.reply.allowed ? t("composer.refused", { reason: may.reply.reason }) : "";
  refused.textContent = reason;
  refused.classList.toggle("hidden", !reason);
  const text = replying && !reason ? ownerWarning(c) : "";
  warning.textContent = text;
  warning.classList.toggle("hidden", !text);
  send.textContent = replying ? (text ? t("composer.reply-anyway") : t("composer.send-reply")) : t("composer.add-note");
  // Someone else is writing a reply: this one waits (a note does not).
  const lease = replying && othersLease(c.id);
  const leaseNotice = node.querySelector("[data-testid=lease-notice]");
  leaseNotice.textContent = lease ? t("composer.lease-held", { name: nameOf(lease.holder) }) : "";
  leaseNotice.classList.toggle("hidden", !lease);
  send.disabled = !!lease;
  const left = node.querySelector("[data-testid=window-left]");
  if (left) left.textContent = windowLeft(c);
}
