// The settings screens: agents and teams, rules and policies, templates,
// access, history.
"use strict";

// ------------------------------------------------------------------ admin

const isAdmin = () => state.me && state.me.role === "admin";
const canSeeSettings = () => state.me && (state.me.role === "admin" || state.me.role === "supervisor");

// The line of a settings path (`routing.rules[2].then[0].route_to_team`)
// in YAML text, for pointing at the bad field: each key is looked for
// below the previous one; `[n]` moves to the n-th item of a block list (an
// inline list stays on its line). 0-based; -1 when not found.
function lineOfPath(yaml, path) {
  const lines = yaml.split("\n");
  const indent = (l) => l.length - l.trimStart().length;
  let at = -1;
  let depth = -1;
  for (const part of path.split(".")) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) return at;
    const [, key, idx] = m;
    if (key) {
      const re = new RegExp(`(^|[\\s{,-])${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*:`);
      let found = -1;
      for (let i = Math.max(at, 0); i < lines.length; i++) {
        if (i > at && at >= 0 && lines[i].trim() && indent(lines[i]) <= depth && !re.test(lines[i])) break;
        if ((i > at || (i === at && re.test(lines[i].slice(lines[i].indexOf(":") + 1)))) && re.test(lines[i])) {
          found = i;
          break;
        }
      }
      if (found < 0) return at;
      at = found;
      depth = indent(lines[at]);
    }
    for (const n of (idx.match(/\d+/g) || []).map(Number)) {
      if (/:\s*\[/.test(lines[at])) break; // inline list: stay here
      let count = -1;
      let itemIndent = -1;
      for (let i = at + 1; i < lines.length; i++) {
        const l = lines[i];
        if (!l.trim()) continue;
        if (indent(l) < depth || (indent(l) === depth && !l.trimStart().startsWith("-"))) break;
        if (l.trimStart().startsWith("-") && (itemIndent < 0 || indent(l) === itemIndent)) {
          itemIndent = indent(l);
          if (++count === n) {
            at = i;
            depth = indent(l);
            break;
          }
        }
      }
    }
  }
  return at;
}

function showProblems(problems, yaml) {
  const area = $("#settings-yaml");
  area.classList.toggle("bad", problems.length > 0);
  $("#settings-problems").replaceChildren(
    ...problems.map((p) => {
      const line = lineOfPath(yaml, p.path);
      const item = el(
        "li",
        { "data-testid": "settings-problem", title: "Show it in the text" },
        line >= 0 ? `line ${line + 1} · ` : "",
        el("code", {}, p.path),
        `: ${p.reason}`,
      );
      if (line >= 0) item.addEventListener("click", () => selectLine(area, line));
      return item;
    }),
  );
  const first = problems.map((p) => lineOfPath(yaml, p.path)).find((l) => l >= 0);
  if (first !== undefined) selectLine(area, first);
}

function selectLine(area, line) {
  const lines = area.value.split("\n");
  const start = lines.slice(0, line).reduce((n, l) => n + l.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start + (lines[line] || "").length);
  area.scrollTop = Math.max(0, line * 18 - area.clientHeight / 2);
}

const settingsDirty = () => state.settings && $("#settings-yaml").value !== state.settings.yaml;

function renderSettings(settings, force = false) {
  const area = $("#settings-yaml");
  if (force || !settingsDirty()) {
    area.value = settings.yaml;
    showProblems([], "");
  } else if (state.settings && settings.version !== state.settings.version) {
    banner(`Someone saved version ${settings.version} while you were editing; your text stays here. Discard changes to see theirs.`);
  }
  state.settings = { version: settings.version, yaml: settings.yaml, base: force || !settingsDirty() ? settings.version : state.settings.base };
  if (force || area.value === settings.yaml) state.settings.base = settings.version;
  const by = settings.updated_by ? ` by ${nameOf(settings.updated_by)}` : "";
  $("#settings-version").textContent = settings.version ? `version ${settings.version}${by}, ${ago(settings.updated_at)}` : "not set yet";
  area.readOnly = !isAdmin();
}

function renderDirectory(agents, teams, channels) {
  state.agents = Object.fromEntries(agents.map((a) => [a.id, a]));
  $("#agents-table tbody").replaceChildren(
    ...agents.map((a) =>
      el(
        "tr",
        { "data-testid": "agent-row" },
        el("td", {}, a.id),
        el("td", {}, a.name),
        el("td", {}, a.role),
        el("td", {}, a.teams.join(", ") || "—"),
        el("td", {}, a.capacity || "∞"),
        el("td", {}, a.active ? "yes" : "no"),
      ),
    ),
  );
  $("#teams-list").replaceChildren(...teams.map((t) => el("li", { "data-testid": "team-row" }, `${t.name} (${t.id})`)));
  const select = $("#explain-form select[name=channel]");
  const chosen = select.value;
  select.replaceChildren(...channels.map((c) => el("option", { value: c.id }, `${c.name} ${c.display_number}`)));
  if (chosen) select.value = chosen;
}

