// Bots: which bot answers a conversation before people do, taking it over
// (a claim: people always win), handing a conversation to a bot, a bot's
// handoff on the timeline, and the dashboard's bot card.
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

// Why a bot handed a conversation to people, in words (`bot` the bot's
// id; `taker` who took over, when known).
function handoffWhy(reason, bot, taker) {
  const name = botName(bot);
  const why = {
    customer_asked: () => t("handoff.customer-asked"),
    bot_asked: () => t("handoff.bot-asked", { name }),
    bot_failed: () => t("handoff.bot-failed", { name }),
    bad_answer: () => t("handoff.bad-answer", { name }),
    timeout: () => t("handoff.timeout", { name }),
    unavailable: () => t("handoff.unavailable", { name }),
    max_exchanges: () => t("handoff.max-exchanges"),
    tag: () => t("handoff.tag"),
    opening: () => t("handoff.opening"),
    sla_risk: () => t("handoff.sla-risk"),
    taken_over: () => (taker ? t("handoff.taken-over", { name: taker }) : t("handoff.taken-over-someone")),
  }[reason];
  return why ? why() : reason;
}

// A bot's handoff to people, for the timeline; the reason in words.
function handoffText(e) {
  const k = e.kind;
  return t("history.handed-off", { why: handoffWhy(k.reason, k.bot, actorName(e.actor)) });
}

// The dashboard's bot card (GET /api/bots/report): conversations bots
// took, how many they resolved, how many they handed to people and why
// (the commonest reasons, in words), and how long people then took.
function botReportCard(report) {
  const f = report.total;
  if (!f.engaged) return reportCard("card-bots", t("bot.report-title"), el("p", { class: "empty", "data-testid": "bots-empty" }, t("bot.report-empty")));
  const handed = f.handoff_rate === null || f.handoff_rate === undefined ? "—" : t("bot.report-rate", { rate: percent(f.handoff_rate), n: f.handed_off });
  const reasons = topHandoffReasons(report.bots || {}, 3);
  return reportCard(
    "card-bots",
    t("bot.report-title"),
    el(
      "div",
      { class: "figures" },
      figure(f.engaged, t("bot.report-engaged"), "bots-engaged"),
      figure(f.resolved_by_bot, t("bot.report-resolved"), "bots-resolved"),
      figure(handed, t("bot.report-handed"), "bots-handoff-rate"),
      figure(secs(f.time_to_human.median_secs), t("bot.report-to-human"), "bots-to-human"),
    ),
    reasons.length
      ? [el("h4", {}, t("bot.report-why")), el("ol", { class: "reasons", "data-testid": "bots-reasons" }, ...reasons.map(([words, n]) => el("li", {}, t("bot.report-reason", { why: words, n }))))]
      : null,
  );
}

// The `top` commonest handoff reasons across `bots` (each bot's figures,
// by its id), in words, with how often: [[words, n], ...].
function topHandoffReasons(bots, top) {
  const counts = new Map();
  for (const [bot, f] of Object.entries(bots)) {
    for (const [reason, n] of Object.entries(f.reasons || {})) {
      const words = handoffWhy(reason, bot, null);
      counts.set(words, (counts.get(words) || 0) + n);
    }
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top);
}
