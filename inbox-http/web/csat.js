// Satisfaction surveys on screen: the survey's bubble with the answer the
// customer chose, their tap in words ("Rated 3/3"), a chip in the
// conversation's head for its latest survey, a survey not sent on the
// timeline, and the dashboard's card (GET /api/csat).
"use strict";

// A survey tap's id `csat:{resolution}:{score}`, read ({ resolution,
// score }), or null for any other id.
function surveyTap(id) {
  const m = /^csat:(\d+):(\d+)$/.exec(id || "");
  return m ? { resolution: Number(m[1]), score: Number(m[2]) } : null;
}

// The highest score of a scale (three faces, or 1–5).
const scaleMax = (scale) => (scale === "five" ? 5 : 3);

// The face of a score on its scale (faces count 1, 3 and 5 of five).
function scoreFace(score, scale) {
  const five = scale === "five" ? score : score * 2 - 1;
  return five >= 4 ? "😀" : five === 3 ? "😐" : "😞";
}

// Whether a score is a satisfied one: the top face, or 4–5.
const satisfied = (score, scale) => (scale === "five" ? score >= 4 : score === 3);

// Whether `m` is a survey the inbox sent.
const isSurvey = (m) => m.direction === "outbound" && !!m.author && m.author.kind === "automation" && m.author.id === "csat";

// Who wrote an automatic message: a survey says so, a rule or bot by name.
const automationAuthor = (m) => (isSurvey(m) ? t("csat.by") : m.author.id || t("msg.automation"));

// The answers of `c`'s surveys, by the survey message's id.
function surveyAnswers(c) {
  const out = {};
  for (const s of (c && c.surveys) || []) {
    if (s.sent && s.answer) out[s.sent.message] = { resolution: s.resolution, ...s.answer };
  }
  return out;
}

// Whether inbound message `m` is the comment a customer added to a survey
// (`answers`: as surveyAnswers gives them).
function isSurveyComment(m, answers) {
  if (m.direction !== "inbound" || m.content.type !== "text") return false;
  return Object.values(answers).some((a) => a.comment_message === m.id);
}

// A customer's tap on a survey, in words ("Rated 3/3 · 😀 Great"); null
// for a tap on anything else.
function tapText(reply) {
  const tap = reply && surveyTap(reply.id);
  if (!tap) return null;
  const scale = reply.kind === "list_reply" ? "five" : "faces";
  const rated = t("csat.rated", { score: tap.score, max: scaleMax(scale) });
  return reply.title ? `${rated} · ${reply.title}` : rated;
}

// The options of an outbound interactive message, as [id, title]: reply
// buttons, or a list's rows.
function optionsOf(content) {
  if (content.type === "buttons") return (content.buttons || []).map((b) => [b.id, b.title]);
  return (content.sections || []).flatMap((s) => (s.rows || []).map((r) => [r[0], r[1]]));
}

// Reply buttons or a list as the customer saw them: the text, then the
// options; on an answered survey, the one the customer chose marked.
function optionsView(content, answer) {
  const chosenId = answer ? `csat:${answer.resolution}:${answer.score}` : null;
  const options = optionsOf(content).map(([id, title]) => {
    const chosen = id === chosenId;
    return el(
      "li",
      { class: `option${chosen ? " chosen" : ""}`, "data-testid": chosen ? "survey-choice" : "option", "aria-current": chosen ? "true" : null },
      chosen ? `✓ ${title}` : title,
    );
  });
  return el(
    "span",
    { class: "interactive" },
    el("span", { class: "text" }, ...linked(content.body || "")),
    el("ul", { class: `options ${content.type}`, "aria-label": t("msg.options-aria") }, ...options),
    answer ? el("span", { class: "answer", "data-testid": "survey-answer" }, t("csat.answered-at", { time: clock(answer.at) })) : null,
  );
}

// Why a survey was not sent, in words.
function skipWords(reason) {
  const words = {
    no_agent_reply: () => t("csat.skip-no-agent-reply"),
    window_closed: () => t("csat.skip-window-closed"),
    opted_out: () => t("csat.skip-opted-out"),
    customer_wrote_first: () => t("csat.skip-customer-wrote-first"),
  }[reason];
  return words ? words() : reason;
}

// For the timeline: a survey that was not sent, and why.
const surveySkippedText = (k) => t("csat.not-sent", { why: skipWords(k.reason) });