function renderHistory(changes) {
  $("#history").replaceChildren(
    ...changes.map((c) =>
      el(
        "li",
        { "data-testid": "history-item" },
        el("strong", {}, `v${c.version} `),
        c.sections.map((s) => s.section).join(", "),
        el("span", { class: "when" }, ` — ${c.by ? nameOf(c.by) : "provisioning"}, ${ago(c.at)}`),
      ),
    ),
  );
}

function renderTemplates(templates) {
  const bodyText = (t) => ((t.components || []).find((c) => String(c.type).toUpperCase() === "BODY") || {}).text || "";
  $("#templates-table tbody").replaceChildren(
    ...(templates.length
      ? templates.map((t) =>
          el(
            "tr",
            { "data-testid": "template-row" },
            el("td", {}, t.name),
            el("td", {}, t.language),
            el("td", {}, t.status || "declared by hand"),
            el("td", {}, t.category || "—"),
            el("td", {}, bodyText(t) || "—"),
          ),
        )
      : [el("tr", {}, el("td", { colspan: 5, class: "hint" }, "No templates yet: sync them from WhatsApp."))]),
  );
}

$("#templates-sync").addEventListener("click", async (ev) => {
  const button = ev.target;
  button.disabled = true;
  try {
    const s = await api("POST", "/api/templates/sync");
    const list = (label, items) => (items.length ? `${label} ${items.join(", ")}` : "");
    const what = [list("added", s.added), list("changed", s.changed), list("removed", s.removed)].filter(Boolean).join("; ");
    $("#templates-synced").textContent = s.stored ? `Synced (version ${s.version}): ${what}.` : "Already up to date.";
    state.templates = await api("GET", "/api/templates");
    loadAdmin();
  } catch (err) {
    banner(explain(err));
  } finally {
    button.disabled = false;
  }
});

function renderAccess(keys, sessions) {
  $("#keys tbody").replaceChildren(
    ...keys.map((k) =>
      el(
        "tr",
        { "data-testid": "key-row" },
        el("td", {}, k.id),
        el("td", {}, k.name),
        el("td", {}, k.role),
        el("td", {}, ago(k.created_at)),
        el("td", {}, k.last_used_at ? ago(k.last_used_at) : "never"),
        el(
          "td",
          {},
          k.revoked_at
            ? "revoked"
            : el(
                "button",
                {
                  "data-testid": "key-revoke",
                  onclick: () =>
                    api("DELETE", `/api/keys/${encodeURIComponent(k.id)}`)
                      .then(() => (banner(`Key ${k.name} revoked.`, true), loadAdmin()))
                      .catch((err) => banner(explain(err))),
                },
                "Revoke",
              ),
        ),
      ),
    ),
  );
  $("#sessions").replaceChildren(
    ...sessions.map((x) =>
      el(
        "li",
        { "data-testid": "session-item" },
        `${x.user_agent || "a browser or client"}, signed in ${ago(x.created_at)} `,
        el(
          "button",
          {
            onclick: () =>
              api("DELETE", `/api/sessions/${encodeURIComponent(x.id)}`)
                .then(() => loadAdmin())
                .catch((err) => banner(explain(err))),
          },
          "End",
        ),
      ),
    ),
  );
}

$("#key-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const made = await api("POST", "/api/keys", { name: f.get("name"), role: f.get("role") }, newKey());
    const shown = $("#new-key");
    shown.replaceChildren(
      "Copy this key now; it is not shown again: ",
      el("code", { "data-testid": "new-key-value" }, made.key),
    );
    shown.classList.remove("hidden");
    ev.target.reset();
    loadAdmin();
  } catch (err) {
    banner(explain(err));
  }
});

async function loadAdmin(force = false) {
  try {
    const [agents, teams, channels, settings, history] = await Promise.all([
      api("GET", "/api/agents"),
      api("GET", "/api/teams"),
      api("GET", "/api/channels"),
      api("GET", "/api/settings"),
      api("GET", "/api/settings/history?limit=30"),
    ]);
    renderDirectory(agents.filter((a) => !a.service), teams, channels);
    renderSettings(settings, force);
    renderTemplates(settings.document.templates || []);
    renderHistory(history);
    const [keys, sessions] = await Promise.all([
      isAdmin() ? api("GET", "/api/keys") : Promise.resolve([]),
      api("GET", "/api/sessions"),
    ]);
    renderAccess(keys, sessions);
  } catch (err) {
    banner(explain(err));
  }
}

