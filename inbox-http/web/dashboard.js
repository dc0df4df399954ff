// The dashboard: the team's live state and the week's figures (with the
// customers' satisfaction, csat.js, and what bots did, bots.js).
"use strict";

// --------------------------------------------------------------- dashboard

function secs(v) {
  if (v === null || v === undefined) return "—";
  if (v < 60) return t("time.s", { n: Math.round(v) });
  if (v < 3600) return t("time.m", { n: Math.round(v / 60) });
  return t("time.h", { n: new Intl.NumberFormat(locale(), { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(v / 3600) });
}

async function loadDashboard() {
  const to = new Date(Date.now() + 60e3);
  const from = new Date(Date.now() - 7 * 86400e3);
  try {
    const range = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
    const [report, live, costs, csat, bots] = await Promise.all([
      api("GET", `/api/metrics?${range}`),
      api("GET", "/api/live"),
      // (the costs, satisfaction and bots are cards among others: without
      // one the rest shows)
      api("GET", `/api/costs?${range}`).catch(() => null),
      api("GET", `/api/csat?${range}`).catch(() => null),
      api("GET", `/api/bots/report?${range}`).catch(() => null),
    ]);
    const card = (label, value, id) =>
      el("div", { class: "card", "data-testid": id }, el("div", { class: "value" }, value), el("div", { class: "label" }, label));
    const cards = [
      card(t("dash.first-response"), secs(report.first_response.median_secs), "card-first-response"),
      card(t("dash.resolution"), secs(report.resolution.median_secs), "card-resolution"),
      card(t("dash.open-now"), live.active, "card-open"),
      card(t("dash.unassigned"), live.unassigned, "card-unassigned"),
      card(t("dash.waiting"), live.waiting_longest ? ago(live.waiting_longest.since) : "—", "card-waiting"),
      card(t("sla.risk"), live.sla_at_risk, "card-sla-risk"),
      card(t("sla.breached"), live.sla_breached, "card-sla-breached"),
      card(t("dash.in-doubt"), live.in_doubt, "card-in-doubt"),
      costs
        ? card(
            t("dash.costs", { billed: costs.total.billed, free: costs.total.free }),
            costs.currency ? `${costs.total.cost} ${costs.currency}` : t("dash.no-rate-card"),
            "card-costs",
          )
        : null,
    ];
    $("#cards").replaceChildren(...cards.filter(Boolean));
    $("#reports").replaceChildren(...[csat && csatCard(csat), bots && botReportCard(bots)].filter(Boolean));
    $("#loads tbody").replaceChildren(
      ...live.agents.map((a) =>
        el(
          "tr",
          {},
          el("td", {}, nameOf(a.agent)),
          el("td", {}, presenceName(a.presence)),
          el("td", { class: a.capacity && a.load >= a.capacity ? "full" : "" }, a.load),
          el("td", {}, a.capacity || "∞"),
        ),
      ),
    );
    $("#dash-hint").textContent = t("dash.hint", { opened: report.opened, resolved: report.resolved });
  } catch (err) {
    $("#dash-hint").textContent = err.code === "forbidden" ? t("dash.forbidden") : explain(err);
  }
}

$("#tabs").addEventListener("click", (ev) => {
  const tab = ev.target.dataset.tab;
  if (!tab) return;
  state.tab = tab;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === tab);
  $("#inbox").classList.toggle("hidden", tab !== "inbox");
  $("#dashboard").classList.toggle("hidden", tab !== "dashboard");
  $("#admin").classList.toggle("hidden", tab !== "admin");
  if (tab === "dashboard") loadDashboard();
  if (tab === "admin") loadAdmin();
});
