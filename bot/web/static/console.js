"use strict";
const { api, el, waited, when, shortcuts } = Staff;
const $ = (id) => document.getElementById(id);
const REFRESH_MS = 3000;        // without the live link
const LIVE_REFRESH_MS = 30000;  // with it: only the waiting times move
let live = false;               // the events socket is open and signed in

let me = null;
let entries = [];          // the queue as last fetched
let groups = [];           // active incidents with customers waiting about them
let macroList = [];        // the macros, filled in for the open conversation's customer
let answering = null;      // the answer to everyone being written: {reference, count, key}
let selectedId = null;     // escalation id under the cursor
let openId = null;         // conversation id shown on the right
let shownMessages = -1;    // how many messages the transcript shows (to keep scroll)

function status(text, isError) {
  $("status").textContent = text || "";
  $("status").className = isError ? "error" : "";
}

function selectedIndex() {
  return entries.findIndex((e) => e.id === selectedId);
}

// How many wait shows in the tab's title too, for an agent working in another tab.
const TITLE = document.title;

function renderQueue() {
  const list = $("queue");
  $("count").textContent = entries.length ? `(${entries.length})` : "";
  document.title = entries.length ? `(${entries.length}) ${TITLE}` : TITLE;
  if (!entries.length) {
    list.replaceChildren(el("li", { class: "empty" }, "Nobody is waiting. 🎉"));
    return;
  }
  list.replaceChildren(...entries.map((e) => el("li", {
    role: "option",
    id: `esc-${e.id}`,
    "aria-selected": String(e.id === selectedId),
    class: e.conversation_id === openId ? "open-now" : null,
    onclick: () => { selectedId = e.id; openSelected(); },
  },
    el("span", { class: `prio p${Math.min(e.priority, 3)}`, title: "priority" }, `P${e.priority}`),
    el("span", {}, `${e.reason.replace(/_/g, " ")} · ${e.customer}`),
    el("span", { class: "wait", title: "waiting" }, waited(e.waiting_seconds)),
    el("span", { class: "meta" }, [
      e.channel,
      e.area_code,
      e.incidents.length ? e.incidents.join(", ") : null,
      e.state === "claimed" ? "claimed by " + e.agent : "waiting for an agent",
    ].filter(Boolean).join(" · ")),
  )));
  const current = $(`esc-${selectedId}`);
  if (current) {
    current.scrollIntoView({ block: "nearest" });
    list.setAttribute("aria-activedescendant", current.id);
  }
}

// One button per incident that customers wait about: one answer reaches all of them.
function renderGroups() {
  $("groups").replaceChildren(...groups.filter((g) => g.answerable > 0).map((g) => el("li", {},
    el("span", {}, `${g.reference}: ${g.title} · ${g.waiting} waiting${g.eta ? " · fix " + when(g.eta) : ""}`),
    el("button", { type: "button", class: "secondary", onclick: () => openAnswer(g.reference) },
      `Answer all ${g.answerable} waiting about ${g.reference}`))));
}

async function refreshQueue() {
  try {
    const body = await api("GET", "/api/escalations");
    entries = body.escalations;
    groups = body.incidents;
  } catch (err) {
    status(err.message, true);
    return;
  }
  if (selectedIndex() < 0) selectedId = entries.length ? entries[0].id : null;
  renderQueue();
  renderGroups();
}

function move(step) {
  if (!entries.length) return;
  const index = Math.max(0, Math.min(entries.length - 1, selectedIndex() + step));
  selectedId = entries[index].id;
  renderQueue();
}

function authorLabel(message) {
  if (message.direction === "in") return "customer";
  return message.author.startsWith("agent:") ? message.author.slice(6) : message.author;
}

// Over the flood limit (docs/security.md): stored for the transcript, never answered.
const FLOODED = "Sent over the flood limit: the bot never read or answered this message.";

function renderConversation(body) {
  const c = body.conversation;
  const esc = body.escalation;
  $("title").textContent = `${c.customer} on ${c.channel}`;
  $("facts").textContent = [
    `conversation ${c.id}`,
    `state: ${c.state}`,
    esc ? `reason: ${esc.reason.replace(/_/g, " ")} (P${esc.priority})` : "no open hand-off",
    esc && esc.agent ? `held by ${esc.agent}` : null,
  ].filter(Boolean).join(" · ");
  const log = $("transcript");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.replaceChildren(...body.messages.map((m) => el("div", {
    class: `msg ${m.direction}${m.author.startsWith("agent:") ? " agent" : ""}${m.state === "flooded" ? " flooded" : ""}`,
  }, el("small", {}, `${authorLabel(m)} · ${when(m.created_at)}${m.state === "pending" ? " · not delivered yet" : ""}`),
  m.state === "flooded" ? el("span", { class: "held", title: FLOODED }, "held back: flood · the bot never answered") : null, m.text)));
  if (atBottom || body.messages.length !== shownMessages) log.scrollTop = log.scrollHeight;
  shownMessages = body.messages.length;
  renderCustomer(body.customer);
  const mine = esc && esc.state === "claimed" && me && esc.agent === me.name;
  $("claim").disabled = !esc || mine;
  $("release").disabled = !esc && c.state === "bot";
  $("close").disabled = c.state === "closed";
}