$("#settings-save").addEventListener("click", async () => {
  const yaml = $("#settings-yaml").value;
  try {
    const saved = await api("PUT", "/api/settings", { version: state.settings.base, yaml });
    state.settings = { version: saved.version, yaml: saved.yaml, base: saved.version };
    renderSettings(saved, true);
    banner(`Saved as version ${saved.version}. The next message follows it.`, true);
    loadAdmin();
  } catch (err) {
    if (err.code === "invalid_settings") {
      const problems = (err.details && err.details.problems) || [];
      showProblems(problems, yaml);
      banner(`Not saved: ${problems.length} ${problems.length === 1 ? "problem" : "problems"} to fix.`);
    } else if (err.code === "conflict") {
      banner("Someone saved a newer version meanwhile; nothing was overwritten. Discard changes to see theirs, then redo yours.");
    } else {
      banner(explain(err));
    }
  }
});

$("#settings-reload").addEventListener("click", () => loadAdmin(true));

$("#agent-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const teams = String(f.get("teams") || "").split(",").map((t) => t.trim()).filter(Boolean);
  const body = { name: f.get("name"), role: f.get("role"), teams, capacity: Number(f.get("capacity") || 0) };
  try {
    await api("PUT", `/api/agents/${encodeURIComponent(f.get("id"))}`, body);
    banner(`Saved ${body.name}.`, true);
    ev.target.reset();
    loadAdmin();
  } catch (err) {
    banner(explain(err));
  }
});

$("#team-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    await api("PUT", `/api/teams/${encodeURIComponent(f.get("id"))}`, { name: f.get("name") });
    banner(`Saved team ${f.get("name")}.`, true);
    ev.target.reset();
    loadAdmin();
  } catch (err) {
    banner(explain(err));
  }
});

function explanationView(x) {
  const c = x.conversation;
  const sla = c.sla
    ? c.sla.targets.map((t) => `${t.kind.replace(/_/g, " ")} due ${new Date(t.due_at).toLocaleString()}`).join("; ")
    : "none";
  const steps = x.events
    .map((e) => {
      if (e.type === "rule_fired") return `Rule “${e.rule}” (${e.trigger}): ${e.outcome.join("; ") || "no action"}`;
      if (e.type === "assigned") return `Assigned: ${e.reason}${e.warning ? ` (${e.warning})` : ""}`;
      if (e.type === "message_received" || e.type === "contact_created") return null;
      return e.type.replace(/_/g, " ");
    })
    .filter(Boolean);
  const answers = x.messages.map((m) => describe(m.content));
  return el(
    "div",
    {},
    el(
      "dl",
      {},
      el("dt", {}, "Settings"),
      el("dd", {}, x.settings_version === null ? "the text above (not saved)" : `version ${x.settings_version}`),
      el("dt", {}, "Conversation"),
      el("dd", {}, x.opened ? "a new one" : "continues the customer's last"),
      el("dt", {}, "Team"),
      el("dd", { "data-testid": "explain-team" }, c.team || "none"),
      el("dt", {}, "Agent"),
      el("dd", { "data-testid": "explain-agent" }, c.assignee ? nameOf(c.assignee) : "nobody yet"),
      el("dt", {}, "Priority, tags"),
      el("dd", {}, `${c.priority}${c.tags.length ? `, ${c.tags.join(", ")}` : ""}`),
      el("dt", {}, "SLA"),
      el("dd", {}, c.sla ? `${c.sla.policy}: ${sla}` : "none"),
    ),
    el("strong", {}, "Why"),
    el("ol", { "data-testid": "explain-steps" }, ...(steps.length ? steps : ["No rule matched."]).map((t) => el("li", {}, t))),
    answers.length ? el("p", {}, `Answers sent: ${answers.join(" / ")}`) : null,
  );
}

$("#explain-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = {
    sample: { channel: f.get("channel"), from: f.get("from"), text: f.get("text") },
    settings: f.get("draft") ? { yaml: $("#settings-yaml").value } : {},
  };
  try {
    const x = await api("POST", "/api/settings/explain", body);
    $("#explain-result").replaceChildren(explanationView(x));
  } catch (err) {
    if (err.code === "invalid_settings") showProblems((err.details && err.details.problems) || [], body.settings.yaml || "");
    $("#explain-result").replaceChildren(el("p", { class: "hint" }, explain(err)));
  }
});
