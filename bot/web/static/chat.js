const log = document.getElementById("log");
const input = document.getElementById("text");
// The sender name is ours to choose; the secret that proves this browser owns it is set
// by the server as an HttpOnly cookie on the first message, sent with every request and
// out of reach of this script (and of anything injected into the page).
const key = "outage-bot-sender";
let sender = localStorage.getItem(key);
if (!sender) newSender();

function newSender() {
  sender = "web-" + crypto.randomUUID();
  localStorage.setItem(key, sender);
}

// This browser no longer holds the chat's secret (the cookie expired or was cleared):
// the old conversation stays with whoever holds it; the next message starts a new one.
function startOver() {
  newSender();
  add("We started a new chat for you.", "note");
}

function add(text, who) {
  const div = document.createElement("div");
  div.className = "msg " + who;
  div.textContent = text;
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
  return div;
}

// The tab's title tells a customer who switched away whether a person is on the way.
const TITLE = document.title;
const WHO_ANSWERS = { escalated: "Waiting for an agent", agent: "Talking to an agent" };

function show(body) {
  for (const reply of body.replies || []) add(reply.text, "bot");
  if (!body.conversation) return;
  const who = WHO_ANSWERS[body.conversation.state];
  document.title = who ? `${who} — ${TITLE}` : TITLE;
}

let retrying = null;  // the message that got no answer: its text and id

document.getElementById("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  const bubble = add(text, "me");
  // Sent again (after a failure) under the same id, so the server answers it once.
  const id = retrying && retrying.text === text ? retrying.id : crypto.randomUUID();
  retrying = null;
  try {
    let response = await post(text, id);
    if (response.status === 403) {
      startOver();
      response = await post(text, id);
    }
    const body = await response.json();
    if (!response.ok) {
      retrying = {text, id};
      failed(bubble, body.error || "Something went wrong, please try again.");
      return;
    }
    show(body);
  } catch (error) {
    failed(bubble, "We could not reach the server. Please press Enter to try again in a moment.");
    retrying = {text, id};
  }
});

function post(text, id) {
  return fetch("/api/chat", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({sender, text, id}),
  });
}

// The message is shown as not sent and goes back into the box (unless a new one is being
// typed): not lost, and sent again with one key.
function failed(bubble, why) {
  bubble.classList.add("unsent");
  bubble.title = "Not sent";
  add(why, "note");
  if (!input.value) input.value = bubble.textContent;
}

setInterval(async () => {
  try {
    const response = await fetch("/api/chat/updates?sender=" + encodeURIComponent(sender));
    if (response.ok) show(await response.json());
    else if (response.status === 403) startOver();
  } catch (error) { /* offline for a moment: the next poll catches up */ }
}, 3000);
