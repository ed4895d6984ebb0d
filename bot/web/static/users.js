"use strict";
// The admins' page: accounts, API tokens and the audit trail, all from /api/users,
// /api/tokens and /api/audit. Secrets (a new password or token) are shown once.
const { api, el, when } = Staff;
const $ = (id) => document.getElementById(id);
let roles = ["agent", "comms", "admin"];
let me = null;
let oldest = null;  // the id of the oldest audit entry shown, for "Older entries"

function showSecret(lines) {
  $("secret").textContent = lines.join("\n");
}

function state(user) {
  if (user.disabled) return "disabled";
  return user.must_change_password ? "must choose a password" : "active";
}

async function change(name, label, call) {
  $("users-error").textContent = "";
  try {
    await call();
  } catch (err) {
    $("users-error").textContent = `${label}: ${err.message}`;
  }
  await loadUsers();
  await loadAudit(true);
}

function userRow(user) {
  const role = el("select", { "aria-label": `role of ${user.name}`, disabled: user.name === me.name },
    roles.map((r) => el("option", { selected: r === user.role }, r)));
  role.addEventListener("change", () => change(user.name, "Role",
    () => api("PATCH", `/api/users/${encodeURIComponent(user.name)}`, { role: role.value })));
  const reset = el("button", { type: "button", class: "secondary", onclick: () => change(user.name, "Reset",
    async () => {
      const body = await api("POST", `/api/users/${encodeURIComponent(user.name)}/password`);
      showSecret([`Temporary password for ${user.name} (shown once; they choose their own at sign-in):`, body.password]);
    }) }, "Reset password");
  const toggle = user.name !== me.name && el("button", { type: "button", class: "secondary", onclick: () => change(user.name,
    user.disabled ? "Enable" : "Disable",
    () => api("PATCH", `/api/users/${encodeURIComponent(user.name)}`, { disabled: !user.disabled })) },
    user.disabled ? "Enable" : "Disable");
  return el("tr", { dataset: { user: user.name } },
    el("td", {}, user.name),
    el("td", {}, role),
    el("td", { class: `state-${user.disabled ? "disabled" : "active"}` }, state(user)),
    el("td", {}, user.last_sign_in_at ? when(user.last_sign_in_at) : "never"),
    el("td", {}, reset, toggle));
}

async function loadUsers() {
  try {
    const body = await api("GET", "/api/users");
    roles = body.roles;
    $("user-rows").replaceChildren(...body.users.map(userRow));
  } catch (err) {
    $("users-error").textContent = err.message;
  }
}

$("add-user").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("new-name").value.trim();
  if (!name) return;
  change(name, "Add", async () => {
    const body = await api("POST", "/api/users", { name, role: $("new-role").value });
    $("new-name").value = "";
    showSecret([`${body.user.name} (${body.user.role}) can sign in at ${location.origin}/login`,
      `password: ${body.password}`, `API token: ${body.token}`, "Shown once: pass them on safely."]);
    await loadTokens();
  });
});

async function loadTokens() {
  $("tokens-error").textContent = "";
  try {
    const body = await api("GET", "/api/tokens");
    $("token-rows").replaceChildren(...body.tokens.map((t) => el("tr", {},
      el("td", {}, t.id), el("td", {}, t.user), el("td", {}, when(t.created_at)),
      el("td", {}, t.expires_at ? when(t.expires_at) : "never"),
      el("td", { class: `state-${t.state}` }, t.state),
      el("td", {}, t.state === "active" && el("button", { type: "button", class: "secondary",
        "aria-label": `revoke token ${t.id}`,
        onclick: async () => {
          try { await api("DELETE", `/api/tokens/${t.id}`); } catch (err) { $("tokens-error").textContent = err.message; }
          await loadTokens();
          await loadAudit(true);
        } }, "Revoke")))));
  } catch (err) {
    $("tokens-error").textContent = err.message;
  }
}

$("new-token").addEventListener("click", async () => {
  try {
    const body = await api("POST", "/api/tokens", {});
    showSecret([`New API token ${body.id} for ${body.user}, expires ${when(body.expires_at)} (shown once):`, body.token]);
  } catch (err) {
    $("tokens-error").textContent = err.message;
  }
  await loadTokens();
});

async function loadAudit(fresh) {
  const query = new URLSearchParams({ limit: "100" });
  const actor = $("audit-actor").value.trim();
  if (actor) query.set("actor", actor);
  if ($("audit-action").value) query.set("action", $("audit-action").value);
  if (!fresh && oldest !== null) query.set("before", String(oldest));
  $("audit-error").textContent = "";
  let body;
  try {
    body = await api("GET", `/api/audit?${query}`);
  } catch (err) {
    $("audit-error").textContent = err.message;
    return;
  }
  if ($("audit-action").options.length === 1) {
    $("audit-action").append(...body.actions.map((a) => el("option", { value: a }, a.replace(/_/g, " "))));
  }
  const rows = body.entries.map((e) => el("tr", {},
    el("td", {}, when(e.at)), el("td", {}, e.actor), el("td", {}, e.action.replace(/_/g, " ")),
    el("td", {}, e.target), el("td", {}, e.detail)));
  if (fresh) $("audit-rows").replaceChildren(...rows);
  else $("audit-rows").append(...rows);
  if (body.entries.length) oldest = body.entries[body.entries.length - 1].id;
  $("older").hidden = body.entries.length < 100;
}

$("audit-filter").addEventListener("submit", (event) => { event.preventDefault(); loadAudit(true); });
$("older").addEventListener("click", () => loadAudit(false));

Staff.start("admin", (user) => {
  me = user;
  loadUsers();
  loadTokens();
  loadAudit(true);
});
