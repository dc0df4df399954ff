// Bots: which bot answers a conversation before people do, taking it over
// (a claim: people always win), handing a conversation to a bot, and a
// bot's handoff on the timeline.
"use strict";

// The tenant's bots (`state.bots`, by id: { id, name, kind }), read at
// the start and again when the settings change.
async function loadBots() {
  try {
    const list = await api("GET", "/api/bots");
    state.bots = Object.fromEntries(list.map((b) => [b.id, b]));
  } catch {
    // (without the list, bots are named by their agent's name)
  }
}

const botName = (id) => (state.bots[id] && state.bots[id].name) || nameOf(id);
const isBot = (id) => !!((state.agents[id] && state.agents[id].bot) || state.bots[id]);

// Whether a bot answers `c` now: it owns it and nobody took over.
const botAnswering = (c) => !!c.bot && !c.bot.handed_off && c.assignee === c.bot.agent;

// In the list: a bot owns this conversation.
function botBadge(c) {
  if (!botAnswering(c)) return null;
  const title = t("bot.answering", { name: botName(c.bot.agent) });
  return el("span", { class: "badge bot", role: "img", "data-testid": "bot-badge", title, "aria-label": title }, "🤖");
}

// In the head: "🤖 Helper is answering", and Take over (a claim on the
// version drawn) for whoever may claim.
function botLine(c, may) {
  if (!botAnswering(c)) return null;
  const takeOver = () => act(c.id, "claim", { version: drawnVersion(c.id) });
  return el(
    "div",
    { class: "thread-banner bot-line", role: "status", "data-testid": "bot-answering" },
    el("span", {}, `🤖 ${t("bot.answering", { name: botName(c.bot.agent) })}`),
    may.claim && !c.imported ? el("button", { class: "primary", onclick: takeOver, "data-testid": "take-over" }, t("bot.take-over")) : null,
  );
}

// With the owner's controls: hand the conversation to one of the tenant's
// bots (its owner may, and supervisors and admins).
function handToBot(c, may) {
  const bots = Object.values(state.bots);
  const mayMove = c.assignee === state.me.id || may.assign;
  if (!bots.length || !mayMove || c.imported || c.status === "resolved" || botAnswering(c)) return null;
  const pick = el("select", { "data-testid": "bot-to", "aria-label": t("bot.pick-aria") }, ...bots.map((b) => el("option", { value: b.id }, `🤖 ${b.name}`)));
  const go = async () => {
    const out = await act(c.id, "bot", { version: drawnVersion(c.id), bot: pick.value });
    if (out) banner(t("bot.handed", { name: botName(pick.value) }), true);
  };
  return el("span", { class: "group" }, pick, el("button", { onclick: go, "data-testid": "hand-to-bot" }, t("bot.hand")));
}

// A bot's handoff to people, for the timeline; the reason in words.
function handoffText(e) {
  const k = e.kind;
  const why = {
    customer_asked: () => t("handoff.customer-asked"),
    bot_asked: () => t("handoff.bot-asked", { name: botName(k.bot) }),
    bot_failed: () => t("handoff.bot-failed", { name: botName(k.bot) }),
    bad_answer: () => t("handoff.bad-answer", { name: botName(k.bot) }),
    timeout: () => t("handoff.timeout", { name: botName(k.bot) }),
    unavailable: () => t("handoff.unavailable", { name: botName(k.bot) }),
    max_exchanges: () => t("handoff.max-exchanges"),
    tag: () => t("handoff.tag"),
    opening: () => t("handoff.opening"),
    sla_risk: () => t("handoff.sla-risk"),
    taken_over: () => t("handoff.taken-over", { name: actorName(e.actor) }),
  }[k.reason];
  return t("history.handed-off", { why: why ? why() : k.reason });
}
