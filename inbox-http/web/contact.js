// The contact panel beside a conversation: who the customer is (profile,
// number and WhatsApp identity), the team's name for them, tags and
// attributes (editable where the role allows), every earlier conversation
// across the tenant's numbers, what the embedder's systems know (CRM and
// shop records, when configured: crm.js), and a conversation the agent
// starts with an approved template.
"use strict";

// Open unless the agent closed it; on a narrow screen (where it covers the
// conversation) closed unless they opened it.
function panelOpen() {
  const chosen = localStorage.getItem("inbox.contact-panel");
  return chosen ? chosen === "open" : window.innerWidth > 1000;
}

function toggleContactPanel() {
  localStorage.setItem("inbox.contact-panel", panelOpen() ? "closed" : "open");
  renderContactPanel();
}

// Saves a change to the contact on the version shown, then redraws; the
// fields that made it (`done`, by data-testid) are emptied once saved.
async function changeContact(contact, change, done = []) {
  try {
    await api("PUT", `/api/contacts/${contact.id}`, { version: contact.version, ...change });
    for (const id of done) {
      const input = document.querySelector(`.contact-panel [data-testid="${id}"]`);
      if (input) input.value = "";
    }
    if (state.selected) await openConversation(state.selected);
  } catch (err) {
    if (err.status === 401) return sessionEnded();
    if (state.selected) await openConversation(state.selected);
    banner(explain(err));
  }
}