// What the service knows of the customer, so nobody asks "where are you?" twice.
function renderCustomer(c) {
  const rows = [];
  const add = (term, details) => rows.push(el("dt", {}, term), ...details.map((d) => el("dd", {}, d)));
  add("Area", [c.area_code ? `${c.area_code}${c.place ? " · " + c.place : ""}` : "not known yet"]);
  add("Incidents", c.incidents.length ? c.incidents.map((i) =>
    `${i.reference}: ${i.title} (${i.status}) · fix ${i.eta ? "expected " + when(i.eta) : "time not known yet"}`)
    : [c.area_code ? "none active in this area" : "—"]);
  add("Earlier hand-offs", c.handoffs.length ? c.handoffs.map((h) =>
    `${when(h.created_at)} · ${h.reason.replace(/_/g, " ")} · ${h.state === "closed" ? h.outcome || "closed" : h.state}${h.agent ? " · " + h.agent : ""}`)
    : ["none"]);
  add("Fix notices", c.subscriptions.length ? c.subscriptions.map((s) =>
    `${s.reference} (${s.area_code}) · ${s.notified_at ? "told " + when(s.notified_at) : s.fixed ? "fixed: being told" : "waiting for the fix"}`)
    : ["none asked for"]);
  $("customer").replaceChildren(...rows);
}

function renderMacros() {
  $("macros").replaceChildren(...(macroList.length ? macroList.map((m, index) => el("li", {},
    el("button", { type: "button", class: "macro", title: m.text, onclick: () => insertMacro(index) },
      m.shortcut ? el("kbd", {}, m.shortcut) : null, ` ${m.title}`)))
    : [el("li", { class: "muted" }, "No macros: comms staff add them in the comms console.")]));
}

async function loadMacros() {
  const id = openId;
  if (id === null) return;
  try {
    const body = await api("GET", `/api/conversations/${id}/macros`);
    if (id !== openId) return;
    macroList = body.macros;
  } catch (err) {
    macroList = [];
    status(err.message, true);
  }
  renderMacros();
}

// A macro goes in at the cursor, never straight to the customer: the agent reads it,
// fills in what the service did not know ([eta]) and sends it themselves.
function insertMacro(index) {
  const macro = macroList[index];
  if (!macro || openId === null) return;
  const box = $("reply");
  box.setRangeText(macro.text, box.selectionStart, box.selectionEnd, "end");
  box.focus();
  status(macro.missing.length
    ? `Inserted "${macro.title}": fill in ${macro.missing.map((m) => `[${m}]`).join(", ")} before sending.`
    : `Inserted "${macro.title}": edit it if you like, then send.`);
}

// Alt+1 ... Alt+9 by the key's place, not its character (Alt+1 types "¡" on a Mac).
document.addEventListener("keydown", (event) => {
  if (!event.altKey || event.ctrlKey || event.metaKey || document.querySelector("dialog[open]")) return;
  const digit = /^Digit([1-9])$/.exec(event.code);
  if (!digit || openId === null) return;
  event.preventDefault();
  insertMacro(Number(digit[1]) - 1);
});

async function refreshConversation() {
  if (openId === null) return;
  try {
    renderConversation(await api("GET", `/api/conversations/${openId}`));
  } catch (err) {
    status(err.message, true);
  }
}

async function openSelected() {
  const entry = entries[selectedIndex()];
  if (!entry) return;
  openId = entry.conversation_id;
  shownMessages = -1;
  $("placeholder").hidden = true;
  $("conversation").hidden = false;
  status("");
  macroList = [];
  renderMacros();
  renderQueue();
  await Promise.all([refreshConversation(), loadMacros()]);
}

function back() {
  openId = null;
  $("conversation").hidden = true;
  $("placeholder").hidden = false;
  renderQueue();
  $("queue").focus();
}

// Every action reports the server's reason (409: someone else has it) in the status line.
async function act(label, call) {
  try {
    await call();
    status(label);
  } catch (err) {
    status(err.message, true);
  }
  await Promise.all([refreshQueue(), refreshConversation()]);
}

function openEscalationId() {
  const entry = entries.find((e) => e.conversation_id === openId);
  return entry ? entry.id : selectedId;
}

function claim() {
  const id = openId !== null ? openEscalationId() : selectedId;
  if (id === null) return;
  act("Claimed: the customer is yours.", () => api("POST", `/api/escalations/${id}/claim`));
}

