// The settings screens: agents and teams, rules and policies, templates,
// connectors (CRM and shop credentials, and checking them), access,
// history.
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
        { "data-testid": "settings-problem", title: t("admin.show-line") },
        line >= 0 ? t("admin.line", { n: line + 1 }) : "",
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
    banner(t("admin.someone-saved", { version: settings.version }));
  }
  state.settings = { version: settings.version, yaml: settings.yaml, base: force || !settingsDirty() ? settings.version : state.settings.base };
  if (force || area.value === settings.yaml) state.settings.base = settings.version;
  const version = settings.version;
  $("#settings-version").textContent = !version
    ? t("admin.not-set")
    : settings.updated_by
      ? t("admin.version-by", { version, name: nameOf(settings.updated_by), ago: agoText(settings.updated_at) })
      : t("admin.version-when", { version, ago: agoText(settings.updated_at) });
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
        el("td", {}, roleName(a.role)),
        el("td", {}, a.teams.join(", ") || "—"),
        el("td", {}, a.capacity || "∞"),
        el("td", {}, a.active ? t("admin.yes") : t("admin.no")),
      ),
    ),
  );
  $("#teams-list").replaceChildren(...teams.map((team) => el("li", { "data-testid": "team-row" }, `${team.name} (${team.id})`)));
  const select = $("#explain-form select[name=channel]");
  const chosen = select.value;
  select.replaceChildren(...channels.map((c) => el("option", { value: c.id }, `${c.name} ${c.display_number}`)));
  if (chosen) select.value = chosen;
}

// What Meta said (an account signal), in a line.
function signalText(sg) {
  const said = [sg.reason, sg.detail].filter(Boolean).join(" · ");
  const more = said ? `— ${said}` : "";
  switch (sg.kind) {
    case "template_status":
      return t("signal.template-status", { name: sg.name, language: sg.language, status: sg.status, more });
    case "template_quality":
      return t("signal.template-quality", { name: sg.name, language: sg.language, quality: sg.quality });
    case "account":
      return t("signal.account", { event: sg.event, more });
    case "number_quality":
      return t("signal.number-quality", { event: sg.event, limit: sg.limit || "—" });
    default:
      return sg.kind;
  }
}

// How far a number's chat history import has come, as a signal row.
function importRow(c) {
  const h = c.history;
  if (!h) return [];
  const text = h.declined
    ? t("import.declined")
    : t(h.progress >= 100 ? "import.done" : "import.progress", { progress: h.progress, chunks: h.chunks.length, messages: h.messages });
  return [[c, { at: h.updated_at, needs_attention: false, text }]];
}

function renderSignals(channels) {
  const rows = channels.flatMap((c) => [...importRow(c), ...c.signals.map((s) => [c, s])]);
  rows.sort((a, b) => Date.parse(b[1].at) - Date.parse(a[1].at));
  $("#signals-table tbody").replaceChildren(
    ...(rows.length
      ? rows.map(([c, s]) =>
          el(
            "tr",
            { "data-testid": "signal-row", class: s.needs_attention ? "attention" : null },
            el("td", {}, `${c.name} ${c.display_number}`),
            el("td", {}, s.text || (s.needs_attention ? "⚠ " : "") + signalText(s.signal)),
            el("td", {}, agoText(s.at)),
          ),
        )
      : [el("tr", {}, el("td", { colspan: "3", class: "hint" }, t("admin.signals-none")))]),
  );
}

function renderHistory(changes) {
  $("#history").replaceChildren(
    ...changes.map((c) =>
      el(
        "li",
        { "data-testid": "history-item" },
        el("strong", {}, `v${c.version} `),
        c.sections.map((s) => s.section).join(", "),
        el("span", { class: "when" }, ` — ${c.by ? nameOf(c.by) : t("admin.provisioning")}, ${agoText(c.at)}`),
      ),
    ),
  );
}

function renderTemplates(templates) {
  const bodyText = (tp) => ((tp.components || []).find((c) => String(c.type).toUpperCase() === "BODY") || {}).text || "";
  $("#templates-table tbody").replaceChildren(
    ...(templates.length
      ? templates.map((tp) =>
          el(
            "tr",
            { "data-testid": "template-row" },
            el("td", {}, tp.name),
            el("td", {}, tp.language),
            el("td", {}, tp.status || t("admin.declared")),
            el("td", {}, tp.category || "—"),
            el("td", {}, bodyText(tp) || "—"),
          ),
        )
      : [el("tr", {}, el("td", { colspan: 5, class: "hint" }, t("admin.no-templates")))]),
  );
}