async function renderContactPanel() {
  const pane = $("#pane");
  const old = pane.querySelector(".contact-panel");
  const d = state.detail;
  if (!d || !panelOpen()) {
    if (old) old.remove();
    pane.classList.remove("with-contact");
    return;
  }
  const k = d.contact;
  const editable = d.may && d.may.tag;
  // Their conversations, read again when the contact or this conversation
  // changed.
  const key = `${k.id}:${k.version}:${d.conversation.version}`;
  if (!state.contactHistory || state.contactHistory.key !== key) {
    const found = await api("GET", `/api/contacts/${k.id}`).catch(() => null);
    state.contactHistory = { key, found };
  }
  const history = state.contactHistory.found;
  if (state.detail !== d) return; // another conversation meanwhile
  // What the agent typed, read before the start form moves to the new panel
  // (and which of the records' buttons had the focus).
  const inputs = old ? keepInputs(old) : null;
  const active = document.activeElement;
  const focusedKey = old && active && old.contains(active) ? active.dataset.key : null;
  const name = el("input", { value: k.display_name || "", placeholder: k.profile_name || t("contact.name-placeholder"), "aria-label": t("contact.name-aria"), "data-testid": "contact-display-name", disabled: editable ? null : "disabled" });
  name.addEventListener("change", () => changeContact(k, { display_name: name.value.trim() }));
  const newTag = el("input", { placeholder: t("contact.tag-placeholder"), "aria-label": t("contact.tag-aria"), size: 10, "data-testid": "contact-tag-input" });
  const addTag = () => newTag.value.trim() && changeContact(k, { add_tags: [newTag.value.trim()] }, ["contact-tag-input"]);
  newTag.addEventListener("keydown", (ev) => ev.key === "Enter" && addTag());
  const attrKey = el("input", { placeholder: t("contact.attr-placeholder"), "aria-label": t("contact.attr-aria"), size: 10, "data-testid": "contact-attr-key" });
  const attrValue = el("input", { placeholder: t("contact.value-placeholder"), "aria-label": t("contact.value-aria"), size: 10, "data-testid": "contact-attr-value" });
  const setAttr = () =>
    attrKey.value.trim() && changeContact(k, { attributes: { [attrKey.value.trim()]: attrValue.value } }, ["contact-attr-key", "contact-attr-value"]);
  const earlier = ((history && history.conversations) || []).filter((c) => c.id !== d.conversation.id);
  const panel = el(
    "aside",
    { class: "contact-panel", "data-testid": "contact-panel", "aria-label": t("contact.aria") },
    el("div", { class: "row" }, el("h3", {}, k.display_name || k.profile_name || handleOf(k)), el("button", { "aria-label": t("contact.close-aria"), onclick: toggleContactPanel }, "✕")),
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, t("contact.whatsapp")),
      el("dd", { "data-testid": "contact-number" }, k.identity.wa_id ? `+${k.identity.wa_id}` : "—"),
      k.username ? [el("dt", {}, t("contact.username")), el("dd", { "data-testid": "contact-username" }, handleOf({ identity: {}, username: k.username }))] : null,
      k.app_name ? [el("dt", {}, t("contact.app-name")), el("dd", { "data-testid": "contact-app-name" }, k.app_name)] : null,
      k.identity.user_id ? [el("dt", {}, t("contact.wa-user")), el("dd", {}, k.identity.user_id)] : null,
      k.identity.parent_user_id ? [el("dt", {}, t("contact.wa-parent")), el("dd", {}, k.identity.parent_user_id)] : null,
      el("dt", {}, t("contact.profile")),
      el("dd", {}, k.profile_name || "—"),
      el("dt", {}, t("contact.since")),
      el("dd", {}, formatted(k.created_at, { dateStyle: "medium" })),
      k.marketing
        ? [
            el("dt", {}, t("contact.marketing")),
            el(
              "dd",
              { "data-testid": "contact-marketing", title: k.marketing.detail || "" },
              t(k.marketing.stopped ? "contact.marketing-stopped" : "contact.marketing-resumed", {
                date: formatted(k.marketing.at, { dateStyle: "medium" }),
              }) + consentSource(k.marketing.source),
            ),
          ]
        : null,
    ),
    startSection(k, d.conversation.channel),
    el("h4", {}, t("contact.team-name")),
    name,
    el("h4", {}, t("contact.tags")),
    el(
      "div",
      { class: "chips", "data-testid": "contact-tags" },
      ...k.tags.map((tag) =>
        el("span", { class: "badge" }, `#${tag} `, editable ? el("button", { class: "link", "aria-label": t("contact.remove-tag-aria", { tag }), onclick: () => changeContact(k, { remove_tags: [tag] }) }, "✕") : null),
      ),
    ),
    editable ? el("div", { class: "row" }, newTag, el("button", { onclick: addTag, "data-testid": "contact-tag-add" }, t("contact.add"))) : null,
    el("h4", {}, t("contact.attributes")),
    el(
      "dl",
      { class: "facts", "data-testid": "contact-attributes" },
      ...Object.entries(k.attributes).flatMap(([key, value]) => [
        el("dt", {}, key),
        el("dd", {}, value, " ", editable ? el("button", { class: "link", "aria-label": t("contact.remove-attr-aria", { key }), onclick: () => changeContact(k, { attributes: { [key]: "" } }) }, "✕") : null),
      ]),
    ),
    editable ? el("div", { class: "row" }, attrKey, attrValue, el("button", { onclick: setAttr, "data-testid": "contact-attr-set" }, t("contact.set"))) : null,
    el("h4", {}, t("contact.earlier")),
    earlier.length
      ? el(
          "ul",
          { class: "earlier", "data-testid": "contact-conversations" },
          ...earlier.map((c) =>
            el(
              "li",
              {},
              el(
                "button",
                { class: "link", onclick: () => openConversation(c.id) },
                t("contact.earlier-line", {
                  date: formatted(c.created_at, { dateStyle: "medium" }),
                  status: statusName(c.status),
                  channel: (state.channels[c.channel] || { name: c.channel }).name,
                }),
              ),
            ),
          ),
        )
      : el("p", { class: "hint", "data-testid": "contact-conversations" }, t("contact.none")),
    contextPart(d),
  );
  // Redrawn live: what the agent is typing in it stays (as in the head).
  if (old) {
    old.replaceWith(panel);
    restoreInputs(panel, inputs);
    const again = focusedKey && panel.querySelector(`[data-key="${CSS.escape(focusedKey)}"]`);
    if (again) again.focus();
  } else {
    pane.append(panel);
  }
  pane.classList.add("with-contact");
  syncSnippets();
}

// How a marketing choice was made, when not with WhatsApp's own button.
function consentSource(source) {
  if (source === "keyword") return ` ${t("contact.marketing-by-keyword")}`;
  if (source === "send_refused") return ` ${t("contact.marketing-send-refused")}`;
  if (source === "import") return ` ${t("contact.marketing-by-import")}`;
  return "";
}

