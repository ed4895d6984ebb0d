// Shared by every staff page: JSON calls, the signed-in user and small DOM helpers.
// The browser is signed in by a session cookie the page cannot read (HttpOnly); every
// change it asks for carries the session's CSRF token, which /api/me hands out.
"use strict";

const Staff = (() => {
  const HEADER = "X-CSRF-Token";
  let csrfToken = "";

  // The page this tab shows, to come back to after signing in again.
  function signInAgain() {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  }

  // Build an element: el("button", {class: "x", onclick: f}, "text", child, ...).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Call a JSON API; throws an Error carrying the server's reason and status. A 401
  // means the session has ended (signed out, timed out, or disabled): sign in again.
  // ``extra`` headers go along (an Idempotency-Key, say).
  async function api(method, path, body, extra) {
    const headers = { ...extra };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") headers[HEADER] = csrfToken;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw Object.assign(new Error("the server cannot be reached"), { status: 0 });
    }
    let data = {};
    try {
      data = await response.json();
    } catch (err) {
      data = { error: response.statusText };
    }
    if (response.status === 401) signInAgain();
    if (!response.ok) {
      throw Object.assign(new Error(data.error || response.statusText), { status: response.status });
    }
    return data;
  }

  // End this browser's session (every tab of it), then show the sign-in page.
  async function signOut() {
    try {
      await api("POST", "/logout");
    } finally {
      location.assign("/login");
    }
  }

  // Links to the other staff pages this user may open, beside their name.
  function links(me) {
    const pages = [["/console", "Agent console", ["agent", "admin"]],
                   ["/admin", "Comms console", ["comms", "admin"]],
                   ["/admin/users", "Users & audit", ["admin"]],
                   ["/password", "Password", ["agent", "comms", "admin"]]];
    return pages
      .filter(([path, , roles]) => roles.includes(me.role) && path !== location.pathname)
      .map(([path, label]) => el("a", { href: path, class: "page-link" }, label));
  }

  // Who is signed in, once /api/me has answered (null before): pages' side scripts ask.
  let signedIn = null;
  const me = () => signedIn;

  // Learn who is signed in (and the CSRF token), then call ready(me). ``role`` names
  // the role the page is for; the server already refused anyone else.
  async function start(role, ready) {
    document.getElementById("signout").addEventListener("click", () => signOut());
    let user;
    try {
      user = await api("GET", "/api/me");
    } catch (err) {
      if (err.status !== 401) document.getElementById("who").textContent = err.message;
      return;
    }
    csrfToken = user.csrf_token || "";
    signedIn = user;
    const who = document.getElementById("who");
    who.textContent = `${user.name} (${user.role})`;
    who.before(...links(user));
    ready(user);
  }

  // "45 s", "3 min", "1 h 20 min": how long a customer has waited.
  function waited(seconds) {
    if (seconds < 60) return `${seconds} s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    const today = new Date().toDateString() === date.toDateString();
    return today
      ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : date.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }

  // Typing in a field must not trigger page shortcuts.
  function typing(event) {
    const target = event.target;
    return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
  }

  // The page's keys, for people who keep a console open all day. ``keys`` run when no
  // field has the focus and no modifier is held; ``inField`` handlers get Escape and
  // "Ctrl+Enter" typed in a field, with the field, and return false when it is not
  // theirs. Nothing runs while a dialog is open.
  function shortcuts(keys, inField) {
    document.addEventListener("keydown", (event) => {
      if (document.querySelector("dialog[open]")) return;
      if (typing(event)) {
        const ctrlEnter = event.key === "Enter" && (event.ctrlKey || event.metaKey);
        const run = inField[ctrlEnter ? "Ctrl+Enter" : event.key];
        if (run && run(event.target) !== false) event.preventDefault();
        return;
      }
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      // Enter and Space press a focused button; they are not shortcuts there.
      if (event.target.tagName === "BUTTON" && (event.key === "Enter" || event.key === " ")) return;
      const run = keys[event.key];
      if (run) { event.preventDefault(); run(); }
    });
  }

  // The consoles' change feed (/console/events), signed in by the session cookie: calls
  // onMessage with each event ("ready", "changed") and onLink(up) as the link comes and
  // goes, and reconnects with a growing delay.
  function listen(onMessage, onLink, delay = 1000) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/console/events`);
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "ready") { onLink(true); delay = 1000; }
      onMessage(message);
    };
    socket.onclose = () => {
      onLink(false);
      setTimeout(() => listen(onMessage, onLink, Math.min(delay * 2, 30000)), delay);
    };
  }

  return { api, el, me, start, waited, when, shortcuts, listen };
})();