// In the head: the latest survey of `c` ("CSAT 😀 3/3", due, sent and
// waiting, or not sent and why).
function csatChip(c) {
  const s = (c.surveys || []).at(-1);
  if (!s) return null;
  let text;
  let cls = "";
  let title = "";
  if (s.answer) {
    const a = s.answer;
    text = t("csat.chip", { face: scoreFace(a.score, a.scale), score: a.score, max: scaleMax(a.scale) });
    cls = satisfied(a.score, a.scale) ? "good" : "poor";
    title = a.comment ? t("csat.comment", { text: a.comment }) : exact(a.at);
  } else if (s.skipped) {
    text = t("csat.not-sent", { why: skipWords(s.skipped) });
    cls = "skipped";
  } else if (s.sent) {
    text = t("csat.waiting");
    title = exact(s.sent.at);
  } else {
    text = t("csat.due", { time: clock(s.due_at) });
    title = exact(s.due_at);
  }
  return el("span", { class: `badge csat ${cls}`, "data-testid": "csat", title: title || null }, text);
}

// ------------------------------------------------------------ the dashboard

const percent = (x) => (x === null || x === undefined ? "—" : new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 0 }).format(x));
const oneDecimal = (x) => new Intl.NumberFormat(locale(), { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(x);
const onFive = (x) => (x === null || x === undefined ? "—" : t("csat.of-five", { n: oneDecimal(x) }));

// A figure of a report card: its value over what it is.
const figure = (value, label, id) =>
  el("div", { class: "figure", "data-testid": id }, el("div", { class: "value" }, value), el("div", { class: "label" }, label));

// A report card: a title with the period, then what it shows.
const reportCard = (id, title, ...body) =>
  el("section", { class: "card report", "data-testid": id }, el("h3", {}, title, " ", el("small", { class: "hint" }, t("dash.period"))), ...body);

// Surveys not sent, by reason: "Not sent: the 24-hour window closed (2) · …".
function skippedLine(skipped) {
  const parts = Object.entries(skipped || {})
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => t("csat.skipped-n", { why: skipWords(reason), n }));
  return parts.length ? el("p", { class: "skipped", "data-testid": "csat-skipped" }, t("csat.skipped", { list: parts.join(" · ") })) : null;
}

// Each agent's figures (and the bots', when they resolved any surveyed
// conversation), most answered first.
function csatTable(report) {
  const row = (name, f) =>
    el("tr", {}, el("td", {}, name), el("td", {}, f.sent), el("td", {}, f.answered), el("td", {}, percent(f.positive_share)), el("td", {}, onFive(f.average)));
  const agents = Object.entries(report.agents || {}).sort((a, b) => b[1].answered - a[1].answered || nameOf(a[0]).localeCompare(nameOf(b[0])));
  const rows = agents.map(([id, f]) => row(nameOf(id), f));
  if (report.bots && report.bots.sent) rows.push(row(`🤖 ${t("csat.bots")}`, report.bots));
  if (!rows.length) return null;
  const head = ["dash.agent", "csat.sent", "csat.answered", "csat.positive", "csat.average"];
  return el(
    "table",
    { class: "report-table", "data-testid": "csat-agents" },
    el("thead", {}, el("tr", {}, ...head.map((k) => el("th", {}, t(k))))),
    el("tbody", {}, ...rows),
  );
}

// The satisfaction card: satisfied share, average, response rate, sent
// and answered, surveys not sent by reason, each agent's figures.
function csatCard(report) {
  const f = report.total;
  const none = !f.sent && !Object.keys(f.skipped || {}).length;
  if (none) return reportCard("card-csat", t("csat.title"), el("p", { class: "empty", "data-testid": "csat-empty" }, t("csat.empty")), el("p", { class: "hint" }, t("csat.empty-hint")));
  return reportCard(
    "card-csat",
    t("csat.title"),
    el(
      "div",
      { class: "figures" },
      figure(percent(f.positive_share), t("csat.positive"), "csat-positive"),
      figure(onFive(f.average), t("csat.average"), "csat-average"),
      figure(percent(f.response_rate), t("csat.response-rate"), "csat-response-rate"),
      figure(f.answered, t("csat.answered-of", { sent: f.sent }), "csat-answered"),
    ),
    f.sent && !f.answered ? el("p", { class: "hint" }, t("csat.no-answers")) : null,
    skippedLine(f.skipped),
    csatTable(report),
  );
}