// ------------------------------------------------- starting a conversation

// The "Start conversation" section of contact `k`'s panel: built once per
// contact and kept across the panel's live redraws (what is typed stays).
function startSection(k, channel) {
  if (!state.startForm || state.startForm.contact !== k.id) state.startForm = { contact: k.id, node: startForm(k, channel) };
  return state.startForm.node;
}

// An input's label from its slot: the component and the position.
function slotLabel(slot) {
  const button = /^buttons\.(\d+)/.exec(slot.field);
  if (button) return t("start.button", { n: Number(button[1]) + 1 });
  if (slot.field.startsWith("header")) return slot.kind === "text" ? t("start.header") : t("start.header-link", { kind: slot.kind });
  return t("start.body", { n: slot.name || slot.position + 1 });
}

const TEXT_LIKE = ["text", "url_suffix", "payload", "coupon_code"];
const MEDIA = ["image", "video", "document"];

// One labelled input per slot, with the line its error shows on.
function slotField(slot) {
  const id = `start-slot-${slot.field.replace(/[^A-Za-z0-9]+/g, "-")}`;
  const input = el("input", { id, placeholder: slot.example || "", title: slot.context || null, "data-testid": `start-slot-${slot.field}`, "aria-describedby": `${id}-error` });
  if (MEDIA.includes(slot.kind)) input.type = "url";
  const error = el("p", { class: "field-error", id: `${id}-error`, "data-testid": `start-error-${slot.field}`, role: "alert" });
  const node = el("div", { class: "start-slot" }, el("label", { for: id }, slotLabel(slot)), input, error);
  return { slot, input, error, node };
}

// The template's text with the values typed so far in its placeholders.
function startPreview(tp, fields) {
  const comps = tp.components || [];
  const find = (type) => comps.find((c) => String(c.type).toUpperCase() === type) || {};
  const fillIn = (text, prefix) =>
    String(text || "").replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (all, key) => {
      const f = fields.find((f) => f.slot.field.startsWith(prefix) && (f.slot.name ? f.slot.name === key : String(f.slot.position + 1) === key));
      return f && f.input.value.trim() ? f.input.value.trim() : all;
    });
  const header = find("HEADER");
  const headerText = String(header.format || "TEXT").toUpperCase() === "TEXT" ? fillIn(header.text, "header") : "";
  return [headerText, fillIn(find("BODY").text || tp.text, "body"), find("FOOTER").text].filter(Boolean).join("\n\n");
}

// The fill `POST /api/conversations` takes, from the inputs.
function fillOf(tp, fields) {
  const fill = { name: tp.name, language: tp.language, body: [], buttons: {} };
  for (const { slot, input } of fields) {
    const v = input.value.trim();
    const button = /^buttons\.(\d+)/.exec(slot.field);
    if (button) (fill.buttons[button[1]] ||= [])[slot.position] = v;
    else if (slot.field.startsWith("header")) fill.header = slot.kind === "text" ? { type: "text", text: v } : { type: slot.kind, link: v };
    else fill.body[slot.position] = v;
  }
  return fill;
}

// A refusal of one value, in words.
function slotProblem(err) {
  const p = (err.details && err.details.problem) || {};
  if (p.kind === "empty") return t("start.empty");
  if (p.kind === "too_long") return t("start.too-long", { limit: p.limit, actual: p.actual });
  if (p.kind === "control_character") return t("start.control");
  return explain(err);
}

// A refusal, next to the input it names (`body[0]`), or under the form
// (a refusal to send at all, 403, says why).
function showStartError(err, fields, general) {
  const field = err.details && err.details.field;
  const near = (f) => field.startsWith(`${f.slot.field}.`) || f.slot.field.startsWith(`${field}.`);
  const f = field && (fields.find((f) => f.slot.field === field) || fields.find(near));
  if (!f) return (general.textContent = err.status === 403 ? t("start.refused", { reason: err.message }) : explain(err));
  f.error.textContent = slotProblem(err);
  f.input.setAttribute("aria-invalid", "true");
  f.input.focus();
}

