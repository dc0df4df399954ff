// The messages of the open conversation as agents read them: day
// separators, times (exact on hover), who wrote, quotes, reactions on the
// message they react to, edits and deletions marked (the original kept),
// links that open, places with a map link, contact cards, and the
// conversation's history (claims, handoffs, status) in between.
"use strict";

// In doubt: the dispatcher could not tell whether WhatsApp got it (no
// provider id yet, never sent again automatically).
const inDoubt = (m) =>
  m.direction === "outbound" && !m.external_id && m.delivery && m.delivery.status === "pending" && !!m.delivery.in_doubt_since;

function ticks(m) {
  if (m.direction !== "outbound" || !m.delivery) return null;
  const s = inDoubt(m) ? "in-doubt" : m.delivery.status;
  const text = { pending: "🕓", "in-doubt": "?", accepted: "✓", sent: "✓", delivered: "✓✓", read: "✓✓", played: "✓✓", failed: "✗", cancelled: "⊘" }[s] || s;
  const title =
    {
      pending: t("tick.pending"),
      "in-doubt": t("tick.in-doubt"),
      accepted: t("tick.accepted"),
      sent: t("tick.sent"),
      delivered: t("tick.delivered"),
      read: t("tick.read"),
      played: t("tick.played"),
      failed: t("tick.failed"),
      cancelled: t("tick.cancelled"),
    }[s] || s;
  return el("span", { class: `ticks ${s}`, title, "data-testid": `ticks-${s}` }, text);
}

// A pricing category in the agent's language (one Meta adds later as it
// comes; none: empty).
function categoryName(category) {
  const categories = {
    marketing: () => t("price.marketing"),
    utility: () => t("price.utility"),
    authentication: () => t("price.authentication"),
    service: () => t("price.service"),
  };
  return category ? (categories[category] || (() => category))() : "";
}

// What WhatsApp says the message costs, once a status said it: free
// (inside the customer service window, or an entry point) or billed, and
// in which category.
function priceTag(m) {
  const p = m.direction === "outbound" && m.delivery && m.delivery.pricing;
  if (!p) return null;
  const free = p.kind ? p.kind.startsWith("free") : p.billable === false;
  const category = categoryName(p.category);
  const label = t(free ? "price.free" : "price.billed", { category });
  const title = t("price.title", { model: p.model || "—", type: p.kind || "—" });
  return el("span", { class: `price ${free ? "free" : "billed"}`, title, "data-testid": "price" }, label);
}

const clock = (iso) => formatted(iso, { hour: "2-digit", minute: "2-digit" });

// Resends in the timeline: new message id -> event, original id -> events.
function resends(timeline) {
  const copies = {};
  const originals = {};
  for (const e of timeline || []) {
    if (e.kind.type !== "message_resent") continue;
    copies[e.kind.message] = e;
    (originals[e.kind.original] = originals[e.kind.original] || []).push(e);
  }
  return { copies, originals };
}

const actorName = (a) => (a && a.kind === "agent" ? nameOf(a.id) : (a && a.id) || t("actor.system"));

// A provider's error in plain words (its code kept for whoever looks it up).
function providerError(err) {
  const known = {
    131047: t("provider.131047"),
    131026: t("provider.131026"),
    131051: t("provider.131051"),
  };
  const text = known[err.code] || err.title;
  return err.code && !text.includes(String(err.code)) ? `${text} (${err.code})` : text;
}

