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
  if (ctx.state === "unavailable") return el("p", { class: "hint" }, t("contact.crm-unavailable", { why: ctx.value }));
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
        card.url && /^https?:\/\//.test(card.url) ? el("a", { href: card.url, target: "_blank", rel: "noopener noreferrer" }, t("contact.open")) : null,
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
    contextView(d.context) ? [el("h4", {}, t("contact.records")), contextView(d.context)] : null,
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

// How a marketing choice was made, when not with WhatsApp's own button.
function consentSource(source) {
  if (source === "keyword") return ` ${t("contact.marketing-by-keyword")}`;
  if (source === "send_refused") return ` ${t("contact.marketing-send-refused")}`;
  if (source === "import") return ` ${t("contact.marketing-by-import")}`;
  return "";
}
