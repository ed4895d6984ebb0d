"use strict";
const { api, el, when, shortcuts } = Staff;
const $ = (id) => document.getElementById(id);

// ----- tabs -------------------------------------------------------------------------
function showTab(name) {
  for (const tab of ["incidents", "responses"]) {
    $(`tab-${tab}`).setAttribute("aria-selected", String(tab === name));
    $(tab).hidden = tab !== name;
  }
  if (name === "responses" && !responses.length) loadResponses();
}
$("tab-incidents").addEventListener("click", () => showTab("incidents"));
$("tab-responses").addEventListener("click", () => showTab("responses"));

// ----- incidents --------------------------------------------------------------------
let current = null;  // the incident in the form, as loaded (null: a new one)

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function loadIncidents() {
  const query = new URLSearchParams();
  const area = $("filter-area").value.trim();
  if (area) query.set("area", area);
  if ($("filter-active").checked) query.set("active", "1");
  $("list-error").textContent = "";
  let incidents;
  try {
    incidents = (await api("GET", `/api/incidents?${query}`)).incidents;
  } catch (err) {
    $("list-error").textContent = err.message;
    return;
  }
  $("incident-rows").replaceChildren(...(incidents.length ? incidents.map((i) => el("tr", {
    class: current && current.reference === i.reference ? "current" : null,
    dataset: { reference: i.reference },
    tabindex: "0",
    onclick: () => edit(i.reference),
    onkeydown: (event) => { if (event.key === "Enter") edit(i.reference); },
  },
    el("td", {}, i.reference),
    el("td", {}, i.title),
    el("td", {}, i.areas.join(", ")),
    el("td", {}, el("span", { class: `status ${i.status}` }, i.status)),
    el("td", {}, when(i.eta)),
    el("td", {}, when(i.updated_at)),
  )) : [el("tr", {}, el("td", { colspan: "6", class: "muted" }, "No incidents match."))]));
}

function fillForm(incident) {
  current = incident;
  const isNew = incident === null;
  $("form-title").textContent = isNew ? "New incident" : `${incident.reference}: ${incident.title}`;
  $("f-title").value = isNew ? "" : incident.title;
  $("f-areas").value = isNew ? "" : incident.areas.join(", ");
  for (const box of $("f-services").querySelectorAll("input")) {
    box.checked = isNew ? box.value === "broadband" : incident.services.includes(box.value);
  }
  $("f-resolved-option").hidden = isNew || incident.active;
  $("f-status").value = isNew ? "investigating" : incident.status;
  $("f-eta").value = isNew ? "" : localInput(incident.eta);
  $("f-cause").value = isNew ? "" : incident.cause;
  $("f-note").value = "";
  $("note-field").hidden = isNew;
  $("save").textContent = isNew ? "Create incident" : "Save changes";
  $("resolve").hidden = isNew || !incident.active;
  $("form-error").textContent = "";
  $("timeline").replaceChildren(...(isNew ? [] : incident.timeline.map((t) => el("li", {},
    `${when(t.at)} · ${t.author} · ${t.status}${t.note ? " · " + t.note : ""}`))));
}

async function edit(reference) {
  try {
    fillForm(await api("GET", `/api/incidents/${encodeURIComponent(reference)}`));
    $("form-ok").textContent = "";
    loadIncidents();
  } catch (err) {
    $("list-error").textContent = err.message;
  }
}

function formValues() {
  const eta = $("f-eta").value;
  return {
    title: $("f-title").value.trim(),
    areas: $("f-areas").value.split(",").map((a) => a.trim()).filter(Boolean),
    services: [...$("f-services").querySelectorAll("input:checked")].map((b) => b.value),
    status: $("f-status").value,
    eta: eta ? new Date(eta).toISOString() : null,
    cause: $("f-cause").value.trim(),
  };
}

// Only what the user changed is sent, so an ETA that has since passed is not re-checked.
function changes(values) {
  const before = {
    ...current,
    eta: current.eta ? new Date(localInput(current.eta)).toISOString() : null,
  };
  const diff = {};
  for (const [name, value] of Object.entries(values)) {
    if (JSON.stringify(value) !== JSON.stringify(before[name])) diff[name] = value;
  }
  const note = $("f-note").value.trim();
  if (note) diff.note = note;
  return diff;
}

