// What the tenant's CRM and shop connectors (HubSpot, Zoho CRM, Shopify)
// know about the customer, in the contact panel: one section per
// connector with when it answered, its cards (a record's fields and a link
// to it), the reason it could not answer (a warning line, the other
// connectors' cards still shown), and texts the agent puts into the reply
// (an order's status) at the composer's caret. A connector too slow for
// the view is asked once more a few seconds later (its answer is kept by
// then) and its part drawn again.
"use strict";

// How long after a slow answer the context is asked for again.
const CRM_RETRY_MS = 3000;

// `Zoho CRM` → `zoho-crm` (in data-testid and element ids).
const crmSlug = (source) => String(source).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "other";

// A card of a provider that was slow: the view answered without it.
const crmPending = (card) => !!(card.extra && card.extra.pending === "true");

// The cards by source, in the order they came.
function crmGroups(cards) {
  const groups = new Map();
  for (const card of cards) {
    const source = card.source || "";
    if (!groups.has(source)) groups.set(source, []);
    groups.get(source).push(card);
  }
  return [...groups];
}

// The one retry of a slow answer: the contact it is for, and its timer
// while it waits (null once asked).
let crmRetry = null;

function scheduleCrmRetry(contactId, ctx) {
  if (crmRetry && crmRetry.contact !== contactId) {
    clearTimeout(crmRetry.timer);
    crmRetry = null;
  }
  const slow = ctx && ctx.state === "cards" && (ctx.value || []).some(crmPending);
  if (!slow || crmRetry) return; // once per contact shown
  crmRetry = { contact: contactId, timer: null };
  crmRetry.timer = setTimeout(async () => {
    const fresh = await api("GET", `/api/contacts/${encodeURIComponent(contactId)}/context`).catch(() => null);
    if (crmRetry && crmRetry.contact === contactId) crmRetry.timer = null;
    const d = state.detail;
    if (!d || d.contact.id !== contactId) return; // another customer meanwhile
    if (fresh) d.context = fresh;
    redrawContext();
  }, CRM_RETRY_MS);
}

// Why the composer cannot take a snippet now ("" when it can): it must be
// the drawn conversation's, showing its text box.
function snippetBlocked() {
  const d = state.detail;
  const area = $("#pane [data-testid=composer]");
  if (!d || !area || area.disabled) return t("crm.snippet-no-composer");
  if (area.classList.contains("hidden")) {
    const reply = d.may && d.may.reply;
    if (reply && !reply.allowed) return t("crm.snippet-refused", { reason: reply.reason });
    return t("crm.snippet-window-closed");
  }
  return "";
}

// The snippet buttons follow the composer (its mode, the window, what the
// agent may do): called when either is drawn.
function syncSnippets() {
  const why = snippetBlocked();
  for (const b of document.querySelectorAll(".contact-panel [data-testid=crm-snippet]")) {
    b.disabled = !!why;
    b.title = why || b.dataset.text;
  }
}

// `text` into the composer at its caret (at the end when it never had
// one), spaced from what is around it; the composer keeps the rest and
// takes the focus (and the draft and the reply lease follow, as typing).
function insertSnippet(text) {
  const area = $("#pane [data-testid=composer]");
  if (!area || snippetBlocked()) return;
  const start = area.selectionStart ?? area.value.length;
  const end = area.selectionEnd ?? start;
  const before = area.value.slice(0, start);
  const after = area.value.slice(end);
  const lead = before && !/\s$/.test(before) ? " " : "";
  const trail = after && !/^\s/.test(after) ? " " : "";
  insertAtCaret(area, lead + text + trail);
}

function snippetButton(card, snippet, key) {
  return el(
    "button",
    {
      type: "button",
      class: "crm-snippet",
      "data-testid": "crm-snippet",
      "data-key": key,
      "data-text": snippet.text,
      "aria-label": t("crm.snippet-aria", { label: snippet.label, title: card.title }),
      onclick: () => insertSnippet(snippet.text),
    },
    snippet.label,
  );
}