$("#templates-sync").addEventListener("click", async (ev) => {
  const button = ev.target;
  button.disabled = true;
  try {
    const s = await api("POST", "/api/templates/sync");
    const list = (key, items) => (items.length ? t(key, { names: items.join(", ") }) : "");
    const what = [list("admin.sync-added", s.added), list("admin.sync-changed", s.changed), list("admin.sync-removed", s.removed)].filter(Boolean).join("; ");
    $("#templates-synced").textContent = s.stored ? t("admin.synced", { version: s.version, what }) : t("admin.up-to-date");
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
        el("td", {}, roleName(k.role)),
        el("td", {}, agoText(k.created_at)),
        el("td", {}, k.last_used_at ? agoText(k.last_used_at) : t("admin.never")),
        el(
          "td",
          {},
          k.revoked_at
            ? t("admin.revoked")
            : el(
                "button",
                {
                  "data-testid": "key-revoke",
                  onclick: () =>
                    api("DELETE", `/api/keys/${encodeURIComponent(k.id)}`)
                      .then(() => (banner(t("admin.key-revoked", { name: k.name }), true), loadAdmin()))
                      .catch((err) => banner(explain(err))),
                },
                t("admin.revoke"),
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
        t("admin.session", { client: x.user_agent || t("admin.a-browser"), ago: agoText(x.created_at) }),
        el(
          "button",
          {
            onclick: () =>
              api("DELETE", `/api/sessions/${encodeURIComponent(x.id)}`)
                .then(() => loadAdmin())
                .catch((err) => banner(explain(err))),
          },
          t("admin.end"),
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
      t("admin.copy-key"),
      el("code", { "data-testid": "new-key-value" }, made.key),
    );
    shown.classList.remove("hidden");
    ev.target.reset();
    loadAdmin();
  } catch (err) {
    banner(explain(err));
  }
});

// ------------------------------------------------------------- connectors

// The credentials' descriptions in the agent's language (the server's
// own words, in English, for one not known here).
const CREDENTIAL_WORDS = {
  "hubspot.token": "admin.cred-hubspot-token",
  "zoho.client_id": "admin.cred-zoho-client-id",
  "zoho.client_secret": "admin.cred-zoho-client-secret",
  "zoho.refresh_token": "admin.cred-zoho-refresh-token",
  "shopify.token": "admin.cred-shopify-token",
};
const credentialWords = (c, cred) => (CREDENTIAL_WORDS[`${c.id}.${cred.name}`] ? t(CREDENTIAL_WORDS[`${c.id}.${cred.name}`]) : cred.description);
const credentialId = (c, cred) => `credential-${c.id}-${cred.name.replace(/[^A-Za-z0-9]+/g, "-")}`;

// What the last check of each connector said (kept across redraws), by id:
// { ok, problem } or { checking: true }.
const connectorChecks = {};

function connectorStatus(c) {
  if (!c.configured) return el("span", { class: "badge off", "data-testid": `connector-status-${c.id}` }, t("admin.connector-missing"));
  return el("span", { class: `badge ${c.enabled ? "on" : "off"}`, "data-testid": `connector-status-${c.id}` }, t(c.enabled ? "admin.connector-on" : "admin.connector-off"));
}

function checkLine(c) {
  const check = connectorChecks[c.id];
  const text = !check ? "" : check.checking ? t("admin.connector-checking") : check.ok ? t("admin.connector-ok", { connector: c.name }) : t("admin.connector-problem", { problem: check.problem });
  const kind = !check || check.checking ? "" : check.ok ? " ok" : " bad";
  return el("p", { class: `connector-result${kind}`, role: "status", "data-testid": `connector-result-${c.id}` }, text);
}

// One connector: whether the settings document has it, its credentials
// (stored or not; admins store and remove them), and its check.
function connectorView(c) {
  const admin = isAdmin();
  const rows = c.credentials.map((cred) => {
    const id = credentialId(c, cred);
    return el(
      "li",
      { class: "credential", "data-testid": `credential-row-${c.id}-${cred.name}` },
      el(
        "div",
        { class: "credential-about" },
        admin ? el("label", { for: id }, el("code", {}, cred.name)) : el("code", {}, cred.name),
        " ",
        el("span", { class: `badge ${cred.set ? "on" : "off"}`, "data-testid": `credential-state-${c.id}-${cred.name}` }, t(cred.set ? "admin.credential-set" : "admin.credential-unset")),
        el("div", { class: "hint", id: `${id}-about` }, credentialWords(c, cred)),
      ),
      admin
        ? el(
            "div",
            { class: "row" },
            el("input", {
              id,
              type: "password",
              name: cred.name,
              autocomplete: "off",
              spellcheck: "false",
              placeholder: t(cred.set ? "admin.credential-replace" : "admin.credential-new"),
              "aria-describedby": `${id}-about`,
              "data-testid": id,
            }),
            el(
              "button",
              {
                type: "button",
                disabled: cred.set ? null : "disabled",
                "aria-label": t("admin.credential-remove-aria", { name: cred.name, connector: c.name }),
                "data-testid": `credential-remove-${c.id}-${cred.name}`,
                onclick: () => storeCredentials(c, { [cred.name]: null }),
              },
              t("admin.credential-remove"),
            ),
          )
        : null,
    );
  });
  const form = el(
    "form",
    { class: "connector", "data-testid": `connector-${c.id}`, "aria-labelledby": `connector-name-${c.id}` },
    el("div", { class: "connector-head" }, el("h4", { id: `connector-name-${c.id}` }, c.name), connectorStatus(c)),
    el("ul", { class: "credentials" }, ...rows),
    admin
      ? el(
          "div",
          { class: "row" },
          el("button", { type: "submit", "data-testid": `connector-save-${c.id}` }, t("admin.connector-save")),
          el("button", { type: "button", "data-testid": `connector-check-${c.id}`, disabled: connectorChecks[c.id] && connectorChecks[c.id].checking ? "disabled" : null, onclick: () => checkConnector(c) }, t("admin.connector-check")),
        )
      : null,
    checkLine(c),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const typed = {};
    for (const input of form.querySelectorAll("input[type=password]")) if (input.value.trim()) typed[input.name] = input.value;
    if (!Object.keys(typed).length) {
      const first = form.querySelector("input[type=password]");
      if (first) first.focus();
      return banner(t("admin.connector-nothing"));
    }
    storeCredentials(c, typed);
  });
  return form;
}

// The connectors drawn (again), keeping what an admin is typing.
function renderConnectors(list) {
  state.connectorList = list;
  const root = $("#connectors");
  const inputs = keepInputs(root);
  const readOnly = isAdmin() ? [] : [el("p", { class: "hint", "data-testid": "connectors-read-only" }, t("admin.connectors-read-only"))];
  root.replaceChildren(...list.map(connectorView), ...readOnly);
  restoreInputs(root, inputs);
}

async function loadConnectors() {
  try {
    renderConnectors(await api("GET", "/api/connectors"));
  } catch (err) {
    if (err.status === 401) return sessionEnded();
    $("#connectors").replaceChildren(el("p", { class: "hint" }, explain(err)));
  }
}

// Stores (a value) or removes (`null`) credentials of connector `c`; the
// inputs are emptied once stored (the value is never shown again).
async function storeCredentials(c, credentials) {
  try {
    const view = await api("PUT", `/api/connectors/${encodeURIComponent(c.id)}/credentials`, { credentials });
    for (const name of Object.keys(credentials)) {
      const input = document.getElementById(credentialId(c, { name }));
      if (input) input.value = "";
    }
    delete connectorChecks[c.id];
    const removed = Object.values(credentials).every((v) => v === null);
    banner(t(removed ? "admin.connector-removed" : "admin.connector-saved", { connector: c.name }), true);
    renderConnectors((state.connectorList || []).map((x) => (x.id === view.id ? view : x)));
  } catch (err) {
    if (err.status === 401) return sessionEnded();
    banner(explain(err));
  }
}

async function checkConnector(c) {
  const button = `[data-testid="connector-check-${c.id}"]`;
  const focused = document.activeElement === $(button);
  connectorChecks[c.id] = { checking: true };
  renderConnectors(state.connectorList || []);
  try {
    connectorChecks[c.id] = await api("POST", `/api/connectors/${encodeURIComponent(c.id)}/check`);
  } catch (err) {
    if (err.status === 401) return sessionEnded();
    connectorChecks[c.id] = { ok: false, problem: explain(err) };
  }
  renderConnectors(state.connectorList || []);
  if (focused && $(button)) $(button).focus(); // (it was disabled meanwhile)
}

// The settings document's `connectors:` section, selected in the editor
// (or the editor focused, when it has none yet).
$("#connectors-show").addEventListener("click", () => {
  const area = $("#settings-yaml");
  area.scrollIntoView({ block: "center" });
  const line = lineOfPath(area.value, "connectors");
  if (line >= 0) selectLine(area, line);
  else area.focus();
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
    renderSignals(channels);
    renderHistory(history);
    const [keys, sessions] = await Promise.all([
      isAdmin() ? api("GET", "/api/keys") : Promise.resolve([]),
      api("GET", "/api/sessions"),
    ]);
    renderAccess(keys, sessions);
    await loadConnectors();
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
    banner(t("admin.saved-version", { version: saved.version }), true);
    loadAdmin();
  } catch (err) {
    if (err.code === "invalid_settings") {
      const problems = (err.details && err.details.problems) || [];
      showProblems(problems, yaml);
      banner(t("admin.not-saved", { n: problems.length }));
    } else if (err.code === "conflict") {
      banner(t("admin.newer-version"));
    } else {
      banner(explain(err));
    }
  }
});