async function save(values) {
  $("form-error").textContent = "";
  $("form-ok").textContent = "";
  try {
    let saved;
    if (current === null) {
      saved = await api("POST", "/api/incidents", values);
      $("form-ok").textContent = `Created ${saved.reference}. Customers in ${saved.areas.join(", ")} hear about it now.`;
    } else {
      const diff = values.status === "resolved" && Object.keys(values).length === 1 ? values : changes(values);
      if (!Object.keys(diff).length) { $("form-ok").textContent = "Nothing changed."; return; }
      saved = await api("PATCH", `/api/incidents/${encodeURIComponent(current.reference)}`, diff);
      $("form-ok").textContent = saved.active ? "Saved." : "Resolved. Customers who asked to be told will hear shortly.";
    }
    fillForm(saved);
    loadIncidents();
  } catch (err) {
    $("form-error").textContent = err.message;
  }
}

$("incident-form").addEventListener("submit", (event) => { event.preventDefault(); save(formValues()); });
$("resolve").addEventListener("click", () => save({ status: "resolved" }));
$("new-incident").addEventListener("click", () => { fillForm(null); $("form-ok").textContent = ""; $("f-title").focus(); });
$("filter").addEventListener("submit", (event) => { event.preventDefault(); loadIncidents(); });
$("filter-active").addEventListener("change", loadIncidents);

// ----- canned responses -------------------------------------------------------------
let responses = [];
let placeholderHelp = {};
let channels = [];
let openKey = null;

const CHANNEL_NOTES = {
  default: "used by every channel without its own text",
  telegram: "Telegram",
  x_public: "public reply on X: at most 280 characters with long values filled in; no {name}",
  x_dm: "direct message on X",
  web: "web chat",
};

async function loadResponses() {
  try {
    const body = await api("GET", "/api/responses");
    responses = body.responses;
    placeholderHelp = body.placeholders;
    channels = body.channels;
  } catch (err) {
    $("response-editor").replaceChildren(el("p", { class: "error" }, err.message));
    return;
  }
  renderKeys();
}

function renderKeys() {
  const filter = $("response-filter").value.trim().toLowerCase();
  $("response-keys").replaceChildren(...responses
    .filter((r) => r.key.includes(filter) || Object.values(r.variants).some((t) => t.toLowerCase().includes(filter)))
    .map((r) => el("li", {}, el("button", {
      type: "button",
      "aria-current": String(r.key === openKey),
      onclick: () => openResponse(r.key),
    }, r.key.replace(/^utter_/, "").replace(/_/g, " ")))));
}

function variantEditor(response, channel) {
  const own = response.overrides.includes(channel);
  const area = el("textarea", { rows: "3", "aria-label": `${channel} text` });
  area.value = response.variants[channel];
  const count = el("span", { class: "count" });
  const error = el("p", { class: "error", role: "alert" });
  const ok = el("p", { class: "ok", role: "status" });
  const updateCount = () => {
    count.textContent = `${area.value.length} characters${channel === "x_public" ? " (limit 280 after filling in)" : ""}`;
  };
  area.addEventListener("input", () => { updateCount(); ok.textContent = ""; });
  updateCount();
  const saveButton = el("button", { type: "button", class: "save", onclick: async () => {
    error.textContent = "";
    ok.textContent = "";
    try {
      const saved = await api("PUT", `/api/responses/${encodeURIComponent(response.key)}`, { channel, text: area.value });
      responses = responses.map((r) => (r.key === saved.key ? saved : r));
      await openResponse(saved.key);
      document.querySelector(`[data-channel="${channel}"] .ok`).textContent = "Saved: the bot uses it from now on.";
    } catch (err) {
      error.textContent = err.message;
    }
  } }, "Save");
  const defaultButton = own && channel !== "default" && el("button", {
    type: "button",
    class: "secondary",
    title: "Remove this channel's own text; it uses the default text from now on",
    onclick: async () => {
      error.textContent = "";
      ok.textContent = "";
      try {
        const path = `/api/responses/${encodeURIComponent(response.key)}/${encodeURIComponent(channel)}`;
        const saved = await api("DELETE", path);
        responses = responses.map((r) => (r.key === saved.key ? saved : r));
        await openResponse(saved.key);
        document.querySelector(`[data-channel="${channel}"] .ok`).textContent = "Removed: this channel uses the default text from now on.";
      } catch (err) {
        error.textContent = err.message;
      }
    },
  }, "Use default");
  return el("div", { class: "variant", dataset: { channel } },
    el("div", { class: "variant-head" },
      el("strong", {}, channel),
      el("span", { class: "muted" }, own ? CHANNEL_NOTES[channel] : `${CHANNEL_NOTES[channel]}: falls back to default`)),
    area,
    el("div", { class: "variant-head" }, count, el("span", { class: "variant-actions" }, defaultButton, saveButton)),
    error, ok);
}