// The form: the number, the template, one input per value, the preview;
// sent once per attempt, then the conversation it started opens.
function startForm(k, channel) {
  const numbers = Object.values(state.channels);
  const number = el("select", { id: "start-number", "data-testid": "start-channel" }, ...numbers.map((c) => el("option", { value: c.id }, `${c.name} (${c.display_number})`)));
  if (state.channels[channel]) number.value = channel;
  const template = el("select", { id: "start-template", "data-testid": "start-template" }, ...state.templates.map((tp, i) => el("option", { value: i }, `${tp.name} (${tp.language})`)));
  const slots = el("div", { class: "start-slots" });
  const preview = el("div", { class: "preview", "data-testid": "start-preview" });
  const general = el("p", { class: "field-error", "data-testid": "start-error", role: "alert" });
  const send = el("button", { class: "primary", "data-testid": "start-send", disabled: "disabled" }, t("start.send"));
  const fieldset = el(
    "fieldset",
    { class: "start-form hidden", "data-testid": "start-form" },
    el("legend", {}, t("start.title")),
    el("label", { for: "start-number" }, t("start.number")),
    number,
    el("label", { for: "start-template" }, t("start.template")),
    template,
    slots,
    el("span", { class: "hint" }, t("start.preview")),
    preview,
    general,
    send,
  );
  let shown = null; // { tp, fields } of the template drawn
  let pending = null; // the last request without a definite answer: { text, key }
  const draw = () => shown && (preview.textContent = startPreview(shown.tp, shown.fields));
  async function choose() {
    const tp = state.templates[Number(template.value)];
    shown = null;
    send.disabled = true;
    preview.textContent = "";
    general.textContent = "";
    if (!tp) return slots.replaceChildren(el("p", { class: "hint" }, t("start.no-templates")));
    slots.replaceChildren(el("p", { class: "hint" }, t("start.loading")));
    const path = `/api/templates/${encodeURIComponent(tp.name)}/${encodeURIComponent(tp.language)}`;
    const form = await api("GET", path).catch((err) => ((general.textContent = explain(err)), null));
    if (state.templates[Number(template.value)] !== tp) return; // another one chosen meanwhile
    if (!form) return slots.replaceChildren();
    const fields = form.slots.map(slotField);
    const unsupported = form.slots.find((s) => !TEXT_LIKE.includes(s.kind) && !MEDIA.includes(s.kind));
    for (const f of fields) f.input.addEventListener("input", () => ((f.error.textContent = ""), f.input.removeAttribute("aria-invalid"), draw()));
    const gap = unsupported ? [el("p", { class: "hint" }, t("start.unsupported", { field: unsupported.field }))] : [];
    slots.replaceChildren(...fields.map((f) => f.node), ...gap);
    shown = { tp: form, fields };
    send.disabled = !!unsupported;
    draw();
  }
  async function submit() {
    if (!shown || fieldset.disabled) return;
    for (const f of shown.fields) (f.error.textContent = ""), f.input.removeAttribute("aria-invalid");
    general.textContent = "";
    const body = { channel: number.value, contact_id: k.id, template: fillOf(shown.tp, shown.fields) };
    // A retry of the same form (no answer to the last one) reuses its key:
    // sent at most once; anything else is a new attempt.
    const text = JSON.stringify(body);
    pending = pending && pending.text === text ? pending : { text, key: newKey() };
    fieldset.disabled = true;
    send.textContent = t("start.sending");
    try {
      const out = await api("POST", "/api/conversations", body, pending.key);
      pending = null;
      state.startForm = null;
      for (const w of out.warnings || []) banner(w);
      loadList();
      await openConversation(out.conversation.id);
    } catch (err) {
      if (err.status === 401) return sessionEnded();
      const answered = err.status && err.status < 500 && err.code !== "idempotency_key_in_use";
      if (answered) pending = null;
      showStartError(err, shown.fields, general);
    } finally {
      fieldset.disabled = false;
      send.textContent = t("start.send");
    }
  }
  template.addEventListener("change", choose);
  send.addEventListener("click", submit);
  const toggle = el("button", { "data-testid": "start-conversation", "aria-expanded": "false" }, t("start.action"));
  toggle.addEventListener("click", () => {
    const open = fieldset.classList.toggle("hidden") === false;
    toggle.setAttribute("aria-expanded", String(open));
    if (open && !shown) choose();
  });
  return el("div", { class: "start" }, toggle, fieldset);
}
