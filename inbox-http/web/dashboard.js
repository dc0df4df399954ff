// The dashboard: the team's live state and the week's figures.
"use strict";

// --------------------------------------------------------------- dashboard

function secs(v) {
  if (v === null || v === undefined) return "—";
  if (v < 60) return `${Math.round(v)}s`;
  if (v < 3600) return `${Math.round(v / 60)}m`;
  return `${(v / 3600).toFixed(1)}h`;
}

async function loadDashboard() {
  const to = new Date(Date.now() + 60e3);
  const from = new Date(Date.now() - 7 * 86400e3);
  try {
    const [report, live] = await Promise.all([
      api("GET", `/api/metrics?${new URLSearchParams({ from: from.toISOString(), to: to.toISOString() })}`),
      api("GET", "/api/live"),
    ]);
    const card = (label, value, id) =>
      el("div", { class: "card", "data-testid": id }, el("div", { class: "value" }, value), el("div", { class: "label" }, label));
    $("#cards").replaceChildren(
      card("First response (median, 7 days)", secs(report.first_response.median_secs), "card-first-response"),
      card("Resolution (median, 7 days)", secs(report.resolution.median_secs), "card-resolution"),
      card("Open now", live.active, "card-open"),
      card("Unassigned", live.unassigned, "card-unassigned"),
      card("Waiting longest", live.waiting_longest ? ago(live.waiting_longest.since) : "—", "card-waiting"),
      card("SLA at risk", live.sla_at_risk, "card-sla-risk"),
      card("SLA breached", live.sla_breached, "card-sla-breached"),
      card("Replies in doubt", live.in_doubt, "card-in-doubt"),
    );
    $("#loads tbody").replaceChildren(
      ...live.agents.map((a) =>
        el(
          "tr",
          {},
          el("td", {}, nameOf(a.agent)),
          el("td", {}, a.presence),
          el("td", { class: a.capacity && a.load >= a.capacity ? "full" : "" }, a.load),
          el("td", {}, a.capacity || "∞"),
        ),
      ),
    );
    $("#dash-hint").textContent = `Opened in the last 7 days: ${report.opened}; resolved: ${report.resolved}.`;
  } catch (err) {
    $("#dash-hint").textContent = err.code === "forbidden" ? "The dashboard is for supervisors and admins." : explain(err);
  }
}

$("#tabs").addEventListener("click", (ev) => {
  const t = ev.target.dataset.tab;
  if (!t) return;
  state.tab = t;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === t);
  $("#inbox").classList.toggle("hidden", t !== "inbox");
  $("#dashboard").classList.toggle("hidden", t !== "dashboard");
  $("#admin").classList.toggle("hidden", t !== "admin");
  if (t === "dashboard") loadDashboard();
  if (t === "admin") loadAdmin();
});