const isMacro = (key) => key.startsWith("macro_");

// Macros are the agents' replies, written by comms staff: added and deleted here, unlike
// the bot's own responses (which Rasa names). "Engineer booked" becomes macro_engineer_booked.
function macroKey(name) {
  return "macro_" + name.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
}

function newMacro() {
  openKey = null;
  renderKeys();
  const name = el("input", { type: "text", id: "macro-name", maxlength: "50", placeholder: "e.g. engineer booked" });
  const text = el("textarea", { id: "macro-text", rows: "4" });
  const error = el("p", { class: "error", role: "alert" });
  const key = el("span", { class: "muted" });
  name.addEventListener("input", () => { key.textContent = name.value.trim() ? `key: ${macroKey(name.value)}` : ""; });
  const create = el("button", { type: "button", class: "save", onclick: async () => {
    error.textContent = "";
    try {
      const saved = await api("POST", "/api/responses", { key: macroKey(name.value), text: text.value });
      await loadResponses();
      await openResponse(saved.key);
      document.querySelector('[data-channel="default"] .ok').textContent = "Created: agents have it from their next conversation on.";
    } catch (err) {
      error.textContent = err.message;
    }
  } }, "Create macro");
  $("response-editor").replaceChildren(
    el("h2", {}, "New macro"),
    el("label", { for: "macro-name" }, "Name"), name, key,
    el("label", { for: "macro-text" }, "Text (every channel; add a channel's own text after creating it)"), text,
    el("div", { class: "muted" }, "It may use: ", ["name", "place", "area_code", "reference", "title", "cause", "services", "eta", "status_url"].map((p) => `{${p}} `)),
    error,
    el("div", { class: "variant" }, create),
  );
  name.focus();
}
$("new-macro").addEventListener("click", newMacro);

// Deleting asks once more, in place: a macro agents rely on should not go by a slip.
function deleteButton(key) {
  const button = el("button", { type: "button", class: "secondary", id: "delete-macro" }, "Delete macro");
  const error = el("p", { class: "error", role: "alert" });
  button.addEventListener("click", async () => {
    if (button.dataset.armed !== "yes") {
      button.dataset.armed = "yes";
      button.textContent = `Really delete ${key}? Press again`;
      return;
    }
    try {
      await api("DELETE", `/api/responses/${encodeURIComponent(key)}`);
      openKey = null;
      await loadResponses();
      $("response-editor").replaceChildren(el("p", { class: "ok", role: "status" }, `Deleted ${key}; its history is kept.`));
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return el("div", { class: "actions" }, button, error);
}

async function openResponse(key) {
  openKey = key;
  renderKeys();
  let response;
  try {
    response = await api("GET", `/api/responses/${encodeURIComponent(key)}`);
  } catch (err) {
    $("response-editor").replaceChildren(el("p", { class: "error" }, err.message));
    return;
  }
  $("response-editor").replaceChildren(
    el("h2", {}, key),
    el("div", { class: "muted" }, "Placeholders this response may use (hover for what each means):"),
    el("div", { class: "chips" }, response.placeholders.length
      ? response.placeholders.map((p) => el("span", { class: "chip", title: placeholderHelp[p] || "" }, `{${p}}`))
      : el("span", { class: "muted" }, "none")),
    ...channels.filter((c) => !(isMacro(key) && c === "x_public")).map((channel) => variantEditor(response, channel)),
    isMacro(key) ? deleteButton(key) : null,
    el("details", {}, el("summary", {}, `History (${response.history.length} saves)`),
      el("ol", {}, response.history.map((h) => el("li", {},
        el("div", { class: "muted" }, `${when(h.created_at)} · ${h.author} · ${h.channel} v${h.version}`),
        h.text || "(own text removed: uses the default text)")))),
  );
}

$("response-filter").addEventListener("input", renderKeys);

// ----- keys -------------------------------------------------------------------------
// Comms staff keep this page open all day: the common moves need no mouse.
shortcuts({
  1: () => showTab("incidents"),
  2: () => showTab("responses"),
  n: () => { showTab("incidents"); $("new-incident").click(); },
  "/": () => $($("responses").hidden ? "filter-area" : "response-filter").focus(),
}, {
  Escape: (field) => field.blur(),
  "Ctrl+Enter": (field) => {
    const variant = field.closest(".variant");
    if (!variant) return false;
    variant.querySelector(".save").click();
  },
});

Staff.start("comms", () => {
  loadIncidents();
  if (!$("responses").hidden) loadResponses();
});