// Under an outbound message that may not have reached the customer: what
// is known, and "Send again" (a new message; the original stays as it is),
// unless someone already did.
function deliveryNote(m, again) {
  if (m.delivery && m.delivery.status === "cancelled") {
    // Cancelled on purpose (a bot's reply after a person took over, a
    // marketing message to a customer who stopped them): nothing to resend.
    const why = (m.delivery.error && m.delivery.error.title) || "";
    return el("div", { class: "delivery-note cancelled", "data-testid": "not-sent" }, el("span", {}, t("delivery.cancelled-why", { why })));
  }
  const failed = m.delivery && m.delivery.status === "failed";
  if (!inDoubt(m) && !failed) return null;
  const err = failed && m.delivery.error;
  const what = failed ? (err ? t("delivery.failed-why", { why: providerError(err) }) : t("delivery.failed")) : t("delivery.doubt");
  const since = failed ? "" : t("delivery.since", { time: clock(m.delivery.in_doubt_since) });
  const done = again.map((e) => t("delivery.again", { who: actorName(e.actor), time: clock(e.at) })).join("");
  const text = done ? `${what}${done}` : `${what}${since}.`;
  const button = again.length
    ? null
    : el(
        "button",
        {
          class: "resend",
          "data-testid": "resend",
          onclick: (ev) => {
            ev.target.disabled = true; // one click, one new message
            act(m.conversation, `messages/${encodeURIComponent(m.id)}/resend`, { version: drawnVersion(m.conversation) });
          },
        },
        t("delivery.send-again"),
      );
  return el(
    "div",
    { class: `delivery-note ${failed ? "failed" : "doubt"}`, "data-testid": failed ? "not-delivered" : "in-doubt" },
    el("span", {}, text),
    button,
  );
}

const dayOf = (iso) => new Date(iso).toDateString();
function dayLabel(iso) {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400e3);
  if (d.toDateString() === today.toDateString()) return t("time.today");
  if (d.toDateString() === yesterday.toDateString()) return t("time.yesterday");
  return formatted(iso, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
}
const exact = (iso) => formatted(iso, { dateStyle: "full", timeStyle: "medium" });
const timeView = (iso) => el("time", { datetime: iso, title: exact(iso), class: "when" }, clock(iso));