function send() {
  const text = $("reply").value.trim();
  if (!text || openId === null) return;
  act("Reply queued for delivery.", async () => {
    await api("POST", `/api/conversations/${openId}/reply`, { text });
    $("reply").value = "";
  });
}

// ----- one answer to everyone waiting about an incident -------------------------------
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function answerStep(confirming) {
  $("answer-write").hidden = confirming;
  $("answer-confirm").hidden = !confirming;
  $("answer-next").hidden = confirming;
  $("answer-send").hidden = !confirming;
  $("answer-back").hidden = !confirming;
  $("answer-error").textContent = "";
}

// The key is made when the dialog opens: pressing Send twice, or a retry after a lost
// response, sends nothing twice.
function openAnswer(reference) {
  const group = groups.find((g) => g.reference === reference);
  if (!group || !group.answerable) {
    status(`Nobody you can answer is waiting about ${reference}.`, true);
    return;
  }
  answering = { reference, count: group.answerable, key: newKey() };
  $("answer-title").textContent = `Answer all ${group.answerable} waiting about ${reference}`;
  $("answer-text").value = "";
  answerStep(false);
  $("answer-dialog").showModal();
  $("answer-text").focus();
}

function answerForCustomer() {
  const entry = entries.find((e) => e.conversation_id === openId) || entries[selectedIndex()];
  const reference = (entry && entry.incidents[0]) || (groups[0] && groups[0].reference);
  if (reference) openAnswer(reference);
  else status("Nobody waiting is about an active incident.", true);
}

$("answer-next").addEventListener("click", () => {
  const text = $("answer-text").value.trim();
  if (!text) { $("answer-error").textContent = "Write the answer first."; $("answer-text").focus(); return; }
  $("answer-question").textContent =
    `Send this to the ${answering.count} customers waiting about ${answering.reference}? Each gets it on their own channel.`;
  $("answer-preview").textContent = text;
  $("answer-send").textContent = `Send to ${answering.count} customers`;
  answerStep(true);
  $("answer-send").focus();
});
$("answer-back").addEventListener("click", () => { answerStep(false); $("answer-text").focus(); });
$("answer-cancel").addEventListener("click", () => $("answer-dialog").close());
$("answer-send").addEventListener("click", async () => {
  const { reference, key } = answering;
  $("answer-send").disabled = true;
  try {
    const sent = await api("POST", `/api/incidents/${encodeURIComponent(reference)}/answer`,
      { text: $("answer-text").value.trim() }, { "Idempotency-Key": key });
    $("answer-dialog").close();
    status(`Answer sent to ${sent.sent} customers waiting about ${reference}.`);
  } catch (err) {
    $("answer-error").textContent = err.message;
  } finally {
    $("answer-send").disabled = false;
  }
  refreshAll();
});

$("compose").addEventListener("submit", (event) => { event.preventDefault(); send(); });
$("claim").addEventListener("click", claim);
$("release").addEventListener("click", () => act("Given back to the bot.",
  () => api("POST", `/api/conversations/${openId}/release`)));
$("close").addEventListener("click", () => {
  const outcome = $("outcome").value.trim();
  if (!outcome) { status("Say how it ended (the outcome) before closing.", true); $("outcome").focus(); return; }
  act("Conversation closed.", async () => {
    await api("POST", `/api/conversations/${openId}/close`, { outcome });
    $("outcome").value = "";
  });
});

shortcuts({
  j: () => move(1), ArrowDown: () => move(1),
  k: () => move(-1), ArrowUp: () => move(-1),
  Enter: openSelected,
  c: claim,
  r: () => { if (openId !== null) $("reply").focus(); },
  a: answerForCustomer,
  Escape: back,
}, {
  Escape: (field) => { field.blur(); $("queue").focus(); },
  "Ctrl+Enter": (field) => {
    if (field.id !== "reply") return false;
    send();
  },
});

function refreshAll() {
  if (me === null) return;  // not signed in yet
  refreshQueue();
  refreshConversation();
}

// An agent must know when the queue may be up to a few seconds behind.
function showLink(up) {
  live = up;
  $("link").textContent = up ? "● live" : "○ offline: reconnecting, the queue refreshes every 3 s";
  $("link").className = up ? "" : "down";
}

// The server says "changed" within a second of anything the console shows changing;
// polling every few seconds is only the fallback while the link is down.
const listen = () => Staff.listen(() => refreshAll(), showLink);

let sinceRefresh = 0;
Staff.start("agent", (user) => {
  me = user;
  refreshQueue();
  $("queue").focus();
  if (!window.refreshing) {
    listen();
    window.refreshing = setInterval(() => {
      sinceRefresh += REFRESH_MS;
      if (live && sinceRefresh < LIVE_REFRESH_MS) return;
      sinceRefresh = 0;
      refreshAll();
    }, REFRESH_MS);
  }
});
