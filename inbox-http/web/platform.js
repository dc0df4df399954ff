// The platform operator's page: tenants and their numbers, over
// /api/platform with the operator's token (kept for this tab only).
"use strict";

let token = sessionStorage.getItem("inbox.operator") || "";
let selected = null;

function banner(text, ok = false) {
  const b = $("#banner");
  b.textContent = text;
  b.className = `banner${ok ? " ok" : ""}`;
  setTimeout(() => b.classList.add("hidden"), 4000);
}

async function api(method, path, body) {
  const res = await fetch(`/api/platform${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const err = new Error((data && data.message) || res.statusText);
    err.status = res.status;
    throw err;
  }
  return data;
}

async function loadTenants() {
  const tenants = await api("GET", "/tenants");
  $("#tenants tbody").replaceChildren(
    ...tenants.map((tenant) =>
      el(
        "tr",
        { "data-testid": "tenant-row", class: tenant.id === selected ? "selected" : "" },
        el("td", {}, el("a", { href: "#", onclick: (ev) => (ev.preventDefault(), selectTenant(tenant.id)) }, tenant.id)),
        el("td", {}, tenant.name),
        el("td", {}, tenant.suspended ? t("platform.suspended") : t("platform.active")),
        el(
          "td",
          {},
          el(
            "button",
            {
              "data-testid": `suspend-${tenant.id}`,
              onclick: () =>
                api("PUT", `/tenants/${encodeURIComponent(tenant.id)}`, { name: tenant.name, suspended: !tenant.suspended })
                  .then(() => (banner(t(tenant.suspended ? "platform.was-restored" : "platform.was-suspended", { name: tenant.name }), true), loadTenants()))
                  .catch((e) => banner(e.message)),
            },
            tenant.suspended ? t("platform.restore") : t("platform.suspend"),
          ),
        ),
      ),
    ),
  );
}

async function selectTenant(id) {
  selected = id;
  $("#numbers-of").textContent = id;
  const numbers = await api("GET", `/tenants/${encodeURIComponent(id)}/numbers`);
  $("#numbers tbody").replaceChildren(
    ...numbers.map((n) =>
      el(
        "tr",
        { "data-testid": "number-row" },
        el("td", {}, n.id),
        el("td", {}, n.display_number),
        el("td", {}, n.phone_number_id),
        el("td", {}, n.waba_id || "—"),
        el("td", {}, n.secrets.join(", ") || t("platform.none")),
        el("td", {}, el("code", {}, n.webhook_path)),
      ),
    ),
  );
  loadTenants();
}

$("#op-signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  token = new FormData(ev.target).get("token");
  await open();
});

$("#tenant-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    await api("PUT", `/tenants/${encodeURIComponent(f.get("id"))}`, { name: f.get("name") });
    banner(t("platform.added", { name: f.get("name") }), true);
    ev.target.reset();
    await selectTenant(f.get("id"));
  } catch (e) {
    banner(e.message);
  }
});

$("#number-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!selected) return banner(t("platform.pick-tenant"));
  const f = new FormData(ev.target);
  const body = { phone_number_id: f.get("phone_number_id"), display_number: f.get("display_number") };
  for (const k of ["waba_id", "access_token", "app_secret", "verify_token"]) if (f.get(k)) body[k] = f.get(k);
  try {
    await api("PUT", `/tenants/${encodeURIComponent(selected)}/numbers/${encodeURIComponent(f.get("id"))}`, body);
    banner(t("platform.number-saved"), true);
    ev.target.reset();
    await selectTenant(selected);
  } catch (e) {
    banner(e.message);
  }
});

async function open() {
  try {
    await loadTenants();
    sessionStorage.setItem("inbox.operator", token);
    $("#op-signin").classList.add("hidden");
    $("#platform").classList.remove("hidden");
  } catch (e) {
    sessionStorage.removeItem("inbox.operator");
    banner(e.status === 401 ? t("platform.bad-token") : e.message);
  }
}

// Another language chosen: the tenants and numbers drawn again.
document.addEventListener("inbox:language", () => {
  if ($("#platform").classList.contains("hidden")) return;
  if (selected) selectTenant(selected).catch((e) => banner(e.message));
  else loadTenants().catch((e) => banner(e.message));
});

if (token) open();
