// The contact panel beside a conversation: who the customer is (profile,
// number and WhatsApp identity), the team's name for them, tags and
// attributes (editable where the role allows), every earlier conversation
// across the tenant's numbers, and what the embedder's systems know (CRM
// context, when configured).
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

function contextView(ctx) {
  if (!ctx || ctx.state === "not_configured") return null;
  if (ctx.state === "unavailable") return el("p", { class: "hint" }, `Customer records are unavailable: ${ctx.value}`);
  return el(
    "div",
    { "data-testid": "crm" },
    ...(ctx.value || []).map((card) =>
      el(
        "div",
        { class: "crm-card" },
        el("strong", {}, card.title),
        el("span", { class: "hint" }, ` · ${card.source}`),
        el("dl", {}, ...card.fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
        card.url && /^https?:\/\//.test(card.url) ? el("a", { href: card.url, target: "_blank", rel: "noopener noreferrer" }, "Open") : null,
      ),
    ),
  );
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
  const name = el("input", { value: k.display_name || "", placeholder: k.profile_name || "name for the team", "aria-label": "Name the team uses", "data-testid": "contact-display-name", disabled: editable ? null : "disabled" });
  name.addEventListener("change", () => changeContact(k, { display_name: name.value.trim() }));
  const newTag = el("input", { placeholder: "add a tag", "aria-label": "Add a tag to the contact", size: 10, "data-testid": "contact-tag-input" });
  const addTag = () => newTag.value.trim() && changeContact(k, { add_tags: [newTag.value.trim()] }, ["contact-tag-input"]);
  newTag.addEventListener("keydown", (ev) => ev.key === "Enter" && addTag());
  const attrKey = el("input", { placeholder: "attribute", "aria-label": "Attribute name", size: 10, "data-testid": "contact-attr-key" });
  const attrValue = el("input", { placeholder: "value", "aria-label": "Attribute value", size: 10, "data-testid": "contact-attr-value" });
  const setAttr = () =>
    attrKey.value.trim() && changeContact(k, { attributes: { [attrKey.value.trim()]: attrValue.value } }, ["contact-attr-key", "contact-attr-value"]);
  const earlier = ((history && history.conversations) || []).filter((c) => c.id !== d.conversation.id);
  const panel = el(
    "aside",
    { class: "contact-panel", "data-testid": "contact-panel", "aria-label": "Contact" },
    el("div", { class: "row" }, el("h3", {}, k.display_name || k.profile_name || `+${k.identity.wa_id}`), el("button", { "aria-label": "Close the contact panel", onclick: toggleContactPanel }, "✕")),
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, "WhatsApp"),
      el("dd", { "data-testid": "contact-number" }, k.identity.wa_id ? `+${k.identity.wa_id}` : "—"),
      k.identity.user_id ? [el("dt", {}, "WhatsApp user"), el("dd", {}, k.identity.user_id)] : null,
      el("dt", {}, "Profile name"),
      el("dd", {}, k.profile_name || "—"),
      el("dt", {}, "Customer since"),
      el("dd", {}, new Date(k.created_at).toLocaleDateString()),
    ),
    el("h4", {}, "Name for the team"),
    name,
    el("h4", {}, "Tags"),
    el(
      "div",
      { class: "chips", "data-testid": "contact-tags" },
      ...k.tags.map((t) =>
        el("span", { class: "badge" }, `#${t} `, editable ? el("button", { class: "link", "aria-label": `Remove tag ${t}`, onclick: () => changeContact(k, { remove_tags: [t] }) }, "✕") : null),
      ),
    ),
    editable ? el("div", { class: "row" }, newTag, el("button", { onclick: addTag, "data-testid": "contact-tag-add" }, "Add")) : null,
    el("h4", {}, "Attributes"),
    el(
      "dl",
      { class: "facts", "data-testid": "contact-attributes" },
      ...Object.entries(k.attributes).flatMap(([key, value]) => [
        el("dt", {}, key),
        el("dd", {}, value, " ", editable ? el("button", { class: "link", "aria-label": `Remove ${key}`, onclick: () => changeContact(k, { attributes: { [key]: "" } }) }, "✕") : null),
      ]),
    ),
    editable ? el("div", { class: "row" }, attrKey, attrValue, el("button", { onclick: setAttr, "data-testid": "contact-attr-set" }, "Set")) : null,
    el("h4", {}, "Earlier conversations"),
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
                `${new Date(c.created_at).toLocaleDateString()} · ${c.status} · via ${(state.channels[c.channel] || { name: c.channel }).name}`,
              ),
            ),
          ),
        )
      : el("p", { class: "hint", "data-testid": "contact-conversations" }, "None."),
    contextView(d.context) ? [el("h4", {}, "Customer records"), contextView(d.context)] : null,
  );
  // Redrawn live: what the agent is typing in it stays (as in the head).
  if (old) {
    const inputs = keepInputs(old);
    old.replaceWith(panel);
    restoreInputs(panel, inputs);
  } else {
    pane.append(panel);
  }
  pane.classList.add("with-contact");
}
