"use strict";
const { api, el, waited, when, shortcuts } = Staff;
const $ = (id) => document.getElementById(id);
const REFRESH_MS = 3000;        // without the live link
const LIVE_REFRESH_MS = 30000;  // with it: only the waiting times move
let live = false;               // the events socket is open and signed in

let me = null;
let entries = [];          // the queue as last fetched
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
    el("span", { class: "meta" },
      `${e.channel} · ${e.state === "claimed" ? "claimed by " + e.agent : "waiting for an agent"}`),
  )));
  const current = $(`esc-${selectedId}`);
  if (current) {
    current.scrollIntoView({ block: "nearest" });
    list.setAttribute("aria-activedescendant", current.id);
  }
}

async function refreshQueue() {
  try {
    entries = (await api("GET", "/api/escalations")).escalations;
  } catch (err) {
    status(err.message, true);
    return;
  }
  if (selectedIndex() < 0) selectedId = entries.length ? entries[0].id : null;
  renderQueue();
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
    class: `msg ${m.direction}${m.author.startsWith("agent:") ? " agent" : ""}`,
  }, el("small", {}, `${authorLabel(m)} · ${when(m.created_at)}${m.state === "pending" ? " · not delivered yet" : ""}`), m.text)));
  if (atBottom || body.messages.length !== shownMessages) log.scrollTop = log.scrollHeight;
  shownMessages = body.messages.length;
  const mine = esc && esc.state === "claimed" && me && esc.agent === me.name;
  $("claim").disabled = !esc || mine;
  $("release").disabled = !esc && c.state === "bot";
  $("close").disabled = c.state === "closed";
}

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
  renderQueue();
  await refreshConversation();
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