$("#settings-reload").addEventListener("click", () => loadAdmin(true));

$("#agent-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const teams = String(f.get("teams") || "").split(",").map((team) => team.trim()).filter(Boolean);
  const body = { name: f.get("name"), role: f.get("role"), teams, capacity: Number(f.get("capacity") || 0) };
  const password = String(f.get("password") || "");
  const agent = `/api/agents/${encodeURIComponent(f.get("id"))}`;
  try {
    await api("PUT", agent, body);
    // A new team member can sign in once they have a password.
    if (password) await api("PUT", `${agent}/password`, { password });
    banner(t("admin.saved", { name: body.name }), true);
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
    banner(t("admin.saved-team", { name: f.get("name") }), true);
    ev.target.reset();
    loadAdmin();
  } catch (err) {
    banner(explain(err));
  }
});

function explanationView(x) {
  const c = x.conversation;
  const sla = c.sla
    ? c.sla.targets.map((target) => t("admin.due", { kind: target.kind.replace(/_/g, " "), time: formatted(target.due_at, { dateStyle: "medium", timeStyle: "short" }) })).join("; ")
    : t("admin.none");
  const steps = x.events
    .map((e) => {
      // (outcomes, reasons and warnings are the core's words, in English)
      if (e.type === "rule_fired") return t("admin.rule", { rule: e.rule, trigger: e.trigger, outcome: e.outcome.join("; ") || t("admin.no-action") });
      if (e.type === "assigned") return t("admin.assigned", { reason: e.reason }) + (e.warning ? ` (${e.warning})` : "");
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
      el("dt", {}, t("admin.settings")),
      el("dd", {}, x.settings_version === null ? t("admin.draft-text") : t("admin.version", { version: x.settings_version })),
      el("dt", {}, t("admin.conversation")),
      el("dd", {}, x.opened ? t("admin.new-one") : t("admin.continues")),
      el("dt", {}, t("admin.team")),
      el("dd", { "data-testid": "explain-team" }, c.team || t("admin.none")),
      el("dt", {}, t("admin.agent")),
      el("dd", { "data-testid": "explain-agent" }, c.assignee ? nameOf(c.assignee) : t("admin.nobody")),
      el("dt", {}, t("admin.priority-tags")),
      el("dd", {}, `${c.priority}${c.tags.length ? `, ${c.tags.join(", ")}` : ""}`),
      el("dt", {}, t("admin.sla")),
      el("dd", {}, c.sla ? `${c.sla.policy}: ${sla}` : t("admin.none")),
    ),
    el("strong", {}, t("admin.why")),
    el("ol", { "data-testid": "explain-steps" }, ...(steps.length ? steps : [t("admin.no-rule")]).map((step) => el("li", {}, step))),
    answers.length ? el("p", {}, t("admin.answers", { answers: answers.join(" / ") })) : null,
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