function crmCard(card, at) {
  const link = card.url && /^https?:\/\//i.test(card.url);
  const snippets = card.snippets || [];
  return el(
    "div",
    { class: "crm-card", "data-testid": "crm-card" },
    el("strong", { class: "crm-title" }, card.title),
    card.fields && card.fields.length ? el("dl", { class: "crm-fields" }, ...card.fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])) : null,
    snippets.length || link
      ? el(
          "div",
          { class: "crm-actions" },
          ...snippets.map((s, i) => snippetButton(card, s, `${at}.${i}`)),
          link
            ? el(
                "a",
                { href: card.url, target: "_blank", rel: "noopener noreferrer", "aria-label": t("crm.open-aria", { title: card.title, source: card.source }) },
                t("crm.open", { source: card.source }),
              )
            : null,
        )
      : null,
  );
}

// One connector's section: its name, when it answered, what went wrong,
// its cards.
function crmSection(source, cards, retrying) {
  const slug = crmSlug(source);
  const problems = cards.filter((c) => c.problem);
  const shown = cards.filter((c) => !c.problem);
  const times = shown.map((c) => c.fetched_at).filter(Boolean).sort();
  const latest = times[times.length - 1];
  return el(
    "section",
    { class: "crm-section", "data-testid": `crm-section-${slug}`, "aria-labelledby": `crm-head-${slug}` },
    el(
      "div",
      { class: "crm-head" },
      el("h5", { id: `crm-head-${slug}` }, source),
      latest ? el("span", { class: "crm-when", title: formatted(latest, { dateStyle: "medium", timeStyle: "medium" }) }, t("crm.fetched", { ago: agoText(latest) })) : null,
    ),
    ...problems.map((c) =>
      el(
        "p",
        { class: "crm-problem", role: "status", "data-testid": "crm-problem" },
        el("span", { "aria-hidden": "true" }, "⚠ "),
        t("crm.problem", { source: c.title || source, problem: c.problem }),
        retrying && crmPending(c) ? el("span", { class: "crm-retrying" }, ` ${t("crm.asking-again")}`) : null,
      ),
    ),
    ...shown.map((c, i) => crmCard(c, `${slug}.${i}`)),
  );
}

// The panel's part for the customer's records: `null` when there is
// nothing to show (no connector, or none had cards).
function contextView(ctx, contactId) {
  if (!ctx || ctx.state === "not_configured") return null;
  const body =
    ctx.state === "unavailable"
      ? [el("p", { class: "hint" }, t("contact.crm-unavailable", { why: ctx.value }))]
      : crmGroups(ctx.value || []).map(([source, cards]) => crmSection(source, cards, !!(crmRetry && crmRetry.contact === contactId && crmRetry.timer)));
  if (!body.length) return null;
  return el("div", { class: "crm", "data-testid": "crm" }, el("h4", {}, t("contact.records")), ...body);
}

// The customer's records for the drawn conversation: drawn, the slow ones
// asked again, the snippets following the composer.
function contextPart(d) {
  scheduleCrmRetry(d.contact.id, d.context);
  return contextView(d.context, d.contact.id);
}

// Only the records part of the panel drawn again (after the retry): the
// rest of the panel, and what is typed in it, stay; a focused snippet
// button keeps the focus.
function redrawContext() {
  const d = state.detail;
  const panel = document.querySelector("#pane .contact-panel");
  if (!d || !panel) return;
  const old = panel.querySelector(".crm");
  if (!old) return renderContactPanel();
  const focused = document.activeElement && old.contains(document.activeElement) ? document.activeElement.dataset.key : null;
  const fresh = contextView(d.context, d.contact.id);
  if (fresh) old.replaceWith(fresh);
  else old.remove();
  syncSnippets();
  const again = focused && panel.querySelector(`.crm [data-key="${CSS.escape(focused)}"]`);
  if (again) again.focus();
}