// Text with its web links made clickable (http and https only; the rest
// stays text).
function linked(text) {
  const parts = [];
  let last = 0;
  for (const m of String(text).matchAll(/\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g)) {
    parts.push(text.slice(last, m.index), el("a", { href: m[0], target: "_blank", rel: "noopener noreferrer" }, m[0]));
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

// A customer's answer to the business's request to call them.
function callPermissionText(r) {
  if (!r.accepted) return t(r.automatic ? "describe.call-refused-auto" : "describe.call-refused");
  if (r.permanent) return t("describe.call-allowed-always");
  return r.expires_at ? t("describe.call-allowed-until", { time: exact(r.expires_at) }) : t("describe.call-allowed");
}

function describe(content) {
  switch (content.type) {
    case "text":
      return content.body;
    case "media":
      return `[${kindName(content.kind)}] ${content.caption || ""}`;
    case "location":
      return `📍 ${content.name || ""} ${content.address || ""} (${content.latitude}, ${content.longitude})`;
    case "contacts":
      return `👤 ${(content.cards || []).map((c) => c.name).join(", ")}`;
    case "reaction":
      return content.emoji ? t("describe.reacted", { emoji: content.emoji }) : t("describe.unreacted");
    case "template":
      return t("describe.template", { name: content.name });
    case "button":
      return content.text;
    case "buttons":
    case "list":
      return content.body;
    case "interactive":
      if (content.reply && content.reply.kind === "call_permission") return callPermissionText(content.reply);
      if (tapText(content.reply)) return tapText(content.reply);
      return (content.reply && (content.reply.title || content.reply.kind)) || t("describe.interactive");
    case "call":
      return callText(content);
    case "unsupported":
      return content.raw_type === "media_placeholder" ? t("describe.media-placeholder") : `[${content.raw_type}]`;
    default:
      return `[${content.type}]`;
  }
}

// A call's outcome as one word (`other` for an event of WhatsApp's own).
const callOutcome = (c) => (typeof c.outcome === "string" ? c.outcome : "other");

// A call in words: who called and how it went.
function callText(c) {
  const minutes = c.duration_secs != null ? `${Math.floor(c.duration_secs / 60)}:${String(c.duration_secs % 60).padStart(2, "0")}` : "";
  switch (callOutcome(c)) {
    case "missed":
      return t("call.missed");
    case "ringing":
      return c.from_customer ? t("call.incoming") : t("call.outgoing");
    case "answered":
      return t("call.answered", { duration: minutes });
    case "not_answered":
      return t("call.not-answered");
    case "failed":
      return t("call.failed");
    default:
      return t("call.other", { what: (c.outcome && c.outcome.other) || "" });
  }
}

const kindName = (kind) =>
  ({
    image: t("kind.image"),
    video: t("kind.video"),
    audio: t("kind.audio"),
    voice: t("kind.voice"),
    document: t("kind.document"),
    sticker: t("kind.sticker"),
  })[kind] || kind;

// Media in place, through the server's media proxy (it fetches the file
// from WhatsApp with the number's token and keeps it): photos and stickers
// shown, video and audio players, documents to download.
function mediaView(content, m) {
  const label =
    {
      image: t("media.image"),
      video: t("media.video"),
      audio: t("media.audio"),
      voice: t("media.voice"),
      document: t("media.document"),
      sticker: t("media.sticker"),
    }[content.kind] || content.kind;
  const name = (content.media && content.media.filename) || "";
  const src = m && content.media && content.media.id ? `/api/media/${encodeURIComponent(m.id)}` : null;
  const caption = content.caption ? el("div", { class: "caption" }, ...linked(content.caption)) : null;
  let shown = null;
  if (src && (content.kind === "image" || content.kind === "sticker")) {
    shown = el("a", { href: src, target: "_blank", rel: "noopener" }, el("img", { src, alt: content.caption || t("media.from-customer", { what: label }), loading: "lazy", class: content.kind }));
  } else if (src && content.kind === "video") {
    shown = el("video", { src, controls: "controls", preload: "metadata", "aria-label": label });
  } else if (src && (content.kind === "audio" || content.kind === "voice")) {
    shown = el("audio", { src, controls: "controls", preload: "none", "aria-label": label });
  } else if (src) {
    shown = el("a", { href: src, download: name || "document", "data-testid": "media-download" }, name ? t("media.download-name", { name }) : t("media.download"));
  }
  return el(
    "span",
    { class: `media ${content.kind}`, "data-testid": `media-${content.kind}` },
    el("span", { class: "media-kind" }, name ? t("media.named", { what: label, name }) : label),
    shown ? el("div", { class: "media-body" }, shown) : null,
    caption,
  );
}

// What a message shows: text with links, a place with its map, cards,
// media in place, the options of buttons and lists (`answer`: the
// survey's answer, marked on its option).
function body(content, m, answer) {
  switch (content.type) {
    case "buttons":
    case "list":
      return optionsView(content, answer);
    case "text":
      return el("span", { class: "text" }, ...linked(content.body));
    case "location": {
      const { latitude: lat, longitude: lon } = content;
      const map = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
      return el(
        "span",
        { class: "place" },
        `📍 ${[content.name, content.address].filter(Boolean).join(", ") || `${lat}, ${lon}`} `,
        el("a", { href: map, target: "_blank", rel: "noopener noreferrer", "data-testid": "map-link" }, t("msg.map")),
      );
    }
    case "contacts":
      return el(
        "span",
        { class: "cards" },
        ...(content.cards || []).map((c) =>
          el("span", { class: "card-line", "data-testid": "contact-card" }, `👤 ${c.name}`, (c.phones || []).length ? ` · ${c.phones.join(", ")}` : ""),
        ),
      );
    case "media":
      return mediaView(content, m);
    case "call":
      return el("span", { class: `call ${callOutcome(content)}`, "data-testid": "call" }, `📞 ${callText(content)}`);
    default:
      return el("span", {}, describe(content));
  }
}

// Reactions, edits and deletions point at an earlier message by its
// WhatsApp id: gathered onto that message instead of shown on their own.
function revisions(messages) {
  const byExternal = {};
  for (const m of messages) if (m.external_id) byExternal[m.external_id] = m;
  const reactions = {};
  const edits = {};
  const revoked = {};
  const folded = new Set();
  for (const m of messages) {
    const c = m.content;
    const target = c.target && byExternal[c.target];
    if (!target) continue;
    folded.add(m.id);
    const who = m.direction === "inbound" ? "customer" : m.author && m.author.id;
    if (c.type === "reaction") (reactions[target.id] = reactions[target.id] || {})[who] = c.emoji;
    if (c.type === "edit") edits[target.id] = c.content;
    if (c.type === "revoke") revoked[target.id] = m.created_at;
  }
  return { byExternal, reactions, edits, revoked, folded };
}

function messageView(m, r, v) {
  const cls = m.direction === "note" ? "note" : m.direction;
  const by =
    m.direction === "note"
      ? t("msg.note-by", { name: nameOf(m.author.id) })
      : m.direction === "outbound"
        ? m.author.kind === "agent"
          ? nameOf(m.author.id)
          : m.author.kind === "app"
            ? appAuthor(m)
            : automationAuthor(m)
        : null;
  const quoted = m.context && m.context.reply_to && v.byExternal[m.context.reply_to];
  const edited = v.edits[m.id];
  const deleted = v.revoked[m.id];
  const emojis = Object.values(v.reactions[m.id] || {}).filter(Boolean);
  const msg = el(
    "div",
    { class: `msg ${cls}${deleted ? " deleted" : ""}${isSurvey(m) ? " survey" : ""}`, "data-testid": `msg-${cls}`, "data-id": m.id },
    by ? el("div", { class: "by" }, r.copies[m.id] ? t("msg.sent-again", { by }) : by) : null,
    isSurveyComment(m, v.answers) ? el("div", { class: "by", "data-testid": "survey-comment" }, t("csat.comment-label")) : null,
    m.origin === "standby" ? el("div", { class: "passive", "data-testid": "standby" }, t("msg.standby")) : null,
    m.context && m.context.reply_to
      ? el("div", { class: "quote", "data-testid": "quote" }, quoted ? describe(quoted.content).slice(0, 140) : t("msg.earlier"))
      : null,
    edited ? body(edited) : body(m.content, m, v.answers[m.id]),
    edited ? el("div", { class: "revised", "data-testid": "edited", title: t("msg.before", { text: describe(m.content) }) }, t("msg.edited")) : null,
    deleted ? el("div", { class: "revised", "data-testid": "deleted" }, t("msg.deleted", { time: clock(deleted) })) : null,
    el("div", { class: "foot" }, timeView(m.sent_at || m.created_at), ticks(m), priceTag(m)),
    emojis.length ? el("div", { class: "reactions", "data-testid": "reactions" }, emojis.join(" ")) : null,
  );
  const note = m.direction === "outbound" ? deliveryNote(m, r.originals[m.id] || []) : null;
  if (!note) return msg;
  return el("div", { class: "msg-group outbound" }, msg, note);
}

// The conversation's history in words, for the timeline.
function historyText(e) {
  const k = e.kind;
  const who = actorName(e.actor);
  const place = (o) => (o && o.agent ? nameOf(o.agent) : o && o.team ? t("history.team", { team: o.team }) : t("history.queue"));
  // (a reason is the core's words, in English)
  const why = k.reason ? ` (${k.reason})` : "";
  switch (k.type) {
    case "claimed":
      return t("history.claimed", { name: nameOf(k.agent) });
    case "assigned":
      return t("history.assigned", { who, to: place(k.to) }) + why;
    case "transferred":
      return t("history.transferred", { who, to: place(k.to) });
    case "released":
      // (a bot lets go when it hands over: its handoff says why)
      return isBot(k.agent) ? null : t("history.released", { name: nameOf(k.agent) }) + why;
    case "handed_off":
      return handoffText(e);
    case "survey_skipped":
      return surveySkippedText(k);
    case "status_changed":
      return t("history.status", { who, status: statusName(k.to) }) + (k.snoozed_until ? t("history.until", { time: exact(k.snoozed_until) }) : "");
    case "message_resent":
      return t("history.resent", { who });
    default:
      return threadHistory(k);
  }
}

function eventView(e) {
  const text = historyText(e);
  if (!text) return null;
  return el("div", { class: "event", "data-testid": `event-${e.kind.type.replace(/_/g, "-")}` }, `${text} · `, timeView(e.at));
}

// Messages and history in time order, a separator at each new day.
function stream(d) {
  const r = resends(d.timeline);
  const v = { ...revisions(d.messages), answers: surveyAnswers(d.conversation) };
  const items = [
    ...d.messages.filter((m) => !v.folded.has(m.id)).map((m) => ({ at: m.sent_at || m.created_at, view: () => messageView(m, r, v) })),
    ...(d.timeline || []).filter((e) => historyText(e)).map((e) => ({ at: e.at, view: () => eventView(e) })),
  ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const out = [];
  let day = null;
  for (const item of items) {
    if (dayOf(item.at) !== day) {
      day = dayOf(item.at);
      out.push(el("div", { class: "day", role: "separator", "data-testid": "day" }, dayLabel(item.at)));
    }
    out.push(item.view());
  }
  return out;
}
